#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_fanout
short_description: Plan who copies a model from whom (seeds from the source, the rest from peers in waves)
version_added: 0.2.0
description:
  - Pure planning, no change anywhere; run it once on the controller (C(run_once), C(delegate_to=localhost)).
  - Per site, O(seed_count) seeds fetch from the source when no host of the site holds a verified copy yet. Then,
    in waves, each holder serves at most O(peer_fanout) hosts and a wave runs at most O(max_parallel) copies, so the
    source's uplink carries the model about once per site and the holders double each wave with a fan-out of 1.
  - Returns the whole plan (if every copy succeeds) and the next wave from the holders as they are now.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  hosts:
    description: Hosts that must end with the model, in the order seeds and receivers are picked.
    type: list
    elements: str
    required: true
  holders:
    description: Hosts that hold a verified copy now.
    type: list
    elements: str
    default: []
  busy:
    description: Hosts that neither serve nor receive in the next wave (e.g. seeds still fetching).
    type: list
    elements: str
    default: []
  sites:
    description: Site of each host; copies never cross sites. Hosts not listed are in site C(default).
    type: dict
    default: {}
  seed_count:
    description: Seeds per site.
    type: int
    default: 1
  preferred_seeds:
    description: Hosts to pick as seeds first.
    type: list
    elements: str
    default: []
  peer_fanout:
    description: Hosts one holder serves at once.
    type: int
    default: 1
  max_parallel:
    description: Copies in one wave at most.
    type: int
    default: 8
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
- name: Plan the distribution
  gpufleet.sglang.model_fanout:
    hosts: "{{ ansible_play_hosts }}"
    holders: "{{ ansible_play_hosts | select('in', holders) | list }}"
    seed_count: 1
    peer_fanout: 1
    max_parallel: 8
  run_once: true
  delegate_to: localhost
  register: fanout
"""

RETURN = r"""
seeds:
  description: Hosts that fetch from the source.
  returned: always
  type: list
  elements: str
waves:
  description: The plan, wave by wave; each copy is C({dest, src}), C(src) C(source) for a seed's fetch.
  returned: always
  type: list
  elements: list
wave:
  description: "The next peer wave from the current holders: a dict of receiver to holder."
  returned: always
  type: dict
unreachable:
  description: Hosts in a site with neither a holder nor a seed.
  returned: always
  type: list
  elements: str
source_copies:
  description: Copies that cross the source's uplink.
  returned: always
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_fanout import FanoutError, next_wave, plan


def main():
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type="list", elements="str", required=True),
            holders=dict(type="list", elements="str", default=[]),
            busy=dict(type="list", elements="str", default=[]),
            sites=dict(type="dict", default={}),
            seed_count=dict(type="int", default=1),
            preferred_seeds=dict(type="list", elements="str", default=[]),
            peer_fanout=dict(type="int", default=1),
            max_parallel=dict(type="int", default=8),
        ),
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = plan(p["hosts"], p["holders"], p["seed_count"], p["peer_fanout"], p["max_parallel"],
                      p["sites"], p["preferred_seeds"])
        result["wave"] = next_wave(p["hosts"], p["holders"], p["peer_fanout"], p["max_parallel"], p["sites"], p["busy"])
    except FanoutError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
