# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters used by the roles; logic lives in module_utils.sglang_unit."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_rollout import (
    RolloutError,
    by_group,
    drain_timeout,
    estimate,
    fmt_duration,
    plan_rollout,
    progress,
    router_membership,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_secrets import redact
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_unit import (
    exec_line,
    image_by_digest,
    parity_problems,
    runtime_argv,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_unit import (
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


def sglang_image_ref(image, digest=""):
    try:
        return image_by_digest(str(image), str(digest or ""))
    except ValueError as exc:
        raise AnsibleFilterError("sglang_image_ref: %s (sglang_server_image_digest)" % exc)


def sglang_runtime_argv(node, runtime, **kwargs):
    try:
        return runtime_argv(node, runtime, **kwargs)
    except (KeyError, ValueError) as exc:
        raise AnsibleFilterError("sglang_runtime_argv: %s" % exc)


def sglang_parity_problems(hosts, group, identities, argvs):
    nodes = [{"host": h, "identity": i, "argv": a} for h, i, a in zip(hosts, identities, argvs)]
    return parity_problems(group, nodes)


def sglang_rollout_batches(
    plan,
    changed,
    ready,
    router_workers=None,
    max_unavailable=1,
    min_serving=1,
    force=None,
    only=None,
    spares=None,
    limits=None,
    ready_s=None,
    assumed_ready_s=600,
    overhead_s=10.0,
):
    try:
        out = plan_rollout(
            plan,
            changed,
            ready,
            router_membership(plan, router_workers),
            max_unavailable,
            min_serving,
            force or (),
            only,
            spares or (),
        )
        limits = limits or {}
        out["drain"] = dict(
            (
                g,
                drain_timeout(
                    g,
                    ((data.get("nodes") or [{}])[0]).get("argv") or [],
                    **dict(
                        (k, v)
                        for k, v in (limits.get(g) or {}).items()
                        if k in ("timeout", "max_tokens", "decode_tok_s")
                    ),
                ),
            )
            for g, data in plan["groups"].items()
        )
        out["estimate"] = estimate(out["batches"], ready_s or {}, assumed_ready_s, overhead_s)
        out["estimate"]["total"] = fmt_duration(out["estimate"]["total_s"])
        out["estimate"]["drain_max_s"] = max(
            [out["drain"][g]["timeout_s"] for b in out["batches"] if b["serving"] for g in b["groups"]] or [0]
        )
        return out
    except RolloutError as exc:
        raise AnsibleFilterError(str(exc))


def sglang_rollout_progress(rollout, index, elapsed_s):
    try:
        out = progress(int(index), rollout["estimate"]["batches_s"], float(elapsed_s))
    except (KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError("sglang_rollout_progress: %s" % exc)
    out["remaining"] = fmt_duration(out["remaining_s"])
    out["elapsed"] = fmt_duration(out["elapsed_s"])
    return out


def sglang_plan_node(plan, host):
    """The plan's node for ``host``; the one check that a host was planned (every role that runs on a
    model-group node reads its node through this filter)."""
    hosts = plan.get("hosts") if isinstance(plan, dict) else None
    if not isinstance(hosts, dict) or host not in hosts:
        raise AnsibleFilterError(
            "%s has no plan: run the role after playbooks/plan.yml (site.yml does), and make sure the host is in a "
            "child group of sglang_model_groups." % host
        )
    return hosts[host]


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
            "sglang_image_ref": sglang_image_ref,
            "sglang_parity_problems": sglang_parity_problems,
            "sglang_rollout_batches": sglang_rollout_batches,
            "sglang_rollout_progress": sglang_rollout_progress,
            "sglang_by_group": sglang_by_group,
            "sglang_plan_node": sglang_plan_node,
            "redact": redact,
        }
