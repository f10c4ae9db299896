# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Model-group planning: inventory -> ranks, dist-init address, tp, ports, argv.

Pure Python: no Ansible objects here, so unit tests and the benchmark call it
directly. The action plugin ``gpufleet.sglang.sglang_plan`` gathers the inputs
from the inventory and calls :func:`plan_fleet`.

Inputs
    model_groups: ``{group: [host, ...]}`` in inventory order (the children
        of ``sglang_model_groups``).
    hostvars: ``{host: {var: value}}``: the ``sglang_*`` variables, plus
        ``ansible_host`` and, where facts were gathered, ``ansible_facts``.
    targets: hosts the play targets that must each be in exactly one group.

Every problem found is collected, so one run shows them all; each names the
group/host/variable and the fix. :class:`PlanError` carries that list.
"""

from __future__ import annotations

import ipaddress

from ansible_collections.gpufleet.sglang.plugins.module_utils import sglang_catalog as catalog
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_args import (
    ArgsError,
    PLANNER_FLAGS,
    build_args,
    parse_extra_args,
    render_argv,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_presets import PRESETS
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_software import software_problems

PARENT_GROUP = "sglang_model_groups"
LAUNCH_PREFIX = ("python3", "-m", "sglang.launch_server")

# Defaults of the group-level variables (also documented in the plan role's
# defaults/argument_specs). 20000 is the dist-init port SGLang's multi-node docs use.
DEFAULTS = {
    "sglang_nodes_per_group": 2,
    "sglang_gpus_per_node": 8,
    "sglang_tp_size": None,
    "sglang_dist_init_host": None,
    "sglang_dist_init_interface": None,
    "sglang_dist_init_port": 20000,
    "sglang_host": "0.0.0.0",
    "sglang_port": 30000,
    "sglang_nccl_port": 20010,
    "sglang_preset": None,
    "sglang_model_path": None,
    "sglang_served_model_name": None,
    "sglang_mem_fraction_static": None,
    "sglang_chunked_prefill_size": None,
    "sglang_max_running_requests": None,
    "sglang_context_length": None,
    "sglang_attention_backend": None,
    "sglang_attn_dp_size": None,
    "sglang_speculative": None,
    "sglang_watchdog_timeout": None,
    "sglang_dist_timeout": None,
    "sglang_kv_cache_dtype": None,
    "sglang_enable_metrics": None,
    "sglang_trust_remote_code": None,
    "sglang_args": None,
    "sglang_extra_args": None,
    "sglang_runtime": "container",
    "sglang_secrets_file": None,
    # Set by the caller (never the value): whether sglang_api_key/_admin_api_key is set.
    "sglang_has_secrets": False,
    # Read to check the SGLang build against the driver branch before any host changes;
    # the defaults are the roles' (sglang_server, nvidia_host; a unit test keeps them equal).
    "sglang_server_image": "lmsysorg/sglang:v0.5.23-cu130",
    "sglang_server_sglang_version": "0.5.23",
    "nvidia_host_driver_branch": "580",
    "gpufleet_host_stack": True,
}

# Group-level variables rendered 1:1 into a flag.
VAR_FLAGS = (
    ("sglang_model_path", "--model-path"),
    ("sglang_served_model_name", "--served-model-name"),
    ("sglang_host", "--host"),
    ("sglang_port", "--port"),
    ("sglang_nccl_port", "--nccl-port"),
    ("sglang_mem_fraction_static", "--mem-fraction-static"),
    ("sglang_chunked_prefill_size", "--chunked-prefill-size"),
    ("sglang_max_running_requests", "--max-running-requests"),
    ("sglang_context_length", "--context-length"),
    ("sglang_attention_backend", "--attention-backend"),
    ("sglang_watchdog_timeout", "--watchdog-timeout"),
    ("sglang_dist_timeout", "--dist-timeout"),
    ("sglang_kv_cache_dtype", "--kv-cache-dtype"),
    ("sglang_enable_metrics", "--enable-metrics"),
    ("sglang_trust_remote_code", "--trust-remote-code"),
)

SPECULATIVE_KEYS = (
    ("algorithm", "--speculative-algorithm"),
    ("draft_model_path", "--speculative-draft-model-path"),
    ("num_steps", "--speculative-num-steps"),
    ("eagle_topk", "--speculative-eagle-topk"),
    ("num_draft_tokens", "--speculative-num-draft-tokens"),
)

RUNTIMES = ("container", "native", "emulator")

# SGLang binds dist-init port + 1 .. + 6 for its ZMQ sockets when DP attention
# is on (PortArgs.init_new); keep the whole window free of our other ports.
DIST_INIT_PORT_WINDOW = 7
HOST_LEVEL_VARS = ("sglang_node_rank",)


class PlanError(Exception):
    def __init__(self, problems, warnings=None):
        self.problems = list(problems)
        self.warnings = list(warnings or [])
        super(PlanError, self).__init__("\n".join(self.problems))


def _is_int(value):
    if isinstance(value, bool):
        return False
    try:
        int(str(value))
    except (TypeError, ValueError):
        return False
    return True


def _port_ok(value):
    return _is_int(value) and 1 <= int(value) <= 65535


def _group_settings(group, hosts, hostvars, problems):
    """Group-level settings; every host of a group must agree on each of them."""
    settings = {}
    for var, default in DEFAULTS.items():
        seen = {}
        for host in hosts:
            hv = hostvars.get(host, {})
            if var in hv:
                seen[host] = hv[var]
        values = list(seen.values())
        if values and any(v != values[0] for v in values[1:]) or (values and len(values) != len(hosts)):
            shown = ", ".join("%s=%r" % (h, seen.get(h, default)) for h in hosts)
            problems.append("group %s: %s differs between its hosts (%s); every node of a group runs the "
                            "same command, so set it once in group_vars/%s" % (group, var, shown, group))
            settings[var] = values[0]
        else:
            settings[var] = values[0] if values else default
    return settings


def _assign_ranks(group, hosts, hostvars, nnodes, problems):
    """host -> node_rank. Explicit sglang_node_rank wins; others fill the free ranks in host order."""
    ranks = {}
    taken = {}
    for host in hosts:
        rank = hostvars.get(host, {}).get("sglang_node_rank")
        if rank is None:
            continue
        if not _is_int(rank) or not 0 <= int(rank) < nnodes:
            problems.append("group %s: host %s has sglang_node_rank=%r, outside 0..%d; set a rank in that "
                            "range or remove the variable to use the group's host order"
                            % (group, host, rank, nnodes - 1))
            continue
        rank = int(rank)
        if rank in taken:
            problems.append("group %s: hosts %s and %s both have sglang_node_rank=%d; give each node a "
                            "distinct rank" % (group, taken[rank], host, rank))
            continue
        taken[rank] = host
        ranks[host] = rank
    free = [r for r in range(nnodes) if r not in taken]
    for host in hosts:
        if host not in ranks and host not in taken.values() and hostvars.get(host, {}).get("sglang_node_rank") is None:
            if free:
                ranks[host] = free.pop(0)
    return ranks


def _interface_address(facts, interface):
    if not isinstance(facts, dict):
        return None
    key = interface.replace("-", "_").replace(".", "_").replace(":", "_")
    data = facts.get(key) or facts.get("ansible_" + key)
    if isinstance(data, dict):
        ipv4 = data.get("ipv4")
        if isinstance(ipv4, dict) and ipv4.get("address"):
            return ipv4["address"]
    return None


def _dist_init_host(group, head, settings, hostvars, nnodes, problems):
    interface = settings["sglang_dist_init_interface"]
    explicit = settings["sglang_dist_init_host"]
    hv = hostvars.get(head, {})
    if explicit:
        address = str(explicit)
    elif interface:
        facts = hv.get("ansible_facts")
        address = _interface_address(facts, str(interface))
        if not address:
            known = sorted(facts.get("interfaces", [])) if isinstance(facts, dict) else []
            why = ("its facts list interfaces %s" % ", ".join(known)) if known else "no facts were gathered for it"
            problems.append("group %s: sglang_dist_init_interface=%s, but rank 0 host %s has no IPv4 address on "
                            "it (%s); fix the interface name, or set sglang_dist_init_host to the address, or "
                            "plan inside site.yml, which gathers rank 0's facts first"
                            % (group, interface, head, why))
            return None
    else:
        address = hv.get("ansible_host", head)
    address = str(address or "").strip()
    if not address:
        problems.append("group %s: no dist-init address for rank 0 host %s; set ansible_host for it or "
                        "sglang_dist_init_host for the group" % (group, head))
        return None
    if nnodes > 1:
        loopback = address == "localhost"
        try:
            loopback = loopback or ipaddress.ip_address(address).is_loopback
        except ValueError:
            pass
        if loopback:
            problems.append("group %s: dist-init address %s of rank 0 host %s is loopback, which the other %d "
                            "node(s) cannot reach; set ansible_host or sglang_dist_init_host to an address "
                            "on the fabric/bootstrap network" % (group, address, head, nnodes - 1))
            return None
    return address


def _launch_settings(group, settings, preset):
    """Ordered (flag, value) pairs: preset < dedicated variables < sglang_args < sglang_extra_args."""
    pairs = []
    if preset:
        pairs += list(preset["args"])
        if preset.get("served_model_name") and settings["sglang_served_model_name"] is None:
            pairs.append(("--served-model-name", preset["served_model_name"]))
    for var, flag in VAR_FLAGS:
        if settings[var] is not None:
            pairs.append((flag, settings[var]))
    spec = settings["sglang_speculative"]
    if spec:
        if not isinstance(spec, dict):
            raise ArgsError(["group %s: sglang_speculative must be a mapping with keys %s"
                             % (group, ", ".join(k for k, _v in SPECULATIVE_KEYS))])
        known = dict(SPECULATIVE_KEYS)
        for key in spec:
            if key not in known:
                raise ArgsError(["group %s: sglang_speculative.%s is not a known key; use one of %s"
                                 % (group, key, ", ".join(known))])
        for key, flag in SPECULATIVE_KEYS:
            if key in spec:
                pairs.append((flag, spec[key]))
    if settings["sglang_attn_dp_size"] is not None:
        pairs.append(("--attn-dp-size", settings["sglang_attn_dp_size"]))
    extra = settings["sglang_args"]
    if extra:
        if not isinstance(extra, dict):
            raise ArgsError(["group %s: sglang_args must be a mapping of flag name to value, e.g. "
                             "{mem-fraction-static: 0.85}" % group])
        pairs += list(extra.items())
    raw = settings["sglang_extra_args"]
    if raw:
        if not isinstance(raw, list):
            raise ArgsError(["group %s: sglang_extra_args must be a list of argv tokens, e.g. "
                             "['--log-level', 'info']" % group])
        pairs += parse_extra_args(raw, "group %s" % group)
    return pairs


def _parallel_shape(args):
    def num(flag, default=1):
        value = args.get(flag)
        return int(value) if _is_int(value) else default

    pp = num("--pp-size")
    dp = num("--dp-size")
    attn_dp = num("--attn-dp-size") if "--attn-dp-size" in catalog.FLAGS else 1
    # With DP attention the DP ranks live inside the TP group; otherwise --dp-size
    # means that many full replicas of the tp x pp model inside one server.
    replicas = 1 if (attn_dp > 1 or args.get("--enable-dp-attention")) else dp
    return pp, replicas


def plan_group(group, hosts, hostvars, problems, warnings):
    settings = _group_settings(group, hosts, hostvars, problems)
    where = "group %s" % group

    preset = None
    if settings["sglang_preset"]:
        preset = PRESETS.get(settings["sglang_preset"])
        if preset is None:
            problems.append("%s: sglang_preset=%s is not a known preset; use one of %s"
                            % (where, settings["sglang_preset"], ", ".join(sorted(PRESETS))))
    shape_defaults = preset or {}
    nodes_per_group = settings["sglang_nodes_per_group"]
    gpus = settings["sglang_gpus_per_node"]
    if "sglang_nodes_per_group" not in hostvars.get(hosts[0], {}) and "nodes_per_group" in shape_defaults:
        nodes_per_group = shape_defaults["nodes_per_group"]
    if "sglang_gpus_per_node" not in hostvars.get(hosts[0], {}) and "gpus_per_node" in shape_defaults:
        gpus = shape_defaults["gpus_per_node"]
    ok = True
    if not _is_int(nodes_per_group) or int(nodes_per_group) < 1:
        problems.append("%s: sglang_nodes_per_group=%r must be a positive integer" % (where, nodes_per_group))
        ok = False
    if not _is_int(gpus) or not 1 <= int(gpus) <= 64:
        problems.append("%s: sglang_gpus_per_node=%r must be an integer between 1 and 64" % (where, gpus))
        ok = False
    if not ok:
        return None
    nnodes, gpus = int(nodes_per_group), int(gpus)
    if len(hosts) != nnodes:
        problems.append("%s: has %d host(s) (%s) but sglang_nodes_per_group is %d; add or remove hosts, or set "
                        "sglang_nodes_per_group: %d for the group"
                        % (where, len(hosts), ", ".join(hosts), nnodes, len(hosts)))
        return None
    if settings["sglang_runtime"] not in RUNTIMES:
        problems.append("%s: sglang_runtime=%r is not one of %s" % (where, settings["sglang_runtime"], ", ".join(RUNTIMES)))
    problems.extend(software_problems(
        group, settings["sglang_runtime"], image=settings["sglang_server_image"],
        sglang_version=settings["sglang_server_sglang_version"], branch=settings["nvidia_host_driver_branch"],
        host_stack=settings["gpufleet_host_stack"] not in (False, "false", "False", "no", 0)))

    ranks = _assign_ranks(group, hosts, hostvars, nnodes, problems)
    if len(ranks) != nnodes:
        return None
    by_rank = sorted(hosts, key=lambda h: ranks[h])
    head = by_rank[0]

    for var in ("sglang_dist_init_port", "sglang_port", "sglang_nccl_port"):
        if not _port_ok(settings[var]):
            problems.append("%s: %s=%r is not a TCP port (1-65535)" % (where, var, settings[var]))
            return None
    dist_port = int(settings["sglang_dist_init_port"])
    http_port = int(settings["sglang_port"])
    nccl_port = int(settings["sglang_nccl_port"])
    window = range(dist_port, dist_port + DIST_INIT_PORT_WINDOW)
    for var, port in (("sglang_port", http_port), ("sglang_nccl_port", nccl_port)):
        if port in window:
            problems.append("%s: %s=%d collides with the dist-init port window %d-%d (SGLang binds dist-init "
                            "port + 1..+6 for its own sockets); move one of them"
                            % (where, var, port, window[0], window[-1]))
    if http_port == nccl_port:
        problems.append("%s: sglang_port and sglang_nccl_port are both %d; give each its own port" % (where, http_port))

    address = _dist_init_host(group, head, settings, hostvars, nnodes, problems)
    if not settings["sglang_model_path"]:
        problems.append("%s: sglang_model_path is not set; set it to the weights directory on the hosts, "
                        "e.g. /models/DeepSeek-R1" % where)

    try:
        pairs = _launch_settings(group, settings, preset)
        args = build_args(pairs, where, warnings)
    except ArgsError as exc:
        problems.extend(exc.problems)
        return None
    for flag in PLANNER_FLAGS:
        if flag in args:
            problems.append("%s: %s is set by the planner from the inventory; remove it from sglang_args/"
                            "sglang_extra_args (use sglang_tp_size, sglang_nodes_per_group, sglang_node_rank, "
                            "sglang_dist_init_host/_port)" % (where, flag))
            return None

    tp = settings["sglang_tp_size"]
    if tp is None:
        tp = shape_defaults.get("tp_size")
    pp, replicas = _parallel_shape(args)
    world = nnodes * gpus
    if tp is None:
        tp = world // (pp * replicas) if world % (pp * replicas) == 0 else None
    if tp is None or not _is_int(tp) or int(tp) < 1:
        problems.append("%s: cannot derive a tp size: %d nodes x %d GPUs is not divisible by pp %d x dp %d; "
                        "set sglang_tp_size" % (where, nnodes, gpus, pp, replicas))
        return None
    tp = int(tp)
    if tp * pp * replicas != world:
        problems.append("%s: tp %d x pp %d x dp %d = %d GPUs, but the group has %d node(s) x %d GPUs = %d; set "
                        "sglang_tp_size: %d (or remove it: it defaults to nodes x GPUs per node)"
                        % (where, tp, pp, replicas, tp * pp * replicas, nnodes, gpus, world, world // (pp * replicas)))
        return None
    if tp % gpus and gpus % tp:
        problems.append("%s: tp %d does not fit nodes of %d GPUs (a tensor-parallel group must fill whole nodes "
                        "or divide one evenly); pick a tp that divides %d or is a multiple of it"
                        % (where, tp, gpus, gpus))
        return None
    if problems and address is None:
        return None

    # A single-node group has no rendezvous: no --dist-init-addr, none in the plan.
    dist_init_addr = "%s:%d" % (address, dist_port) if address and nnodes > 1 else None
    secrets_file = settings["sglang_secrets_file"]
    if not secrets_file and settings["sglang_has_secrets"]:
        secrets_file = "/etc/sglang/%s.secrets.yaml" % group
    if secrets_file:
        args["--config"] = secrets_file
    bind = str(args.get("--host") or "127.0.0.1")
    local_host = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else ("[%s]" % bind if ":" in bind else bind)
    nodes = []
    for host in by_rank:
        node_args = dict(args)
        node_args.update({"--tp-size": tp, "--nnodes": nnodes, "--node-rank": ranks[host]})
        if dist_init_addr:
            node_args["--dist-init-addr"] = dist_init_addr
        try:
            launch_args = render_argv(node_args, where)
        except ArgsError as exc:
            problems.extend(exc.problems)
            return None
        nodes.append({
            "group": group,
            "host": host,
            "address": str(hostvars.get(host, {}).get("ansible_host") or host),
            "node_rank": ranks[host],
            "is_head": ranks[host] == 0,
            "nnodes": nnodes,
            "tp_size": tp,
            "gpus_per_node": gpus,
            "dist_init_addr": dist_init_addr,
            "port": http_port,
            "nccl_port": nccl_port,
            "runtime": settings["sglang_runtime"],
            "unit": "sglang-%s" % group,
            # How the node reaches its own HTTP server (health probes run on the node).
            "local_url": "http://%s:%d" % (local_host, http_port),
            "launch_args": launch_args,
            "argv": list(LAUNCH_PREFIX) + launch_args,
        })
    served = args.get("--served-model-name") or args.get("--model-path")
    head_address = nodes[0]["address"]
    return {
        "head": head,
        "nnodes": nnodes,
        "tp_size": tp,
        "dist_init_addr": dist_init_addr,
        "dist_init_port": dist_port,
        "port": http_port,
        "nccl_port": nccl_port,
        "preset": settings["sglang_preset"],
        "runtime": settings["sglang_runtime"],
        "served_model_name": served,
        "url": "http://%s:%d" % (head_address, http_port),
        "nodes": nodes,
    }


def _check_collisions(plan, problems):
    # Two groups using one dist-init address:port would join each other's rendezvous.
    seen = {}
    for group, data in plan.items():
        addr = data["dist_init_addr"]
        if addr and data["nnodes"] > 1:
            if addr in seen:
                problems.append("groups %s and %s both use dist-init address %s; give each group its own "
                                "rank 0 address or sglang_dist_init_port" % (seen[addr], group, addr))
            seen.setdefault(addr, group)


def plan_fleet(model_groups, hostvars, targets=None):
    """Plan every model group. Returns ``{"groups", "hosts", "warnings", "sglang_version"}``.

    Raises :class:`PlanError` listing every problem found.
    """
    problems = []
    warnings = []
    if not model_groups:
        raise PlanError(["no model groups: the inventory has no child groups under %s; add one per model "
                         "group, e.g. %s: {children: {r1_a: {hosts: {gpu-a1: , gpu-a2: }}}}"
                         % (PARENT_GROUP, PARENT_GROUP)])
    member_of = {}
    for group, hosts in model_groups.items():
        for host in hosts:
            if host in member_of and member_of[host] != group:
                problems.append("host %s is in two model groups, %s and %s; a host serves one model group, "
                                "remove it from one" % (host, member_of[host], group))
            member_of.setdefault(host, group)
    for host in targets or []:
        if host not in member_of:
            problems.append("host %s is targeted by the play but is in no model group; add it to a child group "
                            "of %s, or leave it out of the play (--limit)" % (host, PARENT_GROUP))
    plan = {}
    duplicated = set(h for h in member_of if sum(h in hs for hs in model_groups.values()) > 1)
    for group, hosts in model_groups.items():
        if not hosts:
            # An empty group serves nothing and breaks nothing (e.g. hosts commented out).
            warnings.append("group %s has no hosts; it is not planned" % group)
            continue
        if duplicated.intersection(hosts):
            continue
        data = plan_group(group, list(hosts), hostvars, problems, warnings)
        if data is not None:
            plan[group] = data
    _check_collisions(plan, problems)
    if problems:
        raise PlanError(problems, warnings)
    hosts = {}
    for data in plan.values():
        for node in data["nodes"]:
            hosts[node["host"]] = node
    return {"sglang_version": catalog.SGLANG_VERSION, "groups": plan, "hosts": hosts, "warnings": warnings}


def format_table(plan):
    """A readable table: one row per node, then each node's argv."""
    rows = [("GROUP", "HOST", "RANK", "DIST-INIT", "TP", "NNODES", "PORT", "RUNTIME")]
    for group in sorted(plan["groups"]):
        for node in plan["groups"][group]["nodes"]:
            rows.append((group, node["host"], str(node["node_rank"]), node["dist_init_addr"] or "-",
                         str(node["tp_size"]), str(node["nnodes"]), str(node["port"]), node["runtime"]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.append("")
    for group in sorted(plan["groups"]):
        for node in plan["groups"][group]["nodes"]:
            lines.append("%s/%s: %s" % (group, node["host"], " ".join(node["argv"])))
    for warning in plan.get("warnings", []):
        lines.append("WARNING: %s" % warning)
    return "\n".join(lines)
