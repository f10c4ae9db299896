# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plot an nccl-tests JSON report (bus bandwidth against message size) on the controller.

Controller-side only (``plugins/plugin_utils``: never shipped to a managed host); used by
the ``gpufleet.sglang.nccl_tests_plot`` action. The report is the ``<name>.json`` that
``nccl_tests_check`` writes on the host (``module_utils/nccl_tests_report.py``,
``report_document``) and the role fetches: everything plotted comes from it.

matplotlib is a controller requirement (requirements/controller.txt). It is drawn through
the object-oriented API (``matplotlib.figure.Figure`` + the Agg canvas), never pyplot: no
global state and no GUI backend in Ansible's forked workers.
"""

from __future__ import annotations

import io
import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PlotError(ValueError):
    """A report that cannot be plotted; the message names the field."""


def _short_size(size: float) -> str:
    """Tick label of a power-of-two size: 1K, 64M, 16G."""
    for unit, scale in (("G", 1024**3), ("M", 1024**2), ("K", 1024)):
        if size >= scale and size % scale == 0:
            return "%d%s" % (size // scale, unit)
    return "%d" % size


def _busbw(row: Mapping[str, Any], place: str) -> Optional[float]:
    value = (row.get(place) or {}).get("busbw")
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        return None
    return float(value)


def plot_data(doc: Mapping[str, Any]) -> Dict[str, Any]:
    """What the plot shows, read from a JSON report (``report_version`` 1).

    Returns ``title``, ``threshold`` (GB/s or None), ``min_bytes`` (the judged sizes start
    there) and ``series``: ``[(label, [(size, busbw), ...]), ...]`` for out-of-place and
    in-place, skipping rows of size 0 or without a busbw (they cannot sit on a log axis).
    Raises PlotError naming the missing field.
    """
    if not isinstance(doc, Mapping):
        raise PlotError("the report is not a JSON object (expected nccl_tests_check's <name>.json)")
    verdict = doc.get("verdict")
    rows = doc.get("rows")
    if not isinstance(verdict, Mapping) or not isinstance(rows, list):
        raise PlotError("the report has no 'verdict' object or 'rows' list (expected nccl_tests_check's <name>.json)")
    series: List[Tuple[str, List[Tuple[int, float]]]] = []
    for label, place in (("out-of-place", "out_of_place"), ("in-place", "in_place")):
        points = []
        for row in rows:
            size = row.get("size") if isinstance(row, Mapping) else None
            value = _busbw(row, place) if isinstance(row, Mapping) else None
            if isinstance(size, int) and not isinstance(size, bool) and size > 0 and value is not None:
                points.append((size, value))
        series.append((label, sorted(points)))
    threshold = verdict.get("expected_busbw_gbps")
    return {
        "title": "%s %s" % (verdict.get("subject") or "", verdict.get("collective") or ""),
        "passed": verdict.get("passed"),
        "threshold": float(threshold) if isinstance(threshold, (int, float)) and threshold > 0 else None,
        "min_bytes": verdict.get("min_bytes"),
        "series": series,
    }


def build_figure(data: Mapping[str, Any]):
    """A matplotlib Figure of ``plot_data``'s output (line per series, dashed threshold, judged sizes shaded)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, LogLocator

    fig = Figure(figsize=(8, 4.8), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    sizes = [s for _label, pts in data["series"] for s, _v in pts]
    for label, pts in data["series"]:
        if pts:
            ax.plot([s for s, _v in pts], [v for _s, v in pts], marker="o", markersize=3, linewidth=1.5, label=label)
    if data.get("threshold"):
        ax.axhline(
            data["threshold"],
            color="tab:red",
            linestyle="--",
            linewidth=1.5,
            label="threshold %g GB/s" % data["threshold"],
        )
    min_bytes = data.get("min_bytes")
    if sizes:
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(LogLocator(base=2, numticks=12))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _short_size(x)))
        if isinstance(min_bytes, int) and max(sizes) >= min_bytes:
            ax.axvspan(max(min_bytes, min(sizes)), max(sizes), color="tab:green", alpha=0.1, label="judged sizes")
    else:
        ax.text(0.5, 0.5, "no rows with a bus bandwidth", ha="center", va="center", transform=ax.transAxes)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("message size (bytes)")
    ax.set_ylabel("bus bandwidth (GB/s)")
    verdict = {True: "PASSED", False: "FAILED"}.get(data.get("passed"), "")
    ax.set_title(("%s: %s" % (data["title"].strip(), verdict)) if verdict else data["title"].strip())
    ax.grid(True, which="major", alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="lower right")
    fig.tight_layout()
    return fig


def render_png(data: Mapping[str, Any]) -> bytes:
    """PNG bytes of ``build_figure(data)``; the same report always gives the same bytes (no date, no version)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = build_figure(data)
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
