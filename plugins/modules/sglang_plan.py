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
  description:
    - The plan, the contract between the planner and every later stage (also set as the fact C(sglang_plan)
      and written to O(plan_out)). Later stages read it and never recompute or re-default what it holds.
    - Every key is listed here; a unit test compares this list with what the planner returns.
  returned: success
  type: dict
  contains:
    plan_version:
      description: Version of this layout; it changes when a key changes meaning or goes away (adding one does not).
      type: int
      sample: 1
    sglang_version:
      description: SGLang version whose flag catalog validated the argv.
      type: str
      sample: 0.5.23
    groups:
      description: One entry per model group, keyed by the inventory group's name.
      type: dict
      contains:
        head:
          description: Rank 0's inventory host name.
          type: str
        hosts:
          description: The group's hosts in rank order.
          type: list
          elements: str
        nnodes:
          description: Hosts in the group (C(--nnodes)).
          type: int
        tp_size:
          description: Tensor-parallel size (C(--tp-size)).
          type: int
        dist_init_addr:
          description: C(ADDRESS:PORT) of rank 0's rendezvous (IPv6 as C([addr]:port)); null for a single-node group.
          type: str
        dist_init_port:
          description: The dist-init port (C(sglang_dist_init_port)).
          type: int
        dist_init_ports:
          description: First and last port of the dist-init window SGLang binds (the port and the next six).
          type: list
          elements: int
        port:
          description: SGLang's HTTP port on every node (C(sglang_port)).
          type: int
        nccl_port:
          description: NCCL port (C(sglang_nccl_port)).
          type: int
        preset:
          description: The preset applied, or null.
          type: str
        runtime:
          description: C(container), C(native) or C(emulator).
          type: str
        served_model_name:
          description: The model name the group answers to (C(--served-model-name), else the model path).
          type: str
        url:
          description: Rank 0's HTTP URL as routers reach it (its address and C(port)).
          type: str
        secrets_file:
          description: Path of the 0600 C(--config) file holding the group's secrets on every node; null when none.
          type: str
        secret_vars:
          description:
            - "Each key of the C(--config) file and the variable that holds its value (names only), for example
              C(api-key) to C(sglang_api_key)."
          type: dict
        nodes:
          description: The group's nodes in rank order, each the same entry as under RV(plan.hosts).
          type: list
          elements: dict
    hosts:
      description: One entry per planned host (a node of one group), keyed by inventory host name.
      type: dict
      contains:
        group:
          description: The host's model group.
          type: str
        host:
          description: Inventory host name.
          type: str
        address:
          description: The address other nodes and routers use for it.
          type: str
        node_rank:
          description: C(--node-rank).
          type: int
        is_head:
          description: Whether it is rank 0.
          type: bool
        nnodes:
          description: As the group's.
          type: int
        tp_size:
          description: As the group's.
          type: int
        gpus_per_node:
          description: GPUs the host must show (C(sglang_gpus_per_node)).
          type: int
        dist_init_addr:
          description: As the group's.
          type: str
        port:
          description: SGLang's HTTP port.
          type: int
        nccl_port:
          description: NCCL port.
          type: int
        runtime:
          description: As the group's.
          type: str
        unit:
          description: systemd unit name without C(.service) (C(sglang-<group>)); also the container name.
          type: str
        local_url:
          description: How the node reaches its own HTTP server (health probes run on the node).
          type: str
        url:
          description: How routers and operators reach the node's HTTP server.
          type: str
        secrets_file:
          description: As the group's.
          type: str
        launch_args:
          description: The C(sglang.launch_server) arguments.
          type: list
          elements: str
        argv:
          description: The whole command, C(python3 -m sglang.launch_server) and C(launch_args).
          type: list
          elements: str
    routers:
      description: One entry per host of the router group, keyed by inventory host name, with the router role's defaults applied.
      type: dict
      contains:
        host:
          description: Address the router binds (C(sglang_router_host)).
          type: str
        port:
          description: Router port (C(sglang_router_port)); clients and the admin API.
          type: int
        prometheus_port:
          description: Router metrics port (C(sglang_router_prometheus_port)).
          type: int
        local_url:
          description: The router's URL on the router host itself (the rollout calls its admin API there).
          type: str
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
