# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""GPU preflight: does a host's hardware fit what its model group expects?

``host_problems`` judges one host's facts (the ``ansible_facts`` gpufleet.sglang.gpu_facts
returns) against expectations (``host_findings`` adds the warnings that do not refuse a host); ``group_problems`` compares the hosts of one model group with
each other (driver/CUDA versions, GPU model and count). Both return a list of messages, each
naming the host (and GPU index and PCI bus id), what was measured, what was expected and the
fix; an empty list means ready.
"""

from __future__ import annotations

from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple

# Expectations and their defaults (the module's options and the role variables use these names).
DEFAULTS = {
    "expected_gpu_count": None,  # int; None: not checked
    "expected_models": [],  # substrings; every GPU's name must contain one (case-insensitive)
    "min_memory_mib": None,  # per GPU
    "expected_driver_version": None,  # exact, or a dotted prefix ("580" matches "580.159.04")
    "expected_cuda_version": None,  # same rule
    "require_persistence": True,
    "require_ecc_enabled": True,
    "max_uncorrectable_ecc": 0,  # volatile (since the driver loaded)
    "max_uncorrectable_ecc_aggregate": None,  # lifetime; None: not checked
    "allow_pending_remaps": False,
    "require_pcie_max_width": True,
    "require_pcie_max_gen": False,  # the generation drops at idle to save power: off by default
    "require_nvlinks_active": True,
    "require_fabric_completed": True,  # on NVSwitch systems
    "nvswitch_system": None,  # None: derived from the facts (a GPU reports a fabric state)
    "fabric_manager_active": None,  # None: not checked; the caller fills it from service facts
    "forbidden_clocks_event_reasons": [
        "hw_slowdown",
        "hw_thermal_slowdown",
        "hw_power_brake_slowdown",
        "sw_thermal_slowdown",
    ],
    "allow_mig": False,
}

FACT_KEYS = ("gpufleet_gpus", "gpufleet_gpu_driver")


class PreflightError(ValueError):
    """The facts or expectations handed in cannot be judged."""


def version_matches(found: Any, expected: Any) -> bool:
    """True when ``found`` equals ``expected`` or starts with it at a dot boundary."""
    if expected is None:
        return True
    if found is None:
        return False
    found, expected = str(found), str(expected).strip()
    return found == expected or found.startswith(expected + ".")


def expectations(given: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """DEFAULTS overlaid with the non-None values of ``given``; unknown names are refused."""
    given = dict(given or {})
    unknown = sorted(set(given) - set(DEFAULTS))
    if unknown:
        raise PreflightError(
            "unknown GPU preflight expectation(s) %s; known: %s" % (", ".join(unknown), ", ".join(sorted(DEFAULTS)))
        )
    merged = dict(DEFAULTS)
    merged.update((key, value) for key, value in given.items() if value is not None)
    if isinstance(merged["expected_models"], str):
        merged["expected_models"] = [merged["expected_models"]]
    return merged


def check_facts(host: str, facts: Any) -> Dict[str, Any]:
    """The facts dict, checked for the keys gpu_facts sets; PreflightError naming the host otherwise."""
    if not isinstance(facts, dict) or not all(key in facts for key in FACT_KEYS):
        have = sorted(facts) if isinstance(facts, dict) else type(facts).__name__
        raise PreflightError(
            "%s: no GPU facts to judge (need %s, got %s). Fix: run gpufleet.sglang.gpu_facts on the host first "
            "and pass its ansible_facts (or let gpu_preflight run nvidia-smi itself)"
            % (host, " and ".join(FACT_KEYS), have)
        )
    if not isinstance(facts["gpufleet_gpus"], list):
        raise PreflightError(
            "%s: gpufleet_gpus must be a list of GPUs, got %s" % (host, type(facts["gpufleet_gpus"]).__name__)
        )
    _check_shape(host, "gpufleet_gpu_driver", facts["gpufleet_gpu_driver"], _DRIVER_SHAPE)
    for position, gpu in enumerate(facts["gpufleet_gpus"]):
        if not isinstance(gpu, dict):
            raise PreflightError(
                "%s: gpufleet_gpus[%d] is %s, expected a mapping of one GPU's facts. Fix: pass the "
                "ansible_facts of gpufleet.sglang.gpu_facts unchanged, or correct the hand-made facts"
                % (host, position, _shown(gpu))
            )
        _check_shape(host, "gpufleet_gpus[%d]" % position, gpu, _GPU_SHAPE)
    return facts


# The value types gpu_facts gives (gpu_facts.empty_gpu and build_facts); None is "not reported" everywhere.
# Hand-made facts with any other type are refused naming the host, the field and the value, so that no
# comparison below meets a string where it expects a number (or the reverse).
_TEXT, _COUNT, _FLAG, _TEXTS, _COUNTS = (
    "a string",
    "a count (an integer >= 0)",
    "true or false",
    "a list of strings",
    "a list of counts",
)
_DRIVER_SHAPE = {"driver_version": _TEXT, "cuda_version": _TEXT}
_GPU_SHAPE = {
    "index": _COUNT,
    "name": _TEXT,
    "uuid": _TEXT,
    "pci_bus_id": _TEXT,
    "memory_total_mib": _COUNT,
    "persistence_mode": _FLAG,
    "mig_mode": _TEXT,
    "clocks_event_reasons": _TEXTS,
    "ecc": {
        "mode_current": _TEXT,
        "mode_pending": _TEXT,
        "uncorrectable_volatile": _COUNT,
        "uncorrectable_aggregate": _COUNT,
    },
    "remapped_rows": {"uncorrectable": _COUNT, "pending": _FLAG, "failure": _FLAG},
    "pcie": {"gen_current": _COUNT, "gen_max": _COUNT, "width_current": _COUNT, "width_max": _COUNT},
    "nvlink": {"total": _COUNT, "active": _COUNT, "inactive_links": _COUNTS, "all_inactive": _FLAG},
    "fabric": {"state": _TEXT, "status": _TEXT},
}


def _fits(value, kind):
    if kind == _TEXT:
        return isinstance(value, str)
    if kind == _COUNT:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0
    if kind == _FLAG:
        return isinstance(value, bool)
    if kind in (_TEXTS, _COUNTS):
        return isinstance(value, list) and all(_fits(item, _TEXT if kind == _TEXTS else _COUNT) for item in value)
    return False


def _shown(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _check_shape(host, where, value, shape):
    """PreflightError naming the host and the field when a (hand-made) fact has another type."""
    if value is None:
        return
    if not isinstance(value, dict):
        raise PreflightError(
            "%s: %s is %s, expected a mapping (null: not reported). Fix: pass the ansible_facts of "
            "gpufleet.sglang.gpu_facts unchanged, or correct the hand-made facts" % (host, where, _shown(value))
        )
    for key, kind in shape.items():
        item = value.get(key)
        if isinstance(kind, dict):
            _check_shape(host, "%s.%s" % (where, key), item, kind)
        elif item is not None and not _fits(item, kind):
            raise PreflightError(
                "%s: %s.%s is %s, expected %s (null: not reported). Fix: pass the ansible_facts of "
                "gpufleet.sglang.gpu_facts unchanged, or correct the hand-made facts"
                % (host, where, key, _shown(item), kind)
            )


def _where(host, gpu):
    return "%s GPU %s (%s)" % (host, gpu.get("index"), gpu.get("pci_bus_id") or gpu.get("uuid") or "?")


def _gpu_problems(host, gpu, want, nvswitch, driver_version=None):
    where = _where(host, gpu)
    problems = []
    name = gpu.get("name") or ""
    models = want["expected_models"]
    if models and not any(model.lower() in name.lower() for model in models):
        problems.append(
            "%s: model %r matches none of the expected %s. Fix: put the host in a group of its GPU "
            "model, or correct expected_models." % (where, name, models)
        )
    memory = gpu.get("memory_total_mib")
    if want["min_memory_mib"] is not None and (memory is None or memory < want["min_memory_mib"]):
        problems.append(
            "%s: %s MiB of GPU memory, expected at least %s MiB. Fix: a GPU of the group's model "
            "(or correct min_memory_mib)." % (where, memory, want["min_memory_mib"])
        )
    if want["require_persistence"] and gpu.get("persistence_mode") is not True:
        problems.append(
            "%s: persistence mode is %s, expected Enabled. Fix: systemctl enable --now "
            "nvidia-persistenced (or nvidia-smi -pm 1)."
            % (where, {False: "Disabled", None: "not reported"}[gpu.get("persistence_mode")])
        )
    ecc = gpu.get("ecc") or {}
    if want["require_ecc_enabled"]:
        if ecc.get("mode_current") != "Enabled":
            problems.append(
                "%s: ECC is %s, expected Enabled. Fix: nvidia-smi -i %s -e 1, then reboot."
                % (where, ecc.get("mode_current") or "not reported", gpu.get("index"))
            )
        elif ecc.get("mode_pending") not in (None, "Enabled"):
            problems.append(
                "%s: ECC pending mode is %s (current Enabled): the next reboot turns ECC off. Fix: "
                "nvidia-smi -i %s -e 1." % (where, ecc.get("mode_pending"), gpu.get("index"))
            )
    volatile = ecc.get("uncorrectable_volatile")
    if volatile is not None and volatile > want["max_uncorrectable_ecc"]:
        problems.append(
            "%s: %s uncorrectable ECC error(s) since the driver loaded, at most %s allowed. Fix: drain "
            "the host, read nvidia-smi -q -d ECC,ROW_REMAPPER and the kernel log (Xid 48/63/64/94/95); "
            "reset the GPU (nvidia-smi -r) or reboot, and replace it if the errors come back."
            % (where, volatile, want["max_uncorrectable_ecc"])
        )
    aggregate = ecc.get("uncorrectable_aggregate")
    if (
        want["max_uncorrectable_ecc_aggregate"] is not None
        and aggregate is not None
        and aggregate > want["max_uncorrectable_ecc_aggregate"]
    ):
        problems.append(
            "%s: %s uncorrectable ECC error(s) over the GPU's life, at most %s allowed. Fix: have the "
            "GPU checked (field diagnostics / RMA)." % (where, aggregate, want["max_uncorrectable_ecc_aggregate"])
        )
    remap = gpu.get("remapped_rows") or {}
    if remap.get("failure"):
        problems.append(
            "%s: row remapping failed (no spare rows left). Fix: take the host out of service and "
            "replace the GPU (RMA)." % where
        )
    if remap.get("pending") and not want["allow_pending_remaps"]:
        problems.append(
            "%s: a row remap is pending (%s uncorrectable row(s) remapped). Fix: reset the GPU "
            "(nvidia-smi -r -i %s, with nothing running on it) or reboot to apply it."
            % (where, remap.get("uncorrectable"), gpu.get("index"))
        )
    pcie = gpu.get("pcie") or {}
    if (
        want["require_pcie_max_width"]
        and pcie.get("width_current") is not None
        and pcie.get("width_max") is not None
        and pcie["width_current"] < pcie["width_max"]
    ):
        problems.append(
            "%s: PCIe link x%s, the link can do x%s (width does not drop at idle). Fix: reseat the GPU "
            "or its riser/cable, check the slot; replace if it stays degraded."
            % (where, pcie["width_current"], pcie["width_max"])
        )
    if (
        want["require_pcie_max_gen"]
        and pcie.get("gen_current") is not None
        and pcie.get("gen_max") is not None
        and pcie["gen_current"] < pcie["gen_max"]
    ):
        problems.append(
            "%s: PCIe gen %s, the link can do gen %s. Fix: measure under load (the generation drops at "
            "idle), check BIOS PCIe settings and the riser." % (where, pcie["gen_current"], pcie["gen_max"])
        )
    forbidden = set(want["forbidden_clocks_event_reasons"] or ())
    active = [reason for reason in (gpu.get("clocks_event_reasons") or []) if reason in forbidden]
    if active:
        problems.append(
            "%s: clocks held back by %s. Fix: check cooling, power supply and power brake signals "
            "(nvidia-smi -q -d PERFORMANCE,TEMPERATURE,POWER)." % (where, ", ".join(active))
        )
    nvlink = gpu.get("nvlink")
    if want["require_nvlinks_active"] and nvlink:
        if nvlink.get("inactive_links") or nvlink.get("all_inactive"):
            problems.append(
                "%s: NVLink link(s) %s inactive (%s of %s active). Fix: check nvidia-smi nvlink -e and "
                "the kernel log (Xid 74); reset the GPU or power-cycle the host; replace the GPU or "
                "baseboard if links stay down."
                % (
                    where,
                    ", ".join(str(link) for link in nvlink.get("inactive_links") or []) or "all",
                    nvlink.get("active"),
                    nvlink.get("total"),
                )
            )
    fabric = gpu.get("fabric") or {}
    if nvswitch and want["require_fabric_completed"] and not fabric_ready(gpu):
        state = "NVLink fabric state %s / status %s, expected Completed / Success" % (
            fabric.get("state") or "not reported",
            fabric.get("status") or "not reported",
        )
        if want["fabric_manager_active"] is False:
            problems.append(
                "%s: %s, and nvidia-fabricmanager is not active on this host. Fix: on bare metal, "
                "install nvidia-fabricmanager at exactly driver version %s and systemctl enable --now "
                "nvidia-fabricmanager; in a VM whose NVSwitches the hypervisor manages, the fabric "
                "manager runs on the hypervisor host: have it started there (at the host's driver "
                "version) and the GPUs re-attached. CUDA fails with error 802 until the fabric is up."
                % (where, state, driver_version or "(unknown)")
            )
        else:
            problems.append(
                "%s: %s. Fix: run nvidia-fabricmanager at exactly the driver's version (systemctl "
                "enable --now nvidia-fabricmanager; journalctl -u nvidia-fabricmanager; in a VM, on "
                "the hypervisor host); CUDA fails with error 802 until the fabric is up." % (where, state)
            )
    if not want["allow_mig"] and gpu.get("mig_mode") == "Enabled":
        problems.append(
            "%s: MIG mode is Enabled; SGLang needs whole GPUs. Fix: nvidia-smi -i %s -mig 0, then "
            "reset the GPU." % (where, gpu.get("index"))
        )
    return problems


def fabric_ready(gpu: Mapping[str, Any]) -> bool:
    """The GPU reports NVLink fabric state Completed with status Success (probing done, routes set)."""
    fabric = gpu.get("fabric") or {}
    return fabric.get("state") == "Completed" and fabric.get("status") == "Success"


def is_nvswitch_system(facts: Mapping[str, Any], want: Mapping[str, Any]) -> bool:
    """The caller's word when given, else: does any GPU report an NVLink fabric state."""
    if want["nvswitch_system"] is not None:
        return bool(want["nvswitch_system"])
    return any((gpu.get("fabric") or {}).get("state") is not None for gpu in facts["gpufleet_gpus"])


def host_findings(host: str, facts: Any, given: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """Problems (refuse the host) and warnings (do not) of one host's GPUs against the expectations.

    The fabric manager: on Hopper and newer, each GPU's NVLink fabric state is the authority (it
    goes Not Started -> In Progress -> Completed, with status Success, once a fabric manager trained
    the NVSwitch fabric and registered the GPU). In NVIDIA's "Shared NVSwitch Virtualization Model"
    (Fabric Manager user guide, docs.nvidia.com/datacenter/tesla/fabric-manager-user-guide) the
    fabric manager runs in the hypervisor or a service VM and a guest sees only its GPUs: no
    NVSwitch, no local fabric manager, and still Completed / Success on every GPU, as the real
    2 x H200 VM capture in tests/fixtures/gpu/h200-x2 shows. So a local service that is not
    active only matters where a GPU's state is not Completed / Success (then every such GPU is a
    problem naming its state and the fix), or where the fabric state is not judged at all.
    """
    want = expectations(given)
    facts = check_facts(host, facts)
    gpus = facts["gpufleet_gpus"]
    driver = facts.get("gpufleet_gpu_driver") or {}
    driver_version = driver.get("driver_version")
    problems = []
    warnings = []
    count = want["expected_gpu_count"]
    if count is not None and len(gpus) != count:
        problems.append(
            "%s: %s GPU(s) visible, expected %s. Fix: compare nvidia-smi -L with lspci -d 10de:, look "
            "for Xid 79 (fell off the bus) in the kernel log, reseat or replace; or correct "
            "expected_gpu_count." % (host, len(gpus), count)
        )
    if not version_matches(driver_version, want["expected_driver_version"]):
        problems.append(
            "%s: NVIDIA driver %s, expected %s. Fix: install the pinned driver version and reboot."
            % (host, driver_version or "not reported", want["expected_driver_version"])
        )
    if not version_matches(driver.get("cuda_version"), want["expected_cuda_version"]):
        problems.append(
            "%s: driver's CUDA version %s, expected %s. Fix: install the driver branch that provides "
            "it." % (host, driver.get("cuda_version") or "not reported", want["expected_cuda_version"])
        )
    nvswitch = is_nvswitch_system(facts, want)
    if nvswitch and want["fabric_manager_active"] is False:
        if gpus and all(fabric_ready(gpu) for gpu in gpus):
            warnings.append(
                "%s: nvidia-fabricmanager is not active on this host, but every GPU (%d) reports NVLink "
                "fabric state Completed / status Success: the NVSwitch fabric is managed outside this "
                "OS, so the fabric manager is expected to run on the hypervisor host (or its service "
                "VM) of a VM given the GPUs of an HGX board. Accepted; on bare metal, check systemctl status "
                "nvidia-fabricmanager." % (host, len(gpus))
            )
        elif not want["require_fabric_completed"]:
            problems.append(
                "%s: NVSwitch system but nvidia-fabricmanager is not active (the GPUs' fabric state is "
                "not judged: require_fabric_completed is off). Fix: install nvidia-fabricmanager at "
                "exactly driver version %s and systemctl enable --now nvidia-fabricmanager (in a VM: on "
                "the hypervisor host)." % (host, driver_version or "(unknown)")
            )
    for gpu in gpus:
        problems.extend(_gpu_problems(host, gpu, want, nvswitch, driver_version))
    return {"problems": problems, "warnings": warnings, "nvswitch_system": nvswitch}


def host_problems(host: str, facts: Any, given: Optional[Mapping[str, Any]] = None) -> List[str]:
    """Problems of one host's GPUs against the expectations (see DEFAULTS and host_findings)."""
    return host_findings(host, facts, given)["problems"]


def _identity(facts):
    driver = facts.get("gpufleet_gpu_driver") or {}
    gpus = facts.get("gpufleet_gpus") or []
    return {
        "driver version": driver.get("driver_version"),
        "CUDA version": driver.get("cuda_version"),
        "GPU model": ", ".join(sorted(set(str(gpu.get("name")) for gpu in gpus))) or None,
        "GPU count": len(gpus),
    }


_PARITY_FIX = {
    "driver version": "pin one driver version for the whole group and converge every host",
    "CUDA version": "pin one driver branch for the whole group (the CUDA version comes with the driver)",
    "GPU model": "a model group needs one GPU model; move the host to a group of its model",
    "GPU count": "every host of a group needs the same GPU count; see the host's own preflight",
}


def group_problems(group: str, hosts_facts: Iterable[Tuple[str, Any]]) -> List[str]:
    """Parity of one model group: ``hosts_facts`` is [(host, facts), ...] in rank order.

    Every host is compared with the first host that has facts; one message per differing
    value, naming the host, both values and the fix. A host without facts is a problem too.
    """
    problems = []
    reference = None
    for host, facts in hosts_facts:
        try:
            check_facts(host, facts)
        except PreflightError as exc:
            problems.append("group %s: %s" % (group, exc))
            continue
        identity = _identity(facts)
        if reference is None:
            reference = (host, identity)
            continue
        for key, value in identity.items():
            if value != reference[1][key]:
                problems.append(
                    "group %s: host %s has %s %s, but %s has %s. Fix: %s."
                    % (group, host, key, value, reference[0], reference[1][key], _PARITY_FIX[key])
                )
    return problems
