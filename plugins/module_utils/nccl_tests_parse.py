# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nccl-tests results, part 1 of 3: parse (text stdout, ``-J`` JSON, NCCL_DEBUG lines) into one dict shape.

Pure Python (stdlib only). The verdict is in ``nccl_tests_verdict``, the reports and the
module's entry point in ``nccl_tests_report``; the plots are drawn on the controller
(``plugins/plugin_utils/nccl_tests_plot.py``, action ``nccl_tests_plot``).

- :func:`parse_text` reads nccl-tests' stdout (any collective, NCCL_DEBUG=INFO
  lines mixed in or not); :func:`parse_json` its ``-J`` file (format version 3).
  Both return the same dict shape (see :func:`_new_result`); the JSON ``env`` array is
  scrubbed here (nccl-tests dumps the whole process environment into it).
- ``detected_*`` read facts (transport, NVLS, GPU model, topology) from a parse.


Formats follow nccl-tests' own printers (src/common.h, src/common.cu,
src/util.cu): rows are ``size count type redop root`` then ``time algbw busbw
#wrong`` out-of-place and again in-place (``#wrong`` is ``N/A`` where results
are not validated); the footer prints ``# Out of bounds values : N OK|FAILED``,
``# Avg bus bandwidth : X`` (+ ``OK``/``FAILED`` when NCCL_TESTS_MIN_BW is set;
FAILED below 0.9 x that value) and ``# Collective test concluded: NAME``;
errors are ``<host>: Test timeout (Ns) file:line`` (printed after a row's
first columns, on the same line), ``<host>: Test NCCL failure file:line '...'``,
``<host>: Test CUDA failure file:line '...'`` and `` .. <host> pid N: Test
failure file:line``.
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any, Dict, List, Optional, Tuple

GIB = 1024**3
JSON_FORMAT_VERSION = 3

# Environment entries a report may keep (from the -J ``env`` array).
ENV_KEEP = re.compile(r"^(NCCL|CUDA)_[A-Za-z0-9_]*$")
ENV_SECRET = re.compile(r"TOKEN|KEY|SECRET|PASSWORD", re.IGNORECASE)

_DEFAULT_HALF = ["time", "algbw", "busbw", "#wrong"]
_COLUMN_NAMES = {
    "time": "time_us",
    "cputime": "time_us",
    "algbw": "algbw",
    "busbw": "busbw",
    "#wrong": "wrong",
    "#bitdiff": "bitdiff",
}
# size and count are size_t (at most 20 digits), root an int: a longer number is no row of nccl-tests'.
_ROW_START = re.compile(r"^\s*(\d{1,20})\s+(\d{1,20})\s+([A-Za-z][A-Za-z0-9_]*)\s+(\S+)\s+(-?\d{1,10})(?!\d)")
_DEVICE = re.compile(
    r"^#\s+Rank\s+(\d+)\s+Group\s+(\d+)\s+Pid\s+(\d+)\s+on\s+(\S+)\s+device\s+(\d+)\s+\[([^\]]*)\]\s*(.*)$"
)
_CONFIG_PAIRS = re.compile(
    r"(nThread|nGpus|minBytes|maxBytes|warmup iters|agg iters|iters|validation|graph|unalign)"
    r":?\s+(-?\d+)"
)
_TIMEOUT = re.compile(r"Test timeout \((\d+)s\)")
_NCCL_FAIL = re.compile(r"Test NCCL failure\s+(.*)$")
_CUDA_FAIL = re.compile(r"Test CUDA failure\s+(.*)$")
_TEST_FAIL = re.compile(r"\.\.\s+(\S+)\s+pid\s+(\d+):\s+Test failure\s+(\S+)")
_MPI_ERRORS = (
    "mpirun noticed",
    "prterun noticed",
    "ORTE was unable",
    "PRTE has lost communication",
    "mpirun was unable",
    "Host key verification failed",
    "Permission denied (publickey",
    "There are not enough slots available",
    "ORTE has lost communication",
    "Connection refused",
    "Could not resolve hostname",
)

# Why an MPI launch failed, in Open MPI's, ssh's and the loader's own words. Open MPI's texts
# were read from github.com/open-mpi/ompi at tag v4.1.8 (the 4.1 series is what Debian 12,
# Ubuntu 22.04/24.04 and RHEL 9 ship): orte/mca/plm/rsh/help-plm-rsh.txt [agent-not-found]
# prints "  plm_rsh_agent: ssh : rsh" when neither ssh nor rsh is in PATH; the rsh launcher's
# query (orte/mca/plm/rsh/plm_rsh_component.c, rsh_component_query) makes that fatal because
# the agent list always has its default "ssh : rsh", and an MPI=1 binary started without mpirun
# forks its own daemon (orte/mca/ess/singleton/ess_singleton_module.c, fork_hnp), which selects
# a launcher the same way: so even a one-node singleton run needs ssh. Other texts:
# help-ess-base.txt and help-plm-rsh.txt [no-local-orted] ("orted" not found), orted_submit.c
# ("has detected an attempt to run as root"), help-orterun.txt ("was unable to find the
# specified executable file"), help-orte-rmaps-base.txt [orte-rmaps-base:alloc-error],
# help-errmgr-base.txt [failed-daemon-launch], help-orte-runtime.txt / help-mpi-runtime.txt
# ("It looks like orte_init / MPI_INIT failed"), errhandler_predefined.c ("*** An error occurred
# in MPI_Init"). Generic causes only count when no specific one was found.
_MPI_CAUSES = (
    # (key, pattern, generic)
    ("rsh_agent", re.compile(r"^plm_rsh_agent:\s*(?P<detail>\S.*?)\s*$"), False),
    (
        "orted_missing",
        re.compile(
            r"not able to find the executable \"orted\"|\borted: (?:command )?not found"
            r"|\borted: No such file or directory"
        ),
        False,
    ),
    ("as_root", re.compile(r"has detected an attempt to run as root"), False),
    ("slots", re.compile(r"There are not enough slots available in the system"), False),
    ("exe_missing", re.compile(r"was unable to find the specified executable file"), False),
    ("ssh_host_key", re.compile(r"Host key verification failed"), False),
    ("ssh_auth", re.compile(r"Permission denied \((?:publickey|password)"), False),
    ("ssh_resolve", re.compile(r"Could not resolve hostname (?P<detail>\S+?):"), False),
    ("ssh_connect", re.compile(r"ssh: connect to host (?P<detail>\S+ port \d+: .+)$"), False),
    ("shared_library", re.compile(r"error while loading shared libraries: (?P<detail>[^:]+): cannot open"), False),
    ("no_such_program", re.compile(r"^env: [\u2018'\"]?(?P<detail>.+?)[\u2019'\"]?: No such file or directory"), False),
    (
        "daemon_launch",
        re.compile(
            r"ORTE was unable to reliably start one or more daemons"
            r"|PRTE has lost communication|ORTE has lost communication"
        ),
        True,
    ),
    ("mpi_init", re.compile(r"It looks like (?:MPI_INIT|orte_init) failed|An error occurred in MPI_Init"), True),
)

_NCCL_LINE = re.compile(r"^(\S+?):\d+:\d+ \[\d+\] NCCL (INFO|WARN|TRACE|ABORT) (.*)$")
_NCCL_PREFIX = re.compile(r":\d+:\d+ \[\d+\] NCCL (?:INFO|WARN|TRACE|ABORT) ")
_LEADING_VALUE = re.compile(r"^(?:N/A|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)")


class NcclTestsError(ValueError):
    """Input the checker cannot work with (bad option values, unreadable files)."""


# ----------------------------------------------------------------- helpers


def _num(value):
    """float or None (for N/A, null, nan, inf, garbage)."""
    if value is None or isinstance(value, bool):
        return None
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: an integer beyond a float (10**400)
        return None
    if math.isnan(out) or math.isinf(out):
        return None
    return out


def _count(value):
    """A count (wrong elements, out-of-bounds values) as an int, None when not a number; an integer
    beyond a float's range (10**400) stays that integer, so that it still counts as wrong."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    out = _num(value)
    return None if out is None else int(out)


def _wrong(value):
    return _count(value)


def _shown(value):
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def format_size(size: int) -> str:
    """1073741824 -> '1 GiB'; 1536 -> '1.5 KiB'; 8 -> '8 B'."""
    size = int(size)
    for unit, scale in (("GiB", GIB), ("MiB", 1024**2), ("KiB", 1024)):
        if size >= scale:
            value = size / float(scale)
            return ("%d %s" % (value, unit)) if value == int(value) else ("%.1f %s" % (value, unit))
    return "%d B" % size


def _short_size(size):
    """Tick label: 8, 1K, 64M, 1G, 16G."""
    size = int(size)
    for unit, scale in (("G", GIB), ("M", 1024**2), ("K", 1024)):
        if size >= scale and size % scale == 0:
            return "%d%s" % (size // scale, unit)
    return str(size)


def nccl_version_string(code: Any) -> Optional[str]:
    """22809 -> '2.28.9' (NCCL_VERSION_CODE since 2.9: major*10000 + minor*100 + patch)."""
    try:
        code = int(code)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(inf)
        return None
    if code >= 10000:
        return "%d.%d.%d" % (code // 10000, (code % 10000) // 100, code % 100)
    return "%d.%d.%d" % (code // 1000, (code % 1000) // 100, code % 100)


def normalize_gpu_model(name: Optional[str]) -> Optional[str]:
    """'NVIDIA H100 80GB HBM3' -> 'H100'; 'NVIDIA H100 PCIe' -> 'H100-PCIE'; 'NVIDIA A100-SXM4-80GB' -> 'A100'.

    Returns None when no known model name is in the string.
    """
    if not name:
        return None
    text = str(name).upper()
    match = re.search(r"\b(GH200|GB200|B200|B100|H200|H100|H800|H20|A100|A800|L40S|L40)\b", text.replace("-", " "))
    if not match:
        match = re.search(r"(GH200|GB200|B200|B100|H200|H100|H800|H20|A100|A800|L40S|L40)", text)
        if not match:
            return None
    model = match.group(1)
    if "PCIE" in text:
        return model + "-PCIE"
    if re.search(r"\bNVL\b", text.replace("-", " ")):
        return model + "-NVL"
    return model


def scrub_env(entries: Optional[List[Any]]) -> Tuple[List[str], int]:
    """Keep NCCL_*/CUDA_* entries of a ``NAME=value`` list, never a name that looks like a secret.

    Returns (kept, dropped_count).
    """
    kept = []
    dropped = 0
    for entry in entries or []:
        name = str(entry).split("=", 1)[0]
        if ENV_KEEP.match(name) and not ENV_SECRET.search(name):
            kept.append(str(entry))
        else:
            dropped += 1
    return kept, dropped


def _new_result(fmt):
    return {
        "format": fmt,
        "collective": None,
        "nccl_tests_version": None,
        "nccl_version": None,
        "config": {},
        "devices": [],
        "rows": [],
        "out_of_bounds": None,  # {"count": int, "ok": bool}
        "bitwise_mismatches": None,  # {"count": int, "ok": bool}
        "avg_busbw": None,
        "avg_status": None,  # None (unchecked), "OK", "FAILED"
        "concluded": False,
        "timeouts": [],  # {"host", "seconds", "size"}
        "errors": [],  # {"kind", "host", "message"}
        "warnings": [],
        "incomplete_rows": [],  # sizes of rows cut short
        "transport": {"networks": [], "connections": {}, "evidence": [], "ib_absent": False},
        "nvls": {"channels": None, "env": None},
        "log_hosts": [],
        "mpi_causes": [],  # {"cause", "detail", "evidence"}: why an MPI launch failed
        "env": [],  # scrubbed
        "env_dropped": 0,
        "args": [],
        "start_time": None,
        "end_time": None,
    }


# ----------------------------------------------------------------- text


def _header_columns(tokens):
    """Column names of the out-of-place and in-place halves from the header line tokens."""
    rest = tokens[5:]
    starts = [i for i, tok in enumerate(rest) if tok in ("time", "cputime")]
    if len(starts) < 2:
        return None
    first = rest[starts[0] : starts[1]]
    second = [t for t in rest[starts[1] :] if t not in ("timestamp",)]
    return [first, second]


def _half(tokens, names):
    out = {}
    for name, tok in zip(names, tokens):
        key = _COLUMN_NAMES.get(name, name)
        if key in ("wrong", "bitdiff"):
            out[key] = _wrong(tok)
        else:
            out[key] = _num(tok)
    for key in ("time_us", "algbw", "busbw", "wrong"):
        out.setdefault(key, None)
    return out


def _parse_row(line, columns):
    match = _ROW_START.match(line)
    if not match:
        return None, None
    tokens = line.split()
    first, second = columns
    body = tokens[5:]
    row = {
        "size": int(match.group(1)),
        "count": int(match.group(2)),
        "type": match.group(3),
        "redop": match.group(4),
        "root": int(match.group(5)),
    }
    for tok in body[: len(first) + len(second)]:
        if tok != "N/A" and _num(tok) is None:
            return None, row["size"]  # something glued to the row (a timeout message)
    if len(body) >= len(first) + len(second):
        row["out_of_place"] = _half(body[: len(first)], first)
        row["in_place"] = _half(body[len(first) : len(first) + len(second)], second)
    elif len(body) == len(second):  # in-place only ("null body" out-of-place)
        row["out_of_place"] = None
        row["in_place"] = _half(body, second)
    else:
        return None, row["size"]
    return row, None


def _scan_mpi_cause(line, result):
    """Record the first line of each known MPI launch failure; True when the line is one."""
    stripped = line.strip()
    if not stripped or "NCCL" in stripped:
        return False
    for key, regex, _generic in _MPI_CAUSES:
        match = regex.search(stripped)
        if match:
            if not any(cause["cause"] == key for cause in result["mpi_causes"]):
                detail = match.groupdict().get("detail")
                result["mpi_causes"].append({"cause": key, "detail": detail, "evidence": stripped})
            return True
    return False


def _scan_errors(line, result, pending_size):
    match = _TIMEOUT.search(line)
    if match:
        prefix = line[: match.start()].rstrip()
        if prefix.endswith(":"):
            prefix = prefix[:-1]
        host = prefix.split()[-1] if prefix.split() else None
        if host and _ROW_START.match(line):
            # "<row columns><host>: Test timeout": the host name is glued to the last value.
            host = _LEADING_VALUE.sub("", host) or None
        result["timeouts"].append({"host": host, "seconds": int(match.group(1)), "size": pending_size})
        return
    for regex, kind in ((_NCCL_FAIL, "nccl"), (_CUDA_FAIL, "cuda")):
        match = regex.search(line)
        if match:
            prefix = line[: match.start()].rstrip().rstrip(":")
            host = prefix.split()[-1] if prefix.split() else None
            result["errors"].append({"kind": kind, "host": host, "message": line.strip()})
            return
    match = _TEST_FAIL.search(line)
    if match:
        result["errors"].append({"kind": "test", "host": match.group(1), "message": line.strip()})
        return
    stripped = line.strip()
    if stripped.startswith("invalid option") or stripped.startswith("USAGE:"):
        result["errors"].append({"kind": "usage", "host": None, "message": stripped})
        return
    if _scan_mpi_cause(stripped, result):
        return
    if "NCCL" not in stripped and any(marker in stripped for marker in _MPI_ERRORS):
        result["errors"].append({"kind": "mpi", "host": None, "message": stripped})


def _scan_nccl_debug(line, result):
    match = _NCCL_LINE.match(line.strip())
    if not match:
        return
    host, level, text = match.groups()
    if host not in result["log_hosts"]:
        result["log_hosts"].append(host)
    transport = result["transport"]
    if level == "WARN":
        if len(result["warnings"]) < 20:
            result["warnings"].append("NCCL WARN on %s: %s" % (host, text.strip()))
        return
    net = re.match(r"Using network (\S+)", text)
    if net:
        if net.group(1) not in transport["networks"]:
            transport["networks"].append(net.group(1))
        if len(transport["evidence"]) < 10:
            transport["evidence"].append(line.strip())
        return
    via = re.search(r"via NET/([A-Za-z0-9_]+)", text)
    if via:
        transport["connections"][via.group(1)] = transport["connections"].get(via.group(1), 0) + 1
        if len(transport["evidence"]) < 10:
            transport["evidence"].append(line.strip())
        return
    if re.match(r"NET/IB\s*: No device found", text):
        transport["ib_absent"] = True
        return
    nvls = re.search(r"(\d+) nvls channels", text)
    if nvls:
        count = int(nvls.group(1))
        prev = result["nvls"]["channels"]
        result["nvls"]["channels"] = count if prev is None else max(prev, count)
        return
    env = re.match(r"NCCL_NVLS_ENABLE set by environment to (\d+)", text)
    if env:
        result["nvls"]["env"] = env.group(1) != "0"


def _parse_comment(line, result, state):
    body = line.lstrip("#").strip()
    tokens = body.split()
    if tokens[:5] == ["size", "count", "type", "redop", "root"]:
        columns = _header_columns(tokens)
        if columns:
            state["columns"] = columns
        return
    match = re.match(r"nccl-tests version (\S+)(?:.*nccl-library=(\d+))?", body)
    if match:
        result["nccl_tests_version"] = match.group(1)
        if match.group(2):
            result["nccl_version"] = nccl_version_string(match.group(2))
        return
    match = re.match(r"Collective test starting:\s*(\S+)", body)
    if match:
        result["collective"] = match.group(1)
        return
    if body.startswith("nThread"):
        for key, value in _CONFIG_PAIRS.findall(body):
            result["config"][key.replace(" ", "_")] = int(value)
        return
    match = _DEVICE.match(line.strip())
    if match:
        result["devices"].append(
            {
                "rank": int(match.group(1)),
                "group": int(match.group(2)),
                "pid": int(match.group(3)),
                "hostname": match.group(4),
                "device": int(match.group(5)),
                "bus_id": match.group(6),
                "name": match.group(7).strip(),
            }
        )
        return
    match = re.match(r"Out of bounds values\s*:\s*(\d+)\s*(OK|FAILED)?", body)
    if match:
        count = int(match.group(1))
        result["out_of_bounds"] = {"count": count, "ok": count == 0 and match.group(2) != "FAILED"}
        return
    match = re.match(r"Bitwise mismatches\s*:\s*(\d+)\s*(OK|FAILED)?", body)
    if match:
        count = int(match.group(1))
        result["bitwise_mismatches"] = {"count": count, "ok": count == 0 and match.group(2) != "FAILED"}
        return
    match = re.match(r"Avg bus bandwidth\s*:\s*(\S+)\s*(OK|FAILED)?", body)
    if match:
        result["avg_busbw"] = _num(match.group(1))
        result["avg_status"] = match.group(2)
        return
    match = re.match(r"Collective test concluded:\s*(\S+)", body)
    if match:
        result["concluded"] = True
        result["collective"] = result["collective"] or match.group(1)
        return
    match = re.match(r"error:\s*(.+)$", body)
    if match:
        result["errors"].append({"kind": "nccl", "host": None, "message": "error: " + match.group(1).strip()})
        return
    if body.startswith("Reducing maxBytes"):
        result["warnings"].append(body)


def _split_nccl(line):
    """(text before an NCCL log line, the NCCL log line or None).

    NCCL writes its debug lines to the same stdout as nccl-tests, so one can land
    right after the first columns of a row: ``  1048576  262144  float  sum  -1vm:12:34 [0] NCCL INFO ...``.
    """
    match = _NCCL_PREFIX.search(line)
    if not match:
        return line, None
    start = match.start()
    while start > 0 and (line[start - 1].isalnum() or line[start - 1] in "._-"):
        start -= 1
    glued = line[start : match.start()]
    head = line[:start]
    host = glued
    if head.strip():
        value = _LEADING_VALUE.match(glued)
        if value and _ROW_START.match(head + value.group(0)):
            head += value.group(0)
            host = glued[value.end() :]
    return head, host + line[match.start() :]


def parse_text(text: str) -> Dict[str, Any]:
    """Parse nccl-tests stdout (with or without NCCL_DEBUG lines). Never raises on odd lines."""
    result = _new_result("text")
    state = {"columns": [list(_DEFAULT_HALF), list(_DEFAULT_HALF)]}
    pending = None  # first columns of a row interrupted by an NCCL log line
    for raw in (text or "").splitlines():
        line, nccl = _split_nccl(raw.rstrip("\r"))
        if nccl:
            _scan_nccl_debug(nccl, result)
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#"):
            _parse_comment(stripped, result, state)
            continue
        if pending is not None and not _ROW_START.match(line):
            line = pending + " " + line
        pending = None
        row, cut_size = _parse_row(line, state["columns"])
        if row is not None:
            result["rows"].append(row)
            continue
        if nccl and cut_size is not None:
            pending = line
            continue
        if cut_size is not None:
            result["incomplete_rows"].append(cut_size)
        _scan_errors(line, result, cut_size)
    if pending is not None:
        match = _ROW_START.match(pending)
        result["incomplete_rows"].append(int(match.group(1)))
    return result


# ----------------------------------------------------------------- JSON


def _json_half(data):
    if not isinstance(data, dict):
        return None
    time_us = data.get("time", data.get("cpu_time"))
    return {
        "time_us": _num(time_us),
        "algbw": _num(data.get("alg_bw")),
        "busbw": _num(data.get("bus_bw")),
        "wrong": _wrong(data.get("nwrong")),
    }


def _okay(value):
    return str(value).lower() == "true"


# The container types of a -J file (nccl-tests src/util.cu writes them, format version 3); a file with any other
# type is hand-made or corrupted: refused naming the field, never an exception's text.
_JSON_TYPES = (
    ("args", list, "a list"),
    ("env", list, "a list"),
    ("config", dict, "an object"),
    ("results", list, "a list"),
    ("errors", list, "a list"),
    ("out_of_bounds", dict, "an object"),
    ("bitwise_mismatches", dict, "an object"),
    ("average_bus_bandwidth", dict, "an object"),
)


def _type_name(value):
    return {
        dict: "an object",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


def _check_json_types(data):
    for key, kind, expected in _JSON_TYPES:
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise NcclTestsError(
                "nccl-tests JSON field %r is %s, expected %s: the file is not nccl-tests -J output "
                "(or was edited); rerun the test" % (key, _type_name(data[key]), expected)
            )
    devices = data["config"].get("devices") if isinstance(data.get("config"), dict) else None
    if devices is not None and not isinstance(devices, list):
        raise NcclTestsError(
            "nccl-tests JSON field 'config.devices' is %s, expected a list: the file is not "
            "nccl-tests -J output (or was edited); rerun the test" % _type_name(devices)
        )


def parse_json(text: str) -> Dict[str, Any]:
    """Parse a ``-J`` file (format version 3). A truncated file (run killed before
    nccl-tests closed it) parses as a run that did not conclude."""
    result = _new_result("json")
    try:
        data = json.loads(text)
    except ValueError as exc:
        result["errors"].append(
            {
                "kind": "json",
                "host": None,
                "message": "the JSON output is incomplete or not JSON (%s): nccl-tests writes its "
                "closing part only when the run finishes" % exc,
            }
        )
        return result
    if not isinstance(data, dict):
        result["errors"].append({"kind": "json", "host": None, "message": "the JSON output is not an object"})
        return result
    _check_json_types(data)
    if data.get("version") != JSON_FORMAT_VERSION:
        result["warnings"].append(
            "JSON format version %r; this parser was written for version %d"
            % (data.get("version"), JSON_FORMAT_VERSION)
        )
    args = data.get("args") or []
    result["args"] = [str(a) for a in args]
    if args:
        result["collective"] = os.path.basename(str(args[0]))
    result["env"], result["env_dropped"] = scrub_env(data.get("env"))
    for entry in data.get("env") or []:
        name, _sep, value = str(entry).partition("=")
        if name == "NCCL_NVLS_ENABLE":
            result["nvls"]["env"] = value.strip() not in ("0", "")
    result["nccl_version"] = nccl_version_string(data.get("nccl_version"))
    result["start_time"] = data.get("start_time")
    result["end_time"] = data.get("end_time")
    config = data.get("config") if isinstance(data.get("config"), dict) else {}
    for src, dst in (
        ("nthreads", "nThread"),
        ("ngpus", "nGpus"),
        ("minimum_bytes", "minBytes"),
        ("maximum_bytes", "maxBytes"),
        ("iterations", "iters"),
        ("warmup_iters", "warmup_iters"),
        ("validation", "validation"),
        ("graph", "graph"),
    ):
        if isinstance(config.get(src), int):
            result["config"][dst] = config[src]
    for dev in config.get("devices") or []:
        if isinstance(dev, dict):
            result["devices"].append(
                {
                    "rank": dev.get("rank"),
                    "group": dev.get("group"),
                    "pid": dev.get("pid"),
                    "hostname": dev.get("hostname"),
                    "device": dev.get("device"),
                    "bus_id": dev.get("device_hex"),
                    "name": dev.get("device_info"),
                    "process": True,
                }
            )
    for number, item in enumerate(data.get("results") or []):
        if not isinstance(item, dict) or not isinstance(item.get("size"), int):
            continue
        if isinstance(item["size"], bool) or not 0 <= item["size"] < 2**64:
            result["warnings"].append(
                "results[%d]: size %s is not a byte count (0 to 2^64); row ignored" % (number, _shown(item["size"]))
            )
            continue
        try:
            root = int(str(item.get("root", "-1")).strip())
        except ValueError:
            root = -1
        result["rows"].append(
            {
                "size": item["size"],
                "count": item.get("count"),
                "type": item.get("type"),
                "redop": item.get("redop"),
                "root": root,
                "out_of_place": _json_half(item.get("out_of_place")),
                "in_place": _json_half(item.get("in_place")),
            }
        )
    oob = data.get("out_of_bounds")
    if isinstance(oob, dict):
        count = _count(oob.get("count")) or 0
        result["out_of_bounds"] = {"count": count, "ok": count == 0 and _okay(oob.get("okay"))}
    bitwise = data.get("bitwise_mismatches")
    if isinstance(bitwise, dict):
        count = _count(bitwise.get("count")) or 0
        result["bitwise_mismatches"] = {"count": count, "ok": count == 0 and _okay(bitwise.get("okay"))}
    avg = data.get("average_bus_bandwidth")
    if isinstance(avg, dict):
        result["avg_busbw"] = _num(avg.get("bandwidth"))
        okay = str(avg.get("okay")).lower()
        result["avg_status"] = None if okay == "unchecked" else ("OK" if okay == "true" else "FAILED")
    result["concluded"] = "end_time" in data and isinstance(avg, dict)
    for err in data.get("errors") or []:
        if err:
            result["errors"].append({"kind": "nccl", "host": None, "message": str(err)})
    return result


def parse(text: str, fmt: str = "auto") -> Dict[str, Any]:
    """Parse text or JSON; ``fmt`` auto picks JSON when the content starts with '{'."""
    if fmt not in ("auto", "text", "json"):
        raise NcclTestsError("format must be auto, text or json, not %r" % (fmt,))
    if fmt == "json" or (fmt == "auto" and (text or "").lstrip().startswith("{")):
        return parse_json(text)
    return parse_text(text)


def merge_log(result: Dict[str, Any], text: str) -> Dict[str, Any]:
    """Add the transport/NVLS/error evidence of a run's stdout (NCCL_DEBUG lines) to a JSON parse."""
    extra = parse_text(text)
    transport = result["transport"]
    for net in extra["transport"]["networks"]:
        if net not in transport["networks"]:
            transport["networks"].append(net)
    for name, count in extra["transport"]["connections"].items():
        transport["connections"][name] = transport["connections"].get(name, 0) + count
    transport["evidence"].extend(extra["transport"]["evidence"][: 10 - len(transport["evidence"])])
    transport["ib_absent"] = transport["ib_absent"] or extra["transport"]["ib_absent"]
    for key in ("channels", "env"):
        if result["nvls"][key] is None:
            result["nvls"][key] = extra["nvls"][key]
    result["timeouts"].extend(extra["timeouts"])
    known = set(cause["cause"] for cause in result.setdefault("mpi_causes", []))
    result["mpi_causes"].extend(cause for cause in extra["mpi_causes"] if cause["cause"] not in known)
    seen = set(e["message"] for e in result["errors"])
    result["errors"].extend(e for e in extra["errors"] if e["message"] not in seen)
    result["warnings"].extend(w for w in extra["warnings"] if w not in result["warnings"])
    result["log_hosts"].extend(h for h in extra["log_hosts"] if h not in result["log_hosts"])
    if not result["concluded"] and not result["rows"]:
        result["incomplete_rows"].extend(extra["incomplete_rows"])
    return result


# ----------------------------------------------------------------- facts from a parse


def detected_transport(parsed: Dict[str, Any]) -> Optional[str]:
    """'ib', 'socket', another NCCL net name in lower case, or None (no NCCL_DEBUG evidence).

    Socket wins over IB: one rank falling back to sockets is the failure to catch.
    """
    transport = parsed["transport"]
    names = list(transport["networks"]) + list(transport["connections"])
    if not names:
        return None
    if any(n.lower() == "socket" for n in names):
        return "socket"
    if any(n.upper().startswith("IB") for n in names):
        return "ib"
    return names[0].lower()


def detected_nvls(parsed: Dict[str, Any]) -> Optional[bool]:
    """True/False when the output says whether NVLS was used, else None."""
    channels = parsed["nvls"]["channels"]
    if channels is not None:
        return channels > 0
    if parsed["nvls"]["env"] is False:
        return False
    return None


def detected_gpu_model(parsed: Dict[str, Any]) -> Optional[str]:
    models = set(normalize_gpu_model(d.get("name")) for d in parsed["devices"] if d.get("name"))
    models.discard(None)
    if len(models) == 1:
        return models.pop()
    return None


def detected_topology(parsed: Dict[str, Any]) -> Optional[str]:
    """'<hosts>x<gpus per host>' from the 'Using devices' lines, or None."""
    devices = parsed["devices"]
    if not devices:
        return None
    per_process = int(parsed["config"].get("nGpus") or 1) * int(parsed["config"].get("nThread") or 1)
    counts = {}
    for dev in devices:
        weight = per_process if dev.get("process") else 1  # JSON lists one entry per process
        counts[dev.get("hostname")] = counts.get(dev.get("hostname"), 0) + weight
    values = set(counts.values())
    if len(values) != 1:
        return None
    return "%dx%d" % (len(counts), values.pop())
