# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Host firewall of the SGLang model groups and routers: rules from the plan, as nftables.

Pure Python: no Ansible objects, so unit tests call it directly. The filters
``gpufleet.sglang.sglang_firewall_ruleset`` / ``sglang_firewall_peers`` feed it
the plan, the hosts' gathered addresses and the role's variables.

The model: a *rule* names TCP ports and the sources allowed to open connections
to them. The rendered chain accepts those sources on those ports and drops every
other new connection to them. Every other packet falls through the chain
(``policy accept``), so this dedicated table only ever narrows what reaches the
named ports: SSH and the operator's own tables are never touched, and a packet
one of the operator's chains drops stays dropped (nftables evaluates every base
chain of a hook; an accept in one chain does not override a drop in another).

Per host:
    member of model group g:
        internal  dist-init port .. +6 (SGLang's ZMQ window) and the NCCL port, from
                  the nodes of g only (self included);
        http      SGLang's HTTP port (rank 0: the API, and /metrics with
                  --enable-metrics; ranks >= 1: liveness only), from the router hosts
                  and the operator allowlist.
    router host:
        router          the router port, from the client allowlist;
        router_metrics  the router's Prometheus port, from the operator allowlist.

Addresses are IP literals only (gathered facts or the operator's lists), never
names: nothing is resolved through DNS when the rules are built or loaded.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import DIST_INIT_PORT_WINDOW

DEFAULT_TABLE = "gpufleet_sglang"
ANY = ("0.0.0.0/0", "::/0")
DEFAULT_PROTECTED_PORTS = (22,)
_TABLE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,30}$")

# rule name -> (what it is, the variables that move its ports)
RULE_INFO = {
    "internal": ("dist-init/ZMQ/NCCL ports", "sglang_dist_init_port / sglang_nccl_port"),
    "http": ("SGLang HTTP port", "sglang_port"),
    "router": ("router port", "sglang_router_port"),
    "router_metrics": ("router metrics port", "sglang_router_prometheus_port"),
}


class FirewallError(Exception):
    def __init__(self, problems):
        self.problems = list(problems)
        super(FirewallError, self).__init__("\n".join(self.problems))


def _port(value, what, problems):
    if isinstance(value, bool):
        value = None
    try:
        port = int(str(value))
    except (TypeError, ValueError):
        port = None
    if port is None or not 1 <= port <= 65535:
        problems.append("%s=%r is not a TCP port (1-65535)" % (what, value))
        return None
    return port


def parse_sources(
    values: Any, what: str, problems: List[str]
) -> List[Union[ipaddress.IPv4Network, ipaddress.IPv6Network]]:
    """IP addresses/CIDRs -> ip_network list. Names are refused (no DNS at rule time)."""
    if values is None:
        return []
    if isinstance(values, (str, bytes)) or not isinstance(values, (list, tuple, set)):
        problems.append("%s must be a list of IP addresses or CIDRs, got %r" % (what, values))
        return []
    out = []
    for value in values:
        text = str(value).strip()
        try:
            out.append(ipaddress.ip_network(text, strict=True))
        except ValueError:
            try:
                loose = ipaddress.ip_network(text, strict=False)
            except ValueError:
                problems.append(
                    "%s: %r is not an IP address or CIDR; give addresses, not names (the "
                    "firewall never resolves names)" % (what, value)
                )
                continue
            problems.append("%s: %r has host bits set; did you mean %s?" % (what, value, loose))
    return out


def _facts_addresses(entry):
    """Addresses of a hostvars-like entry: sglang_firewall_addresses, else the gathered facts."""
    if not hasattr(entry, "get"):
        return None, None
    override = entry.get("sglang_firewall_addresses")
    if override is not None:
        return override, "sglang_firewall_addresses"
    facts = entry.get("ansible_facts")
    if hasattr(facts, "get"):
        v4 = facts.get("all_ipv4_addresses")
        v6 = facts.get("all_ipv6_addresses")
        if v4 is not None or v6 is not None:
            return list(v4 or []) + list(v6 or []), "facts"
    return None, None


def _entry(hostvars, host):
    try:
        return hostvars[host]
    except (KeyError, TypeError):
        return None


def has_addresses(hostvars: Mapping[str, Any], host: str) -> bool:
    """Whether ``host`` has ``sglang_firewall_addresses`` or gathered addresses in ``hostvars``."""
    return _facts_addresses(_entry(hostvars, host))[1] is not None


def peer_addresses(hosts: Iterable[str], hostvars: Mapping[str, Any]) -> Dict[str, Any]:
    """``{host: [address, ...]}`` for ``hosts`` from hostvars-like entries.

    ``sglang_firewall_addresses`` set on a host (inventory) wins over its gathered
    facts (``all_ipv4_addresses`` + ``all_ipv6_addresses``). Raises
    :class:`FirewallError` naming every host with neither.
    """
    out, missing = {}, []
    for host in hosts:
        addresses, source = _facts_addresses(_entry(hostvars, host))
        if source is None:
            missing.append(host)
        else:
            out[host] = addresses
    if missing:
        raise FirewallError(
            [
                "no addresses known for host(s) %s: the firewall allows peers by the addresses in "
                "their gathered facts; gather facts on them (the role does it for peers the play "
                "reaches) or set sglang_firewall_addresses (a list of IPs) for each in the inventory"
                % ", ".join(missing)
            ]
        )
    return out


def _host_networks(host, addresses, problems):
    """A host's own addresses as /32 or /128 networks, loopback left out."""
    if isinstance(addresses, dict):
        addresses = list(addresses.get("ipv4") or []) + list(addresses.get("ipv6") or [])
    if isinstance(addresses, (str, bytes)) or not isinstance(addresses, (list, tuple, set)):
        problems.append("host %s: addresses must be a list of IPs, got %r" % (host, addresses))
        return []
    nets, bad = [], 0
    for value in addresses:
        text = str(value).strip().split("%", 1)[0]  # drop an IPv6 zone (fe80::1%eth0)
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            problems.append(
                "host %s: address %r is not an IP address; give IPs, not names (set "
                "sglang_firewall_addresses for %s, or fix its facts)" % (host, value, host)
            )
            bad += 1
            continue
        if address.is_loopback:
            continue
        nets.append(ipaddress.ip_network(address))
    if not nets and not bad:
        problems.append(
            "host %s: no non-loopback address known; gather its facts or set sglang_firewall_addresses for it" % host
        )
    return nets


def _collapse(networks):
    """Sorted, without duplicates and without networks inside another listed one (an interval
    set refuses overlapping elements); single hosts shown bare. Neighbours are not merged, so
    each peer stays readable in ``nft list``."""

    def show(net):
        return str(net.network_address) if net.num_addresses == 1 else str(net)

    out = ([], [])
    for version, bucket in ((4, out[0]), (6, out[1])):
        nets = sorted(set(n for n in networks if n.version == version), key=lambda n: (n.network_address, -n.prefixlen))
        kept = []
        for net in nets:
            if kept and net.subnet_of(kept[-1]):
                continue
            kept.append(net)
        bucket.extend(show(n) for n in kept)
    return out


def _ranges(ports):
    """Sorted ports -> [[lo, hi], ...] with neighbours merged."""
    out = []
    for port in sorted(set(ports)):
        if out and port == out[-1][1] + 1:
            out[-1][1] = port
        else:
            out.append([port, port])
    return out


def peers_needed(plan: Mapping[str, Any], host: str, routers: Iterable[str] = ()) -> List[str]:
    """Hosts whose addresses ``host``'s rules name: its group's nodes and, for a member, the routers."""
    node = (plan.get("hosts") or {}).get(host)
    if node is None:
        return []
    group = plan["groups"][node["group"]]
    peers = [n["host"] for n in group["nodes"]]
    return peers + [r for r in routers if r not in peers]


def compute_rules(
    plan: Mapping[str, Any],
    host: str,
    addresses: Mapping[str, Any],
    routers: Optional[Iterable[str]] = (),
    router_port: Optional[int] = None,
    router_metrics_port: Optional[int] = None,
    operator_cidrs: Any = (),
    router_client_cidrs: Any = ANY,
    protected_ports: Optional[Iterable[Any]] = DEFAULT_PROTECTED_PORTS,
) -> Dict[str, Any]:
    """The rules of one host. ``addresses``: ``{host: [ip, ...]}`` (or ``{"ipv4": [], "ipv6": []}``).

    Ports come from the plan (the planner checked them): the group's ``dist_init_ports``,
    ``nccl_port`` and ``port``, and a router's ``plan["routers"][host]``; ``router_port`` /
    ``router_metrics_port`` override the plan's router ports (tests, hand-made plans).

    Returns ``{"host", "rules": [{name, label, ports: [[lo, hi]], ipv4: [cidr], ipv6: [cidr]}], "warnings"}``.
    Raises :class:`FirewallError` listing every problem.
    """
    problems, warnings = [], []
    routers = list(routers or [])
    node = (plan.get("hosts") or {}).get(host)
    is_router = host in routers
    if node is None and not is_router:
        raise FirewallError(
            [
                "host %s is neither in a planned model group nor in the routers group; the "
                "firewall role runs on sglang_model_groups and sglang_routers hosts only" % host
            ]
        )
    operator = parse_sources(operator_cidrs, "sglang_firewall_operator_cidrs", problems)
    clients = parse_sources(router_client_cidrs, "sglang_firewall_router_client_cidrs", problems)
    protected = {}
    for value in protected_ports or ():
        port = _port(value, "protected (SSH) port", problems)
        if port is not None:
            protected[port] = True

    def nets_of(hosts):
        nets = []
        for peer in hosts:
            if peer not in addresses:
                problems.append(
                    "host %s: no addresses given for peer %s; gather its facts or set "
                    "sglang_firewall_addresses for it" % (host, peer)
                )
                continue
            nets += _host_networks(peer, addresses[peer], problems)
        return nets

    rules = []
    if node is not None:
        group = plan["groups"][node["group"]]
        first, last = group.get("dist_init_ports") or (
            group["dist_init_port"],
            group["dist_init_port"] + DIST_INIT_PORT_WINDOW - 1,
        )
        dist, last, nccl, http = int(first), int(last), int(node["nccl_port"]), int(node["port"])
        members = group.get("hosts") or [n["host"] for n in group["nodes"]]
        rules.append(
            {
                "name": "internal",
                "label": "%s dist-init %d-%d, NCCL %d: members of %s only"
                % (node["group"], dist, last, nccl, node["group"]),
                "ports": _ranges(list(range(dist, last + 1)) + [nccl]),
                "sources": nets_of(members),
            }
        )
        role = "API" if node.get("is_head") else "liveness only"
        rules.append(
            {
                "name": "http",
                "label": "%s rank %d HTTP %d (%s): routers and operator allowlist"
                % (node["group"], node["node_rank"], http, role),
                "ports": [[http, http]],
                "sources": nets_of(routers) + operator,
            }
        )
        if not routers and not operator:
            warnings.append(
                "host %s: no router hosts and no sglang_firewall_operator_cidrs, so SGLang's HTTP "
                "port %d answers only on this host (loopback)" % (host, http)
            )
    if is_router:
        planned = (plan.get("routers") or {}).get(host) or {}
        if not planned and (router_port is None or router_metrics_port is None):
            problems.append(
                "router %s is not in the plan's routers; run playbooks/plan.yml with the same inventory "
                "(site.yml does) so the plan names its ports" % host
            )
        rport = planned.get("port") if router_port is None else _port(router_port, "router port", problems)
        mport = (
            planned.get("prometheus_port")
            if router_metrics_port is None
            else _port(router_metrics_port, "router metrics port", problems)
        )
        if rport is not None:
            rules.append(
                {
                    "name": "router",
                    "label": "router %d: client allowlist" % rport,
                    "ports": [[rport, rport]],
                    "sources": clients,
                }
            )
        if mport is not None:
            rules.append(
                {
                    "name": "router_metrics",
                    "label": "router metrics %d: operator allowlist" % mport,
                    "ports": [[mport, mport]],
                    "sources": operator,
                }
            )

    owner = {}
    for rule in rules:
        what, variables = RULE_INFO[rule["name"]]
        for lo, hi in rule["ports"]:
            for port in range(lo, hi + 1):
                if port in protected:
                    problems.append(
                        "host %s: the %s would use port %d, an SSH port (22 or ansible_port); the "
                        "firewall would drop SSH from everyone else and could lock you out. Move %s "
                        "to another port" % (host, what, port, variables)
                    )
                if port in owner and owner[port] != rule["name"]:
                    other = RULE_INFO[owner[port]][0]
                    problems.append(
                        "host %s: port %d would serve both the %s and the %s; two services cannot "
                        "share it, move %s" % (host, port, other, what, variables)
                    )
                owner.setdefault(port, rule["name"])
    if problems:
        raise FirewallError(sorted(set(problems), key=problems.index))
    for rule in rules:
        rule["ipv4"], rule["ipv6"] = _collapse(rule.pop("sources"))
    return {"host": host, "rules": rules, "warnings": warnings}


def _ports_expr(ranges):
    items = ["%d" % lo if lo == hi else "%d-%d" % (lo, hi) for lo, hi in ranges]
    return items[0] if len(items) == 1 else "{ %s }" % ", ".join(items)


def _comment(text):
    """nftables comments: no double quotes, at most 128 bytes."""
    return str(text).replace('"', "'").replace("\\", "/")[:120]


def _set_block(name, kind, elements):
    lines = ["    set %s {" % name, "        type %s" % kind, "        flags interval"]
    if elements:
        lines.append("        elements = { %s }" % ", ".join(elements))
    lines.append("    }")
    return lines


def render_ruleset(computed: Mapping[str, Any], table: str = DEFAULT_TABLE) -> Tuple[str, str]:
    """nftables text for one ``nft -f`` transaction: create-if-missing, delete, define.

    Returns ``(text, fingerprint)``; the fingerprint (of the table's definition) is
    also the table's comment, so a live table can be compared with the file.
    """
    if not _TABLE_RE.match(str(table)):
        raise FirewallError(
            [
                "sglang_firewall_table=%r is not a valid nftables table name (a letter, then "
                "letters, digits or _; at most 31 characters)" % (table,)
            ]
        )
    body, chain = [], []
    for rule in computed["rules"]:
        ports = _ports_expr(rule["ports"])
        comment = _comment(rule["label"])
        for family, kind, match in (("ipv4", "ipv4_addr", "ip saddr"), ("ipv6", "ipv6_addr", "ip6 saddr")):
            set_name = "%s_%s" % (rule["name"], "v4" if family == "ipv4" else "v6")
            body += _set_block(set_name, kind, rule[family])
            if rule[family]:
                chain.append('        tcp dport %s %s @%s accept comment "%s"' % (ports, match, set_name, comment))
        chain.append('        tcp dport %s counter drop comment "%s"' % (ports, comment))
    definition = (
        body
        + [
            "    chain input {",
            "        type filter hook input priority filter; policy accept;",
            '        iif "lo" accept',
            "        ct state established,related accept",
        ]
        + chain
        + ["    }"]
    )
    fingerprint = hashlib.sha256("\n".join(definition).encode("utf-8")).hexdigest()[:16]
    text = "\n".join(
        [
            "# One transaction (nft -f): create the table if missing, delete it, define it again.",
            "# Only table inet %s is touched; SSH and every other table stay as they are." % table,
            "table inet %s {}" % table,
            "delete table inet %s" % table,
            "table inet %s {" % table,
            '    comment "%s"' % _comment("gpufleet.sglang %s %s" % (fingerprint, computed["host"])),
        ]
        + definition
        + ["}", ""]
    )
    return text, fingerprint


def firewall(
    plan: Mapping[str, Any], host: str, addresses: Mapping[str, Any], table: str = DEFAULT_TABLE, **kwargs: Any
) -> Dict[str, Any]:
    """:func:`compute_rules` + :func:`render_ruleset`: ``{host, table, rules, warnings, text, fingerprint}``."""
    computed = compute_rules(plan, host, addresses, **kwargs)
    text, fingerprint = render_ruleset(computed, table)
    computed.update(table=table, text=text, fingerprint=fingerprint)
    return computed
