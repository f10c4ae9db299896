#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: sglang_wait_ready
short_description: Wait until an SGLang node is ready, as SGLang defines it
version_added: 0.1.0
description:
  - On rank 0, ready means C(GET /health_generate) returns 200 (a real one-token generation) and C(GET /v1/models)
    lists O(served_model_name). Ranks 1 and above serve only a dummy C(/health); for them this proves liveness only.
  - SGLang listens on its HTTP port only after every rank of the group joined and loaded its weights, so
    "connection refused" counts as still loading, as long as O(unit) is active (or restarting).
  - Gives up early when O(unit) stops being active, and returns the unit's journal tail on failure.
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  url:
    description: Base URL of the node's HTTP server, as seen from the node itself.
    type: str
    required: true
  is_head:
    description: Whether this node is rank 0 of its group.
    type: bool
    required: true
  served_model_name:
    description: Name C(/v1/models) must list (rank 0 only).
    type: str
  timeout:
    description: Seconds to wait in all.
    type: int
    default: 600
  delay:
    description: Seconds between probes.
    type: int
    default: 5
  unit:
    description: systemd unit that must stay active while waiting; its journal tail is returned on failure.
    type: str
  journal_lines:
    description: Journal lines returned on failure.
    type: int
    default: 40
  log_namespace:
    description:
      - journald namespace the unit logs to (its C(LogNamespace=)); the tail is read from it and the default
        journal together (C(journalctl --namespace=+NAME)). Empty reads the default journal only.
    type: str
    default: ""
  api_key:
    description: SGLang API key, sent as a bearer token.
    type: str
  redact:
    description:
      - More secret values (e.g. the admin API key, which SGLang also logs with its server arguments) masked
        in the returned journal tail, as O(api_key) is.
    type: list
    elements: str
    default: []
  start:
    description:
      - Enable and start O(unit) first (what M(ansible.builtin.systemd_service) does with O(ignore:state=started) and
        O(ignore:enabled=true)), in this run instead of one of its own.
      - A unit that does not start is not ready (RV(started) false, RV(detail) says why); nothing is waited for.
      - Check mode starts nothing.
    type: bool
    default: false
  reset_failed:
    description:
      - With O(start), run C(systemctl reset-failed) on O(unit) before starting it (an intended restart), in this run
        instead of one of its own. It clears the failed state, the start rate limit counter and the restart counter,
        so a crash loop's start limit does not refuse the start and systemd's own restarts after a later crash get
        the whole C(StartLimitBurst=) again.
    type: bool
    default: false
  smoke_test:
    description:
      - Once rank 0 is ready, send one short chat completion of O(served_model_name) through it (C(max_tokens) 4) and
        return how it went in RV(smoke); readiness does not depend on it. Ranks 1 and above and check mode send none.
      - What gpufleet.sglang.sglang_rollout checks before a group goes back into the routers, sent in the same module
        run as the readiness wait instead of one of its own.
    type: bool
    default: false
  smoke_timeout:
    description: Seconds the smoke test's request may take.
    type: int
    default: 120
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
    details: Only reads; in check mode it probes once instead of waiting.
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Wait for rank 0 to generate
  gpufleet.sglang.sglang_wait_ready:
    url: http://127.0.0.1:30000
    is_head: true
    served_model_name: deepseek-r1
    unit: sglang-r1_a
    timeout: 2700
"""

RETURN = r"""
ready:
  description: Whether the node became ready.
  returned: always
  type: bool
detail:
  description: The last probe's finding.
  returned: always
  type: str
waited_s:
  description: Seconds waited.
  returned: always
  type: float
started:
  description: With O(start), whether the unit was started (or already running).
  returned: when O(start)
  type: bool
smoke:
  description: The smoke test's outcome (C(ok) on HTTP 200, C(status), C(detail)).
  returned: when O(smoke_test) and rank 0 became ready
  type: dict
  sample: {"ok": true, "status": 200, "detail": "rank 0 /v1/chat/completions -> 200"}
journal:
  description: Last lines of the unit's journal, when not ready and O(unit) is set.
  returned: when not ready
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_health import (
    smoke_generate,
    start_unit,
    wait_ready,
)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            url=dict(type="str", required=True),
            is_head=dict(type="bool", required=True),
            served_model_name=dict(type="str"),
            timeout=dict(type="int", default=600),
            delay=dict(type="int", default=5),
            unit=dict(type="str"),
            journal_lines=dict(type="int", default=40),
            log_namespace=dict(type="str", default=""),
            api_key=dict(type="str", no_log=True),
            # no_log: AnsibleModule masks these values wherever they appear in the result
            # (the journal tail), as it does the API key's.
            redact=dict(type="list", elements="str", default=[], no_log=True),
            start=dict(type="bool", default=False),
            reset_failed=dict(type="bool", default=False),
            smoke_test=dict(type="bool", default=False),
            smoke_timeout=dict(type="int", default=120),
        ),
        supports_check_mode=True,
    )
    p = module.params
    systemctl = module.get_bin_path("systemctl") if p["unit"] else None
    changed = False
    if p["start"] and not p["unit"]:
        module.fail_json(msg="start needs unit (the systemd unit to start)")
    if p["start"] and not module.check_mode:
        outcome = start_unit(module.run_command, systemctl or "systemctl", p["unit"], p["reset_failed"])
        changed = outcome["changed"]
        if not outcome["started"]:
            module.exit_json(changed=changed, started=False, ready=False, detail=outcome["detail"], waited_s=0.0)

    def alive():
        rc, out, err = module.run_command([systemctl, "is-active", p["unit"]])
        state = out.strip() or err.strip()
        return state in ("active", "activating", "reloading"), state

    result = wait_ready(
        p["url"],
        p["is_head"],
        p["served_model_name"],
        timeout_s=0 if module.check_mode else p["timeout"],
        delay_s=p["delay"],
        api_key=p["api_key"],
        alive=alive if systemctl else None,
    )
    if result["ready"] and p["smoke_test"] and p["is_head"] and not module.check_mode:
        result["smoke"] = smoke_generate(p["url"], p["served_model_name"], p["smoke_timeout"], p["api_key"])
    if not result["ready"] and p["unit"]:
        journalctl = module.get_bin_path("journalctl")
        if journalctl:
            namespace = ["--namespace=+%s" % p["log_namespace"]] if p["log_namespace"] else []
            argv = (
                [journalctl]
                + namespace
                + ["-u", p["unit"], "-n", str(p["journal_lines"]), "--no-pager", "-o", "short-iso"]
            )
            rc, out, err = module.run_command(argv)
            result["journal"] = out.splitlines()
    if p["start"]:
        result["started"] = True
    module.exit_json(changed=changed, **result)


if __name__ == "__main__":
    main()
