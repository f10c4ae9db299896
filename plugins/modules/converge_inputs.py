#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: converge_inputs
short_description: Digests of a site.yml run's inputs, for the converge stamp
version_added: 0.1.0
description:
  - Runs on the controller only (an action plugin) and never contacts a host.
  - Computes the digests M(gpufleet.sglang.converge_state) records and compares - the collection's content (roles,
    plugins, playbooks), the plan (fact C(sglang_plan)), the fleet (every host's groups and the templated values,
    extra vars included, of its variables named C(gpufleet_*), C(sglang_*), C(nvidia_host_*), C(nccl_*),
    C(model_sync_*), C(gpu_verify_*), C(ansible_host) and C(ansible_port); facts are left out) and the controller
    files the roles copy (C(sglang_router_wheel_dir), the C(tools/doubles) of C(sglang_server_emulator_checkout),
    O(controller_paths)).
  - Values, secrets included, only enter a sha256; none is returned.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  hosts:
    description: The hosts whose variables count (the site's groups).
    type: list
    elements: str
    required: true
  controller_paths:
    description: More controller files or directories whose content counts (directories below any depth; files over 16 MiB by size and mtime).
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
"""

EXAMPLES = r"""
- name: Digest the run's inputs
  gpufleet.sglang.converge_inputs:
    hosts: "{{ ansible_play_hosts_all }}"
  run_once: true
  register: inputs
"""

RETURN = r"""
inputs:
  description: Part name (C(collection), C(plan), C(fleet), C(controller_files)) to its sha256.
  returned: always
  type: dict
"""
