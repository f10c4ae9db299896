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
  router_group:
    description:
      - Inventory group of the router hosts. A model group bound to loopback (C(sglang_host)) behind a router,
        and a router on a member host that wants one of the group's ports, are refused.
    type: str
    default: sglang_routers
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
  - "Refused before any host changes, each with the group/host/variable and the fix: a C(sglang_args)
    or C(sglang_extra_args) entry that would add a flag (a value beginning with C(-), stray tokens, a flag
    and its value in one item), sets a flag the plan owns (C(--port), C(--host), C(--nccl-port),
    C(--config), C(--model-path), C(--tp-size), C(--nnodes), C(--node-rank), C(--dist-init-addr): use the
    dedicated variable) or a secret; a switch given a value; unreachable, loopback, multicast or malformed
    dist-init addresses; ports outside 1-65535, on SSH, or a dist-init window past 65535; group and host
    names that cannot name a systemd unit or container; out-of-range types and values; a model path
    outside C(sglang_server_model_mount) and a secrets file path C(docker -v) cannot carry."
  - Secrets (C(sglang_api_key), C(sglang_admin_api_key), C(sglang_ssl_keyfile_password),
    C(sglang_watermark_config)) never reach the planner, the plan or a message; only which are set does.
    The plan's C(--config) file carries them (keys listed in the group's C(secret_vars)).
  - C(--X)/C(--no-X) (BooleanOptionalAction) flags render false as C(--no-X), never dropped or inverted.
    A multi-node group's IPv6 dist-init address is rendered C([addr]:port), as SGLang parses it.
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
      description:
        - Per model group, its head, dist-init address, tp size, ports, URL and C(nodes) (rank order).
        - "C(secret_vars) maps each key of the group's C(--config) file to the variable that holds its value
          (names only), for example C(api-key) to C(sglang_api_key)."
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
