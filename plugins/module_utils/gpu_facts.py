# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU facts from nvidia-smi's own output, as plain dicts.

Sources, in order of trust:

- ``nvidia-smi -q -x`` (XML): the primary source; every per-GPU fact comes from it when it
  carries the value.
- ``nvidia-smi --query-gpu=<QUERY_GPU_FIELDS> --format=csv,noheader,nounits``: the GPU index and
  compute capability, and a fallback for any value the XML leaves out (older drivers).
- ``nvidia-smi --query-remapped-rows=<REMAPPED_ROWS_FIELDS> --format=csv,noheader,nounits``:
  fallback for the row-remapper counters.
- ``nvidia-smi topo -m``: the GPU/NIC connection matrix, CPU/NUMA affinity, NIC names.
- ``nvidia-smi nvlink -s``: per-link NVLink state and speed.
- ``/proc/driver/nvidia/version``: the kernel module that is loaded (open or proprietary).

Values nvidia-smi reports as ``N/A`` / ``[N/A]`` / ``Not Supported`` become ``None``.
The shapes are documented in plugins/modules/gpu_facts.py (RETURN).
"""

from __future__ import annotations

import csv
import os
import re
import xml.etree.ElementTree as ET
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

# The --query-gpu field list, in the order the real captures were taken with
# (tests/fixtures/gpu/*/query-gpu.csv has the same header).
QUERY_GPU_FIELDS = (
    "index",
    "name",
    "uuid",
    "pci.bus_id",
    "driver_version",
    "vbios_version",
    "memory.total",
    "memory.used",
    "persistence_mode",
    "compute_cap",
    "ecc.mode.current",
    "ecc.errors.uncorrected.volatile.total",
    "ecc.errors.uncorrected.aggregate.total",
    "retired_pages.pending",
    "remapped_rows.pending",
    "remapped_rows.failure",
    "pcie.link.gen.current",
    "pcie.link.gen.max",
    "pcie.link.width.current",
    "pcie.link.width.max",
    "clocks.max.sm",
    "clocks.current.sm",
    "power.limit",
    "temperature.gpu",
    "clocks_event_reasons.active",
    "mig.mode.current",
    "fabric.state",
    "fabric.status",
)

REMAPPED_ROWS_FIELDS = (
    "gpu_bus_id",
    "gpu_uuid",
    "remapped_rows.correctable",
    "remapped_rows.uncorrectable",
    "remapped_rows.pending",
    "remapped_rows.failure",
)

# NVML's nvmlClocksEventReason* bit values (the same names the XML uses, minus its prefix).
CLOCKS_EVENT_REASON_BITS = (
    (0x1, "gpu_idle"),
    (0x2, "applications_clocks_setting"),
    (0x4, "sw_power_cap"),
    (0x8, "hw_slowdown"),
    (0x10, "sync_boost"),
    (0x20, "sw_thermal_slowdown"),
    (0x40, "hw_thermal_slowdown"),
    (0x80, "hw_power_brake_slowdown"),
    (0x100, "display_clocks_setting"),
)

# topo -m connection types, nearest first (SOC is the pre-2017 name of SYS).
CONNECTION_RANK = {"PIX": 1, "PXB": 2, "PHB": 3, "NODE": 4, "SYS": 5, "SOC": 5}

PROC_DRIVER_VERSION = "/proc/driver/nvidia/version"

_MISSING = (
    "",
    "n/a",
    "[n/a]",
    "not supported",
    "[not supported]",
    "unknown",
    "[unknown error]",
    "unknown error",
    "requested functionality has been deprecated",
    "none",
)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_NUMBER = re.compile(r"^\s*(-?\d+(?:\.\d+)?)")


class GpuFactsError(ValueError):
    """nvidia-smi could not be run or its output could not be read."""


# ------------------------------------------------------------------ value helpers
def _value(text):
    """Stripped text, or None for nvidia-smi's ways of saying 'no value'."""
    if text is None:
        return None
    text = str(text).strip()
    return None if text.lower() in _MISSING else text


_MAX_COUNT = 2**64  # nvidia-smi's counters and sizes are at most unsigned 64-bit (NVML's unsigned long long)


def _int(text, what=None):
    """Leading integer of '143771 MiB', '16x', '5' ... or None.

    A negative number or one beyond 2^64 is no count nvidia-smi prints: GpuFactsError naming the
    field (``what``) and the value, never int()'s or float()'s own error.
    """
    text = _value(text)
    if text is None:
        return None
    match = _NUMBER.match(text)
    if not match:
        return None
    number = match.group(1)
    digits = number.lstrip("-").split(".")[0].lstrip("0")
    if number.startswith("-") or len(digits) > 20 or int(digits or "0") >= _MAX_COUNT:
        raise GpuFactsError(
            "%s is %s, expected a count (0 to 2^64): the output is corrupted or not nvidia-smi's"
            % (what or "a value", repr(text) if len(text) <= 40 else repr(text[:37]) + "...")
        )
    return int(float(number)) if "." in number else int(number)


def _float(text):
    text = _value(text)
    if text is None:
        return None
    match = _NUMBER.match(text)
    return float(match.group(1)) if match else None


def _bool(text):
    """Enabled/Yes/Active → True, Disabled/No/Not Active → False, else None."""
    text = _value(text)
    if text is None:
        return None
    lowered = text.lower()
    if lowered in ("enabled", "yes", "active", "on", "true"):
        return True
    if lowered in ("disabled", "no", "not active", "off", "false"):
        return False
    return None


def _find(element, path):
    if element is None:
        return None
    found = element.find(path)
    return None if found is None else found.text


def _sum_counts(element, want_uncorrectable):
    """Sum of an ECC counter block (volatile/aggregate) over SRAM and DRAM, None when all N/A."""
    if element is None:
        return None
    total = None
    for child in element:
        tag = child.tag
        if tag in ("single_bit", "double_bit"):  # drivers before R470: <double_bit><total>
            if (tag == "double_bit") == want_uncorrectable:
                count = _int(_find(child, "total"), "total")
            else:
                continue
        elif "correctable" in tag and ("uncorrectable" in tag) == want_uncorrectable:
            count = _int(child.text, child.tag)
        else:
            continue
        if count is not None:
            total = (total or 0) + count
    return total


def empty_gpu() -> Dict[str, Any]:
    """The shape of one GPU's facts, every value unknown."""
    return {
        "index": None,
        "name": None,
        "uuid": None,
        "pci_bus_id": None,
        "architecture": None,
        "vbios_version": None,
        "compute_cap": None,
        "memory_total_mib": None,
        "driver_version": None,
        "cuda_version": None,
        "persistence_mode": None,
        "mig_mode": None,
        "virtualization_mode": None,
        "ecc": {
            "mode_current": None,
            "mode_pending": None,
            "uncorrectable_volatile": None,
            "uncorrectable_aggregate": None,
            "correctable_volatile": None,
            "correctable_aggregate": None,
        },
        "remapped_rows": {"correctable": None, "uncorrectable": None, "pending": None, "failure": None},
        "pcie": {"gen_current": None, "gen_max": None, "width_current": None, "width_max": None},
        "clocks_event_reasons": None,
        "fabric": {"state": None, "status": None, "clique_id": None, "cluster_uuid": None},
        "nvlink": None,
    }


def merge_gpu(primary: Mapping[str, Any], fallback: Mapping[str, Any]) -> Dict[str, Any]:
    """primary's values, with fallback's where primary has None (one level of nesting)."""
    merged = {}
    for key, value in primary.items():
        other = fallback.get(key)
        if isinstance(value, dict) and isinstance(other, dict):
            merged[key] = dict((k, v if v is not None else other.get(k)) for k, v in value.items())
        else:
            merged[key] = value if value is not None else other
    return merged


def clocks_event_reasons_from_mask(text: Any) -> Optional[List[str]]:
    """Names of the active reasons in a clocks_event_reasons.active bitmask ('0x...')."""
    text = _value(text)
    if text is None:
        return None
    try:
        mask = int(text, 16) if text.lower().startswith("0x") else int(text)
    except ValueError:
        return None
    return [name for bit, name in CLOCKS_EVENT_REASON_BITS if mask & bit]


# ------------------------------------------------------------------ nvidia-smi -q -x
def parse_xml(text: Any) -> Dict[str, Any]:
    """Parse ``nvidia-smi -q -x``: {driver_version, cuda_version, attached_gpus, gpus: [...]}."""
    if not isinstance(text, str):
        raise GpuFactsError("nvidia-smi -q -x printed no text (got %s)" % type(text).__name__)
    try:
        root = ET.fromstring(text.strip())
    except ET.ParseError as exc:
        raise GpuFactsError(
            "nvidia-smi -q -x printed no valid XML (%s); first line: %r"
            % (exc, text.strip().splitlines()[0][:120] if text.strip() else "")
        )
    if root.tag != "nvidia_smi_log":
        raise GpuFactsError("nvidia-smi -q -x printed <%s>, expected <nvidia_smi_log>" % root.tag)
    driver_version = _value(_find(root, "driver_version"))
    cuda_version = _value(_find(root, "cuda_version"))
    gpus = []
    for position, node in enumerate(root.findall("gpu")):
        try:
            gpus.append(_gpu_from_xml(position, node, driver_version, cuda_version))
        except GpuFactsError as exc:
            raise GpuFactsError(
                "nvidia-smi -q -x, GPU %d (%s): %s" % (position, _value(node.get("id")) or "no PCI bus id", exc)
            )
    try:
        attached = _int(_find(root, "attached_gpus"), "attached_gpus")
    except GpuFactsError as exc:
        raise GpuFactsError("nvidia-smi -q -x: %s" % exc)
    return {
        "driver_version": driver_version,
        "cuda_version": cuda_version,
        "attached_gpus": attached,
        "gpus": gpus,
    }


def _gpu_from_xml(position, node, driver_version, cuda_version):
    """One <gpu> element in the shape of empty_gpu()."""
    gpu = empty_gpu()
    gpu["index"] = position
    gpu["name"] = _value(_find(node, "product_name"))
    gpu["uuid"] = _value(_find(node, "uuid"))
    gpu["pci_bus_id"] = _value(node.get("id")) or _value(_find(node, "pci/pci_bus_id"))
    gpu["architecture"] = _value(_find(node, "product_architecture"))
    gpu["vbios_version"] = _value(_find(node, "vbios_version"))
    gpu["memory_total_mib"] = _int(_find(node, "fb_memory_usage/total"), "fb_memory_usage/total")
    gpu["driver_version"] = driver_version
    gpu["cuda_version"] = cuda_version
    gpu["persistence_mode"] = _bool(_find(node, "persistence_mode"))
    gpu["mig_mode"] = _value(_find(node, "mig_mode/current_mig"))
    gpu["virtualization_mode"] = _value(_find(node, "gpu_virtualization_mode/virtualization_mode"))

    ecc = node.find("ecc_errors")
    gpu["ecc"] = {
        "mode_current": _value(_find(node, "ecc_mode/current_ecc")),
        "mode_pending": _value(_find(node, "ecc_mode/pending_ecc")),
        "uncorrectable_volatile": _sum_counts(None if ecc is None else ecc.find("volatile"), True),
        "uncorrectable_aggregate": _sum_counts(None if ecc is None else ecc.find("aggregate"), True),
        "correctable_volatile": _sum_counts(None if ecc is None else ecc.find("volatile"), False),
        "correctable_aggregate": _sum_counts(None if ecc is None else ecc.find("aggregate"), False),
    }
    gpu["remapped_rows"] = {
        "correctable": _int(_find(node, "remapped_rows/remapped_row_corr"), "remapped_rows/remapped_row_corr"),
        "uncorrectable": _int(_find(node, "remapped_rows/remapped_row_unc"), "remapped_rows/remapped_row_unc"),
        "pending": _bool(_find(node, "remapped_rows/remapped_row_pending")),
        "failure": _bool(_find(node, "remapped_rows/remapped_row_failure")),
    }
    link = "pci/pci_gpu_link_info/"
    gpu["pcie"] = {
        "gen_current": _int(_find(node, link + "pcie_gen/current_link_gen"), link + "pcie_gen/current_link_gen"),
        "gen_max": _int(_find(node, link + "pcie_gen/max_link_gen"), link + "pcie_gen/max_link_gen"),
        "width_current": _int(
            _find(node, link + "link_widths/current_link_width"), link + "link_widths/current_link_width"
        ),
        "width_max": _int(_find(node, link + "link_widths/max_link_width"), link + "link_widths/max_link_width"),
    }
    # R535 renamed clocks_throttle_reasons to clocks_event_reasons; read both.
    reasons = node.find("clocks_event_reasons")
    if reasons is None:
        reasons = node.find("clocks_throttle_reasons")
    if reasons is not None:
        gpu["clocks_event_reasons"] = [
            re.sub(r"^clocks?_(event|throttle)_reason_", "", child.tag)
            for child in reasons
            if _value(child.text) == "Active"
        ]
    gpu["fabric"] = {
        "state": _value(_find(node, "fabric/state")),
        "status": _value(_find(node, "fabric/status")),
        "clique_id": _value(_find(node, "fabric/cliqueId")),
        "cluster_uuid": _value(_find(node, "fabric/clusterUuid")),
    }
    return gpu


# ------------------------------------------------------------------ --query-* CSV
def _field_name(header_cell):
    """'memory.total [MiB]' → 'memory.total'."""
    return re.sub(r"\s*\[[^\]]*\]\s*$", "", header_cell.strip())


def parse_query_csv(text: str, fields: Sequence[str]) -> List[Dict[str, str]]:
    """Rows of a ``--query-*`` CSV as dicts keyed by field name.

    Takes ``--format=csv,noheader,nounits`` (the form the module asks for) and also
    ``--format=csv`` (a header line, units after the numbers).
    """
    rows = [row for row in csv.reader(text.splitlines(), skipinitialspace=True) if row]
    if rows and _field_name(rows[0][0]) == fields[0]:
        fields = tuple(_field_name(cell) for cell in rows[0])
        rows = rows[1:]
    parsed = []
    for number, row in enumerate(rows, 1):
        if len(row) != len(fields):
            raise GpuFactsError(
                "nvidia-smi query output row %d has %d values for %d fields: %r"
                % (number, len(row), len(fields), ", ".join(row)[:200])
            )
        parsed.append(dict(zip(fields, (cell.strip() for cell in row))))
    return parsed


def gpu_from_query_row(row: Mapping[str, Any]) -> Dict[str, Any]:
    """One --query-gpu row in the shape of empty_gpu()."""
    gpu = empty_gpu()
    gpu["index"] = _int(row.get("index"), "index")
    gpu["name"] = _value(row.get("name"))
    gpu["uuid"] = _value(row.get("uuid"))
    gpu["pci_bus_id"] = _value(row.get("pci.bus_id"))
    gpu["vbios_version"] = _value(row.get("vbios_version"))
    gpu["compute_cap"] = _value(row.get("compute_cap"))
    gpu["memory_total_mib"] = _int(row.get("memory.total"), "memory.total")
    gpu["driver_version"] = _value(row.get("driver_version"))
    gpu["persistence_mode"] = _bool(row.get("persistence_mode"))
    gpu["mig_mode"] = _value(row.get("mig.mode.current"))
    gpu["ecc"]["mode_current"] = _value(row.get("ecc.mode.current"))
    gpu["ecc"]["uncorrectable_volatile"] = _int(
        row.get("ecc.errors.uncorrected.volatile.total"), "ecc.errors.uncorrected.volatile.total"
    )
    gpu["ecc"]["uncorrectable_aggregate"] = _int(
        row.get("ecc.errors.uncorrected.aggregate.total"), "ecc.errors.uncorrected.aggregate.total"
    )
    gpu["remapped_rows"]["pending"] = _bool(row.get("remapped_rows.pending"))
    gpu["remapped_rows"]["failure"] = _bool(row.get("remapped_rows.failure"))
    gpu["pcie"] = {
        "gen_current": _int(row.get("pcie.link.gen.current"), "pcie.link.gen.current"),
        "gen_max": _int(row.get("pcie.link.gen.max"), "pcie.link.gen.max"),
        "width_current": _int(row.get("pcie.link.width.current"), "pcie.link.width.current"),
        "width_max": _int(row.get("pcie.link.width.max"), "pcie.link.width.max"),
    }
    gpu["clocks_event_reasons"] = clocks_event_reasons_from_mask(
        row.get("clocks_event_reasons.active", row.get("clocks_throttle_reasons.active"))
    )
    gpu["fabric"]["state"] = _value(row.get("fabric.state"))
    gpu["fabric"]["status"] = _value(row.get("fabric.status"))
    return gpu


def remapped_rows_from_row(row: Mapping[str, Any]) -> Dict[str, Any]:
    return {
        "correctable": _int(row.get("remapped_rows.correctable"), "remapped_rows.correctable"),
        "uncorrectable": _int(row.get("remapped_rows.uncorrectable"), "remapped_rows.uncorrectable"),
        "pending": _bool(row.get("remapped_rows.pending")),
        "failure": _bool(row.get("remapped_rows.failure")),
    }


# ------------------------------------------------------------------ nvlink -s
def parse_nvlink_status(text: str) -> Dict[str, Dict[str, Any]]:
    """Parse ``nvidia-smi nvlink -s``: {uuid: {"index": i, "links": [{link, active, speed_gbps}]}}.

    An active link prints its speed (``Link 0: 26.562 GB/s``), an inactive one ``<inactive>``;
    a GPU without NVLink is not listed at all.
    """
    result = {}
    current = None
    for raw in _ANSI.sub("", text).splitlines():
        line = raw.strip()
        header = re.match(r"^GPU (\d+): .*\(UUID: ([^)]+)\)", line)
        if header:
            uuid = header.group(2).strip()
            if uuid in result:  # a second listing (e.g. -e counters) after the status
                current = None
                continue
            current = result[uuid] = {"index": int(header.group(1)), "links": [], "all_inactive": False}
            continue
        if current is None:
            continue
        link = re.match(r"^Link (\d+):\s*(.*)$", line)
        if link:
            value = link.group(2)
            speed = re.match(r"^([\d.]+)\s*GB/s$", value)
            if speed:
                current["links"].append(
                    {"link": int(link.group(1)), "active": True, "speed_gbps": float(speed.group(1))}
                )
            elif "inactive" in value.lower():
                current["links"].append({"link": int(link.group(1)), "active": False, "speed_gbps": None})
        elif "inactive" in line.lower():  # "all links are inactive"
            current["all_inactive"] = True
    return result


def nvlink_summary(entry: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
    """The per-GPU ``nvlink`` fact from one parse_nvlink_status entry (None: no NVLink listing)."""
    if entry is None:
        return {"total": 0, "active": 0, "inactive_links": [], "all_inactive": False, "speeds_gbps": [], "links": []}
    links = sorted(entry["links"], key=lambda item: item["link"])
    return {
        "total": len(links),
        "active": sum(1 for item in links if item["active"]),
        "inactive_links": [item["link"] for item in links if not item["active"]],
        "all_inactive": bool(entry.get("all_inactive")),
        "speeds_gbps": sorted(set(item["speed_gbps"] for item in links if item["active"])),
        "links": links,
    }


# ------------------------------------------------------------------ topo -m
def _split_cells(line):
    if "\t" in line:
        return line.split("\t")
    return re.split(r" {2,}", line)


def parse_topology(text: str) -> Dict[str, Any]:
    """Parse ``nvidia-smi topo -m`` into a connection matrix, affinities and NIC names."""
    lines = _ANSI.sub("", text).splitlines()
    header_at = None
    for number, line in enumerate(lines):
        cells = [cell.strip() for cell in _split_cells(line)]
        if "GPU0" in cells and not cells[0]:
            header_at = number
            break
    if header_at is None:
        raise GpuFactsError("nvidia-smi topo -m printed no GPU0 column header")
    header = [cell.strip() for cell in _split_cells(lines[header_at]) if cell.strip()]
    devices = []
    for cell in header:
        if "affinity" in cell.lower() or "numa" in cell.lower():
            break
        devices.append(cell)
    attributes = header[len(devices) :]
    matrix, affinity = {}, {}
    for line in lines[header_at + 1 :]:
        if not line.strip() or line.strip().startswith("Legend"):
            break
        cells = _split_cells(line) if "\t" in line else line.split()
        label = cells[0].strip()
        values = [cell.strip() for cell in cells[1 : 1 + len(devices)]]
        rest = [cell.strip() for cell in cells[1 + len(devices) :] if cell.strip()]
        matrix[label] = dict((dev, val) for dev, val in zip(devices, values) if dev != label and val)
        affinity[label] = dict(zip(attributes, rest))
    nic_names = {}
    for line in lines[header_at:]:
        match = re.match(r"^\s*(NIC\d+):\s*(\S+)\s*$", line)
        if match:
            nic_names[match.group(1)] = match.group(2)
    return {"devices": devices, "matrix": matrix, "affinity": affinity, "nic_names": nic_names}


def _gpu_number(device):
    match = re.match(r"^GPU(\d+)$", device)
    return int(match.group(1)) if match else None


def _nvlinks(connection):
    match = re.match(r"^NV(\d+)$", connection or "")
    return int(match.group(1)) if match else None


def topology_summary(parsed: Mapping[str, Any]) -> Dict[str, Any]:
    """The gpufleet_gpu_topology fact from parse_topology()'s result."""
    gpus = [dev for dev in parsed["devices"] if _gpu_number(dev) is not None]
    nics = [dev for dev in parsed["devices"] if _gpu_number(dev) is None]
    matrix = parsed["matrix"]
    pairs, pair_types = [], {}
    for position, left in enumerate(gpus):
        for right in gpus[position + 1 :]:
            connection = matrix.get(left, {}).get(right)
            pairs.append(
                {
                    "gpus": [_gpu_number(left), _gpu_number(right)],
                    "connection": connection,
                    "nvlinks": _nvlinks(connection),
                }
            )
            pair_types[connection] = pair_types.get(connection, 0) + 1
    nvlink_counts = [pair["nvlinks"] for pair in pairs if pair["nvlinks"] is not None]
    per_gpu = []
    nic_near = dict((parsed["nic_names"].get(nic, nic), []) for nic in nics)
    for dev in gpus:
        attrs = parsed["affinity"].get(dev, {})
        reach = []
        for nic in nics:
            connection = matrix.get(dev, {}).get(nic)
            reach.append(
                {
                    "nic": parsed["nic_names"].get(nic, nic),
                    "connection": connection,
                    "rank": CONNECTION_RANK.get(connection, 9),
                }
            )
        reach.sort(key=lambda item: item["rank"])
        nearest = [item["nic"] for item in reach if reach and item["rank"] == reach[0]["rank"]]
        for name in nearest:
            nic_near[name].append(_gpu_number(dev))
        per_gpu.append(
            {
                "index": _gpu_number(dev),
                "cpu_affinity": _value(attrs.get("CPU Affinity")),
                "numa_affinity": _value(attrs.get("NUMA Affinity")),
                "gpu_numa_id": _value(attrs.get("GPU NUMA ID")),
                "nics": [{"nic": item["nic"], "connection": item["connection"]} for item in reach],
                "nearest_nics": nearest,
            }
        )
    return {
        "gpu_count": len(gpus),
        "pairs": pairs,
        "pair_types": pair_types,
        "all_pairs_nvlink": bool(pairs) and len(nvlink_counts) == len(pairs),
        "min_pair_nvlinks": min(nvlink_counts) if nvlink_counts else None,
        "gpus": per_gpu,
        "nics": [{"nic": name, "nearest_gpus": near} for name, near in nic_near.items()],
        "matrix": matrix,
    }


# ------------------------------------------------------------------ /proc/driver/nvidia/version
def parse_kernel_module(text: Optional[str]) -> Optional[Dict[str, str]]:
    """The loaded kernel module from /proc/driver/nvidia/version: {version, flavor} or None."""
    match = re.search(r"NVRM version:.*?Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)", text or "")
    if not match:
        return None
    return {"version": match.group(1), "flavor": "open" if "Open Kernel Module" in match.group(0) else "proprietary"}


# ------------------------------------------------------------------ everything together
def _row(convert, what, number, row):
    try:
        return convert(row)
    except GpuFactsError as exc:
        bus = row.get("pci.bus_id") or row.get("gpu_uuid") or "no bus id"
        raise GpuFactsError("%s row %d (%s): %s" % (what, number, bus, exc))


def build_facts(
    xml_text: Any,
    query_csv: Optional[str] = None,
    remapped_csv: Optional[str] = None,
    topo_text: Optional[str] = None,
    nvlink_text: Optional[str] = None,
    proc_version_text: Optional[str] = None,
    nvidia_smi: Optional[str] = None,
) -> Dict[str, Any]:
    """All facts from the raw outputs; only the XML is required (None: that output is missing).

    Returns {"gpus": [...], "topology": {...} or None, "driver": {...}}.
    """
    log = parse_xml(xml_text)
    gpus = log["gpus"]
    if query_csv is not None:
        rows = [
            _row(gpu_from_query_row, "nvidia-smi --query-gpu", number, row)
            for number, row in enumerate(parse_query_csv(query_csv, QUERY_GPU_FIELDS), 1)
        ]
        by_key = dict((row["uuid"] or row["pci_bus_id"], row) for row in rows)
        merged = []
        for gpu in gpus:
            row = by_key.get(gpu["uuid"]) or by_key.get(gpu["pci_bus_id"])
            if row is not None:
                gpu = merge_gpu(gpu, row)
                gpu["index"] = row["index"] if row["index"] is not None else gpu["index"]
            merged.append(gpu)
        gpus = merged
    if remapped_csv is not None:
        what = "nvidia-smi --query-remapped-rows"
        remapped = dict(
            (row.get("gpu_uuid"), _row(remapped_rows_from_row, what, number, row))
            for number, row in enumerate(parse_query_csv(remapped_csv, REMAPPED_ROWS_FIELDS), 1)
        )
        for gpu in gpus:
            if gpu["uuid"] in remapped:
                gpu["remapped_rows"] = merge_gpu({"r": gpu["remapped_rows"]}, {"r": remapped[gpu["uuid"]]})["r"]
    if nvlink_text is not None:
        links = parse_nvlink_status(nvlink_text)
        for gpu in gpus:
            gpu["nvlink"] = nvlink_summary(links.get(gpu["uuid"]))
    gpus.sort(key=lambda gpu: gpu["index"])
    topology = None
    if topo_text is not None:
        topology = topology_summary(parse_topology(topo_text))
    driver = {
        "driver_version": log["driver_version"],
        "cuda_version": log["cuda_version"],
        "attached_gpus": log["attached_gpus"] if log["attached_gpus"] is not None else len(gpus),
        "kernel_module": parse_kernel_module(proc_version_text),
        "fabric_attached": any(gpu["fabric"]["state"] is not None for gpu in gpus),
        "nvidia_smi": nvidia_smi,
    }
    return {"gpus": gpus, "topology": topology, "driver": driver}


def explain_failure(argv: Sequence[str], rc: int, out: Optional[str], err: Optional[str]) -> str:
    """A message for a failed nvidia-smi run: what it means and the fix."""
    text = "%s\n%s" % (out or "", err or "")
    command = " ".join(argv)
    tail = " ".join(text.split())[-300:]
    if "Driver/library version mismatch" in text:
        return (
            "%s failed (rc %s): the loaded NVIDIA kernel module does not match the installed driver "
            "libraries (the driver was upgraded without a reboot). Fix: reboot the host, or unload and "
            "reload the nvidia kernel modules. nvidia-smi said: %s" % (command, rc, tail)
        )
    if "couldn't communicate with the NVIDIA driver" in text or "NVIDIA driver is not loaded" in text:
        return (
            "%s failed (rc %s): the NVIDIA kernel module is not loaded. Fix: check `dmesg | grep -i nvidia` "
            "(module built for the running kernel? Secure Boot signing? nouveau blacklisted?) and reboot "
            "after installing the driver. nvidia-smi said: %s" % (command, rc, tail)
        )
    if "No devices were found" in text:
        return (
            "%s failed (rc %s): the driver sees no GPU. Fix: check `lspci -d 10de:` for the GPUs and the "
            "kernel log for Xid 79 (GPU fell off the bus); reseat or replace. nvidia-smi said: %s" % (command, rc, tail)
        )
    return "%s failed (rc %s): %s" % (command, rc, tail or "no output")


def collect(
    run: Callable[[List[str]], Tuple[int, str, str]],
    nvidia_smi: str,
    read_text: Optional[Callable[[str], Optional[str]]] = None,
) -> Tuple[Dict[str, Any], List[str]]:
    """Run nvidia-smi through ``run(argv) -> (rc, stdout, stderr)`` and build the facts.

    ``-q -x`` must succeed (GpuFactsError otherwise, with the fix); every other source is
    optional: its failure becomes a warning and its facts stay None.
    Returns (facts, warnings).
    """
    warnings = []
    argv = [nvidia_smi, "-q", "-x"]
    rc, out, err = run(argv)
    if rc != 0:
        raise GpuFactsError(explain_failure(argv, rc, out, err))

    def optional(args, what):
        command = [nvidia_smi] + list(args)
        code, stdout, stderr = run(command)
        if code != 0:
            warnings.append("%s; %s left out of the facts" % (explain_failure(command, code, stdout, stderr), what))
            return None
        return stdout

    query = optional(
        ["--query-gpu=" + ",".join(QUERY_GPU_FIELDS), "--format=csv,noheader,nounits"],
        "GPU index and compute capability",
    )
    remapped = optional(
        ["--query-remapped-rows=" + ",".join(REMAPPED_ROWS_FIELDS), "--format=csv,noheader,nounits"],
        "remapped-rows query",
    )
    topo = optional(["topo", "-m"], "topology")
    nvlink = optional(["nvlink", "-s"], "NVLink link states")
    proc_version = read_text(PROC_DRIVER_VERSION) if read_text is not None else None
    return build_facts(out, query, remapped, topo, nvlink, proc_version, nvidia_smi), warnings


def find_nvidia_smi(
    host: str, path: Optional[str], which: Callable[[str], Optional[str]], is_executable: Callable[[str], bool]
) -> str:
    """The nvidia-smi to run: ``path`` when given, else ``which('nvidia-smi')``; GpuFactsError with the fix."""
    if path:
        if not is_executable(path):
            raise GpuFactsError(
                "%s: nvidia_smi_path %s does not exist or is not executable. Fix: point "
                "nvidia_smi_path at nvidia-smi, or leave it unset to use the one on PATH." % (host, path)
            )
        return path
    found = which("nvidia-smi")
    if not found:
        raise GpuFactsError(
            "%s: nvidia-smi not found (searched PATH, /sbin, /usr/sbin, /usr/local/sbin); this host "
            "has no NVIDIA driver installed. Fix: install the driver (the collection's NVIDIA driver "
            "role) before the GPU facts and preflight, or set nvidia_smi_path." % host
        )
    return found


def read_text(path: str) -> Optional[str]:
    """A file's text, or None when it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def gather(
    host: str,
    nvidia_smi_path: Optional[str],
    which: Callable[[str], Optional[str]],
    run: Callable[[List[str]], Tuple[int, str, str]],
    is_executable: Optional[Callable[[str], bool]] = None,
    read: Optional[Callable[[str], Optional[str]]] = read_text,
) -> Tuple[Dict[str, Any], List[str]]:
    """The ansible_facts of gpu_facts for this host, and warnings.

    ``which(name)`` finds a program (AnsibleModule.get_bin_path), ``run(argv)`` returns
    (rc, stdout, stderr) (AnsibleModule.run_command). Raises GpuFactsError naming the host and the fix.
    """
    if is_executable is None:

        def is_executable(path):
            return os.path.isfile(path) and os.access(path, os.X_OK)

    nvidia_smi = find_nvidia_smi(host, nvidia_smi_path, which, is_executable)
    try:
        facts, warnings = collect(run, nvidia_smi, read)
    except GpuFactsError as exc:
        raise GpuFactsError("%s: %s" % (host, exc))
    return {
        "gpufleet_gpus": facts["gpus"],
        "gpufleet_gpu_topology": facts["topology"],
        "gpufleet_gpu_driver": facts["driver"],
    }, warnings
