# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""sglang_bench: bench_serving JSONL -> rows, Markdown, baseline comparison."""

from __future__ import annotations

import json

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_bench import (
    BenchReportError,
    build_report,
    compare,
    parse_results,
    render_markdown,
    render_png,
)


def record(concurrency=1, input_len=1024, output_len=1024, ttft_ms=370.0, tpot_ms=40.0, completed=8, **kw):
    """A bench_serving 0.5.23 --output-file line (field names from sglang/benchmark/serving.py benchmark())."""
    rec = {
        "backend": "sglang",
        "dataset_name": "random-ids",
        "max_concurrency": concurrency,
        "random_input_len": input_len,
        "random_output_len": output_len,
        "random_range_ratio": 1.0,
        "server_info": {"internal_states": [{"secretish": "x"}]},
        "duration": 41.5,
        "completed": completed,
        "total_input_tokens": completed * input_len,
        "total_output_tokens": completed * output_len,
        "output_throughput": 197.4,
        "mean_ttft_ms": ttft_ms,
        "median_ttft_ms": ttft_ms,
        "p99_ttft_ms": ttft_ms * 2,
        "mean_tpot_ms": tpot_ms,
        "median_tpot_ms": tpot_ms,
        "p99_tpot_ms": tpot_ms * 1.25,
        "median_e2e_latency_ms": 41000.0,
        "p99_e2e_latency_ms": 42000.0,
    }
    rec.update(kw)
    return rec


def jsonl(*recs):
    return "\n".join(json.dumps(r) for r in recs) + "\n"


def test_row_has_published_columns_in_their_units():
    doc = build_report(parse_results(jsonl(record())), target="http://gw:30000", num_prompts=lambda c: 8)
    row = doc["runs"][0]
    assert row["ttft_p50_s"] == pytest.approx(0.37)
    assert row["tok_s_per_request"] == pytest.approx(25.0)  # 1000 / 40 ms: the published ~25 tok/s
    assert row["tok_s_per_request_p99"] == pytest.approx(20.0)  # slow tail: 1000 / 50 ms
    assert row["total_time_s"] == 41.5 and row["total_tokens"] == 8 * 2048
    assert row["failed"] == 0
    assert "server_info" not in doc["raw"][0]


def test_runs_sorted_by_shape_and_markdown_has_one_line_each():
    doc = build_report(parse_results(jsonl(record(32), record(1), record(8, input_len=256))))
    assert [(r["input_len"], r["concurrency"]) for r in doc["runs"]] == [(256, 8), (1024, 1), (1024, 32)]
    md = render_markdown(doc)
    table = [line for line in md.splitlines() if line.startswith("| ")]
    assert table[0].startswith("| prompt tokens | max tokens | concurrency |")
    assert "TTFT p50 s" in table[0] and "tok/s per request p99" in table[0] and "total tokens" in table[0]
    assert len(table) == 1 + 3
    assert "| 1024 | 1024 | 1 | 8 | - | 0.370 |" in md


def test_one_token_answers_have_no_tok_s_rather_than_a_division_error():
    doc = build_report(parse_results(jsonl(record(mean_tpot_ms=0.0, median_tpot_ms=0.0, p99_tpot_ms=0.0))))
    assert doc["runs"][0]["tok_s_per_request"] is None
    assert " - " in render_markdown(doc)


@pytest.mark.parametrize(
    "text, message",
    [
        ("not json\n", "results line 1: not JSON"),
        ("[1, 2]\n", "results line 1: a JSON object was expected"),
        (json.dumps({"completed": 1}) + "\n", "missing max_concurrency"),
    ],
)
def test_bad_results_name_line_and_field(text, message):
    with pytest.raises(BenchReportError, match=message):
        parse_results(text, source="results")


def test_regression_beyond_threshold_is_flagged_in_the_worse_direction_only():
    base = build_report(parse_results(jsonl(record(1), record(8))))
    # c1: 20 % slower decode (25 -> 20 tok/s): a regression; TTFT 5 % worse: within 10 %.
    # c8: TTFT 30 % better and decode faster: improvements are never regressions.
    now = build_report(
        parse_results(jsonl(record(1, ttft_ms=388.5, tpot_ms=50.0), record(8, ttft_ms=259.0, tpot_ms=30.0)))
    )
    cmp = compare(now, base, threshold_pct=10, baseline_name="base.json")
    flagged = sorted((r["shape"], r["metric"]) for r in cmp["regressions"])
    assert flagged == [("1024/1024/c1", "tok_s_per_request"), ("1024/1024/c1", "tok_s_per_request_p99")]
    assert cmp["regressions"][0]["change_pct"] == pytest.approx(-20.0)
    md = render_markdown(now, cmp)
    assert (
        "**2 regression(s)** beyond 10.0 %" in md and "| 1024/1024/c1 | tok_s_per_request | 25 | 20 | -20.0 % |" in md
    )


def test_threshold_is_configurable_and_missing_shapes_are_not_regressions():
    base = build_report(parse_results(jsonl(record(1))))
    now = build_report(parse_results(jsonl(record(1, tpot_ms=50.0), record(16))))
    assert compare(now, base, threshold_pct=25)["regressions"] == []
    cmp = compare(now, base, threshold_pct=5)
    assert len(cmp["regressions"]) == 2 and cmp["missing"] == ["1024/1024/c16"]


@pytest.mark.parametrize(
    "baseline, kwargs, message",
    [
        ({"runs": "x"}, {}, "base.json: not a benchmark report"),
        ({"runs": [{"input_len": 1}]}, {}, "base.json: run 0 lacks input_len/output_len/concurrency"),
        ({"runs": []}, {"metrics": ["concurrency"]}, "not comparable metric"),
        ({"runs": []}, {"threshold_pct": -1}, "threshold_pct must be >= 0"),
        ({"runs": []}, {"threshold_pct": "ten"}, "threshold_pct must be a number"),
    ],
)
def test_bad_baseline_or_options_are_clear_errors(baseline, kwargs, message):
    doc = build_report(parse_results(jsonl(record())))
    with pytest.raises(BenchReportError, match=message):
        compare(doc, baseline, baseline_name="base.json", **kwargs)


def test_png_is_written(tmp_path):
    doc = build_report(parse_results(jsonl(record(1), record(8), record(1, input_len=256))))
    path = render_png(doc, str(tmp_path / "b.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
