# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nccl-tests results: parse, judge, bisect, report.

Pure Python (stdlib only): the module ``gpufleet.sglang.nccl_tests_check`` and
the unit tests call these functions directly.

- :func:`parse_text` reads nccl-tests' stdout (any collective, NCCL_DEBUG=INFO
  lines mixed in or not); :func:`parse_json` its ``-J`` file (format version 3).
  Both return the same dict shape (see :func:`_new_result`).
- :func:`evaluate` turns a parse into a verdict. The statistic is the MINIMUM
  out-of-place busbw over the rows of at least ``min_bytes`` (1 GiB): never the
  ``# Avg bus bandwidth`` line, which averages every row of a sweep (tiny
  messages included) and says nothing about large-message bandwidth.
- :func:`bisect` names the node that fails alone, or the fabric.
- :func:`report_document`, :func:`render_markdown`, :func:`render_png` and
  :func:`write_reports` write the per-run reports (the JSON ``env`` array is
  scrubbed: nccl-tests dumps the whole process environment into it).

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
import struct
import zlib

from ansible_collections.gpufleet.sglang.plugins.module_utils.atomic_file import write_atomic

GIB = 1024 ** 3
JSON_FORMAT_VERSION = 3

# ---------------------------------------------------------------------------
# Thresholds: busbw (GB/s) of all_reduce_perf, judged as the minimum
# out-of-place busbw over the rows of at least 1 GiB (our statistic, which is
# stricter than a single 16 GiB row: the 1 GiB row sits below the plateau).
#
# Public references (all_reduce busbw):
# - Azure HPC health checks (Azure/azurehpc-health-checks, NHC nccl check):
#   8 x H100 fails below 460 GB/s at 16 GiB, NVLS on.
# - Ring-only (NVLS off) H100/H200 8-GPU nodes: about 360-368 GB/s measured
#   publicly (NVIDIA/nccl-tests issues and vendor posts).
# - 8 x A100 SXM: about 228-235 GB/s measured.
# - 2 x 8 H100 over 8 x 400G NDR InfiniBand: 345-348 GB/s measured (Together
#   AI's cluster-acceptance write-up); about 366 GB/s at 1 GiB with IB SHARP
#   (CoreWeave); 400 GB/s is the wire limit of 8 x 400G.
# - NVIDIA AI Cluster Runtime (AICR) acceptance floors for H100 clusters:
#   300 GB/s on EKS, 250 GB/s on GKE.
# - 2 GPUs (this collection's own capture, tests/fixtures/nccl-tests, 2 x H200
#   NV18, NVLS off): 327-329 GB/s at 1 GiB, 344 GB/s at 4 GiB. With 2 ranks
#   all_reduce busbw equals algbw (busbw = algbw x 2(n-1)/n).
#
# Defaults, and why (about 12-15 % below what a healthy system measures, so
# run-to-run noise and the 1 GiB row do not fail good nodes, while the failure
# modes that matter still do):
# - H100/H200 1x8 NVLS on: 400. Azure fails below 460 at 16 GiB; our minimum
#   includes the 1 GiB row where NVLS has not reached its plateau. 400 still
#   fails a node whose NVLS silently fell back to rings (~360).
# - H100/H200 1x8 NVLS off: 320, ~12 % under the 360-368 ring-only figures.
# - H100/H200 1x2 (either NVLS setting): 290, ~12 % under the measured 1 GiB
#   value of the real 2 x H200 capture; NVLS adds little with two GPUs.
# - A100 1x8: 200, ~12 % under 228-235 (A100 has no NVLS).
# - H100/H200 2x8 over IB/RoCE with 8 x 400G per node (either NVLS setting:
#   inter-node all_reduce is bound by the NICs, not NVLink): 300 = NVIDIA
#   AICR's EKS floor, ~13 % under the 345-348 measured on NDR. Clouds with
#   slower rails (AICR's GKE floor is 250) set min_busbw_gbps explicitly.
# Anything else (H800, PCIe/NVL cards, other shapes, other collectives) has no
# default: pass min_busbw_gbps explicitly (0 checks correctness only).
# ---------------------------------------------------------------------------
DEFAULT_THRESHOLDS = {
    ("H100", "1x8", True): 400.0,
    ("H200", "1x8", True): 400.0,
    ("H100", "1x8", False): 320.0,
    ("H200", "1x8", False): 320.0,
    ("H100", "1x2", True): 290.0,
    ("H100", "1x2", False): 290.0,
    ("H200", "1x2", True): 290.0,
    ("H200", "1x2", False): 290.0,
    ("A100", "1x8", False): 200.0,
    ("A100", "1x8", True): 200.0,
    ("H100", "2x8", True): 300.0,
    ("H100", "2x8", False): 300.0,
    ("H200", "2x8", True): 300.0,
    ("H200", "2x8", False): 300.0,
}
THRESHOLD_COLLECTIVES = ("all_reduce_perf",)

# Environment entries a report may keep (from the -J ``env`` array).
ENV_KEEP = re.compile(r"^(NCCL|CUDA)_[A-Za-z0-9_]*$")
ENV_SECRET = re.compile(r"TOKEN|KEY|SECRET|PASSWORD", re.IGNORECASE)

_DEFAULT_HALF = ["time", "algbw", "busbw", "#wrong"]
_COLUMN_NAMES = {"time": "time_us", "cputime": "time_us", "algbw": "algbw", "busbw": "busbw",
                 "#wrong": "wrong", "#bitdiff": "bitdiff"}
# size and count are size_t (at most 20 digits), root an int: a longer number is no row of nccl-tests'.
_ROW_START = re.compile(r"^\s*(\d{1,20})\s+(\d{1,20})\s+([A-Za-z][A-Za-z0-9_]*)\s+(\S+)\s+(-?\d{1,10})(?!\d)")
_DEVICE = re.compile(r"^#\s+Rank\s+(\d+)\s+Group\s+(\d+)\s+Pid\s+(\d+)\s+on\s+(\S+)\s+device\s+(\d+)\s+\[([^\]]*)\]\s*(.*)$")
_CONFIG_PAIRS = re.compile(r"(nThread|nGpus|minBytes|maxBytes|warmup iters|agg iters|iters|validation|graph|unalign)"
                           r":?\s+(-?\d+)")
_TIMEOUT = re.compile(r"Test timeout \((\d+)s\)")
_NCCL_FAIL = re.compile(r"Test NCCL failure\s+(.*)$")
_CUDA_FAIL = re.compile(r"Test CUDA failure\s+(.*)$")
_TEST_FAIL = re.compile(r"\.\.\s+(\S+)\s+pid\s+(\d+):\s+Test failure\s+(\S+)")
_MPI_ERRORS = ("mpirun noticed", "prterun noticed", "ORTE was unable", "PRTE has lost communication",
               "mpirun was unable", "Host key verification failed", "Permission denied (publickey",
               "There are not enough slots available", "ORTE has lost communication",
               "Connection refused", "Could not resolve hostname")

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
    ("orted_missing", re.compile(r"not able to find the executable \"orted\"|\borted: (?:command )?not found"
                                 r"|\borted: No such file or directory"), False),
    ("as_root", re.compile(r"has detected an attempt to run as root"), False),
    ("slots", re.compile(r"There are not enough slots available in the system"), False),
    ("exe_missing", re.compile(r"was unable to find the specified executable file"), False),
    ("ssh_host_key", re.compile(r"Host key verification failed"), False),
    ("ssh_auth", re.compile(r"Permission denied \((?:publickey|password)"), False),
    ("ssh_resolve", re.compile(r"Could not resolve hostname (?P<detail>\S+?):"), False),
    ("ssh_connect", re.compile(r"ssh: connect to host (?P<detail>\S+ port \d+: .+)$"), False),
    ("shared_library", re.compile(r"error while loading shared libraries: (?P<detail>[^:]+): cannot open"), False),
    ("no_such_program", re.compile(r"^env: [\u2018'\"]?(?P<detail>.+?)[\u2019'\"]?: No such file or directory"), False),
    ("daemon_launch", re.compile(r"ORTE was unable to reliably start one or more daemons"
                                 r"|PRTE has lost communication|ORTE has lost communication"), True),
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
    except (TypeError, ValueError, OverflowError):     # OverflowError: an integer beyond a float (10**400)
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


def format_size(size):
    """1073741824 -> '1 GiB'; 1536 -> '1.5 KiB'; 8 -> '8 B'."""
    size = int(size)
    for unit, scale in (("GiB", GIB), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if size >= scale:
            value = size / float(scale)
            return ("%d %s" % (value, unit)) if value == int(value) else ("%.1f %s" % (value, unit))
    return "%d B" % size


def _short_size(size):
    """Tick label: 8, 1K, 64M, 1G, 16G."""
    size = int(size)
    for unit, scale in (("G", GIB), ("M", 1024 ** 2), ("K", 1024)):
        if size >= scale and size % scale == 0:
            return "%d%s" % (size // scale, unit)
    return str(size)


def nccl_version_string(code):
    """22809 -> '2.28.9' (NCCL_VERSION_CODE since 2.9: major*10000 + minor*100 + patch)."""
    try:
        code = int(code)
    except (TypeError, ValueError, OverflowError):     # OverflowError: int(inf)
        return None
    if code >= 10000:
        return "%d.%d.%d" % (code // 10000, (code % 10000) // 100, code % 100)
    return "%d.%d.%d" % (code // 1000, (code % 1000) // 100, code % 100)


def normalize_gpu_model(name):
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


def scrub_env(entries):
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
        "out_of_bounds": None,          # {"count": int, "ok": bool}
        "bitwise_mismatches": None,     # {"count": int, "ok": bool}
        "avg_busbw": None,
        "avg_status": None,             # None (unchecked), "OK", "FAILED"
        "concluded": False,
        "timeouts": [],                 # {"host", "seconds", "size"}
        "errors": [],                   # {"kind", "host", "message"}
        "warnings": [],
        "incomplete_rows": [],          # sizes of rows cut short
        "transport": {"networks": [], "connections": {}, "evidence": [], "ib_absent": False},
        "nvls": {"channels": None, "env": None},
        "log_hosts": [],
        "mpi_causes": [],               # {"cause", "detail", "evidence"}: why an MPI launch failed
        "env": [],                      # scrubbed
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
    first = rest[starts[0]:starts[1]]
    second = [t for t in rest[starts[1]:] if t not in ("timestamp",)]
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
    row = {"size": int(match.group(1)), "count": int(match.group(2)), "type": match.group(3),
           "redop": match.group(4), "root": int(match.group(5))}
    for tok in body[:len(first) + len(second)]:
        if tok != "N/A" and _num(tok) is None:
            return None, row["size"]            # something glued to the row (a timeout message)
    if len(body) >= len(first) + len(second):
        row["out_of_place"] = _half(body[:len(first)], first)
        row["in_place"] = _half(body[len(first):len(first) + len(second)], second)
    elif len(body) == len(second):            # in-place only ("null body" out-of-place)
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
        prefix = line[:match.start()].rstrip()
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
            prefix = line[:match.start()].rstrip().rstrip(":")
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
        result["devices"].append({"rank": int(match.group(1)), "group": int(match.group(2)), "pid": int(match.group(3)),
                                  "hostname": match.group(4), "device": int(match.group(5)),
                                  "bus_id": match.group(6), "name": match.group(7).strip()})
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
    glued = line[start:match.start()]
    head = line[:start]
    host = glued
    if head.strip():
        value = _LEADING_VALUE.match(glued)
        if value and _ROW_START.match(head + value.group(0)):
            head += value.group(0)
            host = glued[value.end():]
    return head, host + line[match.start():]


def parse_text(text):
    """Parse nccl-tests stdout (with or without NCCL_DEBUG lines). Never raises on odd lines."""
    result = _new_result("text")
    state = {"columns": [list(_DEFAULT_HALF), list(_DEFAULT_HALF)]}
    pending = None      # first columns of a row interrupted by an NCCL log line
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
    return {"time_us": _num(time_us), "algbw": _num(data.get("alg_bw")), "busbw": _num(data.get("bus_bw")),
            "wrong": _wrong(data.get("nwrong"))}


def _okay(value):
    return str(value).lower() == "true"


# The container types of a -J file (nccl-tests src/util.cu writes them, format version 3); a file with any other
# type is hand-made or corrupted: refused naming the field, never an exception's text.
_JSON_TYPES = (("args", list, "a list"), ("env", list, "a list"), ("config", dict, "an object"),
               ("results", list, "a list"), ("errors", list, "a list"), ("out_of_bounds", dict, "an object"),
               ("bitwise_mismatches", dict, "an object"), ("average_bus_bandwidth", dict, "an object"))


def _type_name(value):
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), type(value).__name__)


def _check_json_types(data):
    for key, kind, expected in _JSON_TYPES:
        if data.get(key) is not None and not isinstance(data[key], kind):
            raise NcclTestsError("nccl-tests JSON field %r is %s, expected %s: the file is not nccl-tests -J output "
                                 "(or was edited); rerun the test" % (key, _type_name(data[key]), expected))
    devices = data["config"].get("devices") if isinstance(data.get("config"), dict) else None
    if devices is not None and not isinstance(devices, list):
        raise NcclTestsError("nccl-tests JSON field 'config.devices' is %s, expected a list: the file is not "
                             "nccl-tests -J output (or was edited); rerun the test" % _type_name(devices))


def parse_json(text):
    """Parse a ``-J`` file (format version 3). A truncated file (run killed before
    nccl-tests closed it) parses as a run that did not conclude."""
    result = _new_result("json")
    try:
        data = json.loads(text)
    except ValueError as exc:
        result["errors"].append({"kind": "json", "host": None,
                                 "message": "the JSON output is incomplete or not JSON (%s): nccl-tests writes its "
                                            "closing part only when the run finishes" % exc})
        return result
    if not isinstance(data, dict):
        result["errors"].append({"kind": "json", "host": None, "message": "the JSON output is not an object"})
        return result
    _check_json_types(data)
    if data.get("version") != JSON_FORMAT_VERSION:
        result["warnings"].append("JSON format version %r; this parser was written for version %d"
                                  % (data.get("version"), JSON_FORMAT_VERSION))
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
    for src, dst in (("nthreads", "nThread"), ("ngpus", "nGpus"), ("minimum_bytes", "minBytes"),
                     ("maximum_bytes", "maxBytes"), ("iterations", "iters"), ("warmup_iters", "warmup_iters"),
                     ("validation", "validation"), ("graph", "graph")):
        if isinstance(config.get(src), int):
            result["config"][dst] = config[src]
    for dev in config.get("devices") or []:
        if isinstance(dev, dict):
            result["devices"].append({"rank": dev.get("rank"), "group": dev.get("group"), "pid": dev.get("pid"),
                                      "hostname": dev.get("hostname"), "device": dev.get("device"),
                                      "bus_id": dev.get("device_hex"), "name": dev.get("device_info"),
                                      "process": True})
    for number, item in enumerate(data.get("results") or []):
        if not isinstance(item, dict) or not isinstance(item.get("size"), int):
            continue
        if isinstance(item["size"], bool) or not 0 <= item["size"] < 2 ** 64:
            result["warnings"].append("results[%d]: size %s is not a byte count (0 to 2^64); row ignored"
                                      % (number, _shown(item["size"])))
            continue
        try:
            root = int(str(item.get("root", "-1")).strip())
        except ValueError:
            root = -1
        result["rows"].append({"size": item["size"], "count": item.get("count"), "type": item.get("type"),
                               "redop": item.get("redop"), "root": root,
                               "out_of_place": _json_half(item.get("out_of_place")),
                               "in_place": _json_half(item.get("in_place"))})
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


def parse(text, fmt="auto"):
    """Parse text or JSON; ``fmt`` auto picks JSON when the content starts with '{'."""
    if fmt not in ("auto", "text", "json"):
        raise NcclTestsError("format must be auto, text or json, not %r" % (fmt,))
    if fmt == "json" or (fmt == "auto" and (text or "").lstrip().startswith("{")):
        return parse_json(text)
    return parse_text(text)


def merge_log(result, text):
    """Add the transport/NVLS/error evidence of a run's stdout (NCCL_DEBUG lines) to a JSON parse."""
    extra = parse_text(text)
    transport = result["transport"]
    for net in extra["transport"]["networks"]:
        if net not in transport["networks"]:
            transport["networks"].append(net)
    for name, count in extra["transport"]["connections"].items():
        transport["connections"][name] = transport["connections"].get(name, 0) + count
    transport["evidence"].extend(extra["transport"]["evidence"][:10 - len(transport["evidence"])])
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

def detected_transport(parsed):
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


def detected_nvls(parsed):
    """True/False when the output says whether NVLS was used, else None."""
    channels = parsed["nvls"]["channels"]
    if channels is not None:
        return channels > 0
    if parsed["nvls"]["env"] is False:
        return False
    return None


def detected_gpu_model(parsed):
    models = set(normalize_gpu_model(d.get("name")) for d in parsed["devices"] if d.get("name"))
    models.discard(None)
    if len(models) == 1:
        return models.pop()
    return None


def detected_topology(parsed):
    """'<hosts>x<gpus per host>' from the 'Using devices' lines, or None."""
    devices = parsed["devices"]
    if not devices:
        return None
    per_process = int(parsed["config"].get("nGpus") or 1) * int(parsed["config"].get("nThread") or 1)
    counts = {}
    for dev in devices:
        weight = per_process if dev.get("process") else 1   # JSON lists one entry per process
        counts[dev.get("hostname")] = counts.get(dev.get("hostname"), 0) + weight
    values = set(counts.values())
    if len(values) != 1:
        return None
    return "%dx%d" % (len(counts), values.pop())


def lookup_threshold(collective, gpu_model, topology, nvls):
    """Default threshold (GB/s) or None."""
    if collective not in THRESHOLD_COLLECTIVES or not gpu_model or not topology:
        return None
    return DEFAULT_THRESHOLDS.get((gpu_model, topology, bool(nvls)))


# ----------------------------------------------------------------- verdict

def _subject(host, group, parsed):
    if group:
        return "group %s" % group
    if host:
        return "host %s" % host
    hosts = sorted(set(d.get("hostname") for d in parsed["devices"] if d.get("hostname")))
    return "host %s" % (",".join(hosts) if hosts else "(unknown)")


def mpi_diagnosis(parsed, group_run=False):
    """What went wrong in an MPI launch, and the fix: one message per cause (specific causes first;
    the generic ones, "daemons not started" and "MPI_Init failed", only when nothing specific was said).
    ``group_run``: an mpirun across nodes (else a run on one node)."""
    causes = parsed.get("mpi_causes") or []
    generic = set(key for key, _regex, is_generic in _MPI_CAUSES if is_generic)
    specific = [cause for cause in causes if cause["cause"] not in generic]
    messages = []
    for cause in specific or causes:
        key, detail = cause["cause"], cause.get("detail")
        if key == "rsh_agent":
            if group_run:
                text = ("mpirun found no remote launch agent (Open MPI's plm_rsh_agent: %s; none is in PATH), so it "
                        "cannot start its daemons on the other nodes. Fix: install the SSH client on rank 0 "
                        "(openssh-client / openssh-clients; the nccl_tests role does with nccl_tests_install_packages) "
                        "or set plm_rsh_agent to one that exists" % detail)
            else:
                text = ("Open MPI found no launch agent (plm_rsh_agent: %s; none is in PATH): an MPI=1 nccl-tests "
                        "binary started without mpirun forks an Open MPI 4 daemon that needs ssh or rsh even on one "
                        "node. Fix: run node tests with a binary built without MPI (make MPI=0; the nccl_tests role's "
                        "source build does, nccl_tests_prebuilt_node_dir for prebuilt ones), or start the MPI=1 binary "
                        "with OMPI_MCA_ess_singleton_isolated=1 (no daemon)" % detail)
        elif key == "orted_missing":
            text = ("Open MPI's daemon orted was not found (%s). Fix: install Open MPI at the same path on every node "
                    "(openmpi-bin / openmpi), or give mpirun --prefix" % cause["evidence"])
        elif key == "as_root":
            text = "mpirun refuses to run as root. Fix: pass --allow-run-as-root (the nccl_tests role does)"
        elif key == "slots":
            text = ("mpirun found fewer slots than ranks. Fix: the hostfile needs slots=<GPUs per node> per node and "
                    "-np nodes x GPUs")
        elif key == "exe_missing":
            text = ("mpirun could not find the nccl-tests binary on a node. Fix: install nccl-tests at the same path "
                    "on every node of the group")
        elif key == "ssh_host_key":
            text = ("ssh refused a peer's host key (Host key verification failed). Fix: the peer's host key must be in "
                    "the known_hosts mpirun's ssh uses (the nccl_tests role scans it at the planned address)")
        elif key == "ssh_auth":
            text = ("ssh was refused by a peer (%s). Fix: authorize the group's key for root on every node"
                    % cause["evidence"])
        elif key == "ssh_resolve":
            text = "ssh could not resolve %s. Fix: use addresses or resolvable names in the hostfile" % detail
        elif key == "ssh_connect":
            text = ("ssh could not connect to %s. Fix: sshd running and reachable on that port from rank 0 "
                    "(firewall, nccl_tests_ssh_port)" % detail)
        elif key == "shared_library":
            text = ("the binary cannot load %s. Fix: install it or add its directory to LD_LIBRARY_PATH "
                    "(nccl_tests_nccl_home, nccl_tests_mpi_home, nccl_tests_ld_library_path)" % detail)
        elif key == "no_such_program":
            text = ("%s does not exist. Fix: install it, or point nccl_tests_mpirun / nccl_tests_prebuilt_dir at it"
                    % detail)
        elif key == "daemon_launch":
            text = ("mpirun could not start or keep its daemons on the nodes (%s). Fix: see the ssh and Open MPI "
                    "lines of the run's output; Open MPI must be installed at the same path on every node"
                    % cause["evidence"])
        else:
            text = ("MPI_Init failed before the test started (%s). Fix: see Open MPI's lines in the run's output"
                    % cause["evidence"])
        messages.append(text)
    return messages


def evaluate(parsed, min_busbw_gbps=None, gpu_model="auto", topology="auto", nvls="auto", min_bytes=GIB,
             expect_transport="any", host=None, group=None, rc=None, collective=None):
    """Verdict of one parsed run. Returns a dict (see the module's RETURN)."""
    if min_busbw_gbps is not None and (_num(min_busbw_gbps) is None or float(min_busbw_gbps) < 0):
        raise NcclTestsError("min_busbw_gbps must be a number >= 0 (0 checks correctness only), not %r"
                             % (min_busbw_gbps,))
    if not isinstance(min_bytes, int) or isinstance(min_bytes, bool) or min_bytes < 0:
        raise NcclTestsError("min_bytes must be an integer >= 0, not %r" % (min_bytes,))
    if expect_transport not in ("ib", "socket", "any"):
        raise NcclTestsError("expect_transport must be ib, socket or any, not %r" % (expect_transport,))
    if nvls not in ("auto", "on", "off", True, False):
        raise NcclTestsError("nvls must be auto, on or off, not %r" % (nvls,))
    subject = _subject(host, group, parsed)
    coll = parsed["collective"] or collective or "nccl-tests"
    failures = []
    warnings = list(parsed["warnings"])
    rows = parsed["rows"]

    # -- MPI itself (the launch), then correctness and completion
    mpi = mpi_diagnosis(parsed, group_run=bool(group))
    failures.extend("%s: %s %s: %s" % (subject, coll, "did not run" if not rows else "MPI failure", text)
                    for text in mpi)
    if not rows and not mpi:
        detail = "; ".join(e["message"] for e in parsed["errors"][:3])
        failures.append("%s: %s printed no result rows%s" % (subject, coll, (" (%s)" % detail) if detail else ""))
    for row in rows:
        for place in ("out_of_place", "in_place"):
            wrong = (row.get(place) or {}).get("wrong")
            if wrong:
                failures.append("%s: %s reports %d wrong element(s) %s at %s (%d B): the data came back corrupted"
                                % (subject, coll, wrong, place.replace("_", "-"), format_size(row["size"]),
                                   row["size"]))
    oob = parsed["out_of_bounds"]
    if oob is not None and not oob["ok"]:
        failures.append("%s: %s 'Out of bounds values : %d FAILED': results outside the expected range"
                        % (subject, coll, oob["count"]))
    bitwise = parsed["bitwise_mismatches"]
    if bitwise is not None and not bitwise["ok"]:
        failures.append("%s: %s 'Bitwise mismatches : %d FAILED'" % (subject, coll, bitwise["count"]))
    if parsed["avg_status"] == "FAILED":
        failures.append("%s: %s average bus bandwidth %s GB/s FAILED against NCCL_TESTS_MIN_BW (nccl-tests' own "
                        "check: below 0.9 x the value set)" % (subject, coll, parsed["avg_busbw"]))
    for tmo in parsed["timeouts"]:
        where = (" at %s" % format_size(tmo["size"])) if tmo.get("size") is not None else ""
        failures.append("%s: %s Test timeout (%ds) on %s%s: a collective did not complete (hung rank, link "
                        "or fabric)" % (subject, coll, tmo["seconds"], tmo.get("host") or "a rank", where))
    for err in parsed["errors"]:
        label = {"nccl": "NCCL failure", "cuda": "CUDA failure", "test": "test failure", "usage": "usage error",
                 "mpi": "MPI launch error", "json": "JSON output"}.get(err["kind"], err["kind"])
        failures.append("%s: %s %s%s: %s" % (subject, coll, label, (" on %s" % err["host"]) if err.get("host") else "",
                                             err["message"]))
    if rows and not parsed["concluded"]:
        failures.append("%s: %s ended without 'Collective test concluded' (killed, crashed or cut short; last "
                        "size %s)" % (subject, coll, format_size(rows[-1]["size"])))
    if rc is not None and rc != 0:
        if rc == 124:
            why = "killed by the outer timeout"
        elif rc in (137, -9):
            why = "killed (SIGKILL; outer timeout's --kill-after, or out of memory)"
        else:
            why = "exited with status %d" % rc
        failures.append("%s: %s %s" % (subject, coll, why))

    # -- transport
    transport = detected_transport(parsed)
    if expect_transport != "any":
        if transport is None:
            failures.append("%s: %s: %s transport was expected, but the output has no NCCL_DEBUG=INFO lines "
                            "saying which network NCCL used; run with NCCL_DEBUG=INFO NCCL_DEBUG_SUBSYS=INIT,NET"
                            % (subject, coll, "InfiniBand/RoCE" if expect_transport == "ib" else "Socket"))
        elif expect_transport == "ib" and transport != "ib":
            evidence = next((e for e in parsed["transport"]["evidence"] if "Socket" in e),
                            (parsed["transport"]["evidence"] or [""])[0])
            failures.append("%s: %s: NCCL used its %s transport where InfiniBand/RoCE was expected (silent fallback, "
                            "about two orders of magnitude slower; check the HCAs, NCCL_IB_HCA, nvidia-peermem, "
                            "memlock); evidence: %s" % (subject, coll, transport.capitalize(), evidence))
        elif expect_transport == "socket" and transport != "socket":
            failures.append("%s: %s: NCCL used %s where Socket was expected" % (subject, coll, transport))

    # -- bandwidth
    model = detected_gpu_model(parsed) if gpu_model in (None, "", "auto") else \
        (normalize_gpu_model(gpu_model) or str(gpu_model).upper())
    topo = detected_topology(parsed) if topology in (None, "", "auto") else str(topology)
    if nvls in ("on", True):
        nvls_on = True
    elif nvls in ("off", False):
        nvls_on = False
    else:
        nvls_on = detected_nvls(parsed)
        if nvls_on is None:
            nvls_on = False
            if min_busbw_gbps is None and lookup_threshold(coll, model, topo, True) != \
                    lookup_threshold(coll, model, topo, False):
                warnings.append("NVLS state not in the output (no NCCL_DEBUG=INFO, no NCCL_NVLS_ENABLE): judged "
                                "with the NVLS-off (lower) threshold; set nvls to be strict")
    if min_busbw_gbps is not None:
        expected = float(min_busbw_gbps)
        source = "explicit min_busbw_gbps" if expected > 0 else "explicit min_busbw_gbps 0 (correctness only)"
    else:
        expected = lookup_threshold(coll, model, topo, nvls_on)
        source = "default table: %s %s NVLS %s" % (model or "unknown GPU", topo or "unknown topology",
                                                   "on" if nvls_on else "off")
    used = [r for r in rows if r["size"] >= min_bytes and r.get("out_of_place")
            and r["out_of_place"].get("busbw") is not None]
    measured = None
    at_size = None
    if used:
        low = min(used, key=lambda r: r["out_of_place"]["busbw"])
        measured = low["out_of_place"]["busbw"]
        at_size = low["size"]
    if expected is None and rows:
        failures.append("%s: %s: no default threshold for %s, %s, NVLS %s; set min_busbw_gbps (0 checks "
                        "correctness only)" % (subject, coll, model or "an unknown GPU model",
                                               topo or "an unknown topology", "on" if nvls_on else "off"))
    elif expected is not None and expected > 0:
        if not used and rows:
            failures.append("%s: %s has no out-of-place row of at least %s (largest: %s); run with -e of at "
                            "least %s, or lower min_bytes" % (subject, coll, format_size(min_bytes),
                                                              format_size(max(r["size"] for r in rows)),
                                                              format_size(min_bytes)))
        elif used and measured < expected:
            failures.append("%s: %s busbw %.2f GB/s (minimum out-of-place over %d row(s) >= %s, at %s) is below "
                            "the expected %.2f GB/s (%s)" % (subject, coll, measured, len(used),
                                                             format_size(min_bytes), format_size(at_size),
                                                             expected, source))
    return {
        "passed": not failures,
        "subject": subject,
        "host": host,
        "group": group,
        "collective": coll,
        "min_busbw_gbps": measured,
        "min_busbw_size": at_size,
        "expected_busbw_gbps": expected,
        "threshold_source": source,
        "min_bytes": min_bytes,
        "rows": used,
        "failures": failures,
        "warnings": warnings,
        "transport": transport,
        "gpu_model": model,
        "topology": topo,
        "nvls": nvls_on,
        "avg_busbw_gbps": parsed["avg_busbw"],
        "concluded": parsed["concluded"],
    }


# ----------------------------------------------------------------- bisection

def bisect(group_result, node_results, group=None):
    """Which node of a failed group fails alone, or whether the fabric is the suspect.

    ``group_result``: :func:`evaluate` of the inter-node run. ``node_results``:
    ``{host: evaluate() of that host's intra-node run}`` (the module's return
    values work too: ``passed``, ``min_busbw_gbps``, ``expected_busbw_gbps``,
    ``failures``). Returns ``{"suspects", "fabric_suspect", "missing", "message"}``.
    """
    group = group or group_result.get("group") or "(group)"
    if group_result.get("passed"):
        return {"suspects": [], "fabric_suspect": False, "missing": [],
                "message": "group %s passed; nothing to bisect" % group}
    suspects = []
    missing = []
    passing = []
    for host, res in (node_results or {}).items():
        if not isinstance(res, dict) or ("passed" not in res and not res.get("failures") and not res.get("msg")):
            missing.append(host)
        elif not res.get("passed"):
            suspects.append(host)
        else:
            passing.append(host)

    def numbers(host):
        res = node_results[host]
        got, want = res.get("min_busbw_gbps"), res.get("expected_busbw_gbps")
        if got is not None and want:
            return "%.2f GB/s %s %.2f GB/s" % (got, ">=" if got >= want else "<", want)
        return "no bandwidth figure"

    if suspects:
        details = []
        for host in suspects:
            first = (node_results[host].get("failures") or [node_results[host].get("msg") or numbers(host)])[0]
            details.append("%s (%s; %s)" % (host, numbers(host), first))
        message = ("group %s failed; node(s) failing their own intra-node check: %s. Fix or drain %s before "
                   "suspecting the fabric" % (group, "; ".join(details), ", ".join(suspects)))
        return {"suspects": suspects, "fabric_suspect": False, "missing": missing, "message": message}
    if missing:
        return {"suspects": [], "fabric_suspect": False, "missing": missing,
                "message": "group %s failed; cannot bisect: no intra-node result for %s (run the intra-node test on "
                           "every member)" % (group, ", ".join(missing))}
    if not passing:
        return {"suspects": [], "fabric_suspect": False, "missing": [],
                "message": "group %s failed; no intra-node results were given to bisect with" % group}
    hint = ""
    if group_result.get("transport") == "socket":
        hint = " NCCL used its Socket transport between the nodes, not InfiniBand/RoCE."
    message = ("group %s failed, but every node passes alone (%s): the fabric between them is the suspect (HCAs and "
               "their ports, cables, switch, NCCL_IB_HCA / NCCL_IB_GID_INDEX / NCCL_SOCKET_IFNAME, GPUDirect RDMA)."
               "%s" % (group, ", ".join("%s %s" % (h, numbers(h)) for h in passing), hint))
    return {"suspects": [], "fabric_suspect": True, "missing": [], "message": message}


# ----------------------------------------------------------------- reports

def report_name(verdict):
    label = ("group_%s" % verdict["group"]) if verdict.get("group") else \
        ("node_%s" % (verdict.get("host") or verdict["subject"].split(" ", 1)[-1]))
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "%s_%s" % (label, verdict["collective"]))


def report_document(parsed, verdict, bisection=None):
    """JSON-able report of one run: verdict, every row, run facts; env scrubbed, never raw."""
    env, dropped = scrub_env(parsed.get("env"))
    return {
        "report_version": 1,
        "verdict": {k: verdict[k] for k in ("passed", "subject", "collective", "min_busbw_gbps", "min_busbw_size",
                                            "expected_busbw_gbps", "threshold_source", "min_bytes", "failures",
                                            "warnings", "transport", "gpu_model", "topology", "nvls",
                                            "avg_busbw_gbps")},
        "bisection": bisection,
        "run": {
            "format": parsed["format"],
            "nccl_tests_version": parsed["nccl_tests_version"],
            "nccl_version": parsed["nccl_version"],
            "config": parsed["config"],
            "devices": [{k: d.get(k) for k in ("rank", "hostname", "device", "bus_id", "name")}
                        for d in parsed["devices"]],
            "args": parsed.get("args") or [],
            "env": env,
            "env_dropped": dropped + int(parsed.get("env_dropped") or 0),
            "start_time": parsed.get("start_time"),
            "end_time": parsed.get("end_time"),
            "concluded": parsed["concluded"],
            "out_of_bounds": parsed["out_of_bounds"],
            "avg_busbw_gbps": parsed["avg_busbw"],
            "avg_status": parsed["avg_status"],
            "transport_evidence": parsed["transport"]["evidence"],
        },
        "rows": parsed["rows"],
    }


def _fmt(value, spec="%.2f"):
    return "-" if value is None else (spec % value)


def render_markdown(doc, png_name=None):
    verdict = doc["verdict"]
    lines = ["# nccl-tests: %s, %s" % (verdict["subject"], verdict["collective"]), ""]
    lines.append("**%s**: minimum out-of-place busbw over rows >= %s: %s GB/s (at %s); expected %s GB/s (%s)."
                 % ("PASSED" if verdict["passed"] else "FAILED", format_size(verdict["min_bytes"]),
                    _fmt(verdict["min_busbw_gbps"]),
                    format_size(verdict["min_busbw_size"]) if verdict["min_busbw_size"] is not None else "-",
                    _fmt(verdict["expected_busbw_gbps"]), verdict["threshold_source"]))
    lines.append("")
    facts = [("GPU", verdict["gpu_model"]), ("topology", verdict["topology"]),
             ("NVLS", "on" if verdict["nvls"] else "off"), ("transport", verdict["transport"] or "unknown"),
             ("NCCL", doc["run"]["nccl_version"]), ("nccl-tests", doc["run"]["nccl_tests_version"]),
             ("avg busbw (whole sweep, not judged)", _fmt(doc["run"]["avg_busbw_gbps"]))]
    lines.extend("- %s: %s" % (k, v if v is not None else "-") for k, v in facts)
    if verdict["failures"]:
        lines += ["", "## Failures", ""] + ["- %s" % f for f in verdict["failures"]]
    if doc.get("bisection"):
        lines += ["", "## Bisection", "", doc["bisection"]["message"]]
    if verdict["warnings"]:
        lines += ["", "## Warnings", ""] + ["- %s" % w for w in verdict["warnings"]]
    if png_name:
        lines += ["", "![busbw vs message size](%s)" % png_name]
    lines += ["", "## Rows", "",
              "| size | out-of-place busbw (GB/s) | in-place busbw (GB/s) | #wrong (oop/ip) | judged |",
              "|---:|---:|---:|---:|:---:|"]
    for row in doc["rows"]:
        oop = row.get("out_of_place") or {}
        inp = row.get("in_place") or {}
        judged = "yes" if row["size"] >= verdict["min_bytes"] and oop.get("busbw") is not None else ""
        lines.append("| %s | %s | %s | %s/%s | %s |" % (
            format_size(row["size"]), _fmt(oop.get("busbw")), _fmt(inp.get("busbw")),
            "N/A" if oop.get("wrong") is None else oop["wrong"], "N/A" if inp.get("wrong") is None else inp["wrong"],
            judged))
    return "\n".join(lines) + "\n"


# 3x5 bitmap font (rows top to bottom, 3 columns each) for plot labels.
_FONT = {
    "0": "111101101101111", "1": "010110010010111", "2": "111001111100111", "3": "111001111001111",
    "4": "101101111001001", "5": "111100111001111", "6": "111100111101111", "7": "111001010010010",
    "8": "111101111101111", "9": "111101111001111", "A": "010101111101101", "B": "110101110101110",
    "C": "011100100100011", "D": "110101101101110", "E": "111100110100111", "F": "111100110100100",
    "G": "011100101101011", "H": "101101111101101", "I": "111010010010111", "J": "001001001101010",
    "K": "101101110101101", "L": "100100100100111", "M": "101111111101101", "N": "110101101101101",
    "O": "010101101101010", "P": "110101110100100", "Q": "010101101111011", "R": "110101110101101",
    "S": "011100010001110", "T": "111010010010010", "U": "101101101101111", "V": "101101101101010",
    "W": "101101111111101", "X": "101101010101101", "Y": "101101010010010", "Z": "111001010100111",
    ".": "000000000000010", "-": "000000111000000", "_": "000000000000111", "/": "001001010100100",
    ":": "000010000010000", "(": "010100100100010", ")": "010001001001010", "=": "000111000111000",
    ">": "100010001010100", "<": "001010100010001", "%": "101001010100101", "+": "000010111010000",
    ",": "000000000010100", ";": "000010000010100", " ": "000000000000000",
}
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (148, 103, 189), (140, 86, 75), (23, 190, 207))
THRESHOLD_COLOR = (214, 39, 40)


class _Canvas(object):
    def __init__(self, width, height):
        self.width = width
        self.height = height
        self.pixels = bytearray(b"\xff" * (width * height * 3))

    def dot(self, x, y, color):
        if 0 <= x < self.width and 0 <= y < self.height:
            i = (y * self.width + x) * 3
            self.pixels[i:i + 3] = bytes(color)

    def rect(self, x0, y0, x1, y1, color):
        for y in range(min(y0, y1), max(y0, y1) + 1):
            for x in range(min(x0, x1), max(x0, x1) + 1):
                self.dot(x, y, color)

    def line(self, x0, y0, x1, y1, color, width=1, dash=0):
        dx, dy = abs(x1 - x0), -abs(y1 - y0)
        sx, sy = (1 if x0 < x1 else -1), (1 if y0 < y1 else -1)
        err = dx + dy
        step = 0
        while True:
            if not dash or (step // dash) % 2 == 0:
                self.rect(x0, y0, x0 + width - 1, y0 + width - 1, color)
            if x0 == x1 and y0 == y1:
                break
            e2 = 2 * err
            if e2 >= dy:
                err += dy
                x0 += sx
            if e2 <= dx:
                err += dx
                y0 += sy
            step += 1

    def text(self, x, y, text, color=(0, 0, 0), scale=2):
        for ch in str(text).upper():
            glyph = _FONT.get(ch, "111101101101111" if ch.strip() else _FONT[" "])
            for idx, bit in enumerate(glyph):
                if bit == "1":
                    gx, gy = idx % 3, idx // 3
                    self.rect(x + gx * scale, y + gy * scale, x + gx * scale + scale - 1, y + gy * scale + scale - 1,
                              color)
            x += 4 * scale

    @staticmethod
    def text_width(text, scale=2):
        return len(str(text)) * 4 * scale


def encode_png(width, height, pixels):
    """RGB8 PNG from raw rows (filter 0), zlib + struct only."""
    stride = width * 3
    raw = b"".join(b"\x00" + bytes(pixels[y * stride:(y + 1) * stride]) for y in range(height))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def _nice_step(span, ticks=5):
    raw = span / float(ticks)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * magnitude:
            return mult * magnitude
    return 10 * magnitude


def render_png(series, title="", threshold=None, min_bytes=None, width=800, height=480):
    """Line plot of busbw (GB/s) vs message size (log2 axis).

    ``series``: list of ``(label, [(size_bytes, busbw), ...])``; rows with size 0 or no
    busbw are skipped. ``threshold``: a dashed horizontal line; ``min_bytes``: the judged
    sizes are shaded. Returns PNG bytes.
    """
    canvas = _Canvas(width, height)
    left, right, top, bottom = 70, 20, 50, 60
    px0, px1, py0, py1 = left, width - right, top, height - bottom
    points = [(lbl, [(s, b) for s, b in pts if s and s > 0 and b is not None]) for lbl, pts in series]
    sizes = [s for _lbl, pts in points for s, _b in pts]
    values = [b for _lbl, pts in points for _s, b in pts] + ([threshold] if threshold else [])
    xmin = math.floor(math.log2(min(sizes))) if sizes else 0
    xmax = math.ceil(math.log2(max(sizes))) if sizes else 1
    if xmax <= xmin:
        xmin, xmax = xmin - 1, xmax + 1
    ymax_raw = max(values) if values and max(values) > 0 else 1.0
    ystep = _nice_step(ymax_raw * 1.05)
    ymax = ystep * math.ceil(ymax_raw * 1.05 / ystep)

    def xpix(size):
        return int(round(px0 + (math.log2(size) - xmin) / float(xmax - xmin) * (px1 - px0)))

    def ypix(value):
        return int(round(py1 - value / float(ymax) * (py1 - py0)))

    grid = (225, 225, 225)
    black = (0, 0, 0)
    if min_bytes and sizes and max(sizes) >= min_bytes:
        canvas.rect(max(px0, xpix(max(min_bytes, 2 ** xmin))), py0, px1, py1, (236, 246, 236))
    # y grid, ticks and labels
    tick = 0.0
    while tick <= ymax + 1e-9:
        y = ypix(tick)
        canvas.line(px0, y, px1, y, grid)
        canvas.line(px0 - 5, y, px0, y, black)
        label = ("%d" % tick) if tick == int(tick) else ("%.1f" % tick)
        canvas.text(px0 - 8 - canvas.text_width(label), y - 5, label)
        tick += ystep
    # x ticks at powers of two (every k-th so at most ~12 labels)
    every = max(1, int(math.ceil((xmax - xmin) / 12.0)))
    for exp in range(int(xmin), int(xmax) + 1):
        x = xpix(2 ** exp)
        canvas.line(x, py1, x, py1 + 5, black)
        if (exp - int(xmin)) % every == 0:
            canvas.line(x, py0, x, py1, grid)
            label = _short_size(2 ** exp)
            canvas.text(x - canvas.text_width(label) // 2, py1 + 10, label)
    # axes
    canvas.line(px0, py0, px0, py1, black, width=2)
    canvas.line(px0, py1, px1, py1, black, width=2)
    canvas.text(px0 + (px1 - px0) // 2 - canvas.text_width("MESSAGE SIZE (B)") // 2, height - 22, "message size (B)")
    canvas.text(8, 8, title[:90])
    canvas.text(8, 28, "busbw (GB/s)" + ("; shaded: judged sizes" if min_bytes and sizes else ""))
    # threshold
    legend = []
    if threshold:
        canvas.line(px0, ypix(threshold), px1, ypix(threshold), THRESHOLD_COLOR, width=2, dash=8)
        legend.append(("threshold %g" % threshold, THRESHOLD_COLOR))
    # series
    for index, (label, pts) in enumerate(points):
        color = PALETTE[index % len(PALETTE)]
        pts = sorted(pts)
        for (s0, b0), (s1, b1) in zip(pts, pts[1:]):
            canvas.line(xpix(s0), ypix(b0), xpix(s1), ypix(b1), color, width=2)
        for s, b in pts:
            canvas.rect(xpix(s) - 2, ypix(b) - 2, xpix(s) + 2, ypix(b) + 2, color)
        legend.append((label, color))
    # legend, top right inside the plot
    ly = py0 + 8
    for label, color in legend:
        lx = px1 - 10 - canvas.text_width(label) - 26
        canvas.rect(lx, ly + 2, lx + 18, ly + 6, color)
        canvas.text(lx + 24, ly, label)
        ly += 16
    return encode_png(width, height, canvas.pixels)


def plot_series(parsed, label=""):
    prefix = (label + " ") if label else ""
    oop = [(r["size"], (r.get("out_of_place") or {}).get("busbw")) for r in parsed["rows"]]
    inp = [(r["size"], (r.get("in_place") or {}).get("busbw")) for r in parsed["rows"]]
    return [(prefix + "out-of-place", oop), (prefix + "in-place", inp)]


def _write_if_changed(path, data, check_mode, mode=0o644):
    try:
        with open(path, "rb") as handle:
            current = handle.read()
        same_mode = (os.stat(path).st_mode & 0o777) == mode
    except (IOError, OSError):
        current = None
        same_mode = False
    if current == data and same_mode:
        return False
    if check_mode:
        return True
    write_atomic(path, data, mode)
    return True


def write_reports(report_dir, parsed, verdict, bisection=None, name=None, check_mode=False):
    """Write <name>.json, .md and .png (0644) under report_dir. Returns (paths, changed)."""
    if not os.path.isdir(report_dir):
        if check_mode:
            base = os.path.join(report_dir, name or report_name(verdict))
            return [base + ext for ext in (".json", ".md", ".png")], True
        os.makedirs(report_dir, 0o755)
    base = os.path.join(report_dir, name or report_name(verdict))
    doc = report_document(parsed, verdict, bisection)
    title = "%s %s" % (verdict["subject"], verdict["collective"])
    png = render_png(plot_series(parsed), title=title, threshold=verdict["expected_busbw_gbps"] or None,
                     min_bytes=verdict["min_bytes"])
    files = [
        (base + ".json", (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")),
        (base + ".md", render_markdown(doc, os.path.basename(base) + ".png").encode("utf-8")),
        (base + ".png", png),
    ]
    changed = False
    for path, data in files:
        changed = _write_if_changed(path, data, check_mode) or changed
    return [p for p, _d in files], changed


# ----------------------------------------------------------------- module entry

def _read(path, what):
    try:
        with open(path, "rb") as handle:
            return handle.read().decode("utf-8", "replace")
    except (IOError, OSError) as exc:
        raise NcclTestsError("%s %s cannot be read (%s): run the test first, or fix the path" % (what, path, exc))


def run_check(params, check_mode=False):
    """What the module does: read, parse, judge, bisect, write reports. Raises NcclTestsError on bad input."""
    src = params["src"]
    log_src = params.get("log_src")
    if log_src and not os.path.exists(src) and os.path.exists(log_src):
        # No JSON file at all (the run died before nccl-tests opened it): judge the stdout.
        parsed = parse_text(_read(log_src, "log_src"))
        parsed["warnings"].append("%s does not exist; judged from %s" % (src, log_src))
    else:
        try:
            parsed = parse(_read(src, "src"), params.get("format") or "auto")
        except NcclTestsError as exc:
            raise NcclTestsError("src %s: %s" % (src, exc))
        if log_src:
            merge_log(parsed, _read(log_src, "log_src"))
    verdict = evaluate(parsed, min_busbw_gbps=params.get("min_busbw_gbps"), gpu_model=params.get("gpu_model") or "auto",
                       topology=params.get("topology") or "auto", nvls=params.get("nvls") or "auto",
                       min_bytes=GIB if params.get("min_bytes") is None else params["min_bytes"],
                       expect_transport=params.get("expect_transport") or "any", host=params.get("host"),
                       group=params.get("group"), rc=params.get("rc"), collective=params.get("collective"))
    bisection = None
    if params.get("node_results") is not None and not verdict["passed"]:
        bisection = bisect(verdict, params["node_results"], group=params.get("group"))
        verdict["failures"].append(bisection["message"])
    result = dict(verdict)
    result["bisection"] = bisection
    result["reports"] = []
    result["changed"] = False
    if params.get("report_dir"):
        paths, changed = write_reports(params["report_dir"], parsed, verdict, bisection,
                                       name=params.get("report_name"), check_mode=check_mode)
        result["reports"] = paths
        result["changed"] = changed
    return result
