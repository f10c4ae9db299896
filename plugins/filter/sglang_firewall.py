# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Firewall filters of the sglang_firewall role; logic lives in module_utils.sglang_firewall."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_firewall import (
    ANY,
    DEFAULT_PROTECTED_PORTS,
    DEFAULT_TABLE,
    FirewallError,
    firewall,
    has_addresses,
    peer_addresses,
    peers_needed,
)


def _fail(name, host, exc):
    return AnsibleFilterError(
        "%s: %d problem(s) for host %s, nothing was changed:\n- %s"
        % (name, len(exc.problems), host, "\n- ".join(exc.problems))
    )


def sglang_firewall_peers(plan, hosts, routers=None, missing_in=None):
    if not isinstance(plan, dict) or "hosts" not in plan:
        raise AnsibleFilterError("sglang_firewall_peers: the input must be the plan (fact sglang_plan)")
    out = []
    for host in hosts or []:
        for peer in peers_needed(plan, host, list(routers or [])):
            if peer not in out:
                out.append(peer)
    if missing_in is not None:
        out = [peer for peer in out if not has_addresses(missing_in, peer)]
    return out


def sglang_firewall_ruleset(
    plan,
    host,
    hostvars,
    routers=None,
    router_port=None,
    router_metrics_port=None,
    operator_cidrs=None,
    router_client_cidrs=None,
    protected_ports=None,
    table=DEFAULT_TABLE,
):
    if not isinstance(plan, dict) or "hosts" not in plan:
        raise AnsibleFilterError(
            "sglang_firewall_ruleset: the input must be the plan (fact sglang_plan); "
            "run playbooks/plan.yml first (site.yml does)"
        )
    routers = list(routers or [])
    try:
        addresses = peer_addresses(peers_needed(plan, host, routers), hostvars)
        return firewall(
            plan,
            host,
            addresses,
            table=table,
            routers=routers,
            router_port=router_port,
            router_metrics_port=router_metrics_port,
            operator_cidrs=operator_cidrs or [],
            router_client_cidrs=ANY if router_client_cidrs is None else router_client_cidrs,
            protected_ports=DEFAULT_PROTECTED_PORTS if protected_ports is None else protected_ports,
        )
    except FirewallError as exc:
        raise _fail("sglang_firewall_ruleset", host, exc)


class FilterModule(object):
    def filters(self):
        return {
            "sglang_firewall_peers": sglang_firewall_peers,
            "sglang_firewall_ruleset": sglang_firewall_ruleset,
        }
