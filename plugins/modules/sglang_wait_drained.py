#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sglang_wait_drained
short_description: Wait until a model group has no request in flight, at the gateway and at rank 0
version_added: 0.1.0
description:
  - After the group was taken out of the gateway, polls the gateway's Prometheus endpoint (O(gateway_metrics_url))
    until C(smg_worker_requests_active) is 0 for every URL in O(workers), then rank 0's C(/metrics) (O(url)) until
    C(sglang:num_running_reqs) and C(sglang:num_queue_reqs) are 0. Needs SGLang started with C(--enable-metrics).
  - Once a worker is out of the gateway, no new request reaches it, so the two figures are read one after the other.
  - A server that does not answer at all has nothing in flight and counts as drained.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  url:
    description: Base URL of rank 0's HTTP server.
    type: str
  gateway_metrics_url:
    description: The gateway's Prometheus endpoint (C(http://127.0.0.1:29000/metrics) on the router host).
    type: str
  workers:
    description: Worker URLs whose gateway figure must reach 0 (with O(gateway_metrics_url)).
    type: list
    elements: str
    default: []
  timeout:
    description: Seconds to wait.
    type: int
    default: 300
  delay:
    description: Seconds between polls (fractions allowed).
    type: float
    default: 1
  api_key:
    description: SGLang API key, sent as a bearer token.
    type: str
  group:
    description: The model group drained, named in the message on timeout.
    type: str
  timeout_basis:
    description:
      - How O(timeout) was sized (e.g. C(8192 tokens at 5 tok/s)), repeated in the message on timeout together with
        what was still in flight per worker and the variables to set.
    type: str
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
- name: Wait for in-flight requests to finish
  gpufleet.sglang.sglang_wait_drained:
    url: http://127.0.0.1:30000
    timeout: 600

- name: Wait until the gateway has nothing in flight on the group
  gpufleet.sglang.sglang_wait_drained:
    gateway_metrics_url: http://127.0.0.1:29000/metrics
    workers: [http://10.20.0.11:30000]
"""

RETURN = r"""
drained:
  description: Whether nothing was running or queued.
  returned: always
  type: bool
detail:
  description: The last finding.
  returned: always
  type: str
waited_s:
  description: Seconds waited.
  returned: always
  type: float
active:
  description: On timeout at the gateway, the requests in flight per worker URL (C(smg_worker_requests_active)).
  returned: when the gateway did not drain
  type: dict
running:
  description: On timeout at rank 0, C(sglang:num_running_reqs).
  returned: when rank 0 did not drain
  type: int
queued:
  description: On timeout at rank 0, C(sglang:num_queue_reqs).
  returned: when rank 0 did not drain
  type: int
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import wait_drained
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_rollout import drain_failure
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_router import wait_gateway_drained


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str"),
            gateway_metrics_url=dict(type="str"),
            workers=dict(type="list", elements="str", default=[]),
            timeout=dict(type="int", default=300),
            delay=dict(type="float", default=1),
            api_key=dict(type="str", no_log=True),
            group=dict(type="str"),
            timeout_basis=dict(type="str"),
        ),
        required_one_of=[("url", "gateway_metrics_url")],
        required_by={"gateway_metrics_url": ("workers",)},
        supports_check_mode=True,
    )
    p = module.params
    result = {"drained": True, "detail": "drained", "waited_s": 0.0}
    if p["gateway_metrics_url"]:
        result = wait_gateway_drained(
            p["gateway_metrics_url"], p["workers"], timeout_s=p["timeout"], delay_s=p["delay"]
        )
        if result["drained"]:
            result.pop("active", None)
        elif result["detail"].startswith("gateway not drained after"):
            # "gateway not drained after Ns: <url>: n active, ..." -> the per-worker part
            result["timed_out"] = "at the gateway " + result["detail"].split(": ", 1)[-1]
    if result["drained"] and p["url"]:
        waited = result["waited_s"]
        result = wait_drained(
            p["url"], timeout_s=max(p["timeout"] - waited, 0), delay_s=p["delay"], api_key=p["api_key"]
        )
        result["waited_s"] = round(result["waited_s"] + waited, 1)
    if not result["drained"]:
        finding = result.pop("timed_out", None)
        if finding is None and result["detail"].startswith("not drained after"):
            finding = "at rank 0 %s %s" % (p["url"], result["detail"].split(": ", 1)[-1])
        msg = (
            result["detail"]
            if finding is None
            else drain_failure(finding, p["timeout"], p["timeout_basis"] or "", p["group"] or "")
        )
        module.fail_json(msg=msg, **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
