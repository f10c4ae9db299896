# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""playbooks/benchmark.yml end to end: SGLang's real bench_serving (0.5.23, from the benchmark venv) against a
two-rank emulator group on loopback, then the reports and the regression gate.

Needs the benchmark venv (tools/sglang-bench-venv.sh; `make unit` builds it); ``SGLANG_BENCH_PYTHON`` points at
another interpreter. The tokenizer is a word-level test tokenizer written here (tools/bench_tokenizer.py): one
token per word, as the emulator counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
# catalog and launch are pytest fixtures used by name
from test_sglang_emulator import catalog, free_port, launch, node_args, status, wait_until  # noqa: F401  # pylint: disable=unused-import

REPO = Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("SGLANG_BENCH_PYTHON", str(REPO / ".venv-sglang" / "bin" / "python"))
TOKEN_DELAY = 0.01


def bench_python():
    probe = (
        subprocess.run(
            [PYTHON, "-c", "import transformers, tokenizers, datasets, sglang"],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if os.path.exists(PYTHON)
        else None
    )
    if probe is None or probe.returncode != 0:
        pytest.fail(
            "benchmark venv missing or incomplete at %s: run tools/sglang-bench-venv.sh (make unit does)%s"
            % (PYTHON, "" if probe is None else "\n" + probe.stderr[-2000:])
        )
    return PYTHON


def playbook(*extra, check=True):
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_LOCALHOST_WARNING="false",
        ANSIBLE_INVENTORY_UNPARSED_WARNING="false",
    )
    argv = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        str(REPO / "playbooks" / "benchmark.yml"),
        "-i",
        "localhost,",
        "-l",
        "localhost",
    ] + list(extra)
    out = subprocess.run(argv, capture_output=True, text=True, timeout=900, env=env, cwd=str(REPO), check=False)
    if check and out.returncode != 0:
        pytest.fail("benchmark.yml failed (rc %d):\n%s\n%s" % (out.returncode, out.stdout[-6000:], out.stderr[-3000:]))
    return out


@pytest.fixture
def group(launch):
    """Two emulator ranks of one group on loopback; rank 0 serves once rank 1 joined."""
    dist = free_port()
    env = {"SGLANG_EMULATOR_TOKEN_DELAY": str(TOKEN_DELAY)}
    r0 = launch(node_args(0, dist), env=env)
    launch(node_args(1, dist), env=dict(env, SGLANG_EMULATOR_START_DELAY="0"))
    wait_until(lambda: status(r0.url + "/health") == 200, 30, "rank 0 ready", r0)
    return r0


def test_benchmark_playbook_reports_and_gates_on_regression(group, tmp_path):
    python = bench_python()
    keep = os.environ.get("GPUFLEET_BENCH_KEEP")  # a directory: keep the reports (README example)
    if keep:
        tmp_path = Path(keep)
    tok = tmp_path / "tokenizer"
    subprocess.run([python, str(REPO / "tools" / "bench_tokenizer.py"), str(tok)], check=True, timeout=300)
    reports = tmp_path / "reports"
    common = [
        "-e",
        "benchmark_url=%s" % group.url,
        "-e",
        "benchmark_python=%s" % python,
        "-e",
        "benchmark_tokenizer=%s" % tok,
        "-e",
        "benchmark_report_dir=%s" % reports,
        "-e",
        '{"benchmark_input_lens": [32], "benchmark_output_lens": [16]}',
        "-e",
        "benchmark_prompts_per_concurrency=2",
        "-e",
        "benchmark_min_prompts=4",
    ]
    playbook(*common, "-e", '{"benchmark_concurrency": [1, 4]}', "-e", "benchmark_label=emulator")

    doc = json.loads((reports / "sglang-bench.json").read_text())
    assert (reports / "sglang-bench.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (reports / "sglang-bench.md").read_text()
    assert [(r["input_len"], r["output_len"], r["concurrency"]) for r in doc["runs"]] == [(32, 16, 1), (32, 16, 4)]
    for row, prompts in zip(doc["runs"], (4, 8)):
        assert row["completed"] == prompts and row["failed"] == 0, row
        # the emulator saw exactly the asked lengths (one token per word of the test tokenizer)
        assert row["input_tokens"] == prompts * 32 and row["output_tokens"] == prompts * 16, row
        # one token every TOKEN_DELAY s: per-request decode speed near 1/TOKEN_DELAY, never above it
        assert 0.3 / TOKEN_DELAY < row["tok_s_per_request"] <= 1.05 / TOKEN_DELAY, row
        assert TOKEN_DELAY * 0.9 <= row["ttft_p50_s"] < 2.0 and row["ttft_p99_s"] >= row["ttft_p50_s"], row
        assert row["total_time_s"] >= (prompts / row["concurrency"]) * 16 * TOKEN_DELAY * 0.9, row
        assert "| 32 | 16 | %d | %d | 0 |" % (row["concurrency"], prompts) in md
    assert doc["target"] == group.url and doc["sglang_version"] == "0.5.23"
    assert doc["raw"][0]["backend"] == "sglang" and doc["raw"][0]["dataset_name"] == "random-ids"

    # A baseline twice as fast as this fleet: the gate fails the play and names shape and metric.
    baseline = dict(doc, runs=[dict(r, tok_s_per_request=r["tok_s_per_request"] * 2) for r in doc["runs"]])
    (tmp_path / "baseline.json").write_text(json.dumps(baseline))
    gated = playbook(
        *common,
        "-e",
        '{"benchmark_concurrency": [1]}',
        "-e",
        "benchmark_report_name=gated",
        "-e",
        "benchmark_baseline=%s" % (tmp_path / "baseline.json"),
        "-e",
        '{"benchmark_metrics": ["tok_s_per_request"]}',
        "-e",
        "benchmark_fail_on_regression=true",
        check=False,
    )
    assert gated.returncode != 0, gated.stdout[-3000:]
    assert "regression(s) beyond 10 %" in gated.stdout and "32/16/c1 tok_s_per_request" in gated.stdout, gated.stdout[
        -3000:
    ]
    assert "**1 regression(s)**" in (reports / "gated.md").read_text()


def test_missing_tokenizer_is_refused_with_the_variable_named(tmp_path):
    out = playbook("-e", "benchmark_url=http://127.0.0.1:9", check=False)
    assert out.returncode != 0 and "benchmark_tokenizer" in out.stdout, out.stdout[-2000:]


def test_unknown_target_is_refused_with_the_fix(tmp_path):
    out = playbook(
        "-e",
        "benchmark_target=nope",
        "-e",
        "benchmark_tokenizer=/x",
        "-e",
        "benchmark_python=%s" % sys.executable,
        check=False,
    )
    assert out.returncode != 0 and "no URL for benchmark_target=nope" in out.stdout, out.stdout[-2000:]
