#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sglang_plan
short_description: Plan SGLang model groups from the inventory
version_added: 0.1.0
description:
  - Reads the child groups of O(parent_group) (each one model group, one SGLang instance spanning its hosts)
    and computes, for every host, its node rank, the group's dist-init address, tp size, ports and the exact
    C(sglang.launch_server) argv.
  - Validates everything first and fails with every problem found, each naming the group, host or variable
    and the fix. No host is contacted; this is an action plugin that runs on the controller only.
  - Flags are checked against a catalog generated from the pinned SGLang version's own argument parser;
    legacy flags are translated with a warning or rejected with their replacement named.
  - Sets the fact C(sglang_plan) (the whole plan) on every host of the play.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  parent_group:
    description: Inventory group whose child groups are the model groups.
    type: str
    default: sglang_model_groups
  exclude_groups:
    description:
      - Hosts of these groups may be targeted by the play without being in a model group (for example routers).
    type: list
    elements: str
    default: [sglang_routers]
  plan_out:
    description: Path on the controller where the plan is written as JSON (atomically, mode 0644).
    type: path
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
    details: Planning changes nothing; O(plan_out) is a report and is written in check mode too.
  diff_mode:
    support: none
  idempotent:
    support: full
  action:
    description: Indicates this has a corresponding action plugin so some parts of the options can be executed on the controller.
    support: full
notes:
  - Group-level variables must have one value per group (set them in C(group_vars/<group>)); only
    C(sglang_node_rank) is per host.
  - When C(sglang_dist_init_interface) is set, the address is read from rank 0's gathered facts.
"""

EXAMPLES = r"""
- name: Plan every model group (no host is contacted)
  gpufleet.sglang.sglang_plan:
    plan_out: /tmp/plan.json
  run_once: true

- name: This host's place in its group
  ansible.builtin.debug:
    msg: "{{ sglang_plan.hosts[inventory_hostname].argv }}"
"""

RETURN = r"""
plan:
  description: The plan.
  returned: success
  type: dict
  contains:
    sglang_version:
      description: SGLang version whose flag catalog validated the argv.
      type: str
    groups:
      description: Per model group, its head, dist-init address, tp size, ports, URL and C(nodes) (rank order).
      type: dict
    hosts:
      description: Per host, its node (group, node_rank, is_head, nnodes, tp_size, dist_init_addr, port, argv, ...).
      type: dict
    warnings:
      description: Legacy flags translated, and other non-fatal findings.
      type: list
      elements: str
table:
  description: The plan as a readable table followed by each node's argv.
  returned: success
  type: str
problems:
  description: Every validation problem found, each naming the group/host/variable and the fix.
  returned: failure
  type: list
  elements: str
"""
