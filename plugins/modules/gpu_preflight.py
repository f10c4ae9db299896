#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_preflight
short_description: Refuse a host whose NVIDIA GPUs are not fit to serve
version_added: 0.1.0
description:
  - Judges one host's GPUs against the expectations below and returns every problem found, each naming the host,
    the GPU index and PCI bus id, what was measured, what was expected and the fix. Fails when there is any.
  - Judges the facts given in O(facts) (the C(ansible_facts) of M(gpufleet.sglang.gpu_facts)), or runs nvidia-smi
    itself the way M(gpufleet.sglang.gpu_facts) does when O(facts) is not given.
  - Checks GPU count, model and memory, driver and CUDA versions, persistence mode, ECC mode and uncorrectable
    errors, pending row remaps and remap failures, PCIe link width (and optionally generation), clocks event
    reasons, inactive NVLinks, MIG mode and, on NVSwitch systems, the NVLink fabric state and the fabric manager.
  - Parity inside a model group (driver/CUDA versions, GPU model and count) is the filter
    P(gpufleet.sglang.gpu_group_problems#filter).
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  facts:
    description:
      - Facts to judge, a dict holding C(gpufleet_gpus) and C(gpufleet_gpu_driver) (as set by
        M(gpufleet.sglang.gpu_facts); C(ansible_facts) itself will do).
      - When not given, the module runs nvidia-smi.
    type: dict
  nvidia_smi_path:
    description: Path of C(nvidia-smi) when O(facts) is not given. Default is the one found on C(PATH).
    type: path
  host_label:
    description: The host's name in the messages, usually C(inventory_hostname). Default is the system hostname.
    type: str
  expected_gpu_count:
    description: GPUs the host must show. Not checked when unset.
    type: int
  expected_models:
    description: Every GPU's name must contain one of these (case-insensitive), e.g. C(H200). Not checked when empty.
    type: list
    elements: str
    default: []
  min_memory_mib:
    description: Least memory per GPU in MiB. Not checked when unset.
    type: int
  expected_driver_version:
    description: Driver version, exact or a dotted prefix (C(580) matches C(580.159.04)). Not checked when unset.
    type: str
  expected_cuda_version:
    description: CUDA version the driver reports, exact or a dotted prefix. Not checked when unset.
    type: str
  require_persistence:
    description: Persistence mode must be Enabled.
    type: bool
    default: true
  require_ecc_enabled:
    description: ECC must be Enabled, and stay Enabled after the next reboot (pending mode).
    type: bool
    default: true
  max_uncorrectable_ecc:
    description: Most uncorrectable ECC errors allowed since the driver loaded (volatile), per GPU.
    type: int
    default: 0
  max_uncorrectable_ecc_aggregate:
    description: Most uncorrectable ECC errors allowed over the GPU's life (aggregate). Not checked when unset.
    type: int
  allow_pending_remaps:
    description: Accept a GPU with a row remap waiting for a GPU reset. A remap failure is always a problem.
    type: bool
    default: false
  require_pcie_max_width:
    description: The PCIe link must run at its maximum width (width does not drop at idle).
    type: bool
    default: true
  require_pcie_max_gen:
    description: The PCIe link must run at its maximum generation. Off by default because the generation drops at idle.
    type: bool
    default: false
  require_nvlinks_active:
    description: Every NVLink link C(nvidia-smi nvlink -s) lists must be active.
    type: bool
    default: true
  require_fabric_completed:
    description: On NVSwitch systems every GPU's fabric state must be C(Completed) with status C(Success).
    type: bool
    default: true
  nvswitch_system:
    description:
      - Whether the host is an NVSwitch (HGX) system. When unset, a host is one when a GPU reports a fabric state,
        which Hopper and newer GPUs do; set it for older generations (A100 HGX).
    type: bool
  fabric_manager_active:
    description:
      - Whether C(nvidia-fabricmanager) is active, from service facts; unset skips the check.
      - On an NVSwitch system each GPU's NVLink fabric state is the authority. C(false) is accepted, with a warning
        that the fabric manager is expected on the hypervisor host, when every GPU reports fabric state C(Completed)
        / status C(Success) (a VM whose NVSwitches the hypervisor manages, NVIDIA's shared NVSwitch virtualization
        model). Any other state is a problem per GPU, naming the state and the fix. With
        O(require_fabric_completed=false), C(false) is a problem on its own.
    type: bool
  forbidden_clocks_event_reasons:
    description:
      - Active clocks event reasons that make a GPU unfit; names as in the C(clocks_event_reasons) of
        M(gpufleet.sglang.gpu_facts).
    type: list
    elements: str
    default: [hw_slowdown, hw_thermal_slowdown, hw_power_brake_slowdown, sw_thermal_slowdown]
  allow_mig:
    description: Accept GPUs in MIG mode (SGLang needs whole GPUs).
    type: bool
    default: false
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Read the GPU facts
  gpufleet.sglang.gpu_facts:

- name: Read the fabric manager's state
  ansible.builtin.service_facts:

- name: Refuse a host that is not fit to serve
  gpufleet.sglang.gpu_preflight:
    facts: "{{ ansible_facts }}"
    host_label: "{{ inventory_hostname }}"
    expected_gpu_count: 8
    expected_models: [H100, H800, H200]
    min_memory_mib: 80000
    expected_driver_version: "580.159.04"
    fabric_manager_active: >-
      {{ (ansible_facts.services['nvidia-fabricmanager.service'] | default({})).state | default('') == 'running' }}

- name: Judge the GPUs of a PCIe host, running nvidia-smi directly
  gpufleet.sglang.gpu_preflight:
    host_label: "{{ inventory_hostname }}"
    expected_gpu_count: 1
    expected_models: [H100]
"""

RETURN = r"""
problems:
  description: One message per problem (host, GPU index and bus id, measured vs expected, fix); empty when fit.
  returned: always
  type: list
  elements: str
  sample:
    - "gpu-a1 GPU 3 (00000000:1B:00.0): persistence mode is Disabled, expected Enabled. Fix: systemctl enable --now
      nvidia-persistenced (or nvidia-smi -pm 1)."
host:
  description: The host's name as used in the messages.
  returned: always
  type: str
gpu_count:
  description: GPUs judged.
  returned: always
  type: int
nvswitch_system:
  description: Whether the host was judged as an NVSwitch system.
  returned: always
  type: bool
findings_warnings:
  description: Findings that do not refuse the host (also shown as warnings), e.g. no local fabric manager where every
    GPU reports its NVLink fabric Completed / Success.
  returned: always
  type: list
  elements: str
"""

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_facts import GpuFactsError, gather
from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_preflight import (
    DEFAULTS,
    PreflightError,
    host_findings,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            facts=dict(type="dict"),
            nvidia_smi_path=dict(type="path"),
            host_label=dict(type="str"),
            expected_gpu_count=dict(type="int"),
            expected_models=dict(type="list", elements="str", default=[]),
            min_memory_mib=dict(type="int"),
            expected_driver_version=dict(type="str"),
            expected_cuda_version=dict(type="str"),
            require_persistence=dict(type="bool", default=True),
            require_ecc_enabled=dict(type="bool", default=True),
            max_uncorrectable_ecc=dict(type="int", default=0),
            max_uncorrectable_ecc_aggregate=dict(type="int"),
            allow_pending_remaps=dict(type="bool", default=False),
            require_pcie_max_width=dict(type="bool", default=True),
            require_pcie_max_gen=dict(type="bool", default=False),
            require_nvlinks_active=dict(type="bool", default=True),
            require_fabric_completed=dict(type="bool", default=True),
            nvswitch_system=dict(type="bool"),
            fabric_manager_active=dict(type="bool"),
            forbidden_clocks_event_reasons=dict(
                type="list", elements="str", default=list(DEFAULTS["forbidden_clocks_event_reasons"])
            ),
            allow_mig=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    p = module.params
    host = p["host_label"] or socket.gethostname()
    given = dict((name, p[name]) for name in DEFAULTS)
    try:
        facts = p["facts"]
        if facts is None:
            facts, warnings = gather(host, p["nvidia_smi_path"], module.get_bin_path, module.run_command)
            for warning in warnings:
                module.warn(warning)
        findings = host_findings(host, facts, given)
    except (GpuFactsError, PreflightError) as exc:
        module.fail_json(msg=str(exc), problems=[str(exc)], host=host)
    for warning in findings["warnings"]:
        module.warn(warning)
    problems = findings["problems"]
    result = dict(
        changed=False,
        problems=problems,
        host=host,
        gpu_count=len(facts["gpufleet_gpus"]),
        nvswitch_system=findings["nvswitch_system"],
        findings_warnings=findings["warnings"],
    )
    if problems:
        module.fail_json(
            msg="%s: %d GPU preflight problem(s):\n- %s" % (host, len(problems), "\n- ".join(problems)), **result
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
