#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: gpu_facts
short_description: Structured facts about a host's NVIDIA GPUs, from nvidia-smi
version_added: 0.1.0
description:
  - Runs C(nvidia-smi -q -x) (required), C(nvidia-smi --query-gpu=... --format=csv,noheader,nounits),
    C(nvidia-smi --query-remapped-rows=...), C(nvidia-smi topo -m) and C(nvidia-smi nvlink -s), each as an argv
    list without a shell, and reads C(/proc/driver/nvidia/version).
  - Sets C(gpufleet_gpus) (one entry per GPU), C(gpufleet_gpu_topology) and C(gpufleet_gpu_driver).
  - The XML is the primary source; the query CSVs give the GPU index and compute capability and fill values the XML
    lacks. When an optional command fails its facts stay empty and the module warns.
  - Fails with the cause and the fix when nvidia-smi is missing, the kernel module is not loaded, the kernel module
    and the driver libraries differ (upgraded without a reboot), or no GPU is visible.
  - Read-only; the judgement lives in M(gpufleet.sglang.gpu_preflight).
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  nvidia_smi_path:
    description:
      - Path of C(nvidia-smi). Default is the one found on C(PATH) (and the sbin directories).
      - Tests point it at a stand-in that prints real captures.
    type: path
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
  - Values nvidia-smi reports as C(N/A) or C(Not Supported) are C(null).
  - C(fabric.state) is reported by Hopper and newer GPUs on NVSwitch systems; it is C(null) on PCIe GPUs (and on
    older generations even with NVSwitches).
"""

EXAMPLES = r"""
- name: Read the GPU facts
  gpufleet.sglang.gpu_facts:

- name: Show each GPU
  ansible.builtin.debug:
    msg: "{{ item.index }} {{ item.name }} {{ item.pci_bus_id }} x{{ item.pcie.width_current }}"
  loop: "{{ gpufleet_gpus }}"
"""

RETURN = r"""
ansible_facts:
  description: The facts set on the host.
  returned: success
  type: complex
  contains:
    gpufleet_gpus:
      description:
        - One entry per GPU, in nvidia-smi index order. Keys are C(index), C(name), C(uuid), C(pci_bus_id),
          C(architecture), C(vbios_version), C(compute_cap), C(memory_total_mib), C(driver_version),
          C(cuda_version), C(persistence_mode) (bool), C(mig_mode), C(virtualization_mode),
          C(ecc) (C(mode_current), C(mode_pending), C(uncorrectable_volatile), C(uncorrectable_aggregate),
          C(correctable_volatile), C(correctable_aggregate)),
          C(remapped_rows) (C(correctable), C(uncorrectable), C(pending), C(failure)),
          C(pcie) (C(gen_current), C(gen_max), C(width_current), C(width_max)),
          C(clocks_event_reasons) (the active ones, for example C(gpu_idle), C(sw_power_cap), C(hw_slowdown),
          C(hw_thermal_slowdown), C(hw_power_brake_slowdown), C(sw_thermal_slowdown)),
          C(fabric) (C(state), C(status), C(clique_id), C(cluster_uuid)),
          C(nvlink) (C(total), C(active), C(inactive_links), C(all_inactive), C(speeds_gbps), C(links);
          C(null) when C(nvlink -s) failed; C(total) 0 for a GPU without NVLink).
      type: list
      elements: dict
      sample:
        - index: 0
          name: NVIDIA H200
          uuid: GPU-bb9153b8-d465-f22d-797f-793a6ebd872f
          pci_bus_id: "00000000:00:06.0"
          memory_total_mib: 143771
          persistence_mode: true
          ecc: {mode_current: Enabled, mode_pending: Enabled, uncorrectable_volatile: 0, uncorrectable_aggregate: 0}
          remapped_rows: {correctable: 0, uncorrectable: 0, pending: false, failure: false}
          pcie: {gen_current: 5, gen_max: 5, width_current: 16, width_max: 16}
          clocks_event_reasons: [gpu_idle]
          fabric: {state: Completed, status: Success}
          nvlink: {total: 18, active: 18, inactive_links: []}
    gpufleet_gpu_topology:
      description:
        - From C(nvidia-smi topo -m); C(null) when it failed. C(gpu_count); C(pairs) (each GPU pair with its
          C(connection) such as C(NV18), C(SYS), C(PIX), C(NODE) and C(nvlinks)); C(pair_types) (count per
          connection type); C(all_pairs_nvlink); C(min_pair_nvlinks); C(gpus) (per GPU C(cpu_affinity),
          C(numa_affinity), C(gpu_numa_id), C(nics) with their connection, C(nearest_nics)); C(nics) (per NIC its
          C(nearest_gpus)); C(matrix) (the raw matrix without the diagonal).
      type: dict
      sample:
        gpu_count: 2
        pairs: [{gpus: [0, 1], connection: NV18, nvlinks: 18}]
        pair_types: {NV18: 1}
        all_pairs_nvlink: true
        min_pair_nvlinks: 18
    gpufleet_gpu_driver:
      description:
        - C(driver_version), C(cuda_version), C(attached_gpus), C(fabric_attached) (a GPU reports an NVLink
          fabric state, i.e. an NVSwitch system), C(kernel_module) (C(version) and C(flavor) C(open) or
          C(proprietary) of the loaded module, C(null) when not loaded or not readable) and C(nvidia_smi)
          (the path run).
      type: dict
      sample:
        driver_version: 580.159.04
        cuda_version: "13.0"
        attached_gpus: 2
        fabric_attached: true
        kernel_module: {version: 580.159.04, flavor: open}
        nvidia_smi: /usr/bin/nvidia-smi
"""

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_facts import GpuFactsError, gather


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nvidia_smi_path=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    try:
        facts, warnings = gather(
            socket.gethostname(), module.params["nvidia_smi_path"], module.get_bin_path, module.run_command
        )
    except GpuFactsError as exc:
        module.fail_json(msg=str(exc))
    for warning in warnings:
        module.warn(warning)
    module.exit_json(changed=False, ansible_facts=facts)


if __name__ == "__main__":
    main()
