# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Serving benchmark reports: SGLang ``bench_serving`` results -> rows, Markdown, baseline comparison.

Pure functions (no Ansible, no matplotlib at import time); ``gpufleet.sglang.sglang_bench_report`` is the thin
module around them.

Input: the JSONL lines ``python -m sglang.bench_serving --output-file F`` appends, one per run (sglang 0.5.23,
``sglang/benchmark/serving.py`` ``benchmark()``: ``result = {"backend", "dataset_name", "max_concurrency",
"random_input_len", "random_output_len", "duration", "completed", "total_input_tokens", "total_output_tokens",
"output_throughput", "mean/median/p99_ttft_ms", "mean/median/p99_tpot_ms", "median/p99_e2e_latency_ms", ...}``).

Columns follow the published per-concurrency tables (TTFT, tok/s per request, total time, total tokens) plus
p50/p99. "tok/s per request" is a request's decode speed, ``1000 / TPOT_ms`` (TPOT = (latency - TTFT) /
(output tokens - 1), per request, as bench_serving computes it): the mean, the median request (p50) and the
slow tail (p99 TPOT, so the p99 column is the speed 99 % of requests reach or beat).
"""

from __future__ import annotations

import json
import math
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Union

REPORT_VERSION = 1


class BenchReportError(ValueError):
    """Bad results or baseline: the message names the file, the run and the field."""


# (key, header, format, direction) -- direction: +1 higher is better, -1 lower is better, 0 not compared.
COLUMNS = [
    ("input_len", "prompt tokens", "%d", 0),
    ("output_len", "max tokens", "%d", 0),
    ("concurrency", "concurrency", "%d", 0),
    ("completed", "requests", "%d", 0),
    ("failed", "failed", "%d", 0),
    ("ttft_mean_s", "TTFT s", "%.3f", -1),
    ("ttft_p50_s", "TTFT p50 s", "%.3f", -1),
    ("ttft_p99_s", "TTFT p99 s", "%.3f", -1),
    ("tok_s_per_request", "tok/s per request", "%.1f", +1),
    ("tok_s_per_request_p50", "tok/s per request p50", "%.1f", +1),
    ("tok_s_per_request_p99", "tok/s per request p99", "%.1f", +1),
    ("total_time_s", "total time s", "%.2f", -1),
    ("total_tokens", "total tokens", "%d", 0),
    ("output_tok_s", "output tok/s", "%.1f", +1),
    ("e2e_p50_s", "latency p50 s", "%.3f", -1),
    ("e2e_p99_s", "latency p99 s", "%.3f", -1),
]
DIRECTION = {key: direction for key, _h, _f, direction in COLUMNS}
DEFAULT_METRICS = ["ttft_p50_s", "ttft_p99_s", "tok_s_per_request", "tok_s_per_request_p99", "output_tok_s"]
SHAPE_KEYS = ("input_len", "output_len", "concurrency")

REQUIRED = (
    "max_concurrency",
    "random_input_len",
    "random_output_len",
    "duration",
    "completed",
    "total_input_tokens",
    "total_output_tokens",
    "output_throughput",
    "mean_ttft_ms",
    "median_ttft_ms",
    "p99_ttft_ms",
    "mean_tpot_ms",
    "median_tpot_ms",
    "p99_tpot_ms",
    "median_e2e_latency_ms",
    "p99_e2e_latency_ms",
)


def _rate(ms):
    """tokens/s from a per-token time in ms; None when there is no such time (one-token answers)."""
    if ms is None or not isinstance(ms, (int, float)) or math.isnan(ms) or ms <= 0:
        return None
    return 1000.0 / ms


def _s(ms):
    return None if ms is None else ms / 1000.0


def parse_results(text: str, source: str = "results") -> List[Dict[str, Any]]:
    """The records of a bench_serving JSONL file (one JSON object a line)."""
    records = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError as exc:
            raise BenchReportError(
                "%s line %d: not JSON (%s); expected bench_serving --output-file lines" % (source, lineno, exc)
            )
        if not isinstance(rec, dict):
            raise BenchReportError("%s line %d: a JSON object was expected" % (source, lineno))
        missing = [k for k in REQUIRED if k not in rec]
        if missing:
            raise BenchReportError(
                "%s line %d: missing %s; is this sglang.bench_serving 0.5.23 output?"
                % (source, lineno, ", ".join(missing))
            )
        records.append(rec)
    return records


def row_of(rec: Mapping[str, Any], num_prompts: Optional[int] = None) -> Dict[str, Any]:
    """One table row from one bench_serving record."""
    completed = int(rec["completed"])
    return {
        "input_len": int(rec["random_input_len"]),
        "output_len": int(rec["random_output_len"]),
        "concurrency": int(rec["max_concurrency"] or 0),
        "backend": rec.get("backend"),
        "dataset": rec.get("dataset_name"),
        "num_prompts": num_prompts,
        "completed": completed,
        "failed": (num_prompts - completed) if num_prompts is not None else None,
        "ttft_mean_s": _s(rec["mean_ttft_ms"]),
        "ttft_p50_s": _s(rec["median_ttft_ms"]),
        "ttft_p99_s": _s(rec["p99_ttft_ms"]),
        "tok_s_per_request": _rate(rec["mean_tpot_ms"]),
        "tok_s_per_request_p50": _rate(rec["median_tpot_ms"]),
        "tok_s_per_request_p99": _rate(rec["p99_tpot_ms"]),
        "total_time_s": float(rec["duration"]),
        "input_tokens": int(rec["total_input_tokens"]),
        "output_tokens": int(rec["total_output_tokens"]),
        "total_tokens": int(rec["total_input_tokens"]) + int(rec["total_output_tokens"]),
        "output_tok_s": float(rec["output_throughput"]),
        "e2e_p50_s": _s(rec["median_e2e_latency_ms"]),
        "e2e_p99_s": _s(rec["p99_e2e_latency_ms"]),
    }


def shape_key(row: Mapping[str, Any]) -> str:
    return "%d/%d/c%d" % tuple(row[k] for k in SHAPE_KEYS)


def build_report(
    records: Iterable[Mapping[str, Any]],
    target: Any = None,
    sglang_version: Optional[str] = None,
    num_prompts: Union[int, Callable[[int], int], None] = None,
    label: Optional[str] = None,
) -> Dict[str, Any]:
    """The report document: every run's row (sorted by shape) and its raw record (server_info left out)."""
    rows = []
    raw = []
    for rec in records:
        # num_prompts: requests sent per run, a number or a function of the run's concurrency
        n = num_prompts(int(rec["max_concurrency"] or 0)) if callable(num_prompts) else num_prompts
        rows.append(row_of(rec, n))
        raw.append({k: v for k, v in rec.items() if k != "server_info"})
    order = sorted(range(len(rows)), key=lambda i: tuple(rows[i][k] for k in SHAPE_KEYS))
    return {
        "report_version": REPORT_VERSION,
        "tool": "sglang.bench_serving",
        "sglang_version": sglang_version,
        "target": target,
        "label": label,
        "columns": [c[0] for c in COLUMNS],
        "runs": [rows[i] for i in order],
        "raw": [raw[i] for i in order],
    }


def _cell(value, fmt):
    if value is None:
        return "-"
    return fmt % value


def render_markdown(
    doc: Mapping[str, Any], comparison: Optional[Mapping[str, Any]] = None, png_name: Optional[str] = None
) -> str:
    lines = []
    title = "Serving benchmark"
    if doc.get("label"):
        title += ": %s" % doc["label"]
    lines.append("## %s" % title)
    lines.append("")
    meta = [
        "tool `sglang.bench_serving` %s" % (doc.get("sglang_version") or ""),
        "target `%s`" % (doc.get("target") or "?"),
    ]
    backends = sorted({str(r.get("backend")) for r in doc["runs"]})
    meta.append("backend %s" % ", ".join("`%s`" % b for b in backends))
    lines.append(", ".join(meta))
    lines.append("")
    lines.append("| " + " | ".join(h for _k, h, _f, _d in COLUMNS) + " |")
    lines.append("|" + "|".join("---:" for _c in COLUMNS) + "|")
    for row in doc["runs"]:
        lines.append("| " + " | ".join(_cell(row.get(k), f) for k, _h, f, _d in COLUMNS) + " |")
    lines.append("")
    lines.append(
        "tok/s per request = 1000 / TPOT (p99: the slowest 1 %); total tokens = prompt + generated; times in seconds."
    )
    if comparison is not None:
        lines.append("")
        lines += render_comparison(comparison)
    if png_name:
        lines += ["", "![TTFT and tok/s per request against concurrency](%s)" % png_name]
    return "\n".join(lines) + "\n"


def render_comparison(comparison: Mapping[str, Any]) -> List[str]:
    head = (comparison.get("baseline") or "?", comparison["threshold_pct"])
    lines = ["### Against the baseline (%s, threshold %.1f %%)" % head]
    if comparison["regressions"]:
        lines.append("")
        lines.append("| shape | metric | baseline | now | change |")
        lines.append("|---|---|---:|---:|---:|")
        for r in comparison["regressions"]:
            cells = (r["shape"], r["metric"], r["baseline"], r["current"], r["change_pct"])
            lines.append("| %s | %s | %.4g | %.4g | %+.1f %% |" % cells)
        lines.append("")
        count = (len(comparison["regressions"]), comparison["threshold_pct"])
        lines.append("**%d regression(s)** beyond %.1f %%." % count)
    else:
        lines.append("")
        count = (comparison["threshold_pct"], comparison["compared"])
        lines.append("No regression beyond %.1f %% in %d compared values." % count)
    if comparison["missing"]:
        lines.append("")
        lines.append("Not in the baseline: %s." % ", ".join(comparison["missing"]))
    return lines


def compare(
    doc: Mapping[str, Any],
    baseline: Mapping[str, Any],
    threshold_pct: float = 10.0,
    metrics: Optional[Iterable[str]] = None,
    baseline_name: Optional[str] = None,
) -> Dict[str, Any]:
    """Each shape and metric of ``doc`` against ``baseline`` (a report document of the same kind).

    A regression is a change in the worse direction by more than ``threshold_pct`` percent of the baseline value.
    Shapes absent from the baseline are listed in ``missing``, never counted as regressions.
    """
    metrics = list(metrics or DEFAULT_METRICS)
    unknown = [m for m in metrics if DIRECTION.get(m, 0) == 0]
    if unknown:
        raise BenchReportError(
            "unknown or not comparable metric(s) %s; choose from %s"
            % (", ".join(unknown), ", ".join(k for k, d in DIRECTION.items() if d))
        )
    try:
        threshold = float(threshold_pct)
    except (TypeError, ValueError):
        raise BenchReportError("threshold_pct must be a number of percent, got %r" % (threshold_pct,))
    if threshold < 0 or math.isnan(threshold):
        raise BenchReportError("threshold_pct must be >= 0, got %r" % (threshold_pct,))
    if not isinstance(baseline, dict) or not isinstance(baseline.get("runs"), list):
        raise BenchReportError(
            "%s: not a benchmark report (no 'runs' list); record one with this playbook's "
            "JSON output" % (baseline_name or "baseline")
        )
    base = {}
    for i, row in enumerate(baseline["runs"]):
        try:
            base[shape_key(row)] = row
        except (KeyError, TypeError):
            raise BenchReportError("%s: run %d lacks %s" % (baseline_name or "baseline", i, "/".join(SHAPE_KEYS)))
    regressions, changes, missing = [], [], []
    for row in doc["runs"]:
        key = shape_key(row)
        ref = base.get(key)
        if ref is None:
            missing.append(key)
            continue
        for metric in metrics:
            now, was = row.get(metric), ref.get(metric)
            if now is None or was is None or was == 0:
                continue
            change = 100.0 * (now - was) / abs(was)
            worse = -change if DIRECTION[metric] > 0 else change
            entry = {
                "shape": key,
                "metric": metric,
                "baseline": was,
                "current": now,
                "change_pct": change,
                "regression": worse > threshold,
            }
            changes.append(entry)
            if entry["regression"]:
                regressions.append(entry)
    return {
        "baseline": baseline_name,
        "threshold_pct": threshold,
        "metrics": metrics,
        "compared": len(changes),
        "changes": changes,
        "regressions": regressions,
        "missing": missing,
    }


def render_png(doc: Mapping[str, Any], path: str, title: Optional[str] = None) -> str:
    """Two panels against concurrency, one line per (prompt, max tokens) shape: TTFT p50 and tok/s per request.

    Needs matplotlib (the controller's requirements pin it); imported here so the rest works without it.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    shapes = {}
    for row in doc["runs"]:
        shapes.setdefault((row["input_len"], row["output_len"]), []).append(row)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    for (inp, out), rows in sorted(shapes.items()):
        rows = sorted(rows, key=lambda r: r["concurrency"])
        xs = [r["concurrency"] for r in rows]
        label = "%d in / %d out" % (inp, out)
        ax1.plot(xs, [r["ttft_p50_s"] for r in rows], marker="o", label=label)
        ax2.plot(xs, [r["tok_s_per_request"] for r in rows], marker="o", label=label)
    ax1.set_title("TTFT p50")
    ax1.set_ylabel("seconds")
    ax2.set_title("tok/s per request (mean)")
    ax2.set_ylabel("tokens/s")
    concurrencies = sorted(set(r["concurrency"] for r in doc["runs"]))
    for ax in (ax1, ax2):
        if len(concurrencies) > 1 and concurrencies[0] > 0:
            ax.set_xscale("log", base=2)
        ax.set_xticks(concurrencies)
        ax.set_xticklabels([str(c) for c in concurrencies])
        ax.set_ylim(bottom=0)
        ax.set_xlabel("concurrency")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small")
    fig.suptitle(title or "sglang.bench_serving against %s" % (doc.get("target") or "?"))
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
