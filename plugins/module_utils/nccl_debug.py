# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which network NCCL chose inside the serving engine, from its own INIT/NET debug lines.

Pure logic, no Ansible objects. Read by the sglang_nccl_transport module (the readiness gate of
a model group whose fabric is InfiniBand or RoCE).

Line formats, read from NCCL's source (github.com/NVIDIA/nccl, commit
5067397c2676d5aed50042fc39e5c8ee96eb0027, NCCL 2.30.7) and checked against a real capture of
NCCL 2.28.9 on a host without HCAs (tests/fixtures/nccl-debug/h200-x2-no-hca-socket.txt):

- src/debug.cc ``ncclDebugLogV``: every line is ``[timestamp] host:pid:tid [cudaDev] NCCL INFO msg``
  (the timestamp only for the levels in NCCL_DEBUG_TIMESTAMP_LEVELS, WARN by default) and
  ``host:pid:tid [cudaDev] file.cc:line (func) NCCL WARN msg``. ``NCCL_DEBUG_FILE`` expands ``%h``
  (hostname) and ``%p`` (pid) and is opened with ``fopen(..., "w")``, line buffered.
- src/transport/net_ib/init.cc ``ncclIbInitDevices``: ``NET/IB : No device found.`` when no HCA is
  usable, then ``NET/IB : Using [0]mlx5_0:1/IB [1]mlx5_1:1/IB [RO]; OOB ib0:10.0.0.1<0>`` -- one
  `` [d]name:port[:rail][:plane]/LL`` per device, LL from ``NCCL_IB_LLSTR`` (common.h): ``IB``,
  ``RoCE`` or ``UNSPECIFIED``; the list is empty when no device was found (the capture's
  ``NET/IB : Using [RO]; OOB eth0:...``). ``NCCL_IB_HCA set to X`` when that variable is set.
- src/transport/net_socket.cc: ``NET/Socket : Using [0]eth0:192.0.2.2<0>``.
- src/plugin/net.cc: ``Initialized NET plugin IB``, ``Failed to initialize NET plugin IB``,
  ``Assigned NET plugin Socket to comm``.
- src/init.cc: ``Using network IB`` / ``Using network Socket`` (the name of the ncclNet_t: ``"IB"`` in
  net_ib/common.cc, ``"Socket"`` in net_socket.cc; RoCE is the IB transport on an Ethernet link).
  External plugins name themselves (nccl-rdma-sharp-plugins: ``IBext``, ``IBext_v8``): an
  ``IB``-prefixed name counts as the IB transport.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TRANSPORTS = ("ib", "roce", "socket")

# host:pid:tid [dev] [file:line (func) ]NCCL LEVEL msg, after an optional timestamp of any format.
_LINE = re.compile(
    r"(?P<host>[^\s:]+):(?P<pid>\d+):(?P<tid>\d+) \[(?P<dev>\d+)\] "
    r"(?:\S+:\d+(?: \([^)]*\))? )?NCCL (?P<level>INFO|WARN) (?P<msg>.*)$"
)
_IB_DEV = re.compile(
    r"\[(?P<index>\d+)\](?P<name>[^\s:\[\]]+):(?P<port>\d+)(?::\d*)?(?::\d+)?/(?P<link>IB|RoCE|UNSPECIFIED)"
)
_SOCKET_IF = re.compile(r"\[\d+\](\S+)")

CAUSES = {
    "no_device": (
        "no RDMA device inside the engine: /dev/infiniband/uverbs* and rdma_cm not passed to the "
        "container (fabric.json rdma_devices, the unit's --device flags) or ib_uverbs/rdma_ucm not loaded "
        "on the host"
    ),
    "hca_list": (
        "NCCL_IB_HCA (nccl_fabric_ib_hca, /etc/gpufleet/nccl.env) does not name the compute HCAs the fabric facts list"
    ),
    "gid": "on RoCE, NCCL_IB_GID_INDEX (nccl_fabric_ib_gid_index) pointing at a GID that is not RoCE v2",
    "firewall": (
        "a host firewall dropping NCCL's connections between the ranks (the group's NCCL/dist-init ports; "
        "sglang_firewall)"
    ),
    "link": (
        "the compute HCAs run another link layer than the fabric facts say (ibstat; nccl_fabric_hca_include/_exclude)"
    ),
}


@dataclass
class NcclNetReport:
    """What one process's NCCL INIT/NET lines say about its network transport."""

    lines: int = 0  # NCCL lines recognised
    networks: list[str] = field(default_factory=list)  # "Using network X", in order, unique
    ib_devices: list[dict] = field(default_factory=list)  # {"name", "port", "link"} from "NET/IB : Using"
    ib_no_device: bool = False
    ib_hca_env: str | None = None
    failed_plugins: list[str] = field(default_factory=list)
    socket_interfaces: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    evidence: list[str] = field(default_factory=list)  # the lines that decided, verbatim

    @property
    def observed(self) -> str:
        """``socket`` if any communicator uses sockets, ``ib``/``roce`` by link layer, else ``none``."""
        names = [n.lower() for n in self.networks]
        if "socket" in names:
            return "socket"
        if any(n.startswith("ib") for n in names):
            links = set(d["link"] for d in self.ib_devices)
            if links == {"RoCE"}:
                return "roce"
            if links == {"IB"}:
                return "ib"
            return "ib" if not links else "/".join(sorted(links)).lower()
        if names:
            return names[0]
        return "none"


@dataclass
class Verdict:
    ok: bool
    expected: str
    observed: str
    problem: str = ""
    evidence: list[str] = field(default_factory=list)


def parse(text: object) -> NcclNetReport:
    """Read NCCL debug output (any other line is ignored). Never raises: bad input gives an empty report."""
    report = NcclNetReport()
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    if not isinstance(text, str):
        return report
    for raw in text.splitlines():
        m = _LINE.search(raw)
        if not m:
            continue
        report.lines += 1
        msg = m.group("msg").strip()
        keep = False
        if m.group("level") == "WARN":
            if len(report.warnings) < 5:
                report.warnings.append(msg)
            keep = "NET/" in msg
        elif msg.startswith("Using network "):
            name = msg[len("Using network ") :].strip()
            if name and name not in report.networks:
                report.networks.append(name)
            keep = True
        elif re.match(r"NET/IB\s*: No device found", msg):
            report.ib_no_device = True
            keep = True
        elif re.match(r"NET/IB\s*: Using", msg):
            for d in _IB_DEV.finditer(msg.split(";", 1)[0]):
                dev = {"name": d.group("name"), "port": int(d.group("port")), "link": d.group("link")}
                if dev not in report.ib_devices:
                    report.ib_devices.append(dev)
            keep = True
        elif msg.startswith("NCCL_IB_HCA set to "):
            report.ib_hca_env = msg[len("NCCL_IB_HCA set to ") :].strip()
            keep = True
        elif msg.startswith("Failed to initialize NET plugin "):
            name = msg[len("Failed to initialize NET plugin ") :].strip()
            if name not in report.failed_plugins:
                report.failed_plugins.append(name)
            keep = True
        elif re.match(r"NET/Socket\s*: Using", msg):
            for ifname in _SOCKET_IF.findall(msg.split(":", 1)[1]):
                if ifname not in report.socket_interfaces:
                    report.socket_interfaces.append(ifname)
            keep = True
        if keep and raw.strip() not in report.evidence and len(report.evidence) < 12:
            report.evidence.append(raw.strip())
    return report


def _expected_ports(expected_hcas: list[str]) -> list[tuple[str, int | None]]:
    out = []
    for item in expected_hcas or []:
        name, _sep, port = str(item).lstrip("=^").partition(":")
        out.append((name, int(port) if port.isdigit() else None))
    return out


def _causes(report: NcclNetReport, expected: str, first: list[str]) -> str:
    order = list(first) + [k for k in ("no_device", "hca_list", "gid", "firewall") if k not in first]
    if expected != "roce":
        order = [k for k in order if k != "gid"]
    return "; ".join("(%d) %s" % (i + 1, CAUSES[k]) for i, k in enumerate(order))


def judge(
    report: NcclNetReport, expected: str, expected_hcas: list[str] | None = None, where: str = "this rank"
) -> Verdict:
    """Is ``report`` NCCL on the ``expected`` transport (``ib``, ``roce``; ``socket``: not held) with the HCAs?"""
    if expected not in TRANSPORTS:
        return Verdict(
            False,
            str(expected),
            report.observed,
            "%s: expected transport %r is not one of %s" % (where, expected, ", ".join(TRANSPORTS)),
        )
    observed = report.observed
    if expected == "socket":
        return Verdict(True, expected, observed, evidence=report.evidence)
    label = {"ib": "InfiniBand (IB)", "roce": "RoCE (IB transport on Ethernet)"}[expected]
    lines = ("\n    " + "\n    ".join(report.evidence)) if report.evidence else " (none)"
    if report.lines == 0 or not report.networks:
        what = (
            "no NCCL debug lines at all"
            if report.lines == 0
            else "NCCL lines but no 'Using network' line (NCCL_DEBUG_SUBSYS without INIT?)"
        )
        return Verdict(
            False,
            expected,
            "none",
            "%s: %s expected, but its NCCL debug output has %s: NCCL_DEBUG=INFO, NCCL_DEBUG_SUBSYS=INIT,NET "
            "and NCCL_DEBUG_FILE did not reach the engine, or NCCL was never initialised. NCCL reported:%s"
            % (where, label, what, lines),
            report.evidence,
        )
    if observed == "socket":
        first = ["no_device"] if report.ib_no_device else ["gid", "firewall"] if report.ib_devices else []
        if report.ib_hca_env and report.ib_no_device:
            first.append("hca_list")
        return Verdict(
            False,
            expected,
            observed,
            "%s: NCCL uses its Socket transport (TCP) where %s was expected: a silent fallback about two "
            "orders of magnitude slower. NCCL reported:%s\n  likely causes: %s"
            % (where, label, lines, _causes(report, expected, first)),
            report.evidence,
        )
    if observed != expected:
        first = ["link", "hca_list"] if observed in TRANSPORTS else ["hca_list"]
        return Verdict(
            False,
            expected,
            observed,
            "%s: NCCL uses %s where %s was expected. NCCL reported:%s\n  likely causes: %s"
            % (where, observed, label, lines, _causes(report, expected, first)),
            report.evidence,
        )
    used = [(d["name"], d["port"]) for d in report.ib_devices]
    want = _expected_ports(expected_hcas or [])
    missing = [
        "%s%s" % (n, ":%d" % p if p is not None else "")
        for n, p in want
        if not any(u[0] == n and (p is None or u[1] == p) for u in used)
    ]
    extra = ["%s:%d" % u for u in used if want and not any(u[0] == n and (p is None or u[1] == p) for n, p in want)]
    if missing or extra:
        parts = []
        if missing:
            parts.append("does not use %s" % ", ".join(missing))
        if extra:
            parts.append("uses %s, not a compute HCA" % ", ".join(extra))
        return Verdict(
            False,
            expected,
            observed,
            "%s: NCCL is on %s but %s (expected HCAs: %s). NCCL reported:%s\n  likely causes: %s"
            % (
                where,
                label,
                " and ".join(parts),
                ", ".join(expected_hcas or []),
                lines,
                _causes(report, expected, ["hca_list", "no_device"]),
            ),
            report.evidence,
        )
    return Verdict(True, expected, observed, evidence=report.evidence)


def judge_rank(
    files: list[tuple[str, object]], expected: str, expected_hcas: list[str] | None = None, where: str = "this rank"
) -> Verdict:
    """Every process of a rank (one debug file each: SGLang's scheduler per GPU) must pass; the first failure wins."""
    if not files:
        return Verdict(
            False,
            expected,
            "none",
            "%s: no NCCL debug file was written since the unit started: NCCL_DEBUG_FILE did not reach the "
            "engine (for the container runtime, its directory must be mounted), or NCCL was never "
            "initialised" % where,
        )
    verdicts = []
    for path, text in files:
        verdict = judge(parse(text), expected, expected_hcas, "%s (%s)" % (where, path))
        if not verdict.ok:
            return verdict
        verdicts.append(verdict)
    return Verdict(True, expected, verdicts[0].observed, evidence=verdicts[0].evidence)


def select_current(
    entries: list[tuple[str, float]], started_at: float, slack_s: float = 2.0
) -> tuple[list[str], list[str]]:
    """Split ``(path, mtime)`` into the files of the current start (newest first) and the stale ones."""
    current = sorted([e for e in entries if e[1] >= started_at - slack_s], key=lambda e: -e[1])
    stale = [e[0] for e in entries if e[1] < started_at - slack_s]
    return [e[0] for e in current], stale


def _label(value: object) -> str:
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def prom_text(group: str, node_rank: object, expected: str, observed: str, ok: bool) -> str:
    """The node-exporter textfile: ``gpufleet_nccl_transport_ok{model_group,node_rank,expected,observed} 0|1``."""
    return (
        "# HELP gpufleet_nccl_transport_ok Whether NCCL in the serving engine uses the transport the fabric "
        "facts expect (1) or not (0).\n"
        "# TYPE gpufleet_nccl_transport_ok gauge\n"
        'gpufleet_nccl_transport_ok{model_group="%s",node_rank="%s",expected="%s",observed="%s"} %d\n'
        % (_label(group), _label(node_rank), _label(expected), _label(observed), 1 if ok else 0)
    )
