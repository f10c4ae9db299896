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
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_args import SECRET_FLAGS
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import (
    DEFAULTS,
    HOST_LEVEL_VARS,
    ROUTER_DEFAULTS,
    PlanError,
    format_table,
    plan_fleet,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_router import router_problems
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_router_catalog import SMG_FLAGS

# The variables that carry secrets (one per secret SGLang flag): the planner sees only
# whether each is set, and which hosts share a value, never a value.
_SECRET_VARS = tuple(SECRET_FLAGS.values())
_CALLER_VARS = ("sglang_has_secrets", "sglang_secret_vars")
# Read from the router hosts for gpufleet.sglang.sglang_router's migration and key checks
# (compared here, never handed to the plan or echoed).
_ROUTER_VARS = (
    "sglang_router_version",
    "sglang_router_extra_args",
    "sglang_router_api_key",
    "sglang_router_admin_api_key",
)
_READ_VARS = tuple(v for v in DEFAULTS if v not in _CALLER_VARS) + HOST_LEVEL_VARS + ("ansible_host", "ansible_facts")


def _write_json_atomic(path, data):
    path = os.path.abspath(os.path.expanduser(path))
    return write_atomic(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"), 0o644)


def _plain(value, depth=0):
    """Tagged/templated Ansible values -> plain JSON types.

    Mapping keys become strings (YAML reads ``2024-01-01:`` as a date and ``1:`` as an
    int; JSON keys are strings), sets and tuples lists, anything else not JSON-plain
    (dates, vault text, bytes) its text; NaN and infinities stay floats for the planner
    to refuse by name.
    """
    if depth > 64:
        raise ValueError("nested more than 64 levels deep")
    if isinstance(value, dict):
        return dict((k if isinstance(k, str) else to_native(k), _plain(v, depth + 1)) for k, v in value.items())
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=str) if isinstance(value, (set, frozenset)) else value
        return [_plain(v, depth + 1) for v in items]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)  # a plain str, not Ansible's tagged/vault subclasses
    return to_native(value)


def _read_vars(hostvars, host, names, problems, who):
    """The variables ``names`` that ``host`` sets, as plain data; one problem per variable that is not."""
    hv = hostvars[host]
    found = {}
    for var in names:
        if var in hv:
            try:
                found[var] = _plain(hv[var])
            except (TypeError, ValueError, RecursionError) as exc:
                problems.append(
                    "%s %s: %s is not plain data (%s); give it strings, numbers, lists and mappings "
                    "only" % (who, host, var, to_native(exc)[:80])
                )
    return found


def _secret_classes(members, hostvars, problems):
    """{host: {secret var: index of its distinct value}} and type problems; never a value in a message."""
    distinct = dict((var, []) for var in _SECRET_VARS)
    out = {}
    for host in sorted(members):
        hv = hostvars[host]
        out[host] = {}
        for var in _SECRET_VARS:
            if var not in hv:
                continue
            value = hv.get(var)
            if value is None or value == "":
                continue
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                kind = (
                    "mapping"
                    if isinstance(value, dict)
                    else "list"
                    if isinstance(value, (list, tuple, set))
                    else "boolean"
                    if isinstance(value, bool)
                    else type(value).__name__.lstrip("_")
                )
                problems.append(
                    "host %s: %s must be a string (from vault), not a %s (value not shown)" % (host, var, kind)
                )
                continue
            text = to_native(value)
            if any(ord(c) < 32 or ord(c) == 127 for c in text):
                problems.append(
                    "host %s: %s contains a newline or another control character (value not shown); "
                    "a YAML config line and an HTTP header carry neither: remove it" % (host, var)
                )
                continue
            if text not in distinct[var]:
                distinct[var].append(text)
            out[host][var] = distinct[var].index(text)
    return out


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("parent_group", "exclude_groups", "plan_out", "router_group"))
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
            result.update(
                failed=True, problems=["the inventory has no group %s; make each model group a child of it" % parent]
            )
            result["msg"] = result["problems"][0]
            return result

        problems = []
        direct = [h.name for h in group.hosts]
        for host in direct:
            problems.append("host %s is directly in %s; put it in a child group (one per model group)" % (host, parent))
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
            collected[host] = _read_vars(hostvars, host, _READ_VARS, problems, "host")
        # Only which secrets are set (and which hosts share a value) reaches the planner.
        for host, classes in _secret_classes(members, hostvars, problems).items():
            collected[host]["sglang_secret_vars"] = classes
            collected[host]["sglang_has_secrets"] = bool(classes)

        routers = {}
        router_group = inventory.groups.get(args.get("router_group") or "sglang_routers")
        for host in (h.name for h in router_group.get_hosts()) if router_group is not None else ():
            routers[host] = _read_vars(hostvars, host, ROUTER_DEFAULTS, problems, "router")

        # Router hosts: variables written for sglang-router fail here, before any host changes.
        router_vars = {}
        for host in routers:
            router_vars[host] = _read_vars(hostvars, host, _ROUTER_VARS, problems, "router")
        if router_vars:
            group_keys = {}
            for group, hosts in model_groups.items():
                try:
                    group_keys[group] = [_plain(hostvars[h].get("sglang_api_key") or "") for h in hosts]
                except (TypeError, ValueError, RecursionError):
                    group_keys[group] = []
            problems.extend(router_problems(router_vars, group_keys, SMG_FLAGS))

        try:
            try:
                plan = plan_fleet(model_groups, collected, targets, routers=routers)
            except PlanError as exc:
                raise PlanError(problems + exc.problems, exc.warnings)
            if problems:
                raise PlanError(problems, plan["warnings"])
        except PlanError as exc:
            result.update(failed=True, problems=exc.problems)
            result["msg"] = "SGLang plan has %d problem(s), nothing was changed:\n- %s" % (
                len(exc.problems),
                "\n- ".join(exc.problems),
            )
            return result

        for warning in plan["warnings"]:
            self._display.warning(warning)
        table = format_table(plan)
        result.update(changed=False, plan=plan, table=table, ansible_facts={"sglang_plan": plan})
        if plan_out:
            result["plan_out"] = _write_json_atomic(plan_out, plan)
        return result
