#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sglang_router_workers
short_description: Add or remove the workers of a running Shepherd Model Gateway (smg)
version_added: 0.1.0
description:
  - Changes the worker list of the Shepherd Model Gateway (C(smg) 1.13.0) through its admin API
    (C(POST /workers) answered 202 with a C(worker_id), C(DELETE /workers/{id})), and confirms each change in
    C(GET /workers) before the next one (the gateway queues changes as jobs) - an added worker counts once it is
    listed with status C(ready), a removed one once it is no longer listed.
  - Each worker is registered with its own API key (O(worker_api_keys)), so each model group keeps its key.
  - Adds before it removes, and refuses a removal that would leave fewer than O(min_remaining) workers.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  router_url:
    description: Base URL of the router, as seen from where the module runs.
    type: str
    required: true
  workers:
    description: Worker base URLs (SGLang rank 0 of each model group).
    type: list
    elements: str
    default: []
  state:
    description: V(present) adds O(workers); V(absent) removes them.
    type: str
    choices: [present, absent]
    default: present
  exclusive:
    description: With O(state=present), also remove every worker not in O(workers).
    type: bool
    default: false
  min_remaining:
    description: Refuse to act when fewer workers than this would remain.
    type: int
    default: 0
  confirm_timeout:
    description: Seconds to wait for each change to show in C(GET /workers).
    type: int
    default: 60
  api_key:
    description: The gateway's control-plane (admin) key, sent as a bearer token (its C(/workers) routes answer only to it).
    type: str
  worker_api_key:
    description: API key of the SGLang workers that have none in O(worker_api_keys), handed to the gateway with each worker it adds.
    type: str
  worker_api_keys:
    description: API key per worker URL (each model group's own C(sglang_api_key)), handed to the gateway with the worker.
    type: dict
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Take group r1_a out of the router
  gpufleet.sglang.sglang_router_workers:
    router_url: http://127.0.0.1:30000
    workers: [http://10.20.0.11:30000]
    state: absent
    min_remaining: 1

- name: Serve exactly the ready groups
  gpufleet.sglang.sglang_router_workers:
    router_url: http://127.0.0.1:30000
    workers: "{{ ready_urls }}"
    exclusive: true
"""

RETURN = r"""
added:
  description: Workers added.
  returned: always
  type: list
  elements: str
removed:
  description: Workers removed.
  returned: always
  type: list
  elements: str
workers:
  description: The router's workers afterwards.
  returned: always
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_router import (
    RouterClient,
    RouterError,
    normalize_url,
    sync_workers,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            router_url=dict(type="str", required=True),
            workers=dict(type="list", elements="str", default=[]),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            exclusive=dict(type="bool", default=False),
            min_remaining=dict(type="int", default=0),
            confirm_timeout=dict(type="int", default=60),
            api_key=dict(type="str", no_log=True),
            worker_api_key=dict(type="str", no_log=True),
            worker_api_keys=dict(type="dict", no_log=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    client = RouterClient(
        p["router_url"], api_key=p["api_key"], worker_api_key=p["worker_api_key"], worker_api_keys=p["worker_api_keys"]
    )
    try:
        if module.check_mode:
            current = client.workers()
            wanted = [normalize_url(u) for u in p["workers"]]
            if p["state"] == "present":
                added = [u for u in wanted if u not in current]
                removed = [u for u in current if u not in wanted] if p["exclusive"] else []
            else:
                added, removed = [], [u for u in wanted if u in current]
            workers = current
        else:
            added, removed, workers = sync_workers(
                client, p["workers"], p["state"], p["exclusive"], p["min_remaining"], p["confirm_timeout"]
            )
    except RouterError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(
        changed=bool(added or removed),
        added=added,
        removed=removed,
        workers=workers,
        diff={
            "before": "\n".join(sorted(set(workers) - set(added) | set(removed))) + "\n",
            "after": "\n".join(sorted(workers)) + "\n",
        },
    )


if __name__ == "__main__":
    main()
