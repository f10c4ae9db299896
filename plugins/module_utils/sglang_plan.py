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
import math
import posixpath
import re
import socket
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.gpufleet.sglang.plugins.module_utils import sglang_catalog as catalog
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_args import (
    PLANNER_FLAGS,
    SECRET_FLAGS,
    ArgsError,
    build_args,
    parse_extra_args,
    render_argv,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_presets import PRESETS
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_software import software_problems

PARENT_GROUP = "sglang_model_groups"
# The plan is the contract between the planner and every later stage (documented key
# by key in plugins/modules/sglang_plan.py's RETURN, checked by
# tests/unit/plugins/action/test_plan_contract.py). Bump it when a key changes meaning
# or goes away; adding a key does not.
PLAN_VERSION = 1
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
    # Set by the caller (never the values): {secret variable: which distinct value this
    # host has, 0, 1, ...}, so a group whose hosts disagree is refused without a value shown.
    "sglang_secret_vars": None,
    # The container runtime mounts this host directory read-only at the same path
    # (sglang_server role default; a unit test keeps them equal): the model must be inside.
    "sglang_server_model_mount": "/models",
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
HOST_LEVEL_VARS = ("sglang_node_rank", "ansible_port")

# Ports SGLang must never take: SSH (plus each member's ansible_port).
PROTECTED_PORTS = {22: "SSH"}

# Flags the plan sets from a dedicated variable: given in sglang_args/sglang_extra_args
# they would move the engine but not the plan (firewall, router URLs, port checks, ranks).
OWNED_FLAGS = {
    "--port": "sglang_port",
    "--host": "sglang_host",
    "--nccl-port": "sglang_nccl_port",
    "--config": "sglang_secrets_file (the planner passes --config itself; secrets go in sglang_api_key etc.)",
    "--model-path": "sglang_model_path",
    "--tp-size": "sglang_tp_size",
    "--nnodes": "sglang_nodes_per_group",
    "--node-rank": "sglang_node_rank",
    "--dist-init-addr": "sglang_dist_init_host and sglang_dist_init_port",
}

# The router role's defaults (roles/sglang_router/defaults/main.yml; a unit test keeps
# them equal): a router on a member host must not take the group's ports.
ROUTER_DEFAULTS = {
    "sglang_router_host": "0.0.0.0",
    "sglang_router_port": 30000,
    "sglang_router_prometheus_port": 29000,
}

# Group and host names become unit names (sglang-<group>.service), container names and
# file names (/etc/sglang/<group>.secrets.yaml). systemd.unit(5): a unit name is ASCII
# letters, digits, ":", "-", "_", ".", "\\" (escapes) and at most 255 characters; Docker
# container names match [a-zA-Z0-9][a-zA-Z0-9_.-]+ (moby daemon/names/names.go). Group
# names must satisfy both; host names (which also stand in as addresses) the unit rule.
GROUP_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
HOST_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
GROUP_NAME_MAX = 255 - len("sglang-") - len(".service")
HOST_NAME_MAX = 253
# RFC 1123 host names (one label: letters, digits, '-', not at either end; '_' too, as
# /etc/hosts and glibc accept it).
_LABEL_RE = re.compile(r"^(?!-)[A-Za-z0-9_-]{1,63}(?<!-)$")
# The loopback names glibc's /etc/hosts and systemd-resolved answer with ::1/127.0.0.1;
# RFC 6761 section 6.3: every name under .localhost is loopback.
_LOOPBACK_NAMES = (
    "localhost",
    "localhost.localdomain",
    "localhost6",
    "localhost6.localdomain6",
    "ip6-localhost",
    "ip6-loopback",
)


class PlanError(Exception):
    def __init__(self, problems, warnings=None):
        self.problems = list(problems)
        self.warnings = list(warnings or [])
        super(PlanError, self).__init__("\n".join(self.problems))


def _is_int(value):
    """An integer, or a string of one; never a bool, float, NaN or anything else."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return False
    try:
        int(str(value).strip())
    except (TypeError, ValueError):
        return False
    return True


def _shown(value, limit=60):
    """A user value safe and short enough for a message (repr, cut at ``limit``)."""
    if isinstance(value, str) and re.match(r"^[A-Za-z0-9_.:/@+-]+$", value):
        text = value
    elif isinstance(value, (str, int, float, bool, type(None))):
        text = repr(value)
    else:
        text = "a %s" % type(value).__name__
    return text if len(text) <= limit else text[:limit] + "..."


def name_problem(kind: str, name: Any) -> str:
    """Why a group/host name cannot become a unit, container or file name ('' when it can)."""
    rule = GROUP_NAME_RE if kind == "group" else HOST_NAME_RE
    limit = GROUP_NAME_MAX if kind == "group" else HOST_NAME_MAX
    chars = "ASCII letters, digits, '_', '.', '-'" + ("" if kind == "group" else ", ':'")
    if not isinstance(name, str) or not rule.match(name) or ".." in name or len(name) > limit:
        return (
            "%s name %s cannot name a systemd unit%s: use %s only, starting with a letter or digit, without "
            "'..', at most %d characters (e.g. %s)"
            % (
                kind,
                _shown(name),
                ", a container and a file" if kind == "group" else "",
                chars,
                limit,
                "r1_a" if kind == "group" else "gpu-a1",
            )
        )
    return ""


def _strip_brackets(text):
    return text[1:-1] if text.startswith("[") and text.endswith("]") else text


def check_address(value: Any, variable: str, reachable: bool = True) -> Tuple[Optional[str], str]:
    """Validate a host address the plan renders (dist-init host, node address).

    Returns ``(address, problem)``: ``address`` is an IP literal in its compressed form or
    a host name (lower case), ``problem`` '' when fine. ``reachable``: the other nodes must
    reach it, so unspecified, loopback (in any spelling), multicast and link-local
    addresses are refused.
    """
    if not isinstance(value, str):
        return None, "%s=%s is not an address; set an IP address or host name" % (variable, _shown(value))
    text = value.strip()
    if not text or text != value or re.search(r"\s", text) or re.search(r"[\x00-\x1f\x7f]", text):
        return None, (
            "%s=%s has whitespace or control characters; set a bare IP address or host name" % (variable, _shown(value))
        )
    bare = _strip_brackets(text)
    try:
        ip = ipaddress.ip_address(bare)
    except ValueError:
        ip = None
    if ip is None:
        if bare.startswith("[") or "]" in bare or bare.count(":") > 1 or "%" in bare:
            return None, (
                "%s=%s is not an IP address (IPv6: write the address alone, e.g. fd00::1, without a "
                "zone or port)" % (variable, _shown(value))
            )
        if ":" in bare:
            return None, (
                "%s=%s looks like host:port; give the host alone (ports have their own variables: "
                "sglang_dist_init_port, sglang_port)" % (variable, _shown(value))
            )
        try:
            # inet_aton accepts shorthand such as 127.1, 0x7f000001 or 2130706433 (it resolves
            # them to 127.0.0.1 without DNS); ipaddress does not: ambiguous, refuse.
            socket.inet_aton(bare)
            return None, (
                "%s=%s is a shorthand IPv4 spelling that resolvers read differently; write the "
                "dotted quad (e.g. 10.0.0.1)" % (variable, _shown(value))
            )
        except (OSError, ValueError):
            pass
        name = bare.rstrip(".").lower() if bare != "." else ""
        labels = name.split(".")
        if not name or len(name) > 253 or not all(_LABEL_RE.match(label) for label in labels) or labels[-1].isdigit():
            return None, (
                "%s=%s is neither an IP address nor a host name (RFC 1123: letters, digits, '-' and "
                "dots)" % (variable, _shown(value))
            )
        if reachable and (name in _LOOPBACK_NAMES or name.endswith(".localhost")):
            return None, (
                "%s=%s is a loopback name, which other nodes cannot reach; use the host's address on "
                "the fabric/bootstrap network" % (variable, _shown(value))
            )
        return bare, ""
    if ip.version == 6 and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if reachable:
        for test, what in (
            (ip.is_unspecified, "unspecified (any address)"),
            (ip.is_loopback, "loopback"),
            (ip.is_multicast, "multicast"),
            (ip == ipaddress.ip_address("255.255.255.255"), "broadcast"),
            (ip.version == 6 and ip.is_link_local, "IPv6 link-local (it needs a zone)"),
        ):
            if test:
                return None, (
                    "%s=%s is %s, which other nodes cannot connect to; use the host's unicast address "
                    "on the fabric/bootstrap network" % (variable, _shown(value), what)
                )
    return ip.compressed, ""


def host_port(address: str, port: int) -> str:
    """``host:port`` as SGLang parses it: IPv6 in brackets (sglang/srt/utils/network.py,
    NetworkAddress.parse: a bare ``fd00::1:20000`` is refused as ambiguous)."""
    return ("[%s]:%d" if ":" in address else "%s:%d") % (address, port)


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
            problems.extend(_differs(group, var, hosts, seen, default))
            settings[var] = values[0]
        else:
            settings[var] = values[0] if values else default
    return settings


# Group variables whose values are never quoted in a message: they may carry a secret
# (a --api-key smuggled into free-form args) or are long structures.
_UNQUOTED_VARS = ("sglang_args", "sglang_extra_args", "sglang_speculative", "sglang_secret_vars", "sglang_has_secrets")


def _secret_class(index):
    if index is None or index is False:
        return "unset"
    if index is True:
        return "set"
    return "value %d" % (int(index) + 1) if _is_int(index) else "set"


def _differs(group, var, hosts, seen, default):
    fix = "every node of a group runs the same command, so set it once in group_vars/%s" % group
    if var in ("sglang_secret_vars", "sglang_has_secrets"):
        # Which secret differs, and on which hosts; never a value (the caller passes only
        # "which distinct value" indices).
        out = []
        names = set()

        def of(host):
            value = seen.get(host)
            return value if isinstance(value, dict) else {}

        for host in hosts:
            names.update(of(host) if var == "sglang_secret_vars" else ())
        for name in sorted(str(n) for n in names) or ["sglang_api_key / sglang_admin_api_key"]:
            classes = {}
            for host in hosts:
                value = of(host).get(name) if var == "sglang_secret_vars" else seen.get(host)
                if not isinstance(value, (int, str, type(None))):
                    value = True  # not an index the caller gives: "set"
                classes.setdefault(value, []).append(host)
            if len(classes) > 1:
                parts = [
                    "%s on %s" % (_secret_class(k), ", ".join(hs))
                    for k, hs in sorted(classes.items(), key=lambda kv: str(kv[0]))
                ]
                out.append(
                    "group %s: %s differs between its hosts (%s; values not shown); every node of a "
                    "group serves the same API, so set it once in group_vars/%s (from vault)"
                    % (group, name, "; ".join(parts), group)
                )
        return out
    if var in _UNQUOTED_VARS:
        classes = []
        for host in hosts:
            value = seen.get(host, default)
            for known in classes:
                if known[0] == value:
                    known[1].append(host)
                    break
            else:
                classes.append((value, [host]))
        shown = "; ".join("%s: %s" % ("variant %d" % (i + 1), ", ".join(hs)) for i, (_v, hs) in enumerate(classes))
        return [
            "group %s: %s differs between its hosts (%s; values not shown, they may hold secrets); %s"
            % (group, var, shown, fix)
        ]
    shown = ", ".join("%s=%s" % (h, _shown(seen.get(h, default))) for h in hosts)
    return ["group %s: %s differs between its hosts (%s); %s" % (group, var, shown, fix)]


def _assign_ranks(group, hosts, hostvars, nnodes, problems):
    """host -> node_rank. Explicit sglang_node_rank wins; others fill the free ranks in host order."""
    ranks = {}
    taken = {}
    for host in hosts:
        rank = hostvars.get(host, {}).get("sglang_node_rank")
        if rank is None:
            continue
        if not _is_int(rank):
            problems.append(
                "group %s: host %s has sglang_node_rank=%s, which is not an integer; set a whole "
                "number 0..%d (e.g. sglang_node_rank: 1), or remove it to use the group's host order"
                % (group, host, _shown(rank), nnodes - 1)
            )
            continue
        if not 0 <= int(rank) < nnodes:
            problems.append(
                "group %s: host %s has sglang_node_rank=%r, outside 0..%d; set a rank in that "
                "range or remove the variable to use the group's host order" % (group, host, rank, nnodes - 1)
            )
            continue
        rank = int(rank)
        if rank in taken:
            problems.append(
                "group %s: hosts %s and %s both have sglang_node_rank=%d; give each node a "
                "distinct rank" % (group, taken[rank], host, rank)
            )
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
    if explicit not in (None, ""):
        address, variable = explicit, "sglang_dist_init_host"
    elif interface:
        facts = hv.get("ansible_facts")
        address = _interface_address(facts, str(interface))
        variable = "the address on sglang_dist_init_interface=%s of rank 0 host %s" % (_shown(interface), head)
        if not address:
            known = (
                sorted(str(i) for i in facts.get("interfaces", []) or [])
                if isinstance(facts, dict) and isinstance(facts.get("interfaces", []), list)
                else []
            )
            why = ("its facts list interfaces %s" % ", ".join(known)) if known else "no facts were gathered for it"
            problems.append(
                "group %s: sglang_dist_init_interface=%s, but rank 0 host %s has no IPv4 address on "
                "it (%s); fix the interface name, or set sglang_dist_init_host to the address, or "
                "plan inside site.yml, which gathers rank 0's facts first" % (group, _shown(interface), head, why)
            )
            return None
    else:
        address = hv.get("ansible_host", head)
        variable = (
            "ansible_host of rank 0 host %s" % head
            if "ansible_host" in hv
            else "the inventory name of rank 0 host %s (it has no ansible_host)" % head
        )
    if address in (None, ""):
        problems.append(
            "group %s: no dist-init address for rank 0 host %s; set ansible_host for it or "
            "sglang_dist_init_host for the group" % (group, head)
        )
        return None
    # A single-node group renders no --dist-init-addr: only the syntax matters there.
    address, problem = check_address(address, variable, reachable=nnodes > 1)
    if problem:
        problems.append(
            "group %s: %s; the other %d node(s) rendezvous at rank 0's address: set "
            "sglang_dist_init_host (or ansible_host of %s) to its address on the fabric/bootstrap "
            "network" % (group, problem, max(nnodes - 1, 0), head)
        )
        return None
    return address


def _launch_settings(group, settings, preset):
    """Ordered (flag, value, source) entries: preset < dedicated variables < sglang_args < sglang_extra_args.

    ``source`` is None for what the collection sets (preset, dedicated variables) and the
    variable's name for free-form user args, which may not set what the plan owns.
    """
    pairs = []
    if preset:
        pairs += [(flag, value, None) for flag, value in preset["args"]]
        if preset.get("served_model_name") and settings["sglang_served_model_name"] is None:
            pairs.append(("--served-model-name", preset["served_model_name"], None))
    for var, flag in VAR_FLAGS:
        if settings[var] is not None:
            pairs.append((flag, settings[var], None))
    spec = settings["sglang_speculative"]
    if spec:
        if not isinstance(spec, dict):
            raise ArgsError(
                [
                    "group %s: sglang_speculative must be a mapping with keys %s"
                    % (group, ", ".join(k for k, _v in SPECULATIVE_KEYS))
                ]
            )
        known = dict(SPECULATIVE_KEYS)
        for key in spec:
            if key not in known:
                raise ArgsError(
                    [
                        "group %s: sglang_speculative.%s is not a known key; use one of %s"
                        % (group, _shown(key), ", ".join(known))
                    ]
                )
        for key, flag in SPECULATIVE_KEYS:
            if key in spec:
                pairs.append((flag, spec[key], "sglang_speculative.%s" % key))
    if settings["sglang_attn_dp_size"] is not None:
        pairs.append(("--attn-dp-size", settings["sglang_attn_dp_size"], None))
    extra = settings["sglang_args"]
    if extra:
        if not isinstance(extra, dict):
            raise ArgsError(
                [
                    "group %s: sglang_args must be a mapping of flag name to value, e.g. "
                    "{mem-fraction-static: 0.85}" % group
                ]
            )
        pairs += [(flag, value, "sglang_args") for flag, value in extra.items()]
    raw = settings["sglang_extra_args"]
    if raw:
        if not isinstance(raw, list):
            raise ArgsError(
                ["group %s: sglang_extra_args must be a list of argv tokens, e.g. ['--log-level', 'info']" % group]
            )
        pairs += [(flag, value, "sglang_extra_args") for flag, value in parse_extra_args(raw, "group %s" % group)]
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


def _positive_int(value):
    return _is_int(value) and int(value) >= 1


def _model_path_problem(where, path, runtime, mount):
    if not isinstance(path, str):
        return "%s: sglang_model_path=%s must be a path string, e.g. /models/DeepSeek-R1" % (where, _shown(path))
    if re.search(r"[\x00-\x1f\x7f]", path) or path != path.strip():
        return "%s: sglang_model_path=%s has control characters or surrounding whitespace; fix the path" % (
            where,
            _shown(path),
        )
    if not path.startswith("/"):
        return (
            "%s: sglang_model_path=%s is not an absolute path; set the weights directory on the hosts, e.g. "
            "%s/DeepSeek-R1" % (where, _shown(path), mount if isinstance(mount, str) else "/models")
        )
    normal = posixpath.normpath(path)
    if normal != path.rstrip("/") or normal.startswith("//"):
        return "%s: sglang_model_path=%s is not a normalised path ('..', '.', or '//' in it); write it as %s" % (
            where,
            _shown(path),
            normal,
        )
    if runtime == "container":
        if not isinstance(mount, str) or not mount.startswith("/") or posixpath.normpath(mount) != mount.rstrip("/"):
            return "%s: sglang_server_model_mount=%s must be an absolute, normalised host directory" % (
                where,
                _shown(mount),
            )
        mount = mount.rstrip("/") or "/"
        if mount != "/" and normal != mount and not normal.startswith(mount + "/"):
            return (
                "%s: sglang_model_path=%s is outside sglang_server_model_mount=%s, the only host directory "
                "the container sees; put the weights under %s/ or set sglang_server_model_mount"
                % (where, _shown(path), mount, mount)
            )
    return ""


def _secrets_file_problem(where, path):
    """The secrets file travels as ``docker -v SRC:DST:ro`` (``:`` and ``,`` split it) and SGLang reads it
    only as YAML (sglang/srt/utils/server_args_config_parser.py, _validate_yaml_file: suffix .yaml/.yml)."""
    if (
        not isinstance(path, str)
        or not re.match(r"^/[A-Za-z0-9_./@+-]*$", path)
        or posixpath.normpath(path) != path
        or not re.search(r"\.ya?ml$", path)
    ):
        return (
            "%s: sglang_secrets_file=%s must be an absolute, normalised path of letters, digits and _ . / @ + - "
            "(no ':', ',' or spaces: docker -v splits on them) ending in .yaml or .yml (SGLang reads "
            "--config only as YAML), e.g. /etc/sglang/<group>.secrets.yaml" % (where, _shown(path))
        )
    return ""


def _shape(where, settings, hostvars, hosts, shape_defaults, problems):
    nodes_per_group = settings["sglang_nodes_per_group"]
    gpus = settings["sglang_gpus_per_node"]
    if "sglang_nodes_per_group" not in hostvars.get(hosts[0], {}) and "nodes_per_group" in shape_defaults:
        nodes_per_group = shape_defaults["nodes_per_group"]
    if "sglang_gpus_per_node" not in hostvars.get(hosts[0], {}) and "gpus_per_node" in shape_defaults:
        gpus = shape_defaults["gpus_per_node"]
    ok = True
    if not _positive_int(nodes_per_group):
        problems.append(
            "%s: sglang_nodes_per_group=%s must be a positive integer (the number of hosts in the "
            "group, e.g. 2)" % (where, _shown(nodes_per_group))
        )
        ok = False
    if not _is_int(gpus) or not 1 <= int(gpus) <= 64:
        problems.append(
            "%s: sglang_gpus_per_node=%s must be an integer between 1 and 64 (e.g. 8)" % (where, _shown(gpus))
        )
        ok = False
    return (int(nodes_per_group), int(gpus)) if ok else (None, None)


def _ports(where, settings, hosts, hostvars, problems):
    for var in ("sglang_dist_init_port", "sglang_port", "sglang_nccl_port"):
        if not _port_ok(settings[var]):
            problems.append("%s: %s=%s is not a TCP port (an integer 1-65535)" % (where, var, _shown(settings[var])))
            return None
    dist_port = int(settings["sglang_dist_init_port"])
    http_port = int(settings["sglang_port"])
    nccl_port = int(settings["sglang_nccl_port"])
    last = dist_port + DIST_INIT_PORT_WINDOW - 1
    if last > 65535:
        problems.append(
            "%s: sglang_dist_init_port=%d leaves no room for the dist-init window %d-%d (SGLang binds "
            "dist-init port + 1..+6 for its own sockets); set it to %d or lower"
            % (where, dist_port, dist_port, last, 65535 - DIST_INIT_PORT_WINDOW + 1)
        )
        return None
    window = range(dist_port, last + 1)
    for var, port in (("sglang_port", http_port), ("sglang_nccl_port", nccl_port)):
        if port in window:
            problems.append(
                "%s: %s=%d collides with the dist-init port window %d-%d (SGLang binds dist-init "
                "port + 1..+6 for its own sockets); move one of them" % (where, var, port, window[0], window[-1])
            )
    if http_port == nccl_port:
        problems.append("%s: sglang_port and sglang_nccl_port are both %d; give each its own port" % (where, http_port))
    protected = dict(PROTECTED_PORTS)
    for host in hosts:
        ssh = hostvars.get(host, {}).get("ansible_port")
        if _port_ok(ssh):
            protected.setdefault(int(ssh), "SSH (ansible_port of %s)" % host)
    for var, ports in (
        ("sglang_port", [http_port]),
        ("sglang_nccl_port", [nccl_port]),
        ("sglang_dist_init_port", list(window)),
    ):
        for port in ports:
            if port in protected:
                problems.append(
                    "%s: %s=%d takes port %d, which is %s; SGLang would fail to bind it or the "
                    "firewall would cut SSH: choose another port" % (where, var, ports[0], port, protected[port])
                )
                break
    return dist_port, http_port, nccl_port


def _values_problems(where, args, origins, tp):
    """Ranges SGLang checks only on the host, after the units were written."""
    problems = []

    def name(flag, var):
        origin = origins.get(flag)
        return "%s in %s" % (flag.lstrip("-"), origin) if origin else var

    if "--mem-fraction-static" in args and args["--mem-fraction-static"] is not None:
        value = args["--mem-fraction-static"]
        try:
            number = float(str(value)) if not isinstance(value, bool) else float("nan")
        except ValueError:
            number = None  # reported by the renderer with the flag's type
        if number is not None and not (math.isfinite(number) and 0 < number < 1):
            problems.append(
                "%s: %s=%s must be a fraction of GPU memory strictly between 0 and 1 (e.g. 0.85)"
                % (where, name("--mem-fraction-static", "sglang_mem_fraction_static"), _shown(value))
            )
    attn = args.get("--attn-dp-size")
    if attn is not None:
        label = name("--attn-dp-size", "sglang_attn_dp_size")
        if not _positive_int(attn):
            # sglang/srt/arg_groups/parallel_hook.py: "--attn-dp-size must be positive".
            problems.append(
                "%s: %s=%s must be a positive integer that divides tp %d" % (where, label, _shown(attn), tp)
            )
        elif tp % int(attn):
            # parallel_hook.py asserts tp_size % attn_dp_size == 0 at start-up.
            divisors = [d for d in range(1, tp + 1) if tp % d == 0]
            problems.append(
                "%s: %s=%s does not divide tp %d (SGLang requires tp_size %% attn_dp_size == 0); use one "
                "of %s" % (where, label, attn, tp, ", ".join(str(d) for d in divisors))
            )
        elif int(attn) > 1 and _is_int(args.get("--dp-size")) and int(args["--dp-size"]) > 1:
            # parallel_hook.py: data-parallel replicas combined with attention DP is refused.
            problems.append(
                "%s: --dp-size %s with %s=%s: SGLang refuses data-parallel replicas combined with "
                "attention data parallelism; drop --dp-size" % (where, args["--dp-size"], label, attn)
            )
    return problems


def _bind_host(where, value, problems):
    """sglang_host: an address to bind (0.0.0.0 and :: allowed) -> its text, or None."""
    address, problem = check_address(value, "sglang_host", reachable=False)
    if problem:
        problems.append(
            "%s: %s; set the address SGLang binds (0.0.0.0, ::, or one of the host's own)" % (where, problem)
        )
        return None
    try:
        multicast = ipaddress.ip_address(address).is_multicast
    except ValueError:
        multicast = False
    if multicast:
        problems.append(
            "%s: sglang_host=%s is a multicast address; bind 0.0.0.0, :: or one of the host's own "
            "addresses" % (where, address)
        )
        return None
    return address


def _is_loopback(address):
    if address in _LOOPBACK_NAMES or str(address).endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return (getattr(ip, "ipv4_mapped", None) or ip).is_loopback


def plan_group(
    group: str,
    hosts: List[str],
    hostvars: Mapping[str, Any],
    problems: List[str],
    warnings: List[str],
    routers: Optional[Mapping[str, Any]] = None,
) -> Optional[Dict[str, Any]]:
    where = "group %s" % group
    settings = _group_settings(group, hosts, hostvars, problems)

    preset = None
    name = settings["sglang_preset"]
    if name:
        preset = PRESETS.get(name) if isinstance(name, str) else None
        if preset is None:
            problems.append(
                "%s: sglang_preset=%s is not a known preset; use one of %s"
                % (where, _shown(name), ", ".join(sorted(PRESETS)))
            )
    shape_defaults = preset or {}
    nnodes, gpus = _shape(where, settings, hostvars, hosts, shape_defaults, problems)
    if nnodes is None:
        return None
    if len(hosts) != nnodes:
        problems.append(
            "%s: has %d host(s) (%s) but sglang_nodes_per_group is %d; add or remove hosts, or set "
            "sglang_nodes_per_group: %d for the group" % (where, len(hosts), ", ".join(hosts), nnodes, len(hosts))
        )
        return None
    runtime = settings["sglang_runtime"]
    if not isinstance(runtime, str) or runtime not in RUNTIMES:
        problems.append("%s: sglang_runtime=%s is not one of %s" % (where, _shown(runtime), ", ".join(RUNTIMES)))
        return None
    problems.extend(
        software_problems(
            group,
            runtime,
            image=settings["sglang_server_image"],
            sglang_version=settings["sglang_server_sglang_version"],
            branch=settings["nvidia_host_driver_branch"],
            host_stack=settings["gpufleet_host_stack"] not in (False, "false", "False", "no", 0),
        )
    )

    ranks = _assign_ranks(group, hosts, hostvars, nnodes, problems)
    if len(ranks) != nnodes:
        return None
    by_rank = sorted(hosts, key=lambda h: ranks[h])
    head = by_rank[0]

    ports = _ports(where, settings, hosts, hostvars, problems)
    if ports is None:
        return None
    dist_port, http_port, nccl_port = ports

    address = _dist_init_host(group, head, settings, hostvars, nnodes, problems)
    node_addresses = {}
    for host in by_rank:
        hv = hostvars.get(host, {})
        given = hv.get("ansible_host", host)
        variable = ("ansible_host of %s" % host) if "ansible_host" in hv else "host name %s" % host
        node_address, problem = check_address(given, variable, reachable=nnodes > 1 or bool(routers))
        if problem and not any(problem in p for p in problems):
            problems.append(
                "%s: %s; health probes, the router and the firewall reach the node there: set "
                "ansible_host to its address" % (where, problem)
            )
        node_addresses[host] = node_address or str(given)
    model_path = settings["sglang_model_path"]
    if model_path in (None, ""):
        problems.append(
            "%s: sglang_model_path is not set; set it to the weights directory on the hosts, "
            "e.g. /models/DeepSeek-R1" % where
        )
    else:
        problem = _model_path_problem(where, model_path, runtime, settings["sglang_server_model_mount"])
        if problem:
            problems.append(problem)
    bind = _bind_host(where, settings["sglang_host"], problems) if settings["sglang_host"] is not None else ""

    origins = {}
    try:
        pairs = _launch_settings(group, settings, preset)
        args = build_args(pairs, where, warnings, owned=OWNED_FLAGS, origins=origins)
    except ArgsError as exc:
        problems.extend(exc.problems)
        return None
    for flag in PLANNER_FLAGS:
        if flag in args:
            problems.append(
                "%s: %s is set by the planner from the inventory; remove it from sglang_args/"
                "sglang_extra_args (use sglang_tp_size, sglang_nodes_per_group, sglang_node_rank, "
                "sglang_dist_init_host/_port)" % (where, flag)
            )
            return None

    tp = settings["sglang_tp_size"]
    if tp is None:
        tp = shape_defaults.get("tp_size")
    elif not _positive_int(tp):
        problems.append(
            "%s: sglang_tp_size=%s must be a positive integer (tensor-parallel GPUs; remove it to use "
            "nodes x GPUs per node = %d)" % (where, _shown(tp), nnodes * gpus)
        )
        return None
    pp, replicas = _parallel_shape(args)
    world = nnodes * gpus
    if tp is None:
        tp = world // (pp * replicas) if world % (pp * replicas) == 0 else None
    if tp is None or not _is_int(tp) or int(tp) < 1:
        problems.append(
            "%s: cannot derive a tp size: %d nodes x %d GPUs is not divisible by pp %d x dp %d; "
            "set sglang_tp_size" % (where, nnodes, gpus, pp, replicas)
        )
        return None
    tp = int(tp)
    if tp * pp * replicas != world:
        problems.append(
            "%s: tp %d x pp %d x dp %d = %d GPUs, but the group has %d node(s) x %d GPUs = %d; set "
            "sglang_tp_size: %d (or remove it: it defaults to nodes x GPUs per node)"
            % (where, tp, pp, replicas, tp * pp * replicas, nnodes, gpus, world, world // (pp * replicas))
        )
        return None
    if tp % gpus and gpus % tp:
        problems.append(
            "%s: tp %d does not fit nodes of %d GPUs (a tensor-parallel group must fill whole nodes "
            "or divide one evenly); pick a tp that divides %d or is a multiple of it" % (where, tp, gpus, gpus)
        )
        return None
    value_problems = _values_problems(where, args, origins, tp)
    problems.extend(value_problems)
    if value_problems or bind is None or (problems and address is None):
        return None

    # A single-node group has no rendezvous: no --dist-init-addr, none in the plan.
    dist_init_addr = host_port(address, dist_port) if address and nnodes > 1 else None
    secret_vars = settings["sglang_secret_vars"] if isinstance(settings["sglang_secret_vars"], dict) else {}
    has_secrets = bool(secret_vars) or bool(settings["sglang_has_secrets"])
    secrets_file = settings["sglang_secrets_file"]
    if secrets_file not in (None, ""):
        problem = _secrets_file_problem(where, secrets_file)
        if problem:
            problems.append(problem)
            return None
    elif has_secrets:
        secrets_file = "/etc/sglang/%s.secrets.yaml" % group
    if secrets_file:
        args["--config"] = secrets_file
    if "--host" in args:
        args["--host"] = bind
    bind = str(args.get("--host") or "127.0.0.1")  # SGLang's own default
    local_host = "127.0.0.1" if bind in ("0.0.0.0", "::", "") else ("[%s]" % bind if ":" in bind else bind)
    if routers and _is_loopback(bind):
        problems.append(
            "%s: sglang_host=%s binds loopback, but the router(s) %s reach the group at %s; bind "
            "0.0.0.0 or the head's address, or take the group out of sglang_model_groups' router"
            % (where, bind, ", ".join(sorted(routers)), "http://%s" % host_port(node_addresses[head], http_port))
        )
        return None
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
        nodes.append(
            {
                "group": group,
                "host": host,
                "address": node_addresses[host],
                "node_rank": ranks[host],
                "is_head": ranks[host] == 0,
                "nnodes": nnodes,
                "tp_size": tp,
                "gpus_per_node": gpus,
                "dist_init_addr": dist_init_addr,
                "port": http_port,
                "nccl_port": nccl_port,
                "runtime": runtime,
                "unit": "sglang-%s" % group,
                # How the node reaches its own HTTP server (health probes run on the node).
                "local_url": "http://%s:%d" % (local_host, http_port),
                # How routers and operators reach it.
                "url": "http://%s" % host_port(node_addresses[host], http_port),
                "secrets_file": secrets_file or None,
                "launch_args": launch_args,
                "argv": list(LAUNCH_PREFIX) + launch_args,
            }
        )
    served = args.get("--served-model-name") or args.get("--model-path")
    return {
        "head": head,
        "nnodes": nnodes,
        "tp_size": tp,
        "dist_init_addr": dist_init_addr,
        "dist_init_port": dist_port,
        # Every port SGLang binds on a node of the group: dist-init and its ZMQ window, NCCL, HTTP.
        "dist_init_ports": [dist_port, dist_port + DIST_INIT_PORT_WINDOW - 1],
        "port": http_port,
        "nccl_port": nccl_port,
        "preset": settings["sglang_preset"],
        "runtime": runtime,
        "served_model_name": served,
        "url": "http://%s" % host_port(nodes[0]["address"], http_port),
        "hosts": [node["host"] for node in nodes],
        "secrets_file": secrets_file or None,
        # Which secret variables this group's --config file carries and under which
        # keys (names only, never values): the sglang_server role writes the file from them.
        "secret_vars": dict((flag[2:], var) for flag, var in SECRET_FLAGS.items() if var in secret_vars)
        if secret_vars
        else {},
        "nodes": nodes,
    }


def _check_collisions(plan, problems):
    # Two groups using one dist-init address:port would join each other's rendezvous.
    seen = {}
    for group, data in plan.items():
        addr = data["dist_init_addr"]
        if addr and data["nnodes"] > 1:
            if addr in seen:
                problems.append(
                    "groups %s and %s both use dist-init address %s; give each group its own "
                    "rank 0 address or sglang_dist_init_port" % (seen[addr], group, addr)
                )
            seen.setdefault(addr, group)


def _check_routers(plan, routers, problems):
    """A router on a host of a model group must not take the group's ports."""
    for router, rv in sorted((routers or {}).items()):
        rv = rv or {}
        bad_ports = [
            var
            for var in ("sglang_router_port", "sglang_router_prometheus_port")
            if not _port_ok(rv.get(var, ROUTER_DEFAULTS[var]))
        ]
        for var in bad_ports:
            problems.append(
                "router %s: %s=%s is not a TCP port (an integer 1-65535)" % (router, var, _shown(rv.get(var)))
            )
        if bad_ports:
            continue
        for group, data in sorted(plan.items()):
            if router not in [n["host"] for n in data["nodes"]]:
                continue
            taken = {data["port"]: "sglang_port", data["nccl_port"]: "sglang_nccl_port"}
            for port in range(data["dist_init_port"], data["dist_init_port"] + DIST_INIT_PORT_WINDOW):
                taken.setdefault(
                    port, "the dist-init window (sglang_dist_init_port %d + 0..6)" % data["dist_init_port"]
                )
            for var in ("sglang_router_port", "sglang_router_prometheus_port"):
                port = rv.get(var, ROUTER_DEFAULTS[var])
                if int(port) in taken:
                    problems.append(
                        "router %s is also a node of group %s and both want port %d (%s=%d, the group's %s); "
                        "set %s to another port for the router, or move the router to a host outside "
                        "the group" % (router, group, int(port), var, int(port), taken[int(port)], var)
                    )


def plan_fleet(
    model_groups: Any,
    hostvars: Mapping[str, Any],
    targets: Optional[Iterable[str]] = None,
    routers: Optional[Mapping[str, Any]] = None,
) -> Dict[str, Any]:
    """Plan every model group. Returns ``{"groups", "hosts", "warnings", "sglang_version"}``.

    ``routers``: ``{router host: {sglang_router_port: ..., ...}}`` (the hosts of
    ``sglang_routers``); a group bound to loopback cannot be behind one.
    Raises :class:`PlanError` listing every problem found.
    """
    problems = []
    warnings = []
    if not isinstance(model_groups, dict) or not isinstance(hostvars, dict):
        raise PlanError(
            ["the planner needs the model groups as {group: [host, ...]} and hostvars as {host: {var: value}}"]
        )
    named = {}
    for group, hosts in model_groups.items():
        problem = name_problem("group", group)
        if problem:
            problems.append("%s; rename the inventory group" % problem)
            continue
        if not isinstance(hosts, (list, tuple)):
            problems.append("group %s: its hosts must be a list" % group)
            continue
        bad = [h for h in hosts if name_problem("host", h)]
        for host in bad:
            problems.append(
                "group %s: %s; rename the inventory host (its address belongs in ansible_host)"
                % (group, name_problem("host", host))
            )
        if not bad:
            named[group] = list(hosts)
    if not model_groups:
        raise PlanError(
            [
                "no model groups: the inventory has no child groups under %s; add one per model "
                "group, e.g. %s: {children: {r1_a: {hosts: {gpu-a1: , gpu-a2: }}}}" % (PARENT_GROUP, PARENT_GROUP)
            ]
        )
    model_groups = named
    member_of = {}
    for group, hosts in model_groups.items():
        for host in hosts:
            if host in member_of and member_of[host] != group:
                problems.append(
                    "host %s is in two model groups, %s and %s; a host serves one model group, "
                    "remove it from one" % (host, member_of[host], group)
                )
            member_of.setdefault(host, group)
    for host in targets or []:
        if host not in member_of:
            problems.append(
                "host %s is targeted by the play but is in no model group; add it to a child group "
                "of %s, or leave it out of the play (--limit)" % (host, PARENT_GROUP)
            )
    plan = {}
    duplicated = set(h for h in member_of if sum(h in hs for hs in model_groups.values()) > 1)
    for group, hosts in model_groups.items():
        if not hosts:
            # An empty group serves nothing and breaks nothing (e.g. hosts commented out).
            warnings.append("group %s has no hosts; it is not planned" % group)
            continue
        if duplicated.intersection(hosts):
            continue
        data = plan_group(group, list(hosts), hostvars, problems, warnings, routers=routers)
        if data is not None:
            plan[group] = data
    _check_collisions(plan, problems)
    _check_routers(plan, routers, problems)
    if problems:
        raise PlanError(problems, warnings)
    hosts = {}
    for data in plan.values():
        for node in data["nodes"]:
            hosts[node["host"]] = node
    return {
        "plan_version": PLAN_VERSION,
        "sglang_version": catalog.SGLANG_VERSION,
        "groups": plan,
        "hosts": hosts,
        "routers": plan_routers(routers),
        "warnings": warnings,
    }


def plan_routers(routers: Optional[Mapping[str, Any]]) -> Dict[str, Dict[str, Any]]:
    """``{router host: {host, port, prometheus_port, local_url}}`` with the router role's defaults
    applied (the only place besides roles/sglang_router/defaults that writes them). Ports were
    checked by :func:`_check_routers`."""
    out = {}
    for router, rv in sorted((routers or {}).items()):
        rv = dict(ROUTER_DEFAULTS, **dict((k, v) for k, v in (rv or {}).items() if v is not None))
        port = int(rv["sglang_router_port"])
        out[router] = {
            "host": str(rv["sglang_router_host"]),
            "port": port,
            "prometheus_port": int(rv["sglang_router_prometheus_port"]),
            # The rollout reaches a router's admin API on the router host itself.
            "local_url": "http://127.0.0.1:%d" % port,
        }
    return out


def format_table(plan: Mapping[str, Any]) -> str:
    """A readable table: one row per node, then each node's argv."""
    rows = [("GROUP", "HOST", "RANK", "DIST-INIT", "TP", "NNODES", "PORT", "RUNTIME")]
    for group in sorted(plan["groups"]):
        for node in plan["groups"][group]["nodes"]:
            rows.append(
                (
                    group,
                    node["host"],
                    str(node["node_rank"]),
                    node["dist_init_addr"] or "-",
                    str(node["tp_size"]),
                    str(node["nnodes"]),
                    str(node["port"]),
                    node["runtime"],
                )
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip() for row in rows]
    lines.append("")
    for group in sorted(plan["groups"]):
        for node in plan["groups"][group]["nodes"]:
            lines.append("%s/%s: %s" % (group, node["host"], " ".join(node["argv"])))
    for warning in plan.get("warnings", []):
        lines.append("WARNING: %s" % warning)
    return "\n".join(lines)
