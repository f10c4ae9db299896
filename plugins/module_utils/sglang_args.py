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

from ansible_collections.gpufleet.sglang.plugins.module_utils import sglang_catalog as catalog
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_legacy_flags import LEGACY_FLAGS

# Flags whose values are secrets: they must never reach argv (/proc/<pid>/cmdline,
# the unit file, the plan JSON). They travel in a 0600 file instead.
SECRET_FLAGS = ("--api-key", "--admin-api-key", "--hf-token")

# Flags the planner owns: set from the inventory, never from free-form args.
PLANNER_FLAGS = ("--tp-size", "--nnodes", "--node-rank", "--dist-init-addr")

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


def normalize_flag(name):
    """``mem_fraction_static`` / ``mem-fraction-static`` / ``--mem-fraction-static`` -> ``--mem-fraction-static``."""
    name = str(name).strip()
    if name.startswith("--"):
        return name
    return "--" + name.lstrip("-").replace("_", "-")


def closest_flags(flag, n=2):
    return difflib.get_close_matches(flag, list(catalog.OPTION_TO_FLAG), n=n, cutoff=0.75)


def resolve_flag(raw, warnings, where):
    """Map a user-given flag name to its canonical catalog flag.

    Returns ``(canonical_flag, replacement_tokens_or_None)``. Raises ArgsError on a
    removed or unknown flag. ``replacement_tokens`` is set when a legacy flag is
    rewritten into other tokens (for example a boolean that became a choice).
    """
    flag = normalize_flag(raw)
    legacy = LEGACY_FLAGS.get(flag)
    if legacy is not None:
        status = legacy.get("status")
        replacement = legacy.get("replacement")
        note = legacy.get("note", "")
        shown = " ".join(replacement) if replacement else None
        if status == "removed" or (status != "deprecated" and not replacement):
            fix = ("use %s instead" % shown) if shown else "remove it"
            raise ArgsError(["%s: %s is not accepted by SGLang %s (%s); %s"
                             % (where, flag, catalog.SGLANG_VERSION, note, fix)])
        if replacement:
            warnings.append("%s: %s is %s in SGLang %s; rendered as '%s' instead (%s)"
                            % (where, flag, status, catalog.SGLANG_VERSION, shown, note))
            return None, list(replacement)
        warnings.append("%s: %s is deprecated in SGLang %s (%s)" % (where, flag, catalog.SGLANG_VERSION, note))
    canonical = catalog.OPTION_TO_FLAG.get(flag)
    if canonical is None:
        close = closest_flags(flag)
        hint = ("did you mean %s?" % " or ".join(close)) if close else "see `python -m sglang.launch_server --help`"
        raise ArgsError(["%s: unknown SGLang %s flag %s; %s"
                         % (where, catalog.SGLANG_VERSION, flag, hint)])
    return canonical, None


def _scalar(value, spec, flag, where):
    ftype = spec.get("type")
    if isinstance(value, (dict, list)) and ftype in ("json", "str", None):
        return json.dumps(value, sort_keys=True)
    converters = {"int": (int, "an integer"), "float": (float, "a number")}
    if ftype in converters:
        convert, what = converters[ftype]
        try:
            if isinstance(value, bool):
                raise ValueError(value)
            convert(str(value))
        except ValueError:
            raise ArgsError(["%s: %s takes %s, got %r" % (where, flag, what, value)])
    text = str(value)
    choices = spec.get("choices")
    if choices and text not in [str(c) for c in choices]:
        raise ArgsError(["%s: %s=%s is not one of SGLang %s's choices: %s"
                         % (where, flag, text, catalog.SGLANG_VERSION, ", ".join(str(c) for c in choices))])
    return text


def flag_tokens(flag, value, where):
    """Render one canonical flag and its value into argv tokens ([] when off)."""
    spec = catalog.FLAGS[flag]
    if value is None:
        return []
    if not spec.get("takes_value"):
        if not isinstance(value, bool):
            raise ArgsError(["%s: %s is a switch; set it to true or false, not %r" % (where, flag, value)])
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
        return [flag] + [_scalar(item, spec, flag, where) for item in values]
    return [flag, _scalar(value, spec, flag, where)]


def parse_extra_args(tokens, where):
    """Raw ``--flag value`` tokens (sglang_extra_args) -> list of (flag, value)."""
    pairs = []
    tokens = [str(t) for t in tokens]
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--"):
            raise ArgsError(["%s: sglang_extra_args: %r is not a flag (values follow their --flag)" % (where, tok)])
        if "=" in tok:
            name, value = tok.split("=", 1)
            pairs.append((name, value))
            i += 1
            continue
        values = []
        j = i + 1
        while j < len(tokens) and not tokens[j].startswith("--"):
            values.append(tokens[j])
            j += 1
        if not values:
            pairs.append((tok, True))
        elif len(values) == 1:
            pairs.append((tok, values[0]))
        else:
            pairs.append((tok, values))
        i = j
    return pairs


def build_args(settings, where, warnings):
    """Ordered ``(flag, value)`` pairs -> validated ``{canonical_flag: value}`` (insertion ordered).

    ``settings`` is an iterable of ``(flag_name, value)``; later pairs override
    earlier ones, so callers pass defaults first and overrides last.
    """
    problems = []
    merged = {}
    for raw, value in settings:
        try:
            canonical, replacement = resolve_flag(raw, warnings, where)
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
                new[at:at + 1] = [str(v) for v in values]
            elif value is not True:
                problems.append("%s: %s was rewritten to '%s' and cannot also take the value %r"
                                % (where, normalize_flag(raw), " ".join(replacement), value))
                continue
            for name, val in parse_extra_args(new, where):
                try:
                    canonical, _unused = resolve_flag(name, warnings, where)
                except ArgsError as exc:
                    problems.extend(exc.problems)
                    continue
                merged.pop(canonical, None)
                merged[canonical] = val
            continue
        if canonical in SECRET_FLAGS:
            problems.append("%s: %s is a secret and must not be on the command line; set sglang_api_key / "
                            "sglang_admin_api_key (from vault): they reach SGLang through a 0600 --config file"
                            % (where, canonical))
            continue
        merged.pop(canonical, None)
        merged[canonical] = value
    _translate_dp_attention(merged, where, warnings, problems)
    if problems:
        raise ArgsError(problems)
    return merged


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
        problems.append("%s: --enable-dp-attention without a DP size does nothing in SGLang %s (dp 1); set "
                        "sglang_attn_dp_size: N (renders --attn-dp-size N), or drop it"
                        % (where, catalog.SGLANG_VERSION))
        return
    del merged["--enable-dp-attention"]
    del merged["--dp-size"]
    merged["--attn-dp-size"] = dp
    warnings.append("%s: '--enable-dp-attention --dp-size %d' is deprecated in SGLang %s; rendered as "
                    "'--attn-dp-size %d'" % (where, dp, catalog.SGLANG_VERSION, dp))


def render_argv(args, where):
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
