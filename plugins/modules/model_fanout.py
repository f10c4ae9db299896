#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: model_fanout
short_description: Plan who copies a model from whom (seeds from the source, the rest from peers in waves or one pipeline)
version_added: 0.2.0
description:
  - Pure planning on the controller (an action plugin), no change anywhere and no host contacted; run it once
    (C(run_once)). Which hosts hold a verified copy and their sites are read from the play's hosts' variables
    (O(holder_var), O(site_var)) unless given (O(holders), O(sites)).
  - Per site, O(seed_count) seeds fetch from the source when no host of the site holds a verified copy yet. Then,
    in waves, each holder serves at most O(peer_fanout) hosts and a wave runs at most O(max_parallel) copies, so the
    source's uplink carries the model about once per site and the holders double each wave with a fan-out of 1.
  - Returns the whole plan (if every copy succeeds) and the next wave from the holders as they are now; with
    O(pipeline), the same tree as one pipeline (every receiver follows its parent file by file, see
    M(gpufleet.sglang.model_fanout_fetch)).
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  hosts:
    description: Hosts that must end with the model, in the order seeds and receivers are picked; default the play's hosts.
    type: list
    elements: str
  holders:
    description: Hosts that hold a verified copy now; default the hosts whose O(holder_var) is true.
    type: list
    elements: str
  holder_var:
    description: The host variable that says a host holds a verified copy.
    type: str
    default: __model_sync_holder
  site_var:
    description: The host variable that names a host's site (used when O(sites) is not given).
    type: str
    default: __model_sync_host_site
  busy:
    description: Hosts that neither serve nor receive in the next wave (e.g. seeds still fetching).
    type: list
    elements: str
    default: []
  sites:
    description: Site of each host; copies never cross sites. Default from O(site_var); an empty site is C(default).
    type: dict
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
  pipeline:
    description: Also return the plan as one pipeline (RV(pipeline)).
    type: bool
    default: false
  from_source:
    description: In the pipeline, seeds fetch from the source; false leaves sites without a holder out (RV(pipeline.unreachable)).
    type: bool
    default: true
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
    holder_var: __model_sync_holder
    seed_count: 1
    peer_fanout: 1
    max_parallel: 8
    pipeline: true
  run_once: true
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
holders:
  description: The hosts that held a verified copy when the plan was made.
  returned: always
  type: list
  elements: str
pipeline:
  description: The same tree as one pipeline.
  returned: when O(pipeline) is true
  type: dict
  contains:
    copies:
      description: "Per receiver C({src, src_complete, level}): its parent (C(source) or a host); whether the parent held the
        whole verified copy when the pipeline started (else the receiver follows the parent's ready file); its level in the tree."
      type: dict
    seeds:
      description: Hosts that fetch from the source in the pipeline.
      type: list
      elements: str
    depth:
      description: Levels of the tree (the files' latency is one copy per level).
      type: int
    unreachable:
      description: Hosts the pipeline does not reach.
      type: list
      elements: str
    source_copies:
      description: Copies that cross the source's uplink.
      type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_fanout import FanoutError, fanout


def main():
    # The action plugin of the same name runs on the controller with the hosts' variables; run as a
    # module (e.g. by a caller that bypasses the action), hosts and holders must be given.
    module = AnsibleModule(
        argument_spec=dict(
            hosts=dict(type="list", elements="str"),
            holders=dict(type="list", elements="str"),
            holder_var=dict(type="str", default="__model_sync_holder"),
            site_var=dict(type="str", default="__model_sync_host_site"),
            busy=dict(type="list", elements="str", default=[]),
            sites=dict(type="dict"),
            seed_count=dict(type="int", default=1),
            preferred_seeds=dict(type="list", elements="str", default=[]),
            peer_fanout=dict(type="int", default=1),
            max_parallel=dict(type="int", default=8),
            pipeline=dict(type="bool", default=False),
            from_source=dict(type="bool", default=True),
        ),
        required_together=[["hosts", "holders"]],
        supports_check_mode=True,
    )
    params = dict((k, v) for k, v in module.params.items() if v is not None)
    if "hosts" not in params:
        module.fail_json(msg="hosts and holders are needed when model_fanout runs as a module")
    try:
        result = fanout(params, {})
    except FanoutError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
