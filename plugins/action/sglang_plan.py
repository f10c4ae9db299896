# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Controller-side planning: gathers the inventory's model groups and hostvars, calls
module_utils.sglang_plan.plan_fleet, and never contacts a host."""

from __future__ import annotations

import json
import os

from ansible.errors import AnsibleError
from ansible.module_utils.common.text.converters import to_native
from ansible.plugins.action import ActionBase

from ansible_collections.gpufleet.sglang.plugins.module_utils.atomic_file import write_atomic
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import (
    DEFAULTS,
    HOST_LEVEL_VARS,
    PlanError,
    format_table,
    plan_fleet,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_router import router_problems
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_router_catalog import SMG_FLAGS

_SECRET_VARS = ("sglang_api_key", "sglang_admin_api_key")
# Read from the router hosts for gpufleet.sglang.sglang_router's migration and key checks.
_ROUTER_VARS = ("sglang_router_version", "sglang_router_extra_args", "sglang_router_api_key",
                "sglang_router_admin_api_key")
_READ_VARS = tuple(v for v in DEFAULTS if v != "sglang_has_secrets") + HOST_LEVEL_VARS + ("ansible_host", "ansible_facts")


def _write_json_atomic(path, data):
    path = os.path.abspath(os.path.expanduser(path))
    return write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"), 0o644)


def _plain(value):
    """Tagged/templated Ansible values -> plain JSON types."""
    return json.loads(json.dumps(value, default=to_native))


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("parent_group", "exclude_groups", "plan_out"))
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super(ActionModule, self).run(tmp, task_vars)
        args = self._task.args
        parent = args.get("parent_group") or "sglang_model_groups"
        exclude = args.get("exclude_groups")
        if exclude is None:
            exclude = ["sglang_routers"]
        plan_out = args.get("plan_out")

        hostvars = task_vars["hostvars"]
        inventory = getattr(hostvars, "_inventory", None)
        if inventory is None:
            raise AnsibleError("gpufleet.sglang.sglang_plan: cannot read the inventory's group tree")
        group = inventory.groups.get(parent)
        if group is None:
            result.update(failed=True, problems=[
                "the inventory has no group %s; make each model group a child of it" % parent])
            result["msg"] = result["problems"][0]
            return result

        problems = []
        direct = [h.name for h in group.hosts]
        for host in direct:
            problems.append("host %s is directly in %s; put it in a child group (one per model group)"
                            % (host, parent))
        model_groups = {}
        for child in group.child_groups:
            model_groups[child.name] = [h.name for h in child.get_hosts()]

        excluded = set()
        for name in exclude:
            if name in inventory.groups:
                excluded.update(h.name for h in inventory.groups[name].get_hosts())
        targets = [h for h in task_vars.get("ansible_play_hosts_all", []) if h not in excluded]

        members = set(h for hosts in model_groups.values() for h in hosts)
        collected = {}
        for host in members:
            hv = hostvars[host]
            collected[host] = {}
            for var in _READ_VARS:
                if var in hv:
                    collected[host][var] = _plain(hv[var])
            # Only whether a secret is set reaches the planner, never its value.
            collected[host]["sglang_has_secrets"] = any(
                bool(hv.get(var)) for var in _SECRET_VARS if var in hv)

        # Router hosts: variables written for sglang-router fail here, before any host changes.
        routers = {}
        if "sglang_routers" in inventory.groups:
            for host in inventory.groups["sglang_routers"].get_hosts():
                hv = hostvars[host.name]
                routers[host.name] = dict((var, _plain(hv[var])) for var in _ROUTER_VARS if var in hv)
        if routers:
            group_keys = dict((g, [_plain(hostvars[h].get("sglang_api_key") or "") for h in hosts])
                              for g, hosts in model_groups.items())
            router_found = router_problems(routers, group_keys, SMG_FLAGS)
        else:
            router_found = []

        try:
            if problems:
                raise PlanError(problems)
            plan = plan_fleet(model_groups, collected, targets)
            if router_found:
                raise PlanError([])
        except PlanError as exc:
            exc.problems = list(exc.problems) + router_found
            result.update(failed=True, problems=exc.problems)
            result["msg"] = "SGLang plan has %d problem(s), nothing was changed:\n- %s" % (
                len(exc.problems), "\n- ".join(exc.problems))
            return result

        for warning in plan["warnings"]:
            self._display.warning(warning)
        table = format_table(plan)
        result.update(changed=False, plan=plan, table=table, ansible_facts={"sglang_plan": plan})
        if plan_out:
            result["plan_out"] = _write_json_atomic(plan_out, plan)
        return result
