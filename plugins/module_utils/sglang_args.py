# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Structured SGLang settings -> a validated ``sglang.launch_server`` argv list.

Every flag is checked against the catalog generated from SGLang's own parser for
the pinned version (``sglang_catalog``); flags that recipes still copy but the
pinned version renamed or dropped are translated with a warning or rejected with
the replacement named (``sglang_legacy_flags``). Nothing here builds a shell
string: the result is an argv list.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

from ansible_collections.gpufleet.sglang.plugins.module_utils import sglang_catalog as catalog
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_legacy_flags import LEGACY_FLAGS

# Flags whose values are secrets -> the variable that carries each one. They must never
# reach argv (/proc/<pid>/cmdline, the unit file), the plan JSON, a message or a log:
# they travel in the 0600 YAML file SGLang reads with --config, whose keys are the
# flag names without "--" (sglang/srt/utils/server_args_config_parser.py,
# ConfigArgumentMerger._convert_config_to_args). SGLang 0.5.23's catalog flags of that
# nature: the API keys (server_args: --api-key, --admin-api-key), the password that
# decrypts the SSL key file (--ssl-keyfile-password, arg_groups/serving_hook.py), and
# the watermark settings, whose inline JSON holds the watermark keys (SGLang itself
# hides them: ServerArgs.__repr__ in server_args.py and
# sampling/watermarking/core.py:redact_watermark_command_line).
# tests/unit/plugins/module_utils/test_bad_inputs.py fails when a regenerated catalog
# grows a flag of that nature that is neither here nor in NOT_SECRET_FLAGS.
SECRET_FLAGS = {
    "--api-key": "sglang_api_key",
    "--admin-api-key": "sglang_admin_api_key",
    "--ssl-keyfile-password": "sglang_ssl_keyfile_password",
    "--watermark-config": "sglang_watermark_config",
}
# Catalog flags whose names look secret but whose values are not: paths, sizes, counts.
NOT_SECRET_FLAGS = frozenset(
    (
        "--ssl-keyfile",  # a path; the file itself stays on the host
        "--enable-ssl-refresh",
    )
)

# Flags the planner owns: set from the inventory, never from free-form args.
PLANNER_FLAGS = ("--tp-size", "--nnodes", "--node-rank", "--dist-init-addr")

# argparse's own test for a value that looks like a negative number rather than an
# option (argparse.ArgumentParser._negative_number_matcher, CPython 3.11): SGLang's
# parser has no option that looks like one, so "-1" is read as a value.
_NEGATIVE_NUMBER = re.compile(r"^-\d+$|^-\d*\.\d+$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# SGLang's human_readable_int (sglang/srt/utils/common.py): an integer, or a number with
# an SI (k, M, G, T) or IEC (Ki, Mi, Gi, Ti; integers only) suffix.
_HUMAN_INT = re.compile(r"^(?:\d+|\d+(?:\.\d+)?[kMGT]|\d+(?:Ki|Mi|Gi|Ti))$")

# Rendering order for the flags people look at first; everything else follows
# in the order it was given.
LEADING_FLAGS = (
    "--model-path",
    "--served-model-name",
    "--tp-size",
    "--nnodes",
    "--node-rank",
    "--dist-init-addr",
    "--host",
    "--port",
    "--nccl-port",
)


class ArgsError(Exception):
    """A settings problem; ``problems`` lists every one found, each with its fix."""

    def __init__(self, problems):
        self.problems = list(problems)
        super(ArgsError, self).__init__("; ".join(self.problems))


def normalize_flag(name: Any) -> str:
    """``mem_fraction_static`` / ``mem-fraction-static`` / ``--mem-fraction-static`` -> ``--mem-fraction-static``."""
    name = str(name).strip()
    if name.startswith("--"):
        return name
    return "--" + name.lstrip("-").replace("_", "-")


def flag_part(text: Any) -> str:
    """The flag name of a token, without any ``=value`` or a value after whitespace (never echo a value)."""
    return re.split(r"[\s=]", str(text).strip(), maxsplit=1)[0]


def shown(text: Any, limit: int = 40) -> str:
    """A user token safe to quote in a message: cut at ``=``/whitespace (a value may follow) and at ``limit``."""
    text = str(text)
    head = flag_part(text) if text.startswith("-") else text
    cut = head[:limit]
    return cut + ("..." if cut != text else "")


def secret_problem(where: str, flag: str, source: Optional[str] = None) -> str:
    """The one message for a secret on the command line: names the variable, never the value."""
    variable = SECRET_FLAGS[flag]
    return (
        "%s: %s%s is a secret and must not be on the command line; set %s (from vault): it reaches SGLang "
        "only through the 0600 --config file" % (where, flag, (" (in %s)" % source) if source else "", variable)
    )


def closest_flags(flag: str, n: int = 2) -> List[str]:
    return difflib.get_close_matches(flag, list(catalog.OPTION_TO_FLAG), n=n, cutoff=0.75)


def _negated(flag):
    """``--no-X`` of a BooleanOptionalAction flag -> ``--X`` (its canonical), else None."""
    if not flag.startswith("--no-"):
        return None
    canonical = catalog.OPTION_TO_FLAG.get(flag)
    if canonical and catalog.FLAGS[canonical].get("action") == "boolean_optional" and canonical != flag:
        return canonical
    return None


def resolve_flag(raw: Any, warnings: List[str], where: str) -> Tuple[Optional[str], Optional[List[str]]]:
    """Map a user-given flag name to its canonical catalog flag.

    Returns ``(canonical_flag, replacement_tokens_or_None)``. Raises ArgsError on a
    removed or unknown flag. ``replacement_tokens`` is set when a legacy flag is
    rewritten into other tokens (for example a boolean that became a choice).
    """
    if not isinstance(raw, str) or not raw.strip():
        raise ArgsError(
            ["%s: %r is not a flag name; name SGLang flags as strings, e.g. mem-fraction-static" % (where, shown(raw))]
        )
    flag = normalize_flag(raw)
    if flag_part(flag) != flag:
        # "--api-key value" or "--flag=value" as one name: the value must never be echoed.
        name = flag_part(flag)
        canonical = catalog.OPTION_TO_FLAG.get(name)
        if canonical in SECRET_FLAGS:
            raise ArgsError([secret_problem(where, canonical)])
        raise ArgsError(
            [
                "%s: %r holds a flag name and something after it (a space or '='); give the flag name "
                "alone and its value separately (sglang_args: {%s: VALUE}; sglang_extra_args: "
                "['%s', 'VALUE'])" % (where, shown(flag), name.lstrip("-"), name)
            ]
        )
    if _CONTROL.search(flag) or not re.match(r"^--[A-Za-z0-9][A-Za-z0-9_-]*$", flag):
        raise ArgsError(
            [
                "%s: %r is not a flag name (letters, digits and '-' after '--'); see "
                "`python -m sglang.launch_server --help`" % (where, shown(flag))
            ]
        )
    legacy = LEGACY_FLAGS.get(flag)
    if legacy is not None:
        status = legacy.get("status")
        replacement = legacy.get("replacement")
        note = legacy.get("note", "")
        shown_replacement = " ".join(replacement) if replacement else None
        if status == "removed" or (status != "deprecated" and not replacement):
            fix = ("use %s instead" % shown_replacement) if shown_replacement else "remove it"
            raise ArgsError(
                ["%s: %s is not accepted by SGLang %s (%s); %s" % (where, flag, catalog.SGLANG_VERSION, note, fix)]
            )
        if replacement:
            warnings.append(
                "%s: %s is %s in SGLang %s; rendered as '%s' instead (%s)"
                % (where, flag, status, catalog.SGLANG_VERSION, shown_replacement, note)
            )
            return None, list(replacement)
        warnings.append("%s: %s is deprecated in SGLang %s (%s)" % (where, flag, catalog.SGLANG_VERSION, note))
    canonical = catalog.OPTION_TO_FLAG.get(flag)
    if canonical is None:
        positive = "--" + flag[len("--no-") :] if flag.startswith("--no-") else None
        if positive and catalog.FLAGS.get(catalog.OPTION_TO_FLAG.get(positive, ""), {}).get("takes_value") is False:
            raise ArgsError(
                [
                    "%s: SGLang %s has no %s: %s is a switch that is off unless given; leave it out "
                    "(or set it to false in sglang_args)" % (where, catalog.SGLANG_VERSION, flag, positive)
                ]
            )
        close = closest_flags(flag)
        hint = ("did you mean %s?" % " or ".join(close)) if close else "see `python -m sglang.launch_server --help`"
        raise ArgsError(["%s: unknown SGLang %s flag %s; %s" % (where, catalog.SGLANG_VERSION, flag, hint)])
    return canonical, None


def _check_token(text, flag, where):
    """A value token must stay one value: no control characters (a unit line cannot carry them), and no
    leading '-' (argparse would read it as another flag, e.g. a smuggled --api-key)."""
    if _CONTROL.search(text):
        raise ArgsError(
            [
                "%s: the value of %s contains a newline or another control character, which neither "
                "argparse nor a systemd unit line carries as one argument; remove it" % (where, flag)
            ]
        )
    if text.startswith("-") and not _NEGATIVE_NUMBER.match(text):
        raise ArgsError(
            [
                "%s: the value of %s begins with '-' (%s), so SGLang's parser would read it as another "
                "flag; a value may not begin with '-': give each flag its own entry" % (where, flag, shown(text))
            ]
        )
    return text


def _scalar(value, spec, flag, where):
    ftype = spec.get("type")
    if isinstance(value, (dict, list)):
        if ftype in ("json", "str", "json_list_type", "nullable_str", None):
            return _check_token(json.dumps(value, sort_keys=True), flag, where)
        raise ArgsError(["%s: %s takes one %s value, not a %s" % (where, flag, ftype, type(value).__name__)])
    if value is None:
        raise ArgsError(["%s: %s has an empty (null) item; remove it" % (where, flag)])
    if not isinstance(value, (str, int, float)):
        raise ArgsError(
            ["%s: %s takes a plain value (string or number), not a %s" % (where, flag, type(value).__name__)]
        )
    converters = {"int": (int, "an integer"), "float": (float, "a number")}
    if ftype in converters:
        convert, what = converters[ftype]
        try:
            if isinstance(value, bool):
                raise ValueError(value)
            number = convert(str(value).strip())
            if isinstance(number, float) and not math.isfinite(number):
                raise ValueError(value)
        except ValueError:
            raise ArgsError(["%s: %s takes %s, got %r" % (where, flag, what, shown(value))])
    if ftype == "human_readable_int" and (isinstance(value, (bool, float)) or not _HUMAN_INT.match(str(value).strip())):
        raise ArgsError(
            [
                "%s: %s takes an integer, optionally with an SI or IEC suffix (8192, 128k, 1Mi), got %r"
                % (where, flag, shown(value))
            ]
        )
    text = str(value)
    if isinstance(value, bool):
        text = text.lower()
    choices = spec.get("choices")
    if choices and text not in [str(c) for c in choices]:
        raise ArgsError(
            [
                "%s: %s=%s is not one of SGLang %s's choices: %s"
                % (where, flag, shown(text), catalog.SGLANG_VERSION, ", ".join(str(c) for c in choices))
            ]
        )
    return _check_token(text, flag, where)


def _switch_problem(flag, spec, value, where):
    negative = [o for o in spec.get("option_strings", []) if o.startswith("--no-")]
    both = (" (or %s to turn it off)" % negative[0]) if negative else ""
    return (
        "%s: %s is a switch and takes no value, got %r; in sglang_args set it to true or false (YAML "
        "booleans), in sglang_extra_args write '%s' alone%s or leave it out" % (where, flag, shown(value), flag, both)
    )


def flag_tokens(flag: str, value: Any, where: str) -> List[str]:
    """Render one canonical flag and its value into argv tokens ([] when off).

    A BooleanOptionalAction flag (``--X`` / ``--no-X``) renders false as ``--no-X``:
    its default may be None ("the model decides") or true, so leaving it out is not "off".
    """
    spec = catalog.FLAGS[flag]
    if value is None:
        return []
    if not spec.get("takes_value"):
        if not isinstance(value, bool):
            raise ArgsError([_switch_problem(flag, spec, value, where)])
        if spec.get("action") == "boolean_optional" and not value:
            negative = [o for o in spec.get("option_strings", []) if o.startswith("--no-")]
            return negative[:1]
        return [flag] if value else []
    nargs = spec.get("nargs")
    if isinstance(value, bool) and spec.get("type") not in ("bool",):
        if value is True and nargs == "?":
            return [flag]
        if value is False:
            return []
        raise ArgsError(["%s: %s takes a value, not true" % (where, flag)])
    if spec.get("action") == "append":
        values = value if isinstance(value, list) else [value]
        tokens = []
        for item in values:
            tokens += [flag, _scalar(item, spec, flag, where)]
        return tokens
    if nargs in ("*", "+") or isinstance(nargs, int):
        values = value if isinstance(value, list) else [value]
        if nargs == "+" and not values:
            raise ArgsError(["%s: %s needs at least one value" % (where, flag)])
        if isinstance(nargs, int) and len(values) != nargs:
            raise ArgsError(["%s: %s takes exactly %d values, got %d" % (where, flag, nargs, len(values))])
        for item in values:
            if isinstance(item, (list, dict)):
                raise ArgsError(
                    ["%s: %s takes a flat list of values, not a nested %s" % (where, flag, type(item).__name__)]
                )
        return [flag] + [_scalar(item, spec, flag, where) for item in values]
    return [flag, _scalar(value, spec, flag, where)]


def _arity(name):
    """How many value tokens a flag takes on the command line: (min, max); None max = any number."""
    name = normalize_flag(name)
    canonical = catalog.OPTION_TO_FLAG.get(name) or _negated(name)
    legacy = LEGACY_FLAGS.get(name)
    if canonical is None:
        replacement = (legacy or {}).get("replacement")
        if replacement and "<VALUE>" in replacement:
            return _arity(replacement[replacement.index("<VALUE>") - 1])
        if replacement:
            return 0, 0
        return 0, None  # unknown: resolve_flag reports it
    spec = catalog.FLAGS[canonical]
    if not spec.get("takes_value"):
        return 0, 0
    nargs = spec.get("nargs")
    if nargs == "?":
        return 0, 1
    if nargs in ("*", "+"):
        return (0 if nargs == "*" else 1), None
    if isinstance(nargs, int):
        return nargs, nargs
    return 1, 1


def parse_extra_args(tokens: Any, where: str, variable: str = "sglang_extra_args") -> List[Tuple[str, Any]]:
    """Raw ``--flag value`` tokens (sglang_extra_args) -> list of (flag, value).

    Every item is one argv token. A value follows its flag as its own item; a flag
    takes exactly as many values as SGLang's parser gives it (a switch none), so a
    stray token can never become a flag or another flag's value. Messages name the
    item and the flag, never a value that follows a secret flag.
    """
    problems = []
    pairs = []
    items = list(tokens)
    previous = None
    i = 0
    while i < len(items):
        tok = items[i]
        where_item = "%s: %s item %d" % (where, variable, i + 1)
        if isinstance(tok, bool) or not isinstance(tok, (str, int, float)):
            problems.append(
                "%s is a %s; every item is one argv token (a string), e.g. ['--log-level', 'info']"
                % (where_item, type(tok).__name__)
            )
            i += 1
            continue
        tok = str(tok)
        if tok == "--":
            problems.append(
                "%s is '--', which ends SGLang's options (everything after it would be a stray "
                "argument); remove it" % where_item
            )
            i += 1
            continue
        if not tok.startswith("--"):
            if previous and previous[1] == 0:
                why = "it follows %s, a switch that takes no value" % previous[0]
            elif previous:
                why = "%s already has its value(s): a stray token" % previous[0]
            else:
                why = "no flag precedes it"
            problems.append(
                "%s is not a flag (%s); values follow their --flag as separate items, one per value: "
                "remove it or put it after its flag" % (where_item, why)
            )
            previous = None
            i += 1
            continue
        name, sep, inline = tok.partition("=")
        if flag_part(name) != name:
            first = normalize_flag(flag_part(name))
            canonical = catalog.OPTION_TO_FLAG.get(first)
            if canonical in SECRET_FLAGS:
                problems.append(secret_problem(where, canonical, "%s item %d" % (variable, i + 1)))
            else:
                problems.append(
                    "%s (%s ...) holds a flag and its value in one item; write them as separate "
                    "items: ['%s', 'VALUE']" % (where_item, first, first)
                )
            i += 1
            continue
        canonical = catalog.OPTION_TO_FLAG.get(normalize_flag(name))
        secret = canonical in SECRET_FLAGS
        low, high = _arity(name)
        j = i + 1
        values = []
        if sep:
            values = [inline]
        else:
            while j < len(items) and (high is None or len(values) < high):
                nxt = items[j]
                if isinstance(nxt, bool) or not isinstance(nxt, (str, int, float)):
                    break
                nxt = str(nxt)
                if nxt.startswith("--") or (nxt.startswith("-") and not _NEGATIVE_NUMBER.match(nxt)):
                    break
                values.append(nxt)
                j += 1
        if secret:
            problems.append(secret_problem(where, canonical, "%s item %d" % (variable, i + 1)))
            # Skip its values and anything stray after it: never quote them.
            while j < len(items) and not (isinstance(items[j], str) and items[j].startswith("--")):
                j += 1
            i = j
            continue
        if len(values) < low:
            problems.append(
                "%s: %s takes %s value(s), got %d; give its value as the next item"
                % (where_item, name, low if high == low else "at least %d" % low, len(values))
            )
        elif high == 0 and sep:
            spec = catalog.FLAGS.get(canonical) or catalog.FLAGS.get(_negated(normalize_flag(name)) or "", {})
            problems.append(_switch_problem(name, spec, inline, where))
        elif sep:
            pairs.append((name, inline))
        elif not values:
            pairs.append((name, True))
        elif high == 1:
            pairs.append((name, values[0]))
        else:
            pairs.append((name, values))
        previous = (name, 1 if sep else high)
        i = j
    if problems:
        raise ArgsError(problems)
    return pairs


def build_args(
    settings: Iterable[Sequence[Any]],
    where: str,
    warnings: List[str],
    owned: Optional[Mapping[str, str]] = None,
    origins: Optional[Dict[str, Any]] = None,
) -> Dict[str, Any]:
    """Ordered ``(flag, value[, source])`` entries -> validated ``{canonical_flag: value}`` (insertion ordered).

    ``settings`` is an iterable of ``(flag_name, value)`` or ``(flag_name, value, source)``;
    later entries override earlier ones, so callers pass defaults first and overrides
    last. ``owned`` maps canonical flags the caller sets itself to the variable to use
    instead: an entry with a ``source`` (free-form user args) that names one is refused.
    ``origins``, when given, is filled with canonical flag -> the source that set it.
    """
    problems = []
    merged = {}
    owned = owned or {}
    for entry in settings:
        raw, value = entry[0], entry[1]
        source = entry[2] if len(entry) > 2 else None
        label = ("%s (%s)" % (where, source)) if source else where
        try:
            canonical, replacement = resolve_flag(raw, warnings, label)
        except ArgsError as exc:
            problems.extend(exc.problems)
            continue
        if replacement is not None:
            if value is False or value is None:
                continue
            # A legacy switch rewritten to new tokens, or a renamed valued flag.
            new = list(replacement)
            if "<VALUE>" in new:
                values = value if isinstance(value, list) else [value]
                at = new.index("<VALUE>")
                new[at : at + 1] = [str(v) for v in values]
            elif value is not True:
                problems.append(
                    "%s: %s was rewritten to '%s' and cannot also take the value %r"
                    % (label, normalize_flag(raw), " ".join(replacement), shown(value))
                )
                continue
            try:
                rewritten = parse_extra_args(new, label, "the replacement of %s" % normalize_flag(raw))
            except ArgsError as exc:
                problems.extend(exc.problems)
                continue
            for name, val in rewritten:
                try:
                    canonical, _unused = resolve_flag(name, warnings, label)
                except ArgsError as exc:
                    problems.extend(exc.problems)
                    continue
                if source and canonical in owned:
                    problems.append(_owned_problem(label, normalize_flag(raw), canonical, owned))
                    continue
                merged.pop(canonical, None)
                merged[canonical] = val
                if origins is not None:
                    origins[canonical] = source
            continue
        if canonical in SECRET_FLAGS:
            problems.append(secret_problem(where, canonical, source))
            continue
        if source and canonical in owned:
            problems.append(_owned_problem(label, normalize_flag(raw), canonical, owned))
            continue
        negated = _negated(normalize_flag(raw))
        if negated:
            # --no-X: true means X off, false means X on (rendered as --X / --no-X, never dropped).
            if isinstance(value, bool):
                value = not value
            elif value is not None:
                problems.append(_switch_problem(normalize_flag(raw), catalog.FLAGS[negated], value, label))
                continue
        merged.pop(canonical, None)
        merged[canonical] = value
        if origins is not None:
            origins[canonical] = source
    _translate_dp_attention(merged, where, warnings, problems)
    if problems:
        raise ArgsError(problems)
    return merged


def _owned_problem(where, given, canonical, owned):
    alias = "" if given == canonical else " (%s)" % canonical
    return (
        "%s: %s%s is set by the planner from the inventory, so the plan (firewall, router URLs, port checks, "
        "ranks) would not see it; remove it and use %s" % (where, given, alias, owned[canonical])
    )


def _translate_dp_attention(merged, where, warnings, problems):
    """Blog recipes write ``--enable-dp-attention --dp-size N``; SGLang 0.5.23 wants ``--attn-dp-size N``.

    Without a DP size the old switch silently does nothing (dp 1), so that is refused.
    """
    if not merged.get("--enable-dp-attention") or "--attn-dp-size" not in catalog.FLAGS:
        return
    dp = merged.get("--dp-size")
    try:
        dp = int(str(dp)) if dp is not None and not isinstance(dp, bool) else 1
    except ValueError:
        return  # the --dp-size type error is reported when rendering
    if dp <= 1:
        problems.append(
            "%s: --enable-dp-attention without a DP size does nothing in SGLang %s (dp 1); set "
            "sglang_attn_dp_size: N (renders --attn-dp-size N), or drop it" % (where, catalog.SGLANG_VERSION)
        )
        return
    del merged["--enable-dp-attention"]
    del merged["--dp-size"]
    merged["--attn-dp-size"] = dp
    warnings.append(
        "%s: '--enable-dp-attention --dp-size %d' is deprecated in SGLang %s; rendered as "
        "'--attn-dp-size %d'" % (where, dp, catalog.SGLANG_VERSION, dp)
    )


def render_argv(args: Mapping[str, Any], where: str) -> List[str]:
    """``{canonical_flag: value}`` -> argv tokens, leading flags first, then in given order."""
    problems = []
    tokens = []
    order = [f for f in LEADING_FLAGS if f in args] + [f for f in args if f not in LEADING_FLAGS]
    for flag in order:
        try:
            tokens += flag_tokens(flag, args[flag], where)
        except ArgsError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ArgsError(problems)
    return tokens
