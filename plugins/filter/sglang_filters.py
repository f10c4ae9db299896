# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters used by the roles; logic lives in module_utils.sglang_unit."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_rollout import (
    RolloutError,
    by_group,
    plan_rollout,
    router_membership,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_secrets import redact
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_unit import (
    exec_line,
    parity_problems,
    runtime_argv,
    systemd_quote as _systemd_quote,
)


def systemd_exec(argv):
    if not isinstance(argv, (list, tuple)):
        raise AnsibleFilterError("systemd_exec expects an argv list, got %s" % type(argv).__name__)
    try:
        return exec_line(argv)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def systemd_quote(token):
    try:
        return _systemd_quote(token)
    except ValueError as exc:
        raise AnsibleFilterError(str(exc))


def sglang_runtime_argv(node, runtime, **kwargs):
    try:
        return runtime_argv(node, runtime, **kwargs)
    except (KeyError, ValueError) as exc:
        raise AnsibleFilterError("sglang_runtime_argv: %s" % exc)


def sglang_parity_problems(hosts, group, identities, argvs):
    nodes = [{"host": h, "identity": i, "argv": a} for h, i, a in zip(hosts, identities, argvs)]
    return parity_problems(group, nodes)


def sglang_rollout_batches(plan, changed, ready, router_workers=None, batch_size=1, min_serving=1, force=None,
                           only=None):
    try:
        return plan_rollout(plan, changed, ready, router_membership(plan, router_workers), batch_size,
                            min_serving, force or (), only)
    except RolloutError as exc:
        raise AnsibleFilterError(str(exc))


def sglang_by_group(plan, hostvars, path, reduce="any", default=None):
    if reduce not in ("any", "head"):
        raise AnsibleFilterError("sglang_by_group: reduce must be 'any' or 'head', got %r" % reduce)
    return by_group(plan, hostvars, path, reduce, default)


class FilterModule(object):
    def filters(self):
        return {
            "systemd_exec": systemd_exec,
            "systemd_quote": systemd_quote,
            "sglang_runtime_argv": sglang_runtime_argv,
            "sglang_parity_problems": sglang_parity_problems,
            "sglang_rollout_batches": sglang_rollout_batches,
            "sglang_by_group": sglang_by_group,
            "redact": redact,
        }
