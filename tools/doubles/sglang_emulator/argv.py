# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SGLang's argv: the flag catalog (generated from SGLang's own parser) and the argparse parser built from it."""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import sys
from decimal import Decimal

from .common import EXIT_ARGV, LOG, StartupError
from .config import merge_config


def find_catalog_path():
    path = os.environ.get("SGLANG_EMULATOR_CATALOG")
    if path:
        return path
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "sglang_catalog.py")


def load_catalog(path):
    if not os.path.isfile(path):
        raise StartupError(
            "sglang_emulator: error: SGLang flag catalog not found at %s (deploy "
            "sglang_catalog.py next to the emulator or set SGLANG_EMULATOR_CATALOG)" % path,
            EXIT_ARGV,
        )
    try:
        spec = importlib.util.spec_from_file_location("sglang_emulator_catalog", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    except Exception as exc:  # pragma: no cover - depends on the file
        raise StartupError("sglang_emulator: error: cannot load catalog %s: %s" % (path, exc), EXIT_ARGV)
    if not isinstance(getattr(module, "FLAGS", None), dict):
        raise StartupError("sglang_emulator: error: catalog %s has no FLAGS dict" % path, EXIT_ARGV)
    return module


def _str2bool(value):
    low = str(value).strip().lower()
    if low in ("true", "1", "yes", "y", "on"):
        return True
    if low in ("false", "0", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError("invalid boolean value: %r" % (value,))


def _json(value):
    try:
        return json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("invalid JSON value %r: %s" % (value, exc))


def human_readable_int(value):
    """SGLang's converter: plain ints, SI (1k, 25.6k, 1M) and IEC (1Ki, 1Mi) suffixes."""
    value = str(value).strip()
    si = {"k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
    iec = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)", value)
    if match:
        number, suffix = match.groups()
        if suffix in iec:
            if "." in number:
                raise argparse.ArgumentTypeError("Decimals are not allowed with IEC suffixes like '%s'." % suffix)
            return int(number) * iec[suffix]
        return int(Decimal(number) * si[suffix])
    try:
        return int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            "Invalid integer value: '%s'. Use a plain integer, SI suffixes (1k, 1M), or IEC suffixes "
            "(1Ki, 1Mi). Suffixes are case-sensitive." % value
        )


def nullable_str(value):
    if not value or value == "None":
        return None
    return value


_json.__name__ = "json"
# catalog "type" -> converter.  Other SGLang converters (json_list_type,
# parse_cuda_graph_*_arg ...) are not reimplemented: their values stay strings.
_TYPES = {
    "int": int,
    "float": float,
    "str": str,
    "bool": _str2bool,
    "json": _json,
    "human_readable_int": human_readable_int,
    "nullable_str": nullable_str,
}


def _convert(type_name, value):
    fn = _TYPES.get(type_name)
    if fn is None or value is None or type_name == "json":
        return value
    try:
        return fn(value)
    except (TypeError, ValueError, argparse.ArgumentTypeError):
        return value


def build_parser(catalog):
    parser = argparse.ArgumentParser(
        prog=os.path.basename(sys.argv[0]) or "sglang_emulator.py",
        description="SGLang %s argv (emulated: test/demo double, not a serving engine)"
        % getattr(catalog, "SGLANG_VERSION", "?"),
        allow_abbrev=False,
    )
    taken = {"-h", "--help"}
    for canonical, spec in catalog.FLAGS.items():
        options = [o for o in (spec.get("option_strings") or [canonical]) if o not in taken]
        action = spec.get("action") or "store"
        takes_value = bool(spec.get("takes_value", action in ("store", "append", "extend")))
        boolean_optional = action in ("boolean_optional", "BooleanOptionalAction")
        if boolean_optional:
            options = [o for o in options if not o.startswith("--no-")]
        if not options:
            continue
        kwargs = {
            "dest": spec.get("dest") or canonical.lstrip("-").replace("-", "_"),
            "help": argparse.SUPPRESS if not spec.get("help") else spec.get("help").replace("%", "%%"),
        }
        if spec.get("required"):
            kwargs["required"] = True
        if action in ("store_true", "store_false", "count"):
            kwargs["action"] = action
            if action != "count":
                kwargs["default"] = spec.get("default", action == "store_false")
            else:
                kwargs["default"] = spec.get("default")
        elif boolean_optional:
            kwargs["action"] = argparse.BooleanOptionalAction
            kwargs["default"] = spec.get("default")
        elif action in ("help", "version"):
            continue
        elif not takes_value:
            # custom action classes (deprecated aliases ...) that take no value
            kwargs["action"] = "store_true"
            kwargs["default"] = spec.get("default", False)
        else:
            if action in ("append", "extend"):
                kwargs["action"] = action
            type_name = spec.get("type")
            if type_name in _TYPES and type_name != "str":
                kwargs["type"] = _TYPES[type_name]
            nargs = spec.get("nargs")
            if nargs is not None:
                kwargs["nargs"] = nargs
            choices = spec.get("choices")
            if choices:
                kwargs["choices"] = [_convert(type_name, c) for c in choices]
            kwargs["default"] = spec.get("default")
        try:
            parser.add_argument(*options, **kwargs)
        except (argparse.ArgumentError, ValueError, TypeError) as exc:
            LOG.debug("catalog flag %s skipped: %s", canonical, exc)
            continue
        taken.update(options)
    return parser


# --- tiny YAML subset ------------------------------------------------------


def parse_argv(argv, catalog):
    parser = build_parser(catalog)
    config_path = None
    if "--config" in getattr(catalog, "OPTION_TO_FLAG", {}) or "--config" in catalog.FLAGS:
        argv, config_path = merge_config(list(argv), catalog)
    args = parser.parse_args(argv)  # exits 2 on unknown flags / abbreviations
    deprecated = set()
    for canonical, spec in catalog.FLAGS.items():
        if spec.get("deprecated"):
            deprecated.update(spec.get("option_strings") or [canonical])
    for token in argv:
        if token.split("=", 1)[0] in deprecated:
            LOG.warning(
                "%s is deprecated in SGLang %s", token.split("=", 1)[0], getattr(catalog, "SGLANG_VERSION", "?")
            )
    return args, config_path
