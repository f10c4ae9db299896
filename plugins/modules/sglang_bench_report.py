#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sglang_bench_report
short_description: Turn SGLang bench_serving results into a JSON report, a Markdown table and a plot; compare with a baseline
version_added: 0.1.0
description:
  - Reads the JSONL lines that C(python -m sglang.bench_serving --output-file) appends (one per run, sglang 0.5.23
    field names) and writes C(<name>.json) (every run, raw records without C(server_info)), C(<name>.md) (the
    published tables' columns - TTFT, tok/s per request, total time, total tokens - plus p50/p99) and C(<name>.png)
    (TTFT p50 and tok/s per request against concurrency, matplotlib).
  - With O(baseline), compares each (prompt, max tokens, concurrency) shape with the baseline report and lists every
    metric worse by more than O(threshold_pct) percent. The module never fails on a regression; the playbook
    decides (C(benchmark_fail_on_regression)).
  - "Runs on the controller (C(delegate_to: localhost))."
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  results:
    description: bench_serving JSONL files, read in order.
    type: list
    elements: path
    required: true
  report_dir:
    description: Directory for the reports (created, mode 0755; files 0644).
    type: path
    required: true
  report_name:
    description: Base name of the report files.
    type: str
    default: sglang-bench
  baseline:
    description: A report JSON written earlier by this module (C(<name>.json)), to compare with.
    type: path
  threshold_pct:
    description: A metric worse than the baseline by more than this many percent is a regression.
    type: float
    default: 10.0
  metrics:
    description:
      - Metrics compared with the baseline. Lower is better for the C(ttft_*), C(e2e_*) and C(total_time_s);
        higher for C(tok_s_per_request*) and C(output_tok_s).
    type: list
    elements: str
    default: [ttft_p50_s, ttft_p99_s, tok_s_per_request, tok_s_per_request_p99, output_tok_s]
  target:
    description: The URL benchmarked, recorded in the report.
    type: str
  label:
    description: A title for the report (the fleet, the change under test).
    type: str
  sglang_version:
    description: The bench_serving version, recorded in the report.
    type: str
  min_prompts:
    description:
      - With O(prompts_per_concurrency), the requests sent per run (max(O(min_prompts), concurrency x
        O(prompts_per_concurrency)), as the playbook sends them), to count failed requests per run.
    type: int
  prompts_per_concurrency:
    description: See O(min_prompts).
    type: int
  plot:
    description: Write the PNG (needs matplotlib on the controller).
    type: bool
    default: true
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
    details: Reads and compares; writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each run writes the reports of that run.
"""

EXAMPLES = r"""
- name: Report the benchmark runs and compare with the recorded baseline
  gpufleet.sglang.sglang_bench_report:
    results: ["{{ bench_dir }}/runs.jsonl"]
    report_dir: "{{ bench_dir }}"
    baseline: benchmarks/baselines/fleet-a.json
    threshold_pct: 10
  delegate_to: localhost
  register: bench
"""

RETURN = r"""
report:
  description: The report document (also written as C(<name>.json)).
  returned: always
  type: dict
  contains:
    runs:
      description: One row per run, sorted by prompt tokens, max tokens, concurrency.
      type: list
      elements: dict
    target:
      description: The URL benchmarked.
      type: str
markdown:
  description: The Markdown report.
  returned: always
  type: str
comparison:
  description: The comparison with O(baseline) (C(regressions), C(changes), C(missing) shapes, C(threshold_pct)).
  returned: when O(baseline) is set
  type: dict
regressions:
  description: Number of regressions beyond O(threshold_pct).
  returned: always
  type: int
paths:
  description: Report files written.
  returned: always
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_bench import (
    DEFAULT_METRICS,
    BenchReportError,
    build_report,
    compare,
    parse_results,
    render_markdown,
    render_png,
)


def _read(path, what):
    try:
        with open(path) as fh:
            return fh.read()
    except OSError as exc:
        raise BenchReportError("cannot read %s %s: %s" % (what, path, exc.strerror))


def _prompts(params):
    if params["min_prompts"] is None or params["prompts_per_concurrency"] is None:
        return None
    return lambda concurrency: max(params["min_prompts"], concurrency * params["prompts_per_concurrency"])


def run(params, check_mode=False):
    records = []
    for path in params["results"]:
        records += parse_results(_read(path, "results"), source=path)
    if not records:
        raise BenchReportError(
            "no benchmark run in %s: bench_serving wrote no result line (every request "
            "failed?)" % ", ".join(params["results"])
        )
    doc = build_report(
        records,
        target=params["target"],
        sglang_version=params["sglang_version"],
        num_prompts=_prompts(params),
        label=params["label"],
    )
    comparison = None
    if params["baseline"]:
        try:
            baseline = json.loads(_read(params["baseline"], "baseline"))
        except ValueError as exc:
            raise BenchReportError("baseline %s is not JSON: %s" % (params["baseline"], exc))
        comparison = compare(
            doc, baseline, params["threshold_pct"], params["metrics"], baseline_name=params["baseline"]
        )
        doc["comparison"] = comparison
    base = os.path.join(params["report_dir"], params["report_name"])
    png = base + ".png" if params["plot"] else None
    markdown = render_markdown(doc, comparison, png_name=os.path.basename(png) if png else None)
    paths = [base + ".json", base + ".md"] + ([png] if png else [])
    if not check_mode:
        os.makedirs(params["report_dir"], mode=0o755, exist_ok=True)
        with open(base + ".json", "w") as fh:
            json.dump(doc, fh, indent=2, sort_keys=True)
            fh.write("\n")
        with open(base + ".md", "w") as fh:
            fh.write(markdown)
        if png:
            try:
                render_png(doc, png, title=params["label"])
            except ImportError:
                raise BenchReportError(
                    "matplotlib is missing on the controller (requirements/controller.txt "
                    "pins it); install it or set plot: false"
                )
        for path in paths:
            os.chmod(path, 0o644)
    result = {
        "changed": not check_mode,
        "report": doc,
        "markdown": markdown,
        "paths": paths,
        "regressions": len(comparison["regressions"]) if comparison else 0,
    }
    if comparison is not None:
        result["comparison"] = comparison
    return result


def main():
    module = AnsibleModule(
        argument_spec=dict(
            results=dict(type="list", elements="path", required=True),
            report_dir=dict(type="path", required=True),
            report_name=dict(type="str", default="sglang-bench"),
            baseline=dict(type="path"),
            threshold_pct=dict(type="float", default=10.0),
            metrics=dict(type="list", elements="str", default=list(DEFAULT_METRICS)),
            target=dict(type="str"),
            label=dict(type="str"),
            sglang_version=dict(type="str"),
            min_prompts=dict(type="int"),
            prompts_per_concurrency=dict(type="int"),
            plot=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    try:
        result = run(module.params, check_mode=module.check_mode)
    except (BenchReportError, OSError) as exc:
        module.fail_json(msg="sglang_bench_report: %s" % exc)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
