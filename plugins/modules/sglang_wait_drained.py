#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sglang_wait_drained
short_description: Wait until an SGLang server has no request in flight
version_added: 0.1.0
description:
  - Polls rank 0's C(/metrics) until C(sglang:num_running_reqs) and C(sglang:num_queue_reqs) are 0, after the
    group was taken out of the router. Needs SGLang started with C(--enable-metrics).
  - A server that does not answer at all has nothing in flight and counts as drained.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  url:
    description: Base URL of rank 0's HTTP server.
    type: str
    required: true
  timeout:
    description: Seconds to wait.
    type: int
    default: 300
  delay:
    description: Seconds between polls.
    type: int
    default: 1
  api_key:
    description: SGLang API key, sent as a bearer token.
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
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import wait_drained


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            timeout=dict(type="int", default=300),
            delay=dict(type="int", default=1),
            api_key=dict(type="str", no_log=True),
        ),
        supports_check_mode=True,
    )
    p = module.params
    result = wait_drained(p["url"], timeout_s=p["timeout"], delay_s=p["delay"], api_key=p["api_key"])
    if not result["drained"]:
        module.fail_json(msg=result["detail"], **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
