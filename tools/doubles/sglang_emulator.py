# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SGLang engine EMULATOR -- a TEST / DEMO DOUBLE.  NOT A SERVING ENGINE.

This file never loads a model, never touches a GPU and never produces a
meaningful completion.  It is a protocol double of a (multi-node)
``python3 -m sglang.launch_server`` process so that readiness gates, a real
``sglang-router``, rolling restarts and failure handling can be exercised for
real on machines without GPUs (CI, molecule, demos).

Run it with exactly the argv you would give SGLang::

    python3 sglang_emulator.py --model-path /models/x --served-model-name r1 \\
        --tp-size 16 --nnodes 2 --node-rank 0 --dist-init-addr 10.0.0.1:20000 \\
        --host 0.0.0.0 --port 30000 --watchdog-timeout 300 --enable-metrics

Python standard library only, python3 >= 3.9, one file.

Argv
----
The flag catalog (plain data generated from SGLang's own parser) is loaded from
``$SGLANG_EMULATOR_CATALOG`` if set, else from ``sglang_catalog.py`` next to
this file.  An ``argparse`` parser with ``allow_abbrev=False`` is built from it,
so unknown flags and abbreviations exit 2 with argparse's usual error (SGLang
itself keeps argparse's allow_abbrev=True; the emulator is deliberately stricter
because rendered argv must use full names).  If the catalog knows ``--config``,
``--config FILE.yaml`` is merged the way SGLang 0.5.23's ConfigArgumentMerger
does it: each top-level key ``k`` is passed on verbatim as ``--k`` (so use the
dashed flag names, e.g. ``api-key: xyz``; ``api_key:`` becomes the unknown
``--api_key`` and exits 2, as in SGLang); a boolean for a store_true flag
becomes the bare flag (``true``) or nothing (``false``), other booleans
``--k true|false``; lists become ``--k a b``; keys of multi-value switches
(store_false, BooleanOptional, count ...) are refused; the config args go first
and the command line wins.  Only a small YAML subset is read (scalars, inline
``[a, b]`` and block ``- item`` lists, comments); the file must end in
``.yaml``/``.yml``.

Emulator-only knobs (environment, never argv)
---------------------------------------------
SGLANG_EMULATOR_CATALOG      path of sglang_catalog.py (default: next to this file)
SGLANG_EMULATOR_START_DELAY  seconds of "weight loading" after the distributed
                             group formed, before ready (default 0)
SGLANG_EMULATOR_VERSION      version reported (default: the first line of a VERSION file
                             next to this script, else the catalog's SGLANG_VERSION)
SGLANG_EMULATOR_FAIL_READY=1 never become ready (stuck in weight loading)
SGLANG_EMULATOR_TOKEN_DELAY  seconds per generated token (default 0.02)
SGLANG_EMULATOR_NCCL_TRANSPORT=ib|roce|socket  the network the emulated NCCL reports in
                             NCCL_DEBUG_FILE at init (default socket: a double has no RDMA
                             device); HCAs from NCCL_IB_HCA. Written only with NCCL_DEBUG=INFO
                             (or TRACE) and NCCL_DEBUG_FILE set, in NCCL's own line formats.

Multi-node (dist-init) protocol
-------------------------------
Rank 0 listens on the ``--dist-init-addr`` port (on that host's address, or on
all interfaces if that address is not local).  It is newline-delimited JSON;
every line is an object with an ``op``:

* follower -> rank 0: ``{"op":"hello","node_rank":r,"nnodes":n,"tp_size":t,...}``
* rank 0 -> follower: ``{"op":"welcome",...}`` or ``{"op":"reject","reason":...}``
  (wrong nnodes/tp_size, rank out of range, duplicate rank, group broken)
* rank 0 -> followers: ``{"op":"formed"}`` once every rank joined ("Init torch
  distributed ends"), ``{"op":"ready"}`` once serving, ``{"op":"shutdown"}`` on a
  graceful exit (SGLang's ShutdownReq broadcast)
* both ways every 0.5 s: ``{"op":"ping"}``; follower -> rank 0 ``{"op":"bye"}`` on a
  graceful exit.

Start-up, as SGLang 0.5.23 (sglang/srt/entrypoints/engine.py
``Engine._launch_subprocesses``, http_server.py ``launch_server`` /
``_wait_and_warmup``): every rank "loads weights" for SGLANG_EMULATOR_START_DELAY
seconds once all ``--nnodes`` ranks joined.  Until then NO rank listens on its
HTTP port: a probe gets "connection refused", not 503 (the port is bound without
``listen()``, so a port already in use still fails the start at once).  Then:

* rank 0 listens (uvicorn starts after ``scheduler_init_result.wait_for_ready()``),
  answers /health, /health_generate and /ready with 503 while it warms up
  (``ServerStatus.Starting``) but already serves /model_info, /v1/models and
  generation; the warm-up is SGLang's ``_execute_server_warmup``: GET /model_info,
  then POST /generate (8 tokens) to itself, with ``Authorization: Bearer`` when an
  API key is set.  Then "The server is fired up and ready to roll!" and 200.
* followers start SGLang's dummy health server (utils/common.py
  ``launch_dummy_health_check_server``): /health, /health_generate and /ping
  answer 200 from then on, whatever happens to the group, until the process dies.

A follower retries connecting forever (or until ``--dist-timeout``, then exits 1).
A rank that drops out before the group formed may rejoin; once the group formed,
a rank that loses a peer crashes at once, as SGLang's schedulers do: their
per-iteration ``broadcast_pyobj`` over the TP group's gloo group
(managers/scheduler_components/request_receiver.py) raises when the peer's
connection closes, ``run_scheduler_process`` (managers/scheduler.py) logs
"Scheduler hit an exception" and sends SIGQUIT to the main process, whose handler
kills the process tree, itself last (see Crash below).  A peer that goes silent
without closing (missed heartbeats) turns rank 0's health 503 and crashes the rank
after ``--watchdog-timeout`` (SGLang's watchdog, utils/watchdog.py, also ends in
SIGQUIT).  So when any rank crashes, every rank of the group exits "killed", and
systemd's ``Restart=on-failure`` brings the whole group back.

Crash (mirroring SGLang 0.5.23)
-------------------------------
SIGQUIT to the main process is SGLang's crash path (entrypoints/engine.py
``launch_phase_sigquit_handler``, managers/tokenizer_manager.py
``SignalHandler.running_phase_sigquit_handler``): it logs the error and calls
``kill_process_tree(os.getpid())`` (utils/common.py), which SIGKILLs the children
and then the process itself.  The process therefore dies of SIGKILL: systemd logs
``code=killed, status=9/KILL``, a shell or ``docker run`` reports exit status 137.
SIGUSR1 (emulator only, for tests) raises an exception in the emulated scheduler,
which takes the same path (log, SIGQUIT, SIGKILL).  Sending SIGQUIT directly works
on the emulator and on real SGLang alike.

Signals (mirroring SGLang 0.5.23)
---------------------------------
Rank 0, SIGTERM or SIGINT: /health, /ready and /health_generate turn 503, new
requests get 503 (stricter than SGLang, which only fails health and relies on
the router to stop sending), in-flight requests and streams finish, then rank 0
sends ``shutdown`` (SGLang's ShutdownReq broadcast) to the followers and exits 0.
A second signal exits 1 at once.
Follower, SIGTERM once its dummy health server runs: IGNORED with SGLang's
warning ("waiting for the rank-0 ShutdownReq broadcast"; engine.py installs that
handler after ``wait_for_ready``); it exits 0 when rank 0 shuts down (or is killed
by the service manager's stop timeout).  SIGTERM before that, and SIGINT: exits 0
at once.

HTTP
----
Followers (node rank >= 1) serve only ``/health``, ``/health_generate`` and
``/ping`` (always 200 once listening) -- and ``/metrics`` with
``--enable-metrics`` -- like SGLang's dummy health server; everything else is
404.  Rank 0 serves /health, /health_generate, /ready, /v1/models,
/v1/models/<id>, /model_info, /get_model_info, /server_info,
/get_server_info, /version, POST /generate, /v1/completions,
/v1/chat/completions, /flush_cache and -- only with ``--enable-metrics``, as in
SGLang -- /metrics.  While warming up, health answers 503; while draining or
broken, everything but /metrics answers 503.  Generation is deterministic (words
picked from a hash of the prompt); without max_tokens / max_new_tokens 16 tokens
are produced (finish_reason "stop"), with one exactly that many ("length"), one
every SGLANG_EMULATOR_TOKEN_DELAY seconds.  /health_generate is not counted in
the metrics (the warm-up request is, as in SGLang).

``--api-key`` (or ``api-key:`` in ``--config``) is enforced as SGLang 0.5.23's
``decide_request_auth`` (utils/auth.py) does: only ``Authorization: Bearer <key>``
(no ``x-api-key``), on every endpoint except OPTIONS and paths starting with
/health, /ready or /metrics; /flush_cache (ADMIN_OPTIONAL) needs
``--admin-api-key`` when one is set.  Failures get 401 ``{"error": "Unauthorized"}``.
Followers never check it.

Logging: like SGLang (engine.py ``_server_args_for_logging``, which redacts only
watermark secrets), the emulator logs ``server_args={...}`` at start WITH the API
keys in clear: whoever reads the unit's journal reads the keys.  /server_info
redacts them (SGLang returns them to any caller holding the API key).

Exit codes
----------
0 graceful exit; 1 start-up error (bad catalog/config, port in use, rejected
by rank 0, ``--dist-timeout`` elapsed) or a second signal; 2 argv rejected;
killed by SIGKILL (137 in a shell) on a crash.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import importlib.util
import json
import logging
import os
import random
import re
import signal
import socket
import sys
import threading
import time
import urllib.request
import uuid
from collections import deque
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

LOG = logging.getLogger("sglang_emulator")

HEARTBEAT_INTERVAL = 0.5  # seconds between pings, both directions
HEARTBEAT_TIMEOUT = 3.0  # a peer silent this long is lost
CONNECT_RETRY = 1.0  # follower: seconds between connection attempts
HANDSHAKE_TIMEOUT = 10.0  # seconds to wait for hello / welcome

EXIT_OK, EXIT_ERROR, EXIT_ARGV = 0, 1, 2

VOCAB = (
    "the model emulator says hello from a test double that streams tokens at a "
    "steady pace so drains and rolling restarts can be observed without any gpu "
    "tensor parallel group node rank ready health router request answer token"
).split()

TTFT_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
E2E_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


# --------------------------------------------------------------------------
# catalog / argv
# --------------------------------------------------------------------------


class StartupError(Exception):
    """A start-up problem: message logged, process exits with ``code``."""

    def __init__(self, message, code=EXIT_ERROR):
        super().__init__(message)
        self.code = code


def find_catalog_path():
    path = os.environ.get("SGLANG_EMULATOR_CATALOG")
    if path:
        return path
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "sglang_catalog.py")


def _installed_version():
    """The version an installer recorded next to this script (VERSION), if any."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")
    try:
        with open(path) as handle:
            return handle.readline().strip() or None
    except OSError:
        return None


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


# --------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------


def _env_float(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise StartupError("sglang_emulator: error: %s=%r is not a number" % (name, raw), EXIT_ARGV)
    if value < 0:
        raise StartupError("sglang_emulator: error: %s must be >= 0" % name, EXIT_ARGV)
    return value


def split_host_port(addr):
    addr = addr.strip()
    if addr.startswith("["):
        end = addr.index("]")
        host, rest = addr[1:end], addr[end + 1 :]
        if not rest.startswith(":"):
            raise ValueError("a port must be specified in IPv6 address: %s" % addr)
        return host, int(rest[1:])
    host, _sep, port = addr.rpartition(":")
    if not host:
        raise ValueError("expected host:port, got %r" % addr)
    return host, int(port)


class Settings:
    def __init__(self, args, catalog, config_path):
        def g(name, default=None):
            return getattr(args, name, default)

        self.args = args
        self.config_path = config_path
        self.model_path = g("model_path") or "dummy"
        self.tokenizer_path = g("tokenizer_path") or self.model_path
        served = g("served_model_name")
        if isinstance(served, list):
            served = served[0] if served else None
        self.served_model_name = served or self.model_path
        self.tp_size = int(g("tp_size", 1) or 1)
        self.dp_size = int(g("dp_size", 1) or 1)
        self.nnodes = int(g("nnodes", 1) or 1)
        self.node_rank = int(g("node_rank", 0) or 0)
        self.host = g("host") or "127.0.0.1"
        self.port = int(g("port", 30000) or 30000)
        wt = g("watchdog_timeout", 300)
        self.watchdog_timeout = float(wt if wt is not None else 300)
        dt = g("dist_timeout")
        self.dist_timeout = float(dt) if dt not in (None, 0) else None
        self.api_key = g("api_key") or None
        self.admin_api_key = g("admin_api_key") or None
        self.enable_metrics = bool(g("enable_metrics", False))
        self.context_length = int(g("context_length") or 32768)
        mrr = g("max_running_requests")
        self.max_running_requests = int(mrr) if mrr else None
        self.max_total_tokens = int(g("max_total_tokens") or 262144)
        self.catalog_version = getattr(catalog, "SGLANG_VERSION", "unknown")
        self.version = os.environ.get("SGLANG_EMULATOR_VERSION") or _installed_version() or self.catalog_version
        self.start_delay = _env_float("SGLANG_EMULATOR_START_DELAY", 0.0)
        self.token_delay = _env_float("SGLANG_EMULATOR_TOKEN_DELAY", 0.02)
        self.fail_ready = os.environ.get("SGLANG_EMULATOR_FAIL_READY", "").strip().lower() in ("1", "true", "yes", "on")
        if self.nnodes < 1:
            raise StartupError("--nnodes must be >= 1", EXIT_ARGV)
        if not 0 <= self.node_rank < self.nnodes:
            raise StartupError("--node-rank %d out of range for --nnodes %d" % (self.node_rank, self.nnodes), EXIT_ARGV)
        self.dist_host, self.dist_port = None, None
        dia = g("dist_init_addr")
        if self.nnodes > 1:
            if not dia:
                raise StartupError("--dist-init-addr is required when --nnodes > 1", EXIT_ARGV)
            try:
                self.dist_host, self.dist_port = split_host_port(dia)
            except ValueError as exc:
                raise StartupError("invalid --dist-init-addr: %s" % exc, EXIT_ARGV)
        gpus_per_node = max(1, self.tp_size // self.nnodes)
        self.first_tp_rank = self.node_rank * gpus_per_node

    def args_dict(self, redact=True):
        out = {}
        for key, value in sorted(vars(self.args).items()):
            if redact and key in ("api_key", "admin_api_key", "hf_token") and value:
                value = "<redacted>"
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                value = str(value)
            out[key] = value
        return out


# --------------------------------------------------------------------------
# engine state
# --------------------------------------------------------------------------


class NotAdmitted(Exception):
    pass


class BadRequest(Exception):
    pass


class Histogram:
    def __init__(self, buckets):
        self.buckets = buckets
        self.counts = [0] * len(buckets)
        self.total = 0
        self.sum = 0.0

    def observe(self, value):
        self.total += 1
        self.sum += value
        for i, b in enumerate(self.buckets):
            if value <= b:
                self.counts[i] += 1


class Engine:
    """Everything shared between HTTP handlers, dist threads and the main loop."""

    def __init__(self, settings):
        self.s = settings
        self.lock = threading.RLock()
        self.t_start = time.monotonic()
        # group
        self.peers = {}  # node_rank -> Peer (rank 0) ; {0: Peer} on followers
        self.formed_at = None  # all ranks joined ("Init torch distributed ends")
        self.loaded = False  # weights loaded: the HTTP port listens from now on
        self.ready = False  # rank 0: warm-up done (ServerStatus.Up)
        self.crashing = False
        self.dist = None
        self.broken_at = None
        self.broken_reason = None
        self.rank0_shutdown = False
        # lifecycle
        self.draining = False
        self.signals = 0
        # requests
        self.running = 0
        self.queued = 0
        self.running_tokens = 0
        self.slots = threading.Semaphore(settings.max_running_requests) if settings.max_running_requests else None
        # metrics, per is_streaming label value
        self.series = {False: Series(), True: Series()}
        self.token_times = deque()

    # -- state -------------------------------------------------------------
    def serving(self):
        with self.lock:
            return self.ready and self.broken_at is None and not self.draining

    def admitting(self):
        with self.lock:
            return self.loaded and self.broken_at is None and not self.draining

    def follower_ignores_sigterm(self):
        # engine.py installs the follower's "wait for ShutdownReq" SIGTERM handler
        # only after its schedulers are ready (when the dummy health server starts).
        with self.lock:
            return self.loaded and not self.draining

    def mark_broken(self, reason):
        """A peer went silent (no close): health 503 on rank 0, crash after --watchdog-timeout."""
        with self.lock:
            if self.broken_at is not None:
                return
            self.broken_at = time.monotonic()
            self.broken_reason = reason
        LOG.error("%s; distributed group is broken; crashing in %.0fs (watchdog)", reason, self.s.watchdog_timeout)

    def peer_lost(self, reason, silent=False):
        """A peer of a formed group is gone: SGLang's schedulers fail their next collective."""
        if silent:
            self.mark_broken(reason)
            return
        with self.lock:
            self.broken_at = self.broken_at or time.monotonic()
            self.broken_reason = reason
        scheduler_exception(
            "RuntimeError: [../third_party/gloo/gloo/transport/tcp/pair.cc] Connection closed by peer (%s)" % reason
        )

    # -- requests ----------------------------------------------------------
    def admit(self, streaming=False):
        with self.lock:
            if not (self.loaded and self.broken_at is None and not self.draining):
                raise NotAdmitted()
            self.queued += 1
        return _Request(self, bool(streaming))

    def inflight(self):
        with self.lock:
            return self.running + self.queued

    def note_token(self, streaming, n=1):
        now = time.monotonic()
        with self.lock:
            self.series[streaming].generation_tokens += n
            self.running_tokens += n
            self.token_times.append((now, n))

    def gen_throughput(self):
        now = time.monotonic()
        with self.lock:
            while self.token_times and self.token_times[0][0] < now - 5.0:
                self.token_times.popleft()
            return sum(n for _t, n in self.token_times) / 5.0


class Series:
    """Counters and histograms of one ``is_streaming`` label value."""

    def __init__(self):
        self.prompt_tokens = 0
        self.generation_tokens = 0
        self.num_requests = 0
        self.ttft = Histogram(TTFT_BUCKETS)
        self.e2e = Histogram(E2E_BUCKETS)


class _Request:
    def __init__(self, engine, streaming):
        self.e = engine
        self.streaming = streaming
        self.t0 = time.monotonic()
        self.first = None
        self.prompt_tokens = 0
        self.tokens = 0

    def __enter__(self):
        e = self.e
        if e.slots is not None:
            e.slots.acquire()
        with e.lock:
            e.queued -= 1
            e.running += 1
        return self

    def start(self, prompt_tokens):
        self.prompt_tokens = prompt_tokens
        with self.e.lock:
            self.e.series[self.streaming].prompt_tokens += prompt_tokens
            self.e.running_tokens += prompt_tokens

    def token(self):
        if self.first is None:
            self.first = time.monotonic()
        self.tokens += 1
        self.e.note_token(self.streaming)

    def __exit__(self, *exc):
        e = self.e
        with e.lock:
            e.running -= 1
            e.running_tokens -= self.prompt_tokens + self.tokens
            series = e.series[self.streaming]
            series.num_requests += 1
            if self.first is not None:
                series.ttft.observe(self.first - self.t0)
            series.e2e.observe(time.monotonic() - self.t0)
        if e.slots is not None:
            e.slots.release()
        return False


# --------------------------------------------------------------------------
# deterministic "generation"
# --------------------------------------------------------------------------


def count_tokens(text):
    return max(1, len(str(text).split()))


def generate_words(prompt, n):
    seed = int.from_bytes(hashlib.sha256(str(prompt).encode("utf-8")).digest()[:8], "big")
    rng = random.Random(seed)
    return [rng.choice(VOCAB) for _i in range(n)]


def chat_prompt(messages):
    parts = []
    for m in messages or []:
        if not isinstance(m, dict):
            continue
        content = m.get("content")
        if isinstance(content, list):
            content = " ".join(str(p.get("text", "")) for p in content if isinstance(p, dict))
        parts.append("%s: %s" % (m.get("role", "user"), content or ""))
    return "\n".join(parts)


def stream_words(engine, req, words):
    """Yield (index, piece) with the per-token delay; each yielded piece is one token."""
    for i, w in enumerate(words):
        if engine.s.token_delay:
            time.sleep(engine.s.token_delay)
        req.token()
        yield i, (w if i == 0 else " " + w)


# --------------------------------------------------------------------------
# distributed group
# --------------------------------------------------------------------------


class Peer:
    def __init__(self, sock, node_rank):
        self.sock = sock
        self.node_rank = node_rank
        self.last_seen = time.monotonic()
        self.wlock = threading.Lock()
        self.closed = False

    def send(self, obj):
        data = (json.dumps(obj) + "\n").encode("utf-8")
        with self.wlock:
            if self.closed:
                return False
            try:
                self.sock.sendall(data)
                return True
            except OSError:
                return False

    def close(self):
        with self.wlock:
            if self.closed:
                return
            self.closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass


def _read_line(fh):
    line = fh.readline(65536)
    if not line:
        return None
    return json.loads(line.decode("utf-8"))


class Rank0Dist:
    """Rank 0: accept followers, validate hellos, heartbeat, detect loss."""

    def __init__(self, engine):
        self.e = engine
        s = engine.s
        self.sock = None
        family = socket.AF_INET6 if ":" in (s.dist_host or "") else socket.AF_INET
        for bind_host in (s.dist_host, "::" if family == socket.AF_INET6 else "0.0.0.0"):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((bind_host, s.dist_port))
            except OSError as exc:
                sock.close()
                # EADDRNOTAVAIL / unresolvable: not one of this host's addresses (a VIP, a DNS name)
                if isinstance(exc, socket.gaierror) or exc.errno == 99 or "assign" in str(exc).lower():
                    continue
                raise StartupError("cannot listen on dist-init port %s:%d: %s" % (bind_host, s.dist_port, exc))
            sock.listen(64)
            self.sock = sock
            LOG.info("dist-init rendezvous listening on %s:%d (nnodes=%d)", bind_host, s.dist_port, s.nnodes)
            break
        if self.sock is None:
            raise StartupError("cannot listen on dist-init port %d" % s.dist_port)
        threading.Thread(target=self._accept_loop, name="dist-accept", daemon=True).start()

    def _accept_loop(self):
        while True:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn, addr), name="dist-peer", daemon=True).start()

    def _reject(self, conn, addr, reason):
        LOG.error("Rejected node from %s: %s", addr[0], reason)
        try:
            conn.sendall((json.dumps({"op": "reject", "reason": reason}) + "\n").encode())
        except OSError:
            pass
        conn.close()

    def _serve(self, conn, addr):
        e, s = self.e, self.e.s
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        fh = conn.makefile("rb")
        try:
            conn.settimeout(HANDSHAKE_TIMEOUT)
            hello = _read_line(fh)
            conn.settimeout(None)
        except (OSError, ValueError):
            conn.close()
            return
        if not isinstance(hello, dict) or hello.get("op") != "hello":
            return self._reject(conn, addr, "protocol error: expected hello")
        try:
            rank = int(hello.get("node_rank"))
            nnodes = int(hello.get("nnodes"))
            tp = int(hello.get("tp_size"))
        except (TypeError, ValueError):
            return self._reject(conn, addr, "protocol error: bad hello %r" % (hello,))
        with e.lock:
            if nnodes != s.nnodes:
                reason = "node rank %d has nnodes=%d but rank 0 has nnodes=%d" % (rank, nnodes, s.nnodes)
            elif tp != s.tp_size:
                reason = "node rank %d has tp_size=%d but rank 0 has tp_size=%d" % (rank, tp, s.tp_size)
            elif not 1 <= rank < s.nnodes:
                reason = "node rank %d is out of range 1..%d" % (rank, s.nnodes - 1)
            elif rank in e.peers:
                reason = "duplicate node rank %d (already joined from %s)" % (rank, e.peers[rank].addr)
            elif e.broken_at is not None:
                reason = "process group is broken (%s); restart rank 0 to form a new group" % e.broken_reason
            elif e.formed_at is not None:
                reason = "process group already formed"
            elif e.draining:
                reason = "rank 0 is shutting down"
            else:
                reason = None
            if reason is None:
                peer = Peer(conn, rank)
                peer.addr = "%s:%s" % (addr[0], addr[1])
                e.peers[rank] = peer
        if reason is not None:
            return self._reject(conn, addr, reason)
        if hello.get("version") and hello.get("version") != s.version:
            LOG.warning("node rank %d reports version %s, rank 0 has %s", rank, hello.get("version"), s.version)
        peer.send({"op": "welcome", "nnodes": s.nnodes, "tp_size": s.tp_size, "version": s.version})
        LOG.info("node rank %d joined from %s (%d/%d nodes)", rank, peer.addr, len(e.peers) + 1, s.nnodes)
        with e.lock:
            if e.formed_at is None and len(e.peers) == s.nnodes - 1:
                e.formed_at = time.monotonic()
                formed = True
            else:
                formed = False
        if formed:
            self.broadcast({"op": "formed"})
            on_group_formed(e)
        bye = False
        while True:
            try:
                msg = _read_line(fh)
            except (OSError, ValueError):
                msg = None
            if msg is None:
                break
            peer.last_seen = time.monotonic()
            if isinstance(msg, dict) and msg.get("op") == "bye":
                bye = True
                break
        how = "left the group (graceful exit)" if bye else "closed its connection"
        self.lose(peer, "node rank %d at %s %s" % (rank, peer.addr, how))

    def lose(self, peer, reason, silent=False):
        e = self.e
        with e.lock:
            if e.peers.get(peer.node_rank) is not peer:
                return
            del e.peers[peer.node_rank]
            formed = e.formed_at is not None
        peer.close()
        if e.draining:
            LOG.info("%s", reason)
        elif formed:
            e.peer_lost("Lost node rank %d: %s" % (peer.node_rank, reason), silent)
        else:
            LOG.warning("%s before the group formed; waiting for it to rejoin", reason)

    def tick(self):
        now = time.monotonic()
        with self.e.lock:
            peers = list(self.e.peers.values())
        for p in peers:
            if now - p.last_seen > HEARTBEAT_TIMEOUT:
                self.lose(p, "node rank %d missed heartbeats for %.1fs" % (p.node_rank, now - p.last_seen), silent=True)
            else:
                p.send({"op": "ping", "t": time.time()})

    def broadcast(self, obj):
        with self.e.lock:
            peers = list(self.e.peers.values())
        for p in peers:
            p.send(obj)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class FollowerDist:
    """Node rank >= 1: connect to rank 0 (retrying), hello, heartbeat."""

    def __init__(self, engine):
        self.e = engine
        self.peer = None
        self.lost_at = None
        self.rejected = None
        self.gave_up = False
        threading.Thread(target=self._run, name="dist-client", daemon=True).start()

    def _run(self):
        e, s = self.e, self.e.s
        attempts = 0
        while True:
            if e.draining:
                return
            if s.dist_timeout is not None and time.monotonic() - e.t_start > s.dist_timeout:
                self.gave_up = True
                return
            attempts += 1
            try:
                sock = socket.create_connection((s.dist_host, s.dist_port), timeout=2.0)
            except OSError as exc:
                if attempts == 1 or attempts % 10 == 0:
                    LOG.info("Waiting for node rank 0 at %s:%d (%s)", s.dist_host, s.dist_port, exc)
                time.sleep(CONNECT_RETRY)
                continue
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.settimeout(HANDSHAKE_TIMEOUT)
                sock.sendall(
                    (
                        json.dumps(
                            {
                                "op": "hello",
                                "node_rank": s.node_rank,
                                "nnodes": s.nnodes,
                                "tp_size": s.tp_size,
                                "model_path": s.model_path,
                                "version": s.version,
                                "pid": os.getpid(),
                                "host": socket.gethostname(),
                            }
                        )
                        + "\n"
                    ).encode()
                )
                fh = sock.makefile("rb")
                reply = _read_line(fh)
                sock.settimeout(None)
            except (OSError, ValueError) as exc:
                LOG.info("Handshake with node rank 0 failed (%s); retrying", exc)
                sock.close()
                time.sleep(CONNECT_RETRY)
                continue
            if not isinstance(reply, dict) or reply.get("op") != "welcome":
                reason = reply.get("reason") if isinstance(reply, dict) else "connection closed"
                if reply is None:
                    sock.close()
                    time.sleep(CONNECT_RETRY)
                    continue
                LOG.error("Node rank 0 rejected this node: %s", reason)
                sock.close()
                self.rejected = reason
                return
            peer = Peer(sock, 0)
            with e.lock:
                e.peers[0] = peer
            self.peer = peer
            LOG.info("Joined the distributed group at %s:%d as node rank %d", s.dist_host, s.dist_port, s.node_rank)
            self._read(fh, peer)
            return

    def _read(self, fh, peer):
        e = self.e
        reason = "node rank 0 closed the connection"
        while True:
            try:
                msg = _read_line(fh)
            except (OSError, ValueError):
                msg = None
            if msg is None:
                break
            peer.last_seen = time.monotonic()
            op = msg.get("op") if isinstance(msg, dict) else None
            if op == "formed":
                with e.lock:
                    first = e.formed_at is None
                    e.formed_at = e.formed_at or time.monotonic()
                if first:
                    on_group_formed(e)
            elif op == "ready":
                LOG.info("Node rank 0 reports the server is ready")
            elif op == "shutdown":
                with e.lock:
                    e.rank0_shutdown = True
                reason = "node rank 0 sent ShutdownReq"
                break
        self.lose(reason)

    def lose(self, reason, silent=False):
        e = self.e
        with e.lock:
            peer = e.peers.pop(0, None)
        if peer is None:
            return
        peer.close()
        self.lost_at = time.monotonic()
        if e.draining or e.rank0_shutdown:
            return
        # Joined: this rank's schedulers are in rank 0's process group (real SGLang
        # would be inside init_process_group or the event loop's broadcasts).
        e.peer_lost("Lost node rank 0 at %s:%d: %s" % (e.s.dist_host, e.s.dist_port, reason), silent)

    def tick(self):
        peer = self.peer
        if peer is None or peer.closed:
            return
        now = time.monotonic()
        if now - peer.last_seen > HEARTBEAT_TIMEOUT:
            self.lose("node rank 0 missed heartbeats for %.1fs" % (now - peer.last_seen), silent=True)
        else:
            peer.send({"op": "ping", "t": time.time()})

    def close(self):
        peer = self.peer
        if peer is not None:
            peer.send({"op": "bye"})
            peer.close()


# --------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------

AUTH_EXEMPT_PREFIXES = ("/health", "/ready", "/metrics")
ADMIN_OPTIONAL_PATHS = ("/flush_cache",)  # @auth_level(AuthLevel.ADMIN_OPTIONAL) in http_server.py


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    engine = None  # set on the subclass

    # -- plumbing ----------------------------------------------------------
    def version_string(self):
        return "uvicorn"

    def log_message(self, fmt, *args):  # uvicorn-like access log
        LOG.debug("%s - %s", self.client_address[0], fmt % args)

    def _body(self):
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if not raw:
            return {}
        try:
            body = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadRequest("invalid JSON body: %s" % exc)
        if not isinstance(body, dict):
            raise BadRequest("the request body must be a JSON object")
        return body

    def _send(self, status, body=b"", ctype="application/json", headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode("utf-8")
        elif isinstance(body, str):
            body = body.encode("utf-8")
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.engine.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _error(self, status, message, err_type=None):
        self._send(
            status,
            {
                "object": "error",
                "message": message,
                "type": err_type or ("BadRequestError" if status == 400 else "ServiceUnavailable"),
                "param": None,
                "code": status,
            },
        )

    def _not_found(self):
        self._send(404, {"detail": "Not Found"})

    def _start_stream(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        if self.engine.draining:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()

    def _chunk(self, obj):
        data = ("data: %s\n\n" % (obj if isinstance(obj, str) else json.dumps(obj))).encode("utf-8")
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_stream(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _authorized(self, path):
        """SGLang 0.5.23 utils/auth.py decide_request_auth: Bearer only, probes exempt."""
        s = self.engine.s
        if self.command == "OPTIONS" or path.startswith(AUTH_EXEMPT_PREFIXES):
            return True
        key = s.api_key
        if path in ADMIN_OPTIONAL_PATHS and s.admin_api_key:
            key = s.admin_api_key
        if not key:
            return True
        parts = (self.headers.get("Authorization") or "").split(" ", 1)
        return len(parts) == 2 and parts[0].lower() == "bearer" and hmac.compare_digest(parts[1], key)

    def _dispatch(self):
        path = urlsplit(self.path).path
        try:
            if self.engine.s.node_rank != 0:
                return self._follower(path)
            if not self._authorized(path):
                return self._send(401, {"error": "Unauthorized"})
            return self._rank0(path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        except BadRequest as exc:
            self._error(400, str(exc))
        except Exception as exc:  # keep serving; report like a server error
            LOG.exception("Exception in %s %s", self.command, path)
            self.close_connection = True
            try:
                self._error(500, "internal emulator error: %s" % exc, "InternalServerError")
            except OSError:
                pass

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _dispatch

    def do_OPTIONS(self):
        self._send(200, b"", headers={"Allow": "GET, POST, OPTIONS"})

    # -- followers: SGLang's dummy health server ---------------------------
    def _follower(self, path):
        # utils/common.py launch_dummy_health_check_server: plain 200, whatever the group does.
        if path in ("/health", "/health_generate", "/ping") and self.command in ("GET", "HEAD"):
            return self._send(200, b"")
        if path == "/metrics" and self.engine.s.enable_metrics and self.command in ("GET", "HEAD"):
            return self._send(200, render_metrics(self.engine), ctype="text/plain; version=0.0.4; charset=utf-8")
        return self._not_found()

    # -- rank 0 ------------------------------------------------------------
    GET_ROUTES = {
        "/health": "health",
        "/health_generate": "health_generate",
        "/ready": "ready",
        "/v1/models": "models",
        "/model_info": "model_info",
        "/get_model_info": "model_info",
        "/server_info": "server_info",
        "/get_server_info": "server_info",
        "/version": "version",
        "/metrics": "metrics",
    }
    POST_ROUTES = {
        "/generate": "generate",
        "/v1/completions": "completions",
        "/v1/chat/completions": "chat",
        "/flush_cache": "flush_cache",
    }

    def _rank0(self, path):
        e = self.engine
        if path == "/metrics" and not e.s.enable_metrics:
            return self._not_found()
        get_name, post_name = self.GET_ROUTES.get(path), self.POST_ROUTES.get(path)
        if path.startswith("/v1/models/") and self.command in ("GET", "HEAD"):
            name = "model_card"
        elif self.command in ("GET", "HEAD") and get_name:
            name = get_name
        elif self.command == "POST" and post_name:
            name = post_name
        elif (path, self.command) in (("/flush_cache", "GET"), ("/generate", "PUT")):
            name = post_name
        elif get_name or post_name:
            return self._send(405, {"detail": "Method Not Allowed"})
        else:
            return self._not_found()
        health = name in ("health", "health_generate", "ready")
        if name != "metrics" and ((health and not e.serving()) or not e.admitting()):
            # health: 503 while warming up (ServerStatus.Starting), draining or broken;
            # everything else: 503 only while draining or broken.
            if self.command in ("POST", "PUT"):
                self._body()
            if health:
                return self._send(503, b"")
            return self._error(503, "The server is not ready" if not e.draining else "The server is shutting down")
        return getattr(self, "h_" + name)()

    def h_health(self):
        self._send(200, b"")

    h_ready = h_health

    def h_health_generate(self):
        if self.engine.s.token_delay:
            time.sleep(self.engine.s.token_delay)
        self._send(200 if self.engine.serving() else 503, b"")

    def _card(self):
        s = self.engine.s
        return {
            "id": s.served_model_name,
            "object": "model",
            "created": int(time.time()),
            "owned_by": "sglang",
            "root": s.served_model_name,
            "parent": None,
            "max_model_len": s.context_length,
        }

    def h_models(self):
        self._send(200, {"object": "list", "data": [self._card()]})

    def h_model_card(self):
        model = urlsplit(self.path).path[len("/v1/models/") :]
        if model != self.engine.s.served_model_name:
            return self._send(
                404,
                {
                    "error": {
                        "message": "The model '%s' does not exist" % model,
                        "type": "invalid_request_error",
                        "param": "model",
                        "code": "model_not_found",
                    }
                },
            )
        self._send(200, self._card())

    def h_model_info(self):
        s = self.engine.s
        self._send(
            200,
            {
                "model_path": s.model_path,
                "served_model_name": s.served_model_name,
                "tokenizer_path": s.tokenizer_path,
                "is_generation": True,
                "preferred_sampling_params": None,
                "weight_version": "default",
                "has_image_understanding": False,
                "has_audio_understanding": False,
                "model_type": "emulated",
                "architectures": ["EmulatedForCausalLM"],
            },
        )

    def h_server_info(self):
        e, s = self.engine, self.engine.s
        info = s.args_dict()
        info.update(
            {
                "tp_size": s.tp_size,
                "nnodes": s.nnodes,
                "node_rank": s.node_rank,
                "version": s.version,
                "emulated": True,
                "args": s.args_dict(),
                "internal_states": [
                    {
                        "last_gen_throughput": e.gen_throughput(),
                        "num_running_reqs": e.running,
                        "num_queue_reqs": e.queued,
                    }
                ],
                "max_total_num_tokens": s.max_total_tokens,
            }
        )
        self._send(200, info)

    def h_version(self):
        self._send(200, {"version": self.engine.s.version})

    def h_flush_cache(self):
        if self.command == "POST":
            self._body()
        self._send(
            200,
            "Cache flushed.\nPlease check backend logs for more details. "
            "(When there are running or waiting requests, the operation will not be performed.)\n",
            ctype="text/plain; charset=utf-8",
        )

    def h_metrics(self):
        self._send(200, render_metrics(self.engine), ctype="text/plain; version=0.0.4; charset=utf-8")

    # -- generation endpoints ----------------------------------------------
    @staticmethod
    def _limit(value, natural=16):
        """(n_tokens, finish_reason): honour an explicit limit; otherwise 'stop' after ``natural``."""
        if value is None:
            return natural, "stop"
        n = int(value)
        if n < 0:
            raise ValueError("max tokens must be >= 0")
        return n, "length"

    def _admit(self, streaming=False):
        try:
            return self.engine.admit(streaming)
        except NotAdmitted:
            self._error(503, "The server is not ready" if not self.engine.draining else "The server is shutting down")
            return None

    def h_generate(self):
        body = self._body()
        text = body.get("text")
        if text is None and body.get("input_ids") is not None:
            text = " ".join(str(t) for t in body.get("input_ids"))
        if isinstance(text, list):
            if body.get("stream"):
                return self._error(400, "the emulator does not stream batched /generate requests")
            results = [self._generate_one(t, body, None) for t in text]
            if any(r is None for r in results):
                return None
            return self._send(200, results)
        if text is None:
            return self._error(400, "Either text or input_ids should be provided.")
        if body.get("stream"):
            return self._generate_stream(text, body)
        result = self._generate_one(text, body, None)
        if result is not None:
            self._send(200, result)

    def _gen_params(self, body):
        sp = body.get("sampling_params") or {}
        try:
            return self._limit(sp.get("max_new_tokens"))
        except (TypeError, ValueError) as exc:
            self._error(400, str(exc))
            return None

    def _meta(self, rid, req, finish, n):
        return {
            "id": rid,
            "finish_reason": (
                {"type": "length", "length": n} if finish == "length" else {"type": "stop", "matched": None}
            ),
            "prompt_tokens": req.prompt_tokens,
            "completion_tokens": req.tokens,
            "cached_tokens": 0,
            "weight_version": "default",
            "e2e_latency": round(time.monotonic() - req.t0, 6),
        }

    def _generate_one(self, text, body, _unused):
        params = self._gen_params(body)
        if params is None:
            return None
        n, finish = params
        admitted = self._admit(False)
        if admitted is None:
            return None
        rid = body.get("rid") or uuid.uuid4().hex
        with admitted as req:
            req.start(count_tokens(text))
            out = "".join(p for _t, p in stream_words(self.engine, req, generate_words(text, n)))
            return {"text": out, "meta_info": self._meta(rid, req, finish, n)}

    def _generate_stream(self, text, body):
        params = self._gen_params(body)
        if params is None:
            return
        n, finish = params
        admitted = self._admit(True)
        if admitted is None:
            return
        rid = body.get("rid") or uuid.uuid4().hex
        with admitted as req:
            req.start(count_tokens(text))
            self._start_stream()
            acc = ""
            words = generate_words(text, n)
            for i, piece in stream_words(self.engine, req, words):
                acc += piece
                meta = self._meta(rid, req, finish if i == n - 1 else None, n)
                if i != n - 1:
                    meta["finish_reason"] = None
                self._chunk({"text": acc, "meta_info": meta, "index": 0})
            if n == 0:
                self._chunk({"text": "", "meta_info": self._meta(rid, req, finish, n), "index": 0})
            self._chunk("[DONE]")
            self._end_stream()

    def h_completions(self):
        self._openai(chat=False)

    def h_chat(self):
        self._openai(chat=True)

    def _openai(self, chat):
        body = self._body()
        s = self.engine.s
        if chat:
            if not isinstance(body.get("messages"), list) or not body.get("messages"):
                return self._error(400, "messages must be a non-empty list")
            prompt = chat_prompt(body["messages"])
            prompt_tokens = count_tokens(prompt) + 3 * len(body["messages"])
            limit = body.get("max_completion_tokens", body.get("max_tokens"))
        else:
            if "prompt" not in body:
                return self._error(400, "prompt is required")
            prompt = body["prompt"]
            if isinstance(prompt, list):
                prompt = " ".join(str(p) for p in prompt)
            prompt_tokens = count_tokens(prompt)
            limit = body.get("max_tokens", 16)
        try:
            n, finish = self._limit(limit)
        except (TypeError, ValueError) as exc:
            return self._error(400, str(exc))
        admitted = self._admit(bool(body.get("stream")))
        if admitted is None:
            return
        model = body.get("model") or s.served_model_name
        cid = ("chatcmpl-" if chat else "cmpl-") + uuid.uuid4().hex
        created = int(time.time())
        words = generate_words(prompt, n)
        with admitted as req:
            req.start(prompt_tokens)
            if body.get("stream"):
                self._openai_stream(chat, req, words, n, finish, model, cid, created, body)
                return
            text = "".join(p for _t, p in stream_words(self.engine, req, words))
            usage = {
                "prompt_tokens": req.prompt_tokens,
                "completion_tokens": req.tokens,
                "total_tokens": req.prompt_tokens + req.tokens,
                "prompt_tokens_details": None,
            }
            if chat:
                choice = {
                    "index": 0,
                    "message": {"role": "assistant", "content": text, "reasoning_content": None, "tool_calls": None},
                    "logprobs": None,
                    "finish_reason": finish,
                    "matched_stop": None,
                }
                obj = "chat.completion"
            else:
                choice = {"index": 0, "text": text, "logprobs": None, "finish_reason": finish, "matched_stop": None}
                obj = "text_completion"
            self._send(
                200, {"id": cid, "object": obj, "created": created, "model": model, "choices": [choice], "usage": usage}
            )

    def _openai_stream(self, chat, req, words, n, finish, model, cid, created, body):
        obj = "chat.completion.chunk" if chat else "text_completion"
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def chunk(delta_text, reason, first=False):
            if chat:
                delta = {"role": "assistant", "content": delta_text} if first else {"content": delta_text}
                choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            else:
                choice = {"index": 0, "text": delta_text, "logprobs": None, "finish_reason": reason}
            return {"id": cid, "object": obj, "created": created, "model": model, "choices": [choice], "usage": None}

        self._start_stream()
        if chat:
            self._chunk(chunk("", None, first=True))
        for _i, piece in stream_words(self.engine, req, words):
            self._chunk(chunk(piece, None))
        self._chunk(chunk("", finish))
        if include_usage:
            self._chunk(
                {
                    "id": cid,
                    "object": obj,
                    "created": created,
                    "model": model,
                    "choices": [],
                    "usage": {
                        "prompt_tokens": req.prompt_tokens,
                        "completion_tokens": req.tokens,
                        "total_tokens": req.prompt_tokens + req.tokens,
                    },
                }
            )
        self._chunk("[DONE]")
        self._end_stream()


def _labels(pairs):
    return "{%s}" % ",".join('%s="%s"' % (k, str(v).replace("\\", "\\\\").replace('"', '\\"')) for k, v in pairs)


def render_metrics(engine):
    """Prometheus text with SGLang's metric names (scheduler gauges, tokenizer counters/histograms)."""
    s = engine.s
    base = [("model_name", s.served_model_name)]
    out = []
    if s.node_rank != 0:  # scheduler metrics are exported by TP rank 0 only
        return "# sglang emulator: node rank %d exports no scheduler metrics\n" % s.node_rank
    with engine.lock:
        gauges = [
            ("sglang:num_running_reqs", "The number of running requests.", engine.running),
            ("sglang:num_queue_reqs", "The number of requests in the waiting queue.", engine.queued),
            ("sglang:num_used_tokens", "The number of used tokens.", max(0, engine.running_tokens)),
            ("sglang:token_usage", "The token usage.", max(0, engine.running_tokens) / float(s.max_total_tokens)),
        ]
        series = {
            k: (
                v.prompt_tokens,
                v.generation_tokens,
                v.num_requests,
                list(zip(v.ttft.buckets, v.ttft.counts)),
                v.ttft.total,
                v.ttft.sum,
                list(zip(v.e2e.buckets, v.e2e.counts)),
                v.e2e.total,
                v.e2e.sum,
            )
            for k, v in engine.series.items()
        }
    gauges.append(("sglang:gen_throughput", "The generation throughput (token/s).", engine.gen_throughput()))
    for name, help_, value in gauges:
        out += [
            "# HELP %s %s" % (name, help_),
            "# TYPE %s gauge" % name,
            "%s%s %s" % (name, _labels(base), float(value)),
        ]
    counters = (
        ("sglang:prompt_tokens_total", "Number of prefill tokens processed.", 0),
        ("sglang:generation_tokens_total", "Number of generation tokens processed.", 1),
        ("sglang:num_requests_total", "Number of requests processed.", 2),
    )
    for name, help_, idx in counters:
        out += ["# HELP %s %s" % (name, help_), "# TYPE %s counter" % name]
        for streaming in (False, True):
            labels = _labels(base + [("is_streaming", str(streaming).lower())])
            out.append("%s%s %s" % (name, labels, float(series[streaming][idx])))
    hists = (
        ("sglang:time_to_first_token_seconds", "Histogram of time to first token in seconds.", 3),
        ("sglang:e2e_request_latency_seconds", "Histogram of End-to-end request latency in seconds", 6),
    )
    for name, help_, idx in hists:
        out += ["# HELP %s %s" % (name, help_), "# TYPE %s histogram" % name]
        for streaming in (False, True):
            pairs = base + [("is_streaming", str(streaming).lower())]
            buckets, total, ssum = series[streaming][idx : idx + 3]
            for b, c in buckets:
                out.append("%s_bucket%s %s" % (name, _labels(pairs + [("le", float(b))]), float(c)))
            out.append("%s_bucket%s %s" % (name, _labels(pairs + [("le", "+Inf")]), float(total)))
            out.append("%s_count%s %s" % (name, _labels(pairs), float(total)))
            out.append("%s_sum%s %s" % (name, _labels(pairs), float(ssum)))
    return "\n".join(out) + "\n"


class EmulatorHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


def make_http_server(engine):
    """Bind the HTTP port now (a port in use fails the start) but do not listen yet.

    A bound socket that does not listen refuses connections, exactly what a client
    sees of real SGLang before uvicorn starts (every rank joined and loaded).
    """
    s = engine.s
    handler = type("BoundHandler", (Handler,), {"engine": engine})
    cls = EmulatorHTTPServer
    if ":" in s.host:
        cls = type("EmulatorHTTPServer6", (EmulatorHTTPServer,), {"address_family": socket.AF_INET6})
    httpd = cls((s.host, s.port), handler, bind_and_activate=False)
    try:
        httpd.server_bind()
    except OSError as exc:
        httpd.server_close()
        raise StartupError("Port %d is not available on %s: %s" % (s.port, s.host, exc))
    return httpd


def start_http(httpd):
    httpd.server_activate()  # listen()
    threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="http", daemon=True).start()


# --------------------------------------------------------------------------
# logging and lifecycle
# --------------------------------------------------------------------------


def setup_logging():
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%Y-%m-%d %H:%M:%S"))
    LOG.handlers[:] = [handler]
    LOG.setLevel(logging.DEBUG if os.environ.get("SGLANG_EMULATOR_DEBUG") else logging.INFO)
    LOG.propagate = False


def _tp_logger(s):
    # SGLang scheduler lines look like "[2025-01-01 12:00:00 TP0] message"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%%(asctime)s TP%d] %%(message)s" % s.first_tp_rank, "%Y-%m-%d %H:%M:%S"))
    lg = logging.getLogger("sglang_emulator.tp")
    lg.handlers[:] = [handler]
    lg.setLevel(logging.INFO)
    lg.propagate = False
    return lg


TP_LOG = None


def log_tp(msg, s):  # noqa: ARG001 - s kept for call-site clarity
    (TP_LOG or LOG).info("%s", msg)


# --------------------------------------------------------------------------
# NCCL INIT/NET debug lines (for the NCCL transport gate)
# --------------------------------------------------------------------------
# Formats from NVIDIA/nccl (commit 5067397c2676d5aed50042fc39e5c8ee96eb0027): src/debug.cc (the
# "host:pid:tid [dev] NCCL INFO " prefix, NCCL_DEBUG_FILE's %h/%p), src/transport/net_ib/init.cc
# ("NET/IB : No device found.", "NET/IB : Using [0]mlx5_0:1/IB [RO]; OOB if:addr<0>"),
# src/transport/net_socket.cc, src/plugin/net.cc and src/init.cc ("Using network IB|Socket").
NCCL_TRANSPORTS = ("ib", "roce", "socket")


def nccl_debug_path(template, hostname, pid):
    """NCCL_DEBUG_FILE expanded as debug.cc does: %h short host name, %p pid, %% a percent, others echoed."""
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c != "%" or i + 1 >= len(template):
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        out.append(
            hostname.split(".")[0] if nxt == "h" else str(pid) if nxt == "p" else "%" if nxt == "%" else "%" + nxt
        )
        i += 2
    return "".join(out)


def nccl_debug_lines(env, hostname, pid, local_gpus=1):
    """The INIT/NET lines one process of this rank writes, for SGLANG_EMULATOR_NCCL_TRANSPORT."""
    transport = (env.get("SGLANG_EMULATOR_NCCL_TRANSPORT") or "socket").strip().lower()
    if transport not in NCCL_TRANSPORTS:
        raise StartupError(
            "SGLANG_EMULATOR_NCCL_TRANSPORT=%r: use one of %s"
            % (env.get("SGLANG_EMULATOR_NCCL_TRANSPORT"), ", ".join(NCCL_TRANSPORTS)),
            EXIT_ARGV,
        )
    host = hostname.split(".")[0]
    ifname = (env.get("NCCL_SOCKET_IFNAME") or "eth0").lstrip("=^").split(",")[0] or "eth0"
    try:
        addr = socket.gethostbyname(hostname)
    except OSError:
        addr = "127.0.0.1"
    hca_env = env.get("NCCL_IB_HCA")
    hcas = []
    for item in (hca_env or "mlx5_0:1").lstrip("=^").split(","):
        name, _sep, port = item.strip().partition(":")
        if name:
            hcas.append((name, int(port) if port.isdigit() else 1))
    link = "RoCE" if transport == "roce" else "IB"
    lines = []

    def info(dev, tid, msg):
        lines.append("%s:%d:%d [%d] NCCL INFO %s\n" % (host, pid, tid, dev, msg))

    info(0, pid, "NCCL version 2.28.9+cuda13.0")
    info(0, pid, "NET/Plugin: Could not find: libnccl-net.so")
    if hca_env:
        info(0, pid + 1, "NCCL_IB_HCA set to %s" % hca_env)
    if transport == "socket":
        info(0, pid + 1, "NET/IB : No device found.")
        info(0, pid + 1, "NET/IB : Using [RO]; OOB %s:%s<0>" % (ifname, addr))
        info(0, pid + 1, "Failed to initialize NET plugin IB")
        info(0, pid + 1, "NET/Socket : Using [0]%s:%s<0>" % (ifname, addr))
        net = "Socket"
    else:
        devs = "".join(" [%d]%s:%d/%s" % (i, n, p, link) for i, (n, p) in enumerate(hcas))
        info(0, pid + 1, "NET/IB : Using%s [RO]; OOB %s:%s<0>" % (devs, ifname, addr))
        net = "IB"
    for dev in range(max(1, local_gpus)):
        info(dev, pid + 1 + dev, "Initialized NET plugin %s" % net)
        info(dev, pid + 1 + dev, "Assigned NET plugin %s to comm" % net)
        info(dev, pid + 1 + dev, "Using network %s" % net)
    return lines


def write_nccl_debug(env, local_gpus=1):
    """NCCL_DEBUG=INFO with NCCL_DEBUG_FILE: write this process's INIT/NET lines there; returns the path."""
    template = env.get("NCCL_DEBUG_FILE")
    if not template or (env.get("NCCL_DEBUG") or "").strip().upper() not in ("INFO", "TRACE"):
        return None
    hostname = socket.gethostname()
    path = nccl_debug_path(template, hostname, os.getpid())
    lines = nccl_debug_lines(env, hostname, os.getpid(), local_gpus)
    try:
        with open(path, "w") as handle:  # debug.cc: fopen(name, "w"); stdout when that fails
            handle.writelines(lines)
    except OSError:
        sys.stdout.writelines(lines)
        sys.stdout.flush()
        return None
    return path


def on_group_formed(engine):
    s = engine.s
    try:
        write_nccl_debug(os.environ, max(1, s.tp_size // s.nnodes))
    except StartupError as exc:
        LOG.error("%s", exc)
    log_tp("Init torch distributed ends. mem usage=0.00 GB", s)
    log_tp("Load weight begin. avail mem=78.50 GB", s)
    if s.fail_ready:
        LOG.warning("SGLANG_EMULATOR_FAIL_READY is set: this server will never become ready")


# --------------------------------------------------------------------------
# crash path (SGLang 0.5.23)
# --------------------------------------------------------------------------


def kill_process_tree():
    """utils/common.py kill_process_tree(os.getpid()): SIGKILL the children, then itself.

    The emulator has no children; it dies of SIGKILL (exit status 137 in a shell,
    ``code=killed, status=9/KILL`` in systemd).
    """
    LOG.info("kill_process_tree called: parent_pid=%d, include_parent=True, pid=%d", os.getpid(), os.getpid())
    for handler in LOG.handlers + getattr(TP_LOG, "handlers", []):
        handler.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def scheduler_exception(message):
    """managers/scheduler.py run_scheduler_process: log the traceback, SIGQUIT the main process."""
    if ENGINE is not None:
        with ENGINE.lock:
            if ENGINE.crashing:
                return
            ENGINE.crashing = True
    (TP_LOG or LOG).error(
        "Scheduler hit an exception: Traceback (most recent call last):\n"
        '  File "sglang/srt/managers/scheduler.py", in run_scheduler_process\n%s',
        message,
    )
    os.kill(os.getpid(), signal.SIGQUIT)


def on_sigquit(_signum, _frame):
    """The main process's SIGQUIT handler: launch phase (engine.py) or running phase (tokenizer_manager.py)."""
    if ENGINE is not None and ENGINE.ready:
        LOG.error("SIGQUIT received. signum=%d, frame=None. It usually means one child failed.", signal.SIGQUIT)
    else:
        LOG.error("Received sigquit from a child process. It usually means the child failed.")
    kill_process_tree()


def on_sigusr1(_signum, _frame):
    """Emulator only (tests): an exception in the emulated scheduler."""
    threading.Thread(
        target=scheduler_exception,
        name="scheduler",
        args=("RuntimeError: emulated scheduler failure (SIGUSR1 sent to the emulator)",),
        daemon=True,
    ).start()


# --------------------------------------------------------------------------
# warm-up (rank 0)
# --------------------------------------------------------------------------


def _local_url(s):
    host = s.host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = "[%s]" % host
    return "http://%s:%d" % (host, s.port)


def warmup(engine):
    """http_server.py _execute_server_warmup: GET /model_info, then POST /generate, Bearer key."""
    s = engine.s
    headers = {"Content-Type": "application/json"}
    if s.api_key:
        headers["Authorization"] = "Bearer %s" % s.api_key
    url = _local_url(s)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    last = None
    try:
        for _attempt in range(120):
            time.sleep(1)
            try:
                req = urllib.request.Request(url + "/model_info", headers=headers)
                with opener.open(req, timeout=5) as resp:
                    if resp.status == 200:
                        last = None
                        break
            except (OSError, ValueError) as exc:
                last = exc
        if last is not None:
            raise RuntimeError("GET /model_info failed: %s" % last)
        body = json.dumps(
            {"sampling_params": {"temperature": 0, "max_new_tokens": 8}, "text": "The capital city of France is"}
        ).encode()
        req = urllib.request.Request(url + "/generate", data=body, headers=headers, method="POST")
        with opener.open(req, timeout=600) as resp:
            if resp.status != 200:
                raise RuntimeError("POST /generate -> %s" % resp.status)
    except Exception as exc:  # SGLang: any warm-up error kills the process tree
        with engine.lock:
            if engine.draining:
                return
        LOG.error("Initialization failed. warmup error: %s", exc)
        kill_process_tree()
        return
    with engine.lock:
        if engine.draining or engine.broken_at is not None:
            return
        engine.ready = True
    LOG.info("The server is fired up and ready to roll!")
    if engine.dist is not None:
        engine.dist.broadcast({"op": "ready"})


ENGINE = None


def main(argv=None):
    global TP_LOG, ENGINE
    setup_logging()
    argv = sys.argv[1:] if argv is None else argv
    try:
        catalog = load_catalog(find_catalog_path())
        args, config_path = parse_argv(argv, catalog)
        s = Settings(args, catalog, config_path)
    except StartupError as exc:
        sys.stderr.write("%s\n" % exc)
        return exc.code
    TP_LOG = _tp_logger(s)
    LOG.warning("This is the SGLang EMULATOR (test/demo double, SGLang %s protocol); it serves no model.", s.version)
    # engine.py: logger.info(f"server_args={_server_args_for_logging(server_args)}"), which
    # redacts watermark secrets only: the API keys are logged in clear, as here.
    LOG.info("server_args=%s", s.args_dict(redact=False))
    engine = Engine(s)
    ENGINE = engine
    signal.signal(signal.SIGQUIT, on_sigquit)
    signal.signal(signal.SIGUSR1, on_sigusr1)

    def on_signal(signum, _frame):
        if s.node_rank != 0 and signum == signal.SIGTERM and engine.follower_ignores_sigterm():
            # engine.py, node_rank >= 1: "Non-zero ranks cannot drain on their own: rank 0 stops every TP
            # rank via the ShutdownReq broadcast, and the orchestrator's kill timeout is the backstop."
            LOG.warning(
                "SIGTERM received on node_rank %d; waiting for the rank-0 ShutdownReq broadcast to "
                "stop the schedulers.",
                s.node_rank,
            )
            return
        engine.signals += 1
        if engine.signals > 1:
            LOG.error("Received signal %d again; exiting immediately", signum)
            sys.stderr.flush()
            os._exit(EXIT_ERROR)
        with engine.lock:
            engine.draining = True
        LOG.info(
            "Received %s; stop admitting requests. Gracefully exiting... Remaining number of requests %d",
            signal.Signals(signum).name,
            engine.inflight(),
        )

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        httpd = make_http_server(engine)
        log_tp("Init torch distributed begin.", s)
        dist = None
        if s.nnodes > 1:
            dist = Rank0Dist(engine) if s.node_rank == 0 else FollowerDist(engine)
        engine.dist = dist
    except StartupError as exc:
        LOG.error("%s", exc)
        return exc.code

    if s.nnodes == 1:
        engine.formed_at = time.monotonic()
        on_group_formed(engine)

    code = run_loop(engine, dist, httpd)
    LOG.info("Exiting with status %d", code)
    try:
        if engine.loaded:
            httpd.shutdown()
        httpd.server_close()
    except Exception:  # pragma: no cover
        pass
    sys.stderr.flush()
    return code


def on_loaded(engine, httpd):
    """Weights loaded on this rank: start serving HTTP (rank 0: warm up first)."""
    s = engine.s
    log_tp(
        "Load weight end. type=EmulatedForCausalLM, dtype=torch.bfloat16, avail mem=41.20 GB, mem usage=37.30 GB.", s
    )
    log_tp(
        "max_total_num_tokens=%d, chunked_prefill_size=8192, max_prefill_tokens=16384, "
        "max_running_requests=%s, context_len=%d"
        % (s.max_total_tokens, s.max_running_requests or 4096, s.context_length),
        s,
    )
    start_http(httpd)
    with engine.lock:
        engine.loaded = True
    if s.node_rank == 0:
        LOG.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", s.host, s.port)
        threading.Thread(target=warmup, args=(engine,), name="warmup", daemon=True).start()
    else:
        LOG.info("Dummy health check server started in background thread at %s:%d", s.host, s.port)


def run_loop(engine, dist, httpd):
    s = engine.s
    last_tick = 0.0
    last_drain_log = 0.0
    while True:
        time.sleep(0.05)
        now = time.monotonic()
        if dist is not None and now - last_tick >= HEARTBEAT_INTERVAL:
            last_tick = now
            dist.tick()
        # weights loaded: every rank joined, start delay elapsed
        if (
            not engine.loaded
            and not engine.draining
            and engine.formed_at is not None
            and not s.fail_ready
            and engine.broken_at is None
            and now - engine.formed_at >= s.start_delay
        ):
            on_loaded(engine, httpd)
        # graceful exit
        if engine.draining:
            remaining = engine.inflight()
            if remaining == 0:
                if dist is not None:
                    if s.node_rank == 0:
                        dist.broadcast({"op": "shutdown"})
                    dist.close()
                return EXIT_OK
            if now - last_drain_log >= 5.0:
                last_drain_log = now
                LOG.info("Gracefully exiting... Remaining number of requests %d", remaining)
            continue
        # follower-specific endings
        if s.node_rank != 0 and dist is not None:
            if dist.rejected is not None:
                return EXIT_ERROR
            if dist.gave_up:
                LOG.error(
                    "Could not join node rank 0 at %s:%d within --dist-timeout %.0fs",
                    s.dist_host,
                    s.dist_port,
                    s.dist_timeout,
                )
                return EXIT_ERROR
            if engine.rank0_shutdown and 0 not in engine.peers:
                LOG.info("Received ShutdownReq from node rank 0; schedulers exited.")
                return EXIT_OK
        # rank 0 waiting for the group
        if (
            s.node_rank == 0
            and engine.formed_at is None
            and s.dist_timeout is not None
            and now - engine.t_start > s.dist_timeout
        ):
            LOG.error(
                "Not all %d nodes joined within --dist-timeout %.0fs (joined: %s)",
                s.nnodes,
                s.dist_timeout,
                sorted([0] + list(engine.peers)),
            )
            return EXIT_ERROR
        # watchdog (a peer went silent): utils/watchdog.py ends in SIGQUIT as well
        if engine.broken_at is not None and not engine.crashing and now - engine.broken_at >= s.watchdog_timeout:
            scheduler_exception(
                "Scheduler watchdog timeout (self.watchdog_timeout=%s, self.soft=False): %s"
                % (s.watchdog_timeout, engine.broken_reason)
            )


if __name__ == "__main__":
    sys.exit(main())
