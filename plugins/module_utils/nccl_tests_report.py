# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nccl-tests results, part 3 of 3: the per-run reports on the host, and the module's entry point.

Pure Python (stdlib only). :func:`write_reports` writes ``<name>.json`` (every row, the
verdict, the run's facts; env scrubbed) and ``<name>.md`` under the report directory on
the managed host. The PNG plot is not drawn here: the role fetches the JSON report to the
controller, where the ``gpufleet.sglang.nccl_tests_plot`` action draws it with matplotlib
(a controller requirement; managed hosts need nothing beyond Python's stdlib).
:func:`run_check` is what the ``nccl_tests_check`` module does: read, parse, judge, bisect, report.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Tuple

from ansible_collections.gpufleet.sglang.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.gpufleet.sglang.plugins.module_utils.nccl_tests_parse import (
    GIB,
    NcclTestsError,
    format_size,
    merge_log,
    parse,
    parse_text,
    scrub_env,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.nccl_tests_verdict import bisect, evaluate

# ----------------------------------------------------------------- reports


def report_name(verdict: Mapping[str, Any]) -> str:
    label = (
        ("group_%s" % verdict["group"])
        if verdict.get("group")
        else ("node_%s" % (verdict.get("host") or verdict["subject"].split(" ", 1)[-1]))
    )
    return re.sub(r"[^A-Za-z0-9_.-]", "_", "%s_%s" % (label, verdict["collective"]))


def report_document(
    parsed: Dict[str, Any], verdict: Mapping[str, Any], bisection: Optional[Dict[str, Any]] = None
) -> Dict[str, Any]:
    """JSON-able report of one run: verdict, every row, run facts; env scrubbed, never raw."""
    env, dropped = scrub_env(parsed.get("env"))
    return {
        "report_version": 1,
        "verdict": {
            k: verdict[k]
            for k in (
                "passed",
                "subject",
                "collective",
                "min_busbw_gbps",
                "min_busbw_size",
                "expected_busbw_gbps",
                "threshold_source",
                "min_bytes",
                "failures",
                "warnings",
                "transport",
                "gpu_model",
                "topology",
                "nvls",
                "avg_busbw_gbps",
            )
        },
        "bisection": bisection,
        "run": {
            "format": parsed["format"],
            "nccl_tests_version": parsed["nccl_tests_version"],
            "nccl_version": parsed["nccl_version"],
            "config": parsed["config"],
            "devices": [
                {k: d.get(k) for k in ("rank", "hostname", "device", "bus_id", "name")} for d in parsed["devices"]
            ],
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


def render_markdown(doc: Dict[str, Any], png_name: Optional[str] = None) -> str:
    verdict = doc["verdict"]
    lines = ["# nccl-tests: %s, %s" % (verdict["subject"], verdict["collective"]), ""]
    lines.append(
        "**%s**: minimum out-of-place busbw over rows >= %s: %s GB/s (at %s); expected %s GB/s (%s)."
        % (
            "PASSED" if verdict["passed"] else "FAILED",
            format_size(verdict["min_bytes"]),
            _fmt(verdict["min_busbw_gbps"]),
            format_size(verdict["min_busbw_size"]) if verdict["min_busbw_size"] is not None else "-",
            _fmt(verdict["expected_busbw_gbps"]),
            verdict["threshold_source"],
        )
    )
    lines.append("")
    facts = [
        ("GPU", verdict["gpu_model"]),
        ("topology", verdict["topology"]),
        ("NVLS", "on" if verdict["nvls"] else "off"),
        ("transport", verdict["transport"] or "unknown"),
        ("NCCL", doc["run"]["nccl_version"]),
        ("nccl-tests", doc["run"]["nccl_tests_version"]),
        ("avg busbw (whole sweep, not judged)", _fmt(doc["run"]["avg_busbw_gbps"])),
    ]
    lines.extend("- %s: %s" % (k, v if v is not None else "-") for k, v in facts)
    if verdict["failures"]:
        lines += ["", "## Failures", ""] + ["- %s" % f for f in verdict["failures"]]
    if doc.get("bisection"):
        lines += ["", "## Bisection", "", doc["bisection"]["message"]]
    if verdict["warnings"]:
        lines += ["", "## Warnings", ""] + ["- %s" % w for w in verdict["warnings"]]
    if png_name:
        lines += ["", "![busbw vs message size](%s)" % png_name]
    lines += [
        "",
        "## Rows",
        "",
        "| size | out-of-place busbw (GB/s) | in-place busbw (GB/s) | #wrong (oop/ip) | judged |",
        "|---:|---:|---:|---:|:---:|",
    ]
    for row in doc["rows"]:
        oop = row.get("out_of_place") or {}
        inp = row.get("in_place") or {}
        judged = "yes" if row["size"] >= verdict["min_bytes"] and oop.get("busbw") is not None else ""
        lines.append(
            "| %s | %s | %s | %s/%s | %s |"
            % (
                format_size(row["size"]),
                _fmt(oop.get("busbw")),
                _fmt(inp.get("busbw")),
                "N/A" if oop.get("wrong") is None else oop["wrong"],
                "N/A" if inp.get("wrong") is None else inp["wrong"],
                judged,
            )
        )
    return "\n".join(lines) + "\n"


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


def write_reports(
    report_dir: str,
    parsed: Dict[str, Any],
    verdict: Mapping[str, Any],
    bisection: Optional[Dict[str, Any]] = None,
    name: Optional[str] = None,
    check_mode: bool = False,
) -> Tuple[List[str], bool]:
    """Write <name>.json and <name>.md (0644) under report_dir. Returns (paths, changed).

    The Markdown links ``<name>.png``: the role fetches the JSON to the controller, where the
    ``nccl_tests_plot`` action draws that PNG next to it (matplotlib stays off the hosts).
    """
    if not os.path.isdir(report_dir):
        if check_mode:
            base = os.path.join(report_dir, name or report_name(verdict))
            return [base + ext for ext in (".json", ".md")], True
        os.makedirs(report_dir, 0o755)
    base = os.path.join(report_dir, name or report_name(verdict))
    doc = report_document(parsed, verdict, bisection)
    files = [
        (base + ".json", (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode("utf-8")),
        (base + ".md", render_markdown(doc, os.path.basename(base) + ".png").encode("utf-8")),
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


def run_check(params: Mapping[str, Any], check_mode: bool = False) -> Dict[str, Any]:
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
    verdict = evaluate(
        parsed,
        min_busbw_gbps=params.get("min_busbw_gbps"),
        gpu_model=params.get("gpu_model") or "auto",
        topology=params.get("topology") or "auto",
        nvls=params.get("nvls") or "auto",
        min_bytes=GIB if params.get("min_bytes") is None else params["min_bytes"],
        expect_transport=params.get("expect_transport") or "any",
        host=params.get("host"),
        group=params.get("group"),
        rc=params.get("rc"),
        collective=params.get("collective"),
    )
    bisection = None
    if params.get("node_results") is not None and not verdict["passed"]:
        bisection = bisect(verdict, params["node_results"], group=params.get("group"))
        verdict["failures"].append(bisection["message"])
    result = dict(verdict)
    result["bisection"] = bisection
    result["reports"] = []
    result["changed"] = False
    if params.get("report_dir"):
        paths, changed = write_reports(
            params["report_dir"], parsed, verdict, bisection, name=params.get("report_name"), check_mode=check_mode
        )
        result["reports"] = paths
        result["changed"] = changed
    return result
