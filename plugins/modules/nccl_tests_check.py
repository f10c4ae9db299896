#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nccl_tests_check
short_description: Judge an nccl-tests run against a bus-bandwidth threshold and write its reports
version_added: 0.1.0
description:
  - Parses the text output or the C(-J) JSON output (format version 3) of any nccl-tests collective found at O(src)
    on the target, and fails when the run is not good enough to serve on.
  - The statistic is the B(minimum) out-of-place bus bandwidth over the rows of at least O(min_bytes); the
    C(# Avg bus bandwidth) line is never used, since it averages every row of a sweep, tiny messages included.
  - Fails on a bus bandwidth below the threshold, C(#wrong) above 0, C(Out of bounds values) FAILED, a FAILED
    average (C(NCCL_TESTS_MIN_BW)), C(Test timeout), C(Test NCCL failure), C(Test CUDA failure), MPI launch errors
    (recognised from Open MPI's, ssh's and the loader's messages and reported as the cause with its fix, e.g. no
    C(plm_rsh_agent) for an MPI=1 binary started without mpirun),
    a run that ended without C(Collective test concluded), a non-zero O(rc), and, when O(expect_transport=ib),
    NCCL falling back to its Socket transport (seen in C(NCCL_DEBUG=INFO) lines).
  - The threshold is O(min_busbw_gbps) when given, else a default from a table by GPU model, topology and NVLS
    (all_reduce_perf only; the sources and margins are in C(plugins/module_utils/nccl_tests_verdict.py)).
  - With O(node_results) (the intra-node verdicts of the group's members), a failed group run is bisected, naming
    the node below its own threshold, or the fabric between the nodes.
  - With O(report_dir), writes C(<name>.json) and C(<name>.md) there (mode 0644). The plot of bus bandwidth against
    message size is drawn on the controller from the fetched JSON by M(gpufleet.sglang.nccl_tests_plot) (the Markdown
    links it as C(<name>.png)). The JSON report keeps only C(NCCL_*)/C(CUDA_*) entries of the run's environment, never
    a name containing TOKEN, KEY, SECRET or PASSWORD.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  src:
    description: Path on the target of the nccl-tests output (text, or the C(-J) JSON file).
    type: path
    required: true
  format:
    description: Format of O(src); V(auto) reads JSON when the file starts with C({).
    type: str
    choices: [auto, text, json]
    default: auto
  log_src:
    description:
      - Path on the target of the run's stdout, read for NCCL_DEBUG transport and NVLS evidence and for error lines
        when O(src) is the JSON file (which holds neither).
    type: path
  min_busbw_gbps:
    description:
      - Threshold in GB/s for the minimum out-of-place busbw. V(0) checks correctness only.
      - Unset, the default table is used (O(gpu_model), O(topology), O(nvls)); a combination the table does not know
        fails, asking for this option.
    type: float
  gpu_model:
    description: GPU model for the table (V(H100), V(H200), V(A100), ...); V(auto) reads the run's device lines.
    type: str
    default: auto
  topology:
    description: C(<nodes>x<GPUs per node>) for the table, e.g. V(1x8) or V(2x8); V(auto) counts the device lines.
    type: str
    default: auto
  nvls:
    description:
      - Whether NVLink SHARP was on, for the table. V(auto) reads C(nvls channels) / C(NCCL_NVLS_ENABLE) from the
        output and falls back to V(off) (the lower threshold) when the output does not say.
    type: str
    choices: [auto, 'on', 'off']
    default: auto
  min_bytes:
    description: Smallest message size (bytes) whose rows are judged.
    type: int
    default: 1073741824
  expect_transport:
    description:
      - Network transport NCCL must have used. V(ib) covers InfiniBand and RoCE (NCCL's IB verbs transport); it
        needs the run's C(NCCL_DEBUG=INFO) lines. V(any) does not check.
    type: str
    choices: [ib, socket, any]
    default: any
  host:
    description: Host label for the messages and report names (an intra-node run).
    type: str
  group:
    description: Model group label for the messages and report names (an inter-node run); wins over O(host).
    type: str
  rc:
    description: Exit status of the run (124 from C(timeout) means the outer timeout killed it).
    type: int
  collective:
    description:
      - The nccl-tests binary that ran (e.g. V(all_reduce_perf)), for the messages and report names when the output does
        not say (a run that died before printing its header, such as an MPI launch failure). The output's own name wins.
    type: str
  node_results:
    description:
      - Intra-node verdicts of the group's members, a dict of host name to that host's result (this module's return, at
        least C(passed), C(min_busbw_gbps), C(expected_busbw_gbps), C(failures)). Used to bisect a failed group run.
    type: dict
  report_dir:
    description: Directory on the target for the JSON and Markdown reports; created when missing.
    type: path
  report_name:
    description: Base name of the report files; default C(node_<host>_<collective>) or C(group_<group>_<collective>).
    type: str
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
notes:
  - The reports depend only on the run's output, so judging the same output twice changes nothing.
"""

EXAMPLES = r"""
- name: Judge this node's all_reduce run (threshold from the default table)
  gpufleet.sglang.nccl_tests_check:
    src: /var/lib/gpufleet/nccl-tests/runs/node_all_reduce_perf.txt
    host: "{{ inventory_hostname }}"
    topology: 1x8
    report_dir: /var/lib/gpufleet/nccl-tests/reports

- name: Judge a group's run over InfiniBand, explicit threshold, bisect on failure
  gpufleet.sglang.nccl_tests_check:
    src: /var/lib/gpufleet/nccl-tests/runs/group_all_reduce_perf.json
    log_src: /var/lib/gpufleet/nccl-tests/runs/group_all_reduce_perf.txt
    group: r1_a
    min_busbw_gbps: 300
    expect_transport: ib
    node_results:
      gpu-a1: "{{ hostvars['gpu-a1'].nccl_tests_node_results.all_reduce_perf }}"
      gpu-a2: "{{ hostvars['gpu-a2'].nccl_tests_node_results.all_reduce_perf }}"
"""

RETURN = r"""
passed:
  description: Whether the run passed every check.
  returned: always
  type: bool
subject:
  description: C(host <name>) or C(group <name>), as used in the messages.
  returned: always
  type: str
collective:
  description: The nccl-tests binary that ran (e.g. C(all_reduce_perf)).
  returned: always
  type: str
min_busbw_gbps:
  description: The measured statistic, minimum out-of-place busbw (GB/s) over the judged rows; null without such rows.
  returned: always
  type: float
min_busbw_size:
  description: Message size (bytes) of the row with the minimum.
  returned: always
  type: int
expected_busbw_gbps:
  description: The threshold applied (GB/s); null when none was known.
  returned: always
  type: float
threshold_source:
  description: Where the threshold came from (explicit, or the table entry used).
  returned: always
  type: str
rows:
  description: The judged rows (size, count, type, redop, root, out_of_place and in_place with time_us, algbw, busbw, wrong).
  returned: always
  type: list
  elements: dict
failures:
  description: Why the run failed, one message per finding, each naming the host or group, the collective, and measured
    vs expected where it applies.
  returned: always
  type: list
  elements: str
warnings:
  description: Findings that do not fail the run (NCCL WARN lines, missing NVLS evidence, ...).
  returned: always
  type: list
  elements: str
transport:
  description: Network transport NCCL reported (C(ib), C(socket), another plugin name), null without NCCL_DEBUG lines.
  returned: always
  type: str
gpu_model:
  description: GPU model used for the table.
  returned: always
  type: str
topology:
  description: Topology used for the table.
  returned: always
  type: str
nvls:
  description: NVLS state used for the table.
  returned: always
  type: bool
bisection:
  description: For a failed group run with O(node_results) - C(suspects), C(fabric_suspect), C(missing), C(message).
  returned: always
  type: dict
reports:
  description: Paths of the report files written (or that would be, in check mode).
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.nccl_tests_parse import NcclTestsError
from ansible_collections.gpufleet.sglang.plugins.module_utils.nccl_tests_report import run_check


def main():
    module = AnsibleModule(
        argument_spec=dict(
            src=dict(type="path", required=True),
            format=dict(type="str", default="auto", choices=["auto", "text", "json"]),
            log_src=dict(type="path"),
            min_busbw_gbps=dict(type="float"),
            gpu_model=dict(type="str", default="auto"),
            topology=dict(type="str", default="auto"),
            nvls=dict(type="str", default="auto", choices=["auto", "on", "off"]),
            min_bytes=dict(type="int", default=1073741824),
            expect_transport=dict(type="str", default="any", choices=["ib", "socket", "any"]),
            host=dict(type="str"),
            group=dict(type="str"),
            rc=dict(type="int"),
            collective=dict(type="str"),
            node_results=dict(type="dict"),
            report_dir=dict(type="path"),
            report_name=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    try:
        result = run_check(module.params, check_mode=module.check_mode)
    except (NcclTestsError, OSError) as exc:
        module.fail_json(msg="nccl_tests_check: %s" % exc)
    if not result["passed"]:
        module.fail_json(msg="; ".join(result["failures"]), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
