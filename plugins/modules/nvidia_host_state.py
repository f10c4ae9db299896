#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: nvidia_host_state
short_description: Decide the NVIDIA driver and fabric-manager versions of a host, and whether it needs a reboot
version_added: 0.1.0
description:
  - Reads the installed and available versions of the driver package and of the fabric manager
    (C(apt-cache madison)/C(dpkg-query) or C(dnf repoquery)/C(rpm)), the loaded kernel module's version
    (C(/sys/module/nvidia/version)) and NVSwitch evidence (NVIDIA PCI devices of class 0x0680, and the
    fabric state in C(nvidia-smi -q -x)).
  - Returns the exact versions to install (the fabric manager always equal to the driver), the install
    specifications for the package module, whether a reboot is required, and a list of RV(problems) that
    must stop the play (it does not fail by itself, so the caller can name the host and the fix).
  - Changes nothing; used by the C(gpufleet.sglang.nvidia_host) role before and after it installs.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  package_manager:
    description: Package manager to ask; V(auto) picks C(apt) where C(dpkg-query) exists, else C(dnf).
    type: str
    choices: [auto, apt, dnf]
    default: auto
  driver_package:
    description: The driver package whose version is the driver's (for example C(nvidia-open-580), C(cuda-drivers-580), C(nvidia-open)).
    type: str
    required: true
  driver_branch:
    description: Driver branch (the first number of the version, for example C(580)).
    type: str
    required: true
  driver_version:
    description:
      - Exact driver version, upstream (C(580.159.04)) or full package version (C(580.159.04-1)).
      - Empty keeps an installed driver of the branch, else picks the newest available of the branch.
    type: str
    default: ''
  fabricmanager:
    description: Whether the host needs the fabric manager; V(auto) means when NVSwitch is detected.
    type: str
    choices: [auto, enabled, disabled]
    default: auto
  fabricmanager_package:
    description:
      - Fabric-manager package name (for example C(nvidia-fabricmanager), C(nvidia-fabricmanager-570)); empty means none is known.
      - V(auto) is the name in NVIDIA's CUDA repository for O(driver_branch) - from branch 580 C(nvidia-fabricmanager)
        (apt and dnf), before it C(nvidia-fabricmanager-<branch>) (apt) or C(nvidia-fabric-manager) (dnf).
    type: str
    default: ''
  driver_module_stream:
    description:
      - dnf only - the C(nvidia-driver) module stream NVIDIA's RHEL repository ships the driver in (for example
        C(580-open), C(580-dkms)). The enabled streams are read (C(dnf module list --enabled nvidia-driver)) and
        RV(module_stream.commands) says how to enable this one; nothing is changed.
      - Empty means the driver is not modular here.
    type: str
    default: ''
  fabricmanager_version:
    description: Requested fabric-manager version; it must equal the driver's, else a problem is returned. Empty follows the driver.
    type: str
    default: ''
  driver_changed:
    description: Whether the driver package changed (this run, or a reboot is still pending from an earlier one).
    type: bool
    default: false
  module_version_file:
    description: File holding the loaded kernel module's version.
    type: path
    default: /sys/module/nvidia/version
  nvidia_smi_path:
    description: nvidia-smi used to read the fabric state; absent or failing means no evidence from it.
    type: path
    default: /usr/bin/nvidia-smi
  pci_devices_path:
    description: sysfs directory of PCI devices scanned for NVSwitch chips.
    type: path
    default: /sys/bus/pci/devices
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
  - Returns RV(problems) instead of failing, so a role can fail with the host name and the fix.
"""

EXAMPLES = r"""
- name: Decide driver and fabric-manager versions
  gpufleet.sglang.nvidia_host_state:
    driver_package: nvidia-open-580
    driver_branch: "580"
    driver_version: 580.159.04
    fabricmanager_package: auto
  register: nvidia

- name: Refuse a host that cannot be made consistent
  ansible.builtin.fail:
    msg: "{{ inventory_hostname }}: {{ nvidia.problems | join('; ') }}"
  when: nvidia.problems | length > 0
"""

RETURN = r"""
package_manager:
  description: The package manager asked.
  returned: always
  type: str
  sample: apt
driver:
  description: Driver package, installed and target versions (full and upstream), install specification, available versions.
  returned: always
  type: dict
  sample:
    package: nvidia-open-580
    branch: "580"
    installed: 580.159.04-1
    installed_version: 580.159.04
    target: 580.159.04-1
    target_version: 580.159.04
    install_spec: nvidia-open-580=580.159.04-1
    available: [580.159.04-1, 580.172.08-1]
fabricmanager:
  description: Fabric-manager package, whether it is required, installed and target versions, install specification.
  returned: always
  type: dict
  sample:
    package: nvidia-fabricmanager
    required: true
    installed: null
    target: 580.159.04-1
    install_spec: nvidia-fabricmanager=580.159.04-1
    available: [580.159.04-1, 580.172.08-1]
module_stream:
  description:
    - dnf with O(driver_module_stream) - the module, the wanted and the enabled streams, and the commands that
      enable the wanted one (C(dnf module reset) first where another stream is enabled); empty when enabled.
    - null otherwise.
  returned: always
  type: dict
  contains:
    module:
      description: The dnf module NVIDIA ships the driver in.
      type: str
      sample: nvidia-driver
    wanted:
      description: The stream asked for (O(driver_module_stream)).
      type: str
      sample: 580-open
    enabled:
      description: The module's enabled streams now.
      type: list
      elements: str
      sample: []
    commands:
      description: The argv lists that make the wanted stream the enabled one; empty when it is already.
      type: list
      elements: list
      sample: [[dnf, -y, module, enable, "nvidia-driver:580-open"]]
nvswitch:
  description:
    - Whether this OS sees NVSwitch chips (so must run the fabric manager), and the evidence.
    - The PCI bus decides; nvidia-smi's fabric state only when no NVIDIA PCI device is visible (a VM given
      GPUs of an HGX board reports a fabric state, but its hypervisor runs the fabric manager).
  returned: always
  type: dict
  sample:
    detected: true
    evidence: 4 NVSwitch PCI device(s)
    pci_devices: ["0000:05:00.0", "0000:06:00.0", "0000:07:00.0", "0000:08:00.0"]
    pci_other_nvidia_devices: ["0000:18:00.0", "0000:2a:00.0"]
    fabric_states: [Completed, Completed]
loaded_module_version:
  description: Version of the loaded nvidia kernel module, or null when none is loaded.
  returned: always
  type: str
  sample: 580.159.04
reboot_required:
  description: True when the driver changed and the loaded module is not the installed version.
  returned: always
  type: bool
reboot_reason:
  description: Why a reboot is or is not required.
  returned: always
  type: str
problems:
  description: Reasons this host cannot be converged, each with its fix; empty when none.
  returned: always
  type: list
  elements: str
notices:
  description: Findings that do not block (for example a leftover fabric manager of another version on a host that does not need one).
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.nvidia_host import plan_host


def _read(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            package_manager=dict(type="str", choices=["auto", "apt", "dnf"], default="auto"),
            driver_package=dict(type="str", required=True),
            driver_branch=dict(type="str", required=True),
            driver_version=dict(type="str", default=""),
            fabricmanager=dict(type="str", choices=["auto", "enabled", "disabled"], default="auto"),
            fabricmanager_package=dict(type="str", default=""),
            fabricmanager_version=dict(type="str", default=""),
            driver_module_stream=dict(type="str", default=""),
            driver_changed=dict(type="bool", default=False),
            module_version_file=dict(type="path", default="/sys/module/nvidia/version"),
            nvidia_smi_path=dict(type="path", default="/usr/bin/nvidia-smi"),
            pci_devices_path=dict(type="path", default="/sys/bus/pci/devices"),
        ),
        supports_check_mode=True,
    )
    params = dict(module.params)
    if params["package_manager"] == "auto":
        params["package_manager"] = "apt" if module.get_bin_path("dpkg-query") else "dnf"

    def run(argv):
        binary = argv[0] if os.path.isabs(argv[0]) else module.get_bin_path(argv[0])
        if not binary:
            return 127, "", "%s not found" % argv[0]
        return module.run_command([binary] + argv[1:], environ_update={"LC_ALL": "C"})

    result = plan_host(run, _read, params, path_exists=os.path.exists, listdir=os.listdir)
    for notice in result["notices"]:
        module.warn(notice)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
