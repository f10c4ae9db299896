# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""``--config FILE.yaml`` merged as SGLang 0.5.23's ConfigArgumentMerger does, with a tiny YAML subset reader."""

from __future__ import annotations

import json
import os

from .common import StartupError


def _yaml_scalar(text):
    text = text.strip()
    if not text:
        return None
    if text[0] in "\"'":
        quote = text[0]
        end = text.rfind(quote)
        if end <= 0:
            raise ValueError("unterminated string: %s" % text)
        body = text[1:end]
        if quote == '"':
            return json.loads('"%s"' % body)
        return body.replace("''", "'")
    if " #" in text:
        text = text.split(" #", 1)[0].rstrip()
    if text.startswith("[") and text.endswith("]"):
        inner = text[1:-1].strip()
        return [_yaml_scalar(p) for p in inner.split(",")] if inner else []
    if text.startswith("{"):
        raise ValueError("inline mappings are not supported by the emulator's YAML reader")
    low = text.lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if low in ("null", "~", "none"):
        return None
    for fn in (int, float):
        try:
            return fn(text)
        except ValueError:
            pass
    return text


def read_yaml_subset(path):
    """Top-level ``key: value`` mapping with scalar / list values."""
    data = {}
    current_list = None
    with open(path, "r", encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            line = raw.rstrip("\n")
            stripped = line.strip()
            if not stripped or stripped.startswith("#") or stripped in ("---", "..."):
                continue
            if stripped.startswith("- ") or stripped == "-":
                if current_list is None:
                    raise ValueError("%s:%d: list item without a key" % (path, lineno))
                data[current_list].append(_yaml_scalar(stripped[1:]))
                continue
            if line[:1].isspace():
                raise ValueError("%s:%d: nested mappings are not supported by the emulator" % (path, lineno))
            if ":" not in stripped:
                raise ValueError("%s:%d: expected 'key: value'" % (path, lineno))
            key, _sep, value = stripped.partition(":")
            key = key.strip().strip("\"'")
            if value.strip() == "" or value.strip().startswith("#"):
                data[key] = []
                current_list = key
            else:
                data[key] = _yaml_scalar(value)
                current_list = None
    return {k: (None if v == [] else v) for k, v in data.items()}


def _config_key_kinds(catalog):
    """SGLang 0.5.23 ConfigArgumentMerger: which YAML keys are store_true, which are unsupported.

    Keys are compared normalized (``-`` -> ``_``) against every action's dest and long
    option spellings; store_true and single-value actions are supported, anything
    else (store_false, count, BooleanOptional ...) is refused with a ValueError.
    """
    store_true, supported, unsupported = set(), set(), {}
    for canonical, spec in catalog.FLAGS.items():
        options = spec.get("option_strings") or [canonical]
        keys = {spec.get("dest") or ""} | {o[2:].replace("-", "_") for o in options if o.startswith("--")}
        action = str(spec.get("action") or "store")
        is_store_true = action == "store_true" or "StoreTrue" in action
        if is_store_true:
            store_true |= keys
        if is_store_true or action == "store" or (spec.get("nargs") is None and spec.get("takes_value", True)):
            supported |= keys
        elif not {"--config", "--help", "-h"} & set(options):
            unsupported.update({k: action for k in keys})
    return store_true, {k: v for k, v in unsupported.items() if k not in supported}


def merge_config(argv, catalog):
    """SGLang's ConfigArgumentMerger: config args first, then the CLI (which wins).

    As in SGLang 0.5.23 each YAML key ``k`` is passed on verbatim as ``--k``, so only
    dashed keys (``api-key: x``) name real flags; ``api_key: x`` becomes the unknown
    ``--api_key`` and argparse rejects it.
    """
    idx = [i for i, a in enumerate(argv) if a == "--config"]
    if not idx:
        return argv, None
    if len(idx) > 1:
        raise StartupError("ValueError: Multiple config files specified! Only one allowed.")
    i = idx[0]
    if i == len(argv) - 1:
        raise StartupError("ValueError: No config file specified after --config flag!")
    path = argv[i + 1]
    if os.path.splitext(path)[1].lower() not in (".yaml", ".yml"):
        raise StartupError("ValueError: Config file must be YAML format, got: %s" % os.path.splitext(path)[1])
    if not os.path.exists(path):
        raise StartupError("ValueError: Config file not found: %s" % path)
    try:
        config = read_yaml_subset(path)
    except (OSError, ValueError) as exc:
        raise StartupError("Failed to read config file %s: %s" % (path, exc))
    store_true, unsupported = _config_key_kinds(catalog)
    args = []
    for key, value in config.items():
        key_norm = key.replace("-", "_")
        if key_norm in unsupported:
            raise StartupError(
                "ValueError: Unsupported config option '%s' with action '%s'" % (key_norm, unsupported[key_norm])
            )
        flag = "--%s" % key
        if isinstance(value, bool):
            if key_norm in store_true:
                if value:
                    args.append(flag)
            else:
                args.extend([flag, str(value).lower()])
        elif isinstance(value, list):
            if value:
                args.append(flag)
                args.extend(str(v) for v in value)
        else:
            args.extend([flag, str(value)])
    return args + argv[:i] + argv[i + 2 :], path
