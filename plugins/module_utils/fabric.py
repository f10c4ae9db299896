# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""InfiniBand / RoCE fabric facts and the NCCL environment derived from them.

Pure logic, no Ansible objects. The sysfs reader follows the kernel's documented layout
(Documentation/ABI/stable/sysfs-class-infiniband and drivers/infiniband/core/sysfs.c)::

    <root>/class/infiniband/<hca>/{node_type,hca_type,fw_ver,board_id}
    <root>/class/infiniband/<hca>/ports/<n>/{state,phys_state,rate,link_layer}
    <root>/class/infiniband/<hca>/ports/<n>/gids/<i>
    <root>/class/infiniband/<hca>/ports/<n>/gid_attrs/{types,ndevs}/<i>
    <root>/class/infiniband/<hca>/device/net/<ifname>/
    <root>/class/infiniband/<hca>/device/infiniband_verbs/uverbs<N>/
    <root>/class/net/<ifname>/{operstate,address,type}
    <root>/class/misc/rdma_cm/              (present when rdma_ucm is loaded: /dev/infiniband/rdma_cm)

Real sysfs uses symlinks (class/infiniband/<hca>, <hca>/device); fixtures use plain directories;
the reader follows both. Unreadable attributes (the kernel answers EINVAL for the gid_attrs of an
empty GID slot and for the netdev of an InfiniBand GID) read as None.

Which HCAs are for compute (the rule, in order):
  1. a device without ``device/`` (software RDMA: rxe, siw) or whose node type is not a CA is never compute;
  2. ``include`` patterns (fnmatch), when given, name the compute HCAs exactly;
  3. ``exclude`` patterns remove HCAs;
  4. otherwise the largest class of identical HCAs (same hca_type, link layer and port count) is
     compute; ties go to the faster class (best active port rate), then to InfiniBand. An 8-rail
     host with one storage/management HCA keeps the 8 rails, also while one rail is down.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import json
import math
import os
import re
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

SYSFS_IB = ("class", "infiniband")
SYSFS_NET = ("class", "net")
ROCE_V2 = "RoCE v2"
ENV_KEY_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_RATE_RE = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*Gb/sec")
_BAD_VALUE_RE = re.compile(r"[\s'\"\\]")
DEBUG_LEVELS = ("VERSION", "WARN", "INFO", "ABORT", "TRACE")
GDR_LEVELS = ("LOC", "PIX", "PXB", "PHB", "SYS")


class FabricError(Exception):
    """Bad input; the message names the variable and the fix."""


def _natural_key(name):
    # ASCII digits only: str.isdigit() is also true for '²' or '١', which int() refuses or reads
    # differently; a sysfs entry name is whatever a driver (or a copy of sysfs) made it.
    return [int(part) if i % 2 else part for i, part in enumerate(re.split(r"([0-9]+)", str(name)))]


def _is_number(name):
    return bool(re.match(r"^[0-9]+$", name))


def _read(path):
    try:
        with open(path, "r") as handle:
            return handle.read().strip()
    except (IOError, OSError, UnicodeDecodeError):
        return None


def _listdir(path):
    try:
        return sorted(os.listdir(path), key=_natural_key)
    except (IOError, OSError):
        return []


def _after_colon(value):
    """``"4: ACTIVE"`` -> ``"ACTIVE"`` (the kernel prints ``<number>: <name>``)."""
    if value is None:
        return None
    return value.split(":", 1)[1].strip() if ":" in value else value


def parse_rate(value: Optional[str]) -> Union[int, float, None]:
    """``"400 Gb/sec (4X NDR)"`` -> 400, ``"2.5 Gb/sec (1X)"`` -> 2.5, else None."""
    match = _RATE_RE.match(value or "")
    if not match:
        return None
    number = float(match.group(1))
    if not math.isfinite(number):
        return None
    return int(number) if number.is_integer() else number


def _gid_info(raw):
    """Parse one GID; None for an empty slot (all zeros)."""
    try:
        addr = ipaddress.IPv6Address(raw)
    except (ValueError, ipaddress.AddressValueError):
        return None
    if int(addr) == 0:
        return None
    mapped = addr.ipv4_mapped
    return {"gid": raw, "ipv4": str(mapped) if mapped else None}


def read_port(port_dir: str, number: int) -> Dict[str, Any]:
    state = _after_colon(_read(os.path.join(port_dir, "state")))
    phys = _after_colon(_read(os.path.join(port_dir, "phys_state")))
    rate_text = _read(os.path.join(port_dir, "rate"))
    port = {
        "port": number,
        "state": state,
        "phys_state": phys,
        "rate": rate_text,
        "rate_gbps": parse_rate(rate_text),
        "link_layer": _read(os.path.join(port_dir, "link_layer")) or "InfiniBand",
        "gids": [],
        "roce_v2_ipv4_gid_index": None,
    }
    port["active"] = state == "ACTIVE" and phys == "LinkUp"
    for index in _listdir(os.path.join(port_dir, "gids")):
        if not _is_number(index):
            continue
        info = _gid_info(_read(os.path.join(port_dir, "gids", index)))
        if info is None:
            continue
        info["index"] = int(index)
        info["type"] = _read(os.path.join(port_dir, "gid_attrs", "types", index))
        info["ndev"] = _read(os.path.join(port_dir, "gid_attrs", "ndevs", index))
        port["gids"].append(info)
    for info in port["gids"]:
        if info["type"] == ROCE_V2 and info["ipv4"]:
            port["roce_v2_ipv4_gid_index"] = info["index"]
            break
    return port


def read_hca(hca_dir: str, name: str) -> Dict[str, Any]:
    node_type = _read(os.path.join(hca_dir, "node_type"))
    hca = {
        "name": name,
        "node_type": _after_colon(node_type),
        "hca_type": _read(os.path.join(hca_dir, "hca_type")),
        "board_id": _read(os.path.join(hca_dir, "board_id")),
        "fw_ver": _read(os.path.join(hca_dir, "fw_ver")),
        "physical": os.path.isdir(os.path.join(hca_dir, "device")),
        "netdevs": _listdir(os.path.join(hca_dir, "device", "net")),
        # The verbs character device of this HCA (/dev/infiniband/uverbs<N>): the kernel's
        # uverbs_main.c registers it in class infiniband_verbs with the HCA's parent device
        # as its parent, so it shows under <hca>/device/infiniband_verbs/.
        "uverbs": [
            n for n in _listdir(os.path.join(hca_dir, "device", "infiniband_verbs")) if re.match(r"^uverbs[0-9]+$", n)
        ],
        "ports": [],
    }
    for number in _listdir(os.path.join(hca_dir, "ports")):
        if _is_number(number):
            hca["ports"].append(read_port(os.path.join(hca_dir, "ports", number), int(number)))
    return hca


def read_interfaces(sysfs_root: str) -> Dict[str, Dict[str, Any]]:
    interfaces = {}
    base = os.path.join(sysfs_root, *SYSFS_NET)
    for name in _listdir(base):
        path = os.path.join(base, name)
        kind = _read(os.path.join(path, "type"))
        interfaces[name] = {
            "operstate": _read(os.path.join(path, "operstate")),
            "address": _read(os.path.join(path, "address")),
            "type": int(kind) if kind and _is_number(kind) else None,
            "hca": None,
        }
    return interfaces


def read_sysfs(sysfs_root: str) -> Tuple[List[Dict[str, Any]], Dict[str, Dict[str, Any]]]:
    """Every RDMA device and network interface under ``sysfs_root``."""
    if not os.path.isdir(sysfs_root):
        raise FabricError("sysfs_root %s is not a directory; point sysfs_root at /sys or at a copy of it" % sysfs_root)
    base = os.path.join(sysfs_root, *SYSFS_IB)
    hcas = [read_hca(os.path.join(base, name), name) for name in _listdir(base)]
    interfaces = read_interfaces(sysfs_root)
    for hca in hcas:
        for netdev in hca["netdevs"]:
            interfaces.setdefault(netdev, {"operstate": None, "address": None, "type": None, "hca": None})
            interfaces[netdev]["hca"] = hca["name"]
    return hcas, interfaces


# ----------------------------------------------------------------- compute HCAs


def _link_layers(hca):
    return tuple(sorted(set(p["link_layer"] for p in hca["ports"])))


def _best_rate(hcas):
    rates = [p["rate_gbps"] or 0 for h in hcas for p in h["ports"] if p["active"]]
    return max(rates) if rates else 0


def choose_compute(
    hcas: Sequence[Mapping[str, Any]], include: Optional[Iterable[str]] = None, exclude: Optional[Iterable[str]] = None
) -> Tuple[List[str], List[str], List[str]]:
    """Split HCAs into compute and other. Returns ``(compute, other, problems)`` (names)."""
    include = list(include or [])
    exclude = list(exclude or [])
    problems = []
    names = [h["name"] for h in hcas]
    eligible = [h for h in hcas if h["physical"] and (h["node_type"] in (None, "CA"))]
    if include:
        for pattern in include:
            if not fnmatch.filter(names, pattern):
                problems.append(
                    "nccl_fabric_hca_include names %s but this host has no such HCA (found: %s); "
                    "fix the pattern" % (pattern, ", ".join(names) or "none")
                )
        eligible = [h for h in eligible if any(fnmatch.fnmatchcase(h["name"], p) for p in include)]
    eligible = [h for h in eligible if not any(fnmatch.fnmatchcase(h["name"], p) for p in exclude)]
    if not include and eligible:
        classes = {}
        for hca in eligible:
            classes.setdefault((hca["hca_type"] or "", _link_layers(hca), len(hca["ports"])), []).append(hca)

        def rank(members):
            return (len(members), _best_rate(members), "InfiniBand" in _link_layers(members[0]))

        eligible = max(sorted(classes.values(), key=lambda m: _natural_key(m[0]["name"])), key=rank)
    chosen = set(h["name"] for h in eligible)
    compute = [n for n in names if n in chosen]
    other = [n for n in names if n not in chosen]
    return compute, other, problems


# ---------------------------------------------------------------- addresses


def parse_ip_addr_json(text: str) -> Dict[str, List[str]]:
    """``ip -j addr show`` output -> ``{ifname: ["10.0.0.5/24", ...]}``.

    iproute2 prints a JSON list of links, each ``{"ifname": str, "addr_info": [{"family":
    "inet"|"inet6", "local": str, "prefixlen": int}, ...]}``. Anything else is refused
    with what was wrong (the module then asks for ``addresses`` explicitly).
    """

    def bad(what):
        return FabricError(
            "`ip -j addr` output is malformed: %s; pass addresses explicitly (fabric_facts' "
            "addresses option) or check iproute2" % what
        )

    try:
        data = json.loads(text or "[]")
    except (ValueError, RecursionError) as exc:
        raise FabricError("cannot parse `ip -j addr` output (%s); pass addresses explicitly" % str(exc)[:120])
    if not isinstance(data, list):
        raise bad("expected a list of links, got a %s" % type(data).__name__)
    result = {}
    for number, link in enumerate(data):
        if not isinstance(link, dict):
            raise bad("link %d is a %s, not an object" % (number, type(link).__name__))
        name = link.get("ifname")
        if name is None or name == "":
            continue
        if not isinstance(name, str) or re.search(r"[\s/\x00-\x1f\x7f]", name) or len(name) > 64:
            raise bad("link %d has ifname %r, not an interface name" % (number, str(name)[:40]))
        result.setdefault(name, [])
        infos = link.get("addr_info")
        infos = [] if infos is None else infos
        if not isinstance(infos, list):
            raise bad("%s: addr_info is a %s, not a list" % (name, type(infos).__name__))
        for info in infos:
            if not isinstance(info, dict):
                raise bad("%s: an addr_info entry is a %s, not an object" % (name, type(info).__name__))
            family = info.get("family")
            if family not in ("inet", "inet6") or not info.get("local"):
                continue
            default = 32 if family == "inet" else 128
            prefix = info.get("prefixlen", default)
            local = info["local"]
            if not isinstance(local, str) or isinstance(prefix, bool) or not isinstance(prefix, int):
                raise bad(
                    "%s: address %r/%r is not ADDRESS and an integer prefix length"
                    % (name, str(local)[:60], str(prefix)[:20])
                )
            try:
                version = ipaddress.ip_interface("%s/%d" % (local, prefix)).version
            except ValueError:
                version = None
            if version != (4 if family == "inet" else 6):
                raise bad("%s: %s/%d is not a valid %s address/prefix" % (name, local[:60], prefix, family))
            result[name].append("%s/%d" % (local, prefix))
    return result


def split_host_port(value: Optional[str]) -> str:
    """``"10.0.0.1:20000"`` -> ``"10.0.0.1"``; a bare address or name is returned as is."""
    value = (value or "").strip()
    if value.startswith("[") and "]" in value:
        return value[1 : value.index("]")]
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    head, sep, tail = value.rpartition(":")
    if sep and tail.isdigit():
        return head
    return value


def find_interface(
    address: str, addresses: Mapping[str, Optional[Sequence[str]]]
) -> Tuple[Optional[str], Optional[str]]:
    """The interface that carries ``address`` or sits on its network.

    Returns ``(ifname, how)`` with how ``"local"`` (the address is this host's) or ``"subnet"`` (the
    host's own address on the same network; longest prefix wins), or ``(None, None)``.
    """
    try:
        target = ipaddress.ip_address(address)
    except ValueError:
        return None, None
    best = None
    for ifname in sorted(addresses, key=_natural_key):
        for cidr in addresses[ifname] or []:
            try:
                iface = ipaddress.ip_interface(cidr)
            except ValueError:
                raise FabricError(
                    "address %r of interface %s is not ADDRESS/PREFIX (e.g. 10.0.0.5/24)" % (cidr, ifname)
                )
            if iface.version != target.version:
                continue
            if iface.ip == target:
                return ifname, "local"
            if target in iface.network and (best is None or iface.network.prefixlen > best[1]):
                best = (ifname, iface.network.prefixlen)
    return (best[0], "subnet") if best else (None, None)


def resolve_address(name: str, resolver: Optional[Callable[[str], Iterable[str]]] = None) -> List[str]:
    """An IP literal as is; a host name through ``resolver`` (returns a list of IPs)."""
    try:
        ipaddress.ip_address(name)
        return [name]
    except ValueError:
        pass
    return list(resolver(name)) if resolver else []


# ---------------------------------------------------------------- facts


def fabric_facts(
    sysfs_root: str = "/sys",
    dist_init_address: Optional[str] = None,
    addresses: Any = None,
    include: Optional[Iterable[str]] = None,
    exclude: Optional[Iterable[str]] = None,
    gid_index: Optional[int] = None,
    expected_rate: Any = None,
    expected_count: Optional[int] = None,
    nnodes: int = 1,
    resolver: Optional[Callable[[str], Iterable[str]]] = None,
) -> Dict[str, Any]:
    """Everything the role needs about this host's fabric, with its preflight problems and warnings.

    ``addresses``: ``{ifname: ["ADDR/PREFIX", ...]}`` (from ``ip -j addr``), needed only with
    ``dist_init_address``. ``resolver(name)`` -> list of IPs, for a dist-init host name.
    """
    if addresses is not None:
        if not isinstance(addresses, dict):
            raise FabricError(
                "addresses must be a mapping {ifname: [ADDRESS/PREFIX, ...]}, got %s" % type(addresses).__name__
            )
        checked = {}
        for key, value in addresses.items():
            values = [value] if isinstance(value, str) else value
            if (
                not isinstance(key, str)
                or not isinstance(values, (list, tuple, type(None)))
                or not all(isinstance(v, str) for v in values or [])
            ):
                raise FabricError(
                    "addresses must map interface names to lists of ADDRESS/PREFIX strings; "
                    "entry %r is not" % (str(key)[:40],)
                )
            checked[key] = list(values or [])
        addresses = checked
    hcas, interfaces = read_sysfs(sysfs_root)
    compute, other, problems = choose_compute(hcas, include, exclude)
    warnings = []
    by_name = dict((h["name"], h) for h in hcas)
    for hca in hcas:
        hca["compute"] = hca["name"] in compute
    compute_ports = ["%s:%d" % (n, p["port"]) for n in compute for p in by_name[n]["ports"]]
    active_ports = ["%s:%d" % (n, p["port"]) for n in compute for p in by_name[n]["ports"] if p["active"]]
    layers = set(p["link_layer"] for n in compute for p in by_name[n]["ports"])
    if not compute:
        transport = "socket"
    elif layers == {"InfiniBand"}:
        transport = "infiniband"
    elif layers == {"Ethernet"}:
        transport = "roce"
    else:
        transport = "mixed"
        problems.append(
            "compute HCAs mix link layers (%s); NCCL needs one fabric: set nccl_fabric_hca_include "
            "or nccl_fabric_hca_exclude" % ", ".join(sorted(layers))
        )

    # Rate every compute port must run at: the expected one, or the best most common active rate.
    active_rates = [p["rate_gbps"] for n in compute for p in by_name[n]["ports"] if p["active"] and p["rate_gbps"]]
    rate = expected_rate or None
    if not rate and active_rates:
        rate = max(active_rates, key=lambda r: (active_rates.count(r), r))

    for name in compute:
        for port in by_name[name]["ports"]:
            where = "%s port %d" % (name, port["port"])
            if not port["active"]:
                problems.append(
                    "%s is %s/%s, expected ACTIVE/LinkUp; check its cable and switch port "
                    "(ibstat %s), or leave the HCA out with nccl_fabric_hca_exclude"
                    % (where, port["state"], port["phys_state"], name)
                )
            elif rate and port["rate_gbps"] != rate:
                problems.append(
                    "%s runs at %s, expected %s Gb/sec; reseat or replace the cable/transceiver, or "
                    "set nccl_fabric_expected_rate_gbps" % (where, port["rate"], rate)
                )
    if expected_count and len(compute_ports) != expected_count:
        problems.append(
            "found %d compute port(s) (%s), expected %d (nccl_fabric_expected_hca_count); check "
            "the HCAs, drivers and nccl_fabric_hca_include/_exclude"
            % (len(compute_ports), ", ".join(compute_ports) or "none", expected_count)
        )

    roce_gid = None
    if transport == "roce":
        found = {}
        for name in compute:
            for port in by_name[name]["ports"]:
                where = "%s:%d" % (name, port["port"])
                if gid_index is not None:
                    types = dict((g["index"], g["type"]) for g in port["gids"])
                    if types.get(gid_index) != ROCE_V2:
                        problems.append(
                            "%s has no RoCE v2 GID at index %d (nccl_fabric_ib_gid_index); its RoCE v2 "
                            "GIDs: %s"
                            % (
                                where,
                                gid_index,
                                ", ".join(str(g["index"]) for g in port["gids"] if g["type"] == ROCE_V2) or "none",
                            )
                        )
                elif port["roce_v2_ipv4_gid_index"] is None:
                    problems.append(
                        "%s has no RoCE v2 IPv4 GID (is an IPv4 address on %s?); give the interface its "
                        "address or set nccl_fabric_ib_gid_index"
                        % (where, ", ".join(by_name[name]["netdevs"]) or "its netdev")
                    )
                else:
                    found.setdefault(port["roce_v2_ipv4_gid_index"], []).append(where)
        if gid_index is not None:
            roce_gid = gid_index
        elif len(found) > 1:
            problems.append(
                "the RoCE v2 IPv4 GID sits at different indices (%s) but NCCL_IB_GID_INDEX is one value; "
                "make the GID tables agree or set nccl_fabric_ib_gid_index"
                % "; ".join("%d: %s" % (i, ", ".join(w)) for i, w in sorted(found.items()))
            )
        elif found:
            roce_gid = list(found)[0]

    dist = {"address": None, "resolved": None, "interface": None, "how": None}
    if dist_init_address:
        host = split_host_port(dist_init_address)
        dist["address"] = host
        candidates = resolve_address(host, resolver)
        if not candidates:
            problems.append(
                "dist-init address %s does not resolve on this host; use an IP address or fix DNS "
                "(or set nccl_fabric_socket_ifname)" % host
            )
        if addresses is None:
            problems.append(
                "no address list to find the dist-init interface in (is `ip` from iproute2 "
                "installed?); set nccl_fabric_socket_ifname"
            )
        else:
            for candidate in candidates:
                ifname, how = find_interface(candidate, addresses)
                if ifname:
                    dist.update(resolved=candidate, interface=ifname, how=how)
                    break
            if candidates and not dist["interface"]:
                problems.append(
                    "no interface of this host is on the network of the dist-init address %s (%s); "
                    "NCCL/gloo bootstrap would pick one at random: add a route/address or set "
                    "nccl_fabric_socket_ifname" % (host, ", ".join(candidates))
                )
    # The device nodes a container needs for NCCL's IB/RoCE transport: the compute HCAs'
    # verbs devices and the RDMA CM device, nothing else (no umad/issm: NCCL does not use MADs).
    rdma_devices = []
    for name in compute:
        if not by_name[name]["uverbs"]:
            problems.append(
                "%s has no verbs device (no infiniband_verbs/uverbs* under its sysfs device); load "
                "ib_uverbs (rdma-core's rdma-load-modules@infiniband.service), else NCCL cannot use it" % name
            )
        rdma_devices.extend("/dev/infiniband/%s" % n for n in by_name[name]["uverbs"])
    if compute and os.path.isdir(os.path.join(sysfs_root, "class", "misc", "rdma_cm")):
        rdma_devices.insert(0, "/dev/infiniband/rdma_cm")
    if not compute and nnodes > 1:
        warnings.append(
            "NO RDMA HCA for compute on this host: NCCL will run over TCP sockets between the %d nodes of "
            "its group, about two orders of magnitude slower than InfiniBand/RoCE; right only if "
            "this host really has no HCA (else check the RDMA driver and nccl_fabric_hca_include)" % nnodes
        )
    return {
        "sysfs_root": sysfs_root,
        "hcas": hcas,
        "interfaces": interfaces,
        "compute_hcas": compute,
        "other_hcas": other,
        "compute_ports": compute_ports,
        "active_compute_ports": active_ports,
        "transport": transport,
        "rate_gbps": rate,
        "roce_gid_index": roce_gid,
        "dist_init": dist,
        "socket_ifname": dist["interface"],
        "rdma_devices": rdma_devices,
        "problems": problems,
        "warnings": warnings,
    }


# ---------------------------------------------------------------- NCCL env


def _check_value(key, value, where):
    if not ENV_KEY_RE.match(key):
        raise FabricError("%s: %r is not an environment variable name" % (where, key))
    text = str(value)
    if text == "" or _BAD_VALUE_RE.search(text):
        raise FabricError(
            "%s: %s=%r must be non-empty, without spaces, quotes or backslashes (the env file is "
            "read by both systemd and docker --env-file, which quote differently)" % (where, key, text)
        )
    return text


def nccl_env(
    fabric: Mapping[str, Any],
    ib_hca: Any = None,
    socket_ifname: Optional[str] = None,
    net_gdr_level: Any = None,
    ib_qps_per_connection: Any = None,
    cross_nic: Any = None,
    topo_file: Optional[str] = None,
    debug: Optional[str] = None,
    extra: Optional[Mapping[str, Any]] = None,
) -> Dict[str, str]:
    """The NCCL/gloo environment for one host: computed values, then overrides (None = computed/unset).

    ``extra`` is merged last; a None value there drops a key (e.g. ``{"NCCL_IB_GID_INDEX": None}`` lets
    NCCL pick the GID itself).
    """
    if cross_nic not in (None, "") and str(cross_nic) not in ("0", "1", "2"):
        raise FabricError("nccl_fabric_cross_nic must be 0, 1 or 2 (NCCL_CROSS_NIC), got %r" % (cross_nic,))
    if debug not in (None, "") and str(debug).upper() not in DEBUG_LEVELS:
        raise FabricError("nccl_fabric_debug must be one of %s (NCCL_DEBUG), got %r" % (", ".join(DEBUG_LEVELS), debug))
    if net_gdr_level not in (None, "") and not (
        str(net_gdr_level).upper() in GDR_LEVELS or str(net_gdr_level).isdigit()
    ):
        raise FabricError(
            "nccl_fabric_net_gdr_level must be one of %s or a number (NCCL_NET_GDR_LEVEL), got %r"
            % (", ".join(GDR_LEVELS), net_gdr_level)
        )
    if extra is not None and (not isinstance(extra, dict) or not all(isinstance(k, str) for k in extra)):
        raise FabricError(
            "nccl_fabric_env_extra must be a mapping of environment variable names to values, "
            "e.g. {NCCL_IB_TIMEOUT: 22}"
        )
    env = {}
    if fabric.get("active_compute_ports"):
        env["NCCL_IB_HCA"] = "=" + ",".join(fabric["active_compute_ports"])
        if net_gdr_level not in (None, ""):
            env["NCCL_NET_GDR_LEVEL"] = net_gdr_level
        if fabric.get("transport") == "roce" and fabric.get("roce_gid_index") is not None:
            env["NCCL_IB_GID_INDEX"] = fabric["roce_gid_index"]
    if ib_hca not in (None, ""):
        env["NCCL_IB_HCA"] = ib_hca
    ifname = socket_ifname or fabric.get("socket_ifname")
    if ifname:
        env["NCCL_SOCKET_IFNAME"] = "=" + ifname
        env["GLOO_SOCKET_IFNAME"] = ifname
    optional = (
        ("NCCL_IB_QPS_PER_CONNECTION", ib_qps_per_connection),
        ("NCCL_CROSS_NIC", cross_nic),
        ("NCCL_TOPO_FILE", topo_file),
        ("NCCL_DEBUG", debug),
    )
    for key, value in optional:
        if value not in (None, ""):
            env[key] = value
    for key, value in (extra or {}).items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    result = {}
    for key in sorted(env):
        where = "nccl_fabric_env_extra" if key in (extra or {}) else "nccl_fabric (computed or override)"
        result[key] = _check_value(key, env[key], where)
    return result


def render_env_file(env: Mapping[str, Any]) -> str:
    return "".join("%s=%s\n" % (k, env[k]) for k in sorted(env))


# ---------------------------------------------------------------- group parity


def _signature(fabric):
    ports = fabric.get("active_compute_ports")
    count = len(ports) if isinstance(ports, (list, tuple)) else None
    rate = fabric.get("rate_gbps")
    if isinstance(rate, bool) or not isinstance(rate, (int, float, type(None))):
        rate = str(rate)  # hand-made facts: still comparable and hashable, never an exception
    return (count, rate, str(fabric.get("transport")))


def _describe(fabric):
    count, rate, transport = _signature(fabric)
    if transport == "socket" or not count:
        return "no RDMA HCA (sockets)"
    return "%d x %s Gb/sec %s" % (count, rate, transport)


def group_problems(group: str, fabrics: Iterable[Tuple[str, Optional[Mapping[str, Any]]]]) -> List[str]:
    """Every node of a group must have the same compute fabric: port count, rate and transport.

    ``fabrics``: ordered ``[(host, fabric facts or None), ...]`` (rank order).
    """
    problems = []
    known = []
    for host, fabric in fabrics:
        if not isinstance(fabric, dict):
            problems.append(
                "group %s: %s has no fabric facts (not in this play, or it failed earlier); run "
                "nccl_fabric on every host of the group" % (group, host)
            )
        else:
            known.append((host, fabric))
            if fabric.get("problems"):
                problems.append(
                    "group %s: %s failed its own fabric preflight (%d problem(s), see that host); the "
                    "group cannot run NCCL until it is fixed" % (group, host, len(fabric["problems"]))
                )
    if len(set(_signature(f) for h, f in known)) > 1:
        problems.append(
            "group %s: nodes differ in their compute fabric (%s); NCCL pairs rails across nodes, so "
            "every node needs the same HCA count, rate and link layer: fix the hardware/links or "
            "nccl_fabric_hca_include/_exclude" % (group, "; ".join("%s %s" % (h, _describe(f)) for h, f in known))
        )
    return problems
