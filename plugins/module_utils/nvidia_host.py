# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NVIDIA host stack decisions: which driver and fabric-manager versions to install, whether they
match, whether this is an NVSwitch system, and whether a reboot is due.

Plain functions, no Ansible objects: the module ``nvidia_host_state`` passes a ``run`` callable
(argv -> (rc, stdout, stderr)) and a ``read`` callable (path -> text or None).

Versions come in package-manager shapes: Debian ``580.159.04-1`` / ``1:580.159.04-0ubuntu1``, RPM
``3:580.159.04-1.el9``. The driver's own version (what ``/sys/module/nvidia/version`` and
``nvidia-smi`` print, and what the fabric manager must equal) is the upstream part ``580.159.04``.
"""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

NVIDIA_PCI_VENDOR = "0x10de"
# NVSwitch chips enumerate as PCI class 0x0680 ("bridge: other"); GPUs are 0x0300 / 0x0302.
NVSWITCH_PCI_CLASS_PREFIX = "0x0680"


def upstream_version(version: Optional[str]) -> str:
    """'1:580.159.04-1' -> '580.159.04'; '3:575.51-1.fc41' -> '575.51'; '' / None -> ''."""
    if not version:
        return ""
    version = version.strip()
    if ":" in version:
        version = version.split(":", 1)[1]
    return version.split("-", 1)[0]


def branch_of(version: Optional[str]) -> str:
    """'580.159.04' -> '580'."""
    up = upstream_version(version)
    return up.split(".", 1)[0] if up else ""


def version_key(version: Optional[str]) -> Tuple[Tuple[int, int, str], ...]:
    """Sort key comparing dotted numbers numerically: 580.95.05 < 580.159.04 (a string sort says otherwise)."""
    key = []
    for part in re.split(r"[.\-:~+]", version or ""):
        key.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return tuple(key)


def same_version(wanted: Optional[str], full: str) -> bool:
    """Does a requested version (upstream '580.159.04' or full '580.159.04-1') name the package version full?"""
    wanted = (wanted or "").strip()
    if not wanted:
        return False
    if wanted == full or wanted == full.split(":", 1)[-1]:
        return True
    return "-" not in wanted.split(":", 1)[-1] and upstream_version(full) == upstream_version(wanted)


# --------------------------------------------------------------------------- package managers


def parse_madison(text: Optional[str]) -> List[str]:
    """`apt-cache madison PKG` -> the distinct versions, in the order listed.

    Lines look like ' nvidia-open-580 | 580.159.04-1 | https://host/path  Packages'."""
    versions = []
    for line in (text or "").splitlines():
        cols = [c.strip() for c in line.split("|")]
        if len(cols) >= 3 and cols[1] and cols[1] not in versions:
            versions.append(cols[1])
    return versions


def parse_dpkg_query(text: Optional[str]) -> Optional[str]:
    """`dpkg-query -W -f '${db:Status-Abbrev}|${Version}\\n' PKG` -> installed version or None.

    The status abbreviation's second letter is the current state: 'i' installed ('ii', 'hi' held)."""
    for line in (text or "").splitlines():
        status, _sep, version = line.partition("|")
        status = status.strip()
        if len(status) >= 2 and status[1] == "i" and version.strip():
            return version.strip()
    return None


def parse_rpm_versions(text: Optional[str]) -> List[str]:
    """Lines of `VERSION-RELEASE` (rpm -q / dnf repoquery --qf) -> distinct versions; skips
    'package X is not installed' and blank lines."""
    versions = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line or " " in line:
            continue
        if line not in versions:
            versions.append(line)
    return versions


def install_spec(package_manager: str, package: str, version: Optional[str]) -> str:
    """The argument the package module needs to install exactly this version."""
    if not version:
        return package
    if package_manager == "apt":
        return "%s=%s" % (package, version)
    return "%s-%s" % (package, version.split(":", 1)[-1])


def query_available(run: Callable[..., Tuple[int, str, str]], package_manager: str, package: str) -> List[str]:
    if package_manager == "apt":
        rc, out, _err = run(["apt-cache", "madison", package])
        return parse_madison(out) if rc == 0 else []
    rc, out, _err = run(
        ["dnf", "--quiet", "repoquery", "--available", "--queryformat", "%{version}-%{release}\\n", package]
    )
    return parse_rpm_versions(out) if rc == 0 else []


def query_installed(run: Callable[..., Tuple[int, str, str]], package_manager: str, package: str) -> Optional[str]:
    if package_manager == "apt":
        rc, out, _err = run(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}|${Version}\\n", package])
        return parse_dpkg_query(out) if rc == 0 else None
    rc, out, _err = run(["rpm", "-q", "--queryformat", "%{VERSION}-%{RELEASE}\\n", package])
    versions = parse_rpm_versions(out) if rc == 0 else []
    return versions[0] if versions else None


# --------------------------------------------------------------------------- NVIDIA's package names

# From R580 NVIDIA ships the fabric manager without the branch in its name, in the apt and the dnf
# repositories alike: `nvidia-fabricmanager`. Before, apt had `nvidia-fabricmanager-<branch>` and dnf
# `nvidia-fabric-manager`. Read in NVIDIA/gpu-driver-container (commit 06a208c, 2026-08):
# ubuntu22.04|24.04/precompiled/nvidia-driver fabricmanager_install() (`-ge 580`: nvidia-fabricmanager,
# else nvidia-fabricmanager-${DRIVER_BRANCH}, then `apt-mark hold` of that name), the same split in
# ubuntu*/precompiled/local-repo.sh, and rhel9|rhel10/precompiled/Dockerfile (`-ge 580`:
# nvidia-fabricmanager-${DRIVER_VERSION}, else nvidia-fabric-manager-${DRIVER_VERSION}); rhel9/install.sh
# versionlocks `nvidia-fabricmanager`. NVIDIA/cloud-native-stack playbooks/nvidia-driver.yaml (Ubuntu):
# `driver_version <= 570` nvidia-fabricmanager-<branch>, `>= 580` nvidia-fabricmanager.
FABRICMANAGER_UNSUFFIXED_FROM = 580


def fabricmanager_package_name(package_manager: str, branch: Union[int, str]) -> str:
    """NVIDIA's fabric-manager package name in its CUDA repository for this driver branch."""
    branch = str(branch).strip()
    if not branch.isdigit():
        raise ValueError("driver branch must be a number like 580, got %r" % branch)
    if int(branch) >= FABRICMANAGER_UNSUFFIXED_FROM:
        return "nvidia-fabricmanager"
    return "nvidia-fabricmanager-%s" % branch if package_manager == "apt" else "nvidia-fabric-manager"


# RHEL: NVIDIA's CUDA repository ships the driver as the modular stream nvidia-driver:<stream>; without
# the stream enabled, dnf's modular filtering hides its packages. Streams, read in
# NVIDIA/gpu-driver-container: rhel9|rhel10/precompiled/Dockerfile `dnf -y module enable
# nvidia-driver:${DRIVER_STREAM}-open/default` (open kernel modules), rhel8|rhel9/install.sh `dnf module
# enable -y nvidia-driver:${DRIVER_BRANCH}-dkms` (proprietary kernel modules built by DKMS).
DNF_DRIVER_MODULE = "nvidia-driver"


def driver_module_stream(branch: Union[int, str], open_modules: bool) -> str:
    """'580', True -> '580-open'; '580', False -> '580-dkms'."""
    return "%s-%s" % (str(branch).strip(), "open" if open_modules else "dkms")


def parse_dnf_module_list(text: Optional[str], module: str = DNF_DRIVER_MODULE) -> List[str]:
    """`dnf module list [--enabled] MODULE` -> the module's enabled streams.

    dnf prints a table per repository (dnf/module/module_base.py): `Name  Stream  Profiles  Summary`,
    the stream cell carrying its markers, e.g. `580-open [e]` or `latest-dkms [d][e]`."""
    enabled = []
    for line in (text or "").splitlines():
        match = re.match(r"^(\S+)\s+(\S+)((?:\s?\[[a-z]\])*)", line)
        if match and match.group(1) == module and "[e]" in match.group(3) and match.group(2) not in enabled:
            enabled.append(match.group(2))
    return enabled


def module_stream_commands(
    wanted: Optional[str], enabled: Sequence[str], module: str = DNF_DRIVER_MODULE
) -> List[List[str]]:
    """argv lists that make `wanted` the (only) enabled stream; [] when it is already.

    dnf refuses to enable a second stream of a module, so another enabled one is reset first (the
    installed packages stay; the role then installs the wanted version)."""
    if not wanted or enabled == [wanted]:
        return []
    commands = []
    if enabled:
        commands.append(["dnf", "-y", "module", "reset", module])
    commands.append(["dnf", "-y", "module", "enable", "%s:%s" % (module, wanted)])
    return commands


def query_module_streams(run: Callable[..., Tuple[int, str, str]], module: str = DNF_DRIVER_MODULE) -> List[str]:
    """Enabled streams of a dnf module; [] when none (dnf exits 1: 'No matching Modules to list')."""
    rc, out, _err = run(["dnf", "--quiet", "module", "list", "--enabled", module])
    return parse_dnf_module_list(out) if rc == 0 else []


# --------------------------------------------------------------------------- choosing versions


def choose_driver(
    branch: Union[int, str], wanted: Optional[str], installed: Optional[str], available: Sequence[str]
) -> Tuple[Optional[str], Optional[str]]:
    """Pick the driver package version to converge to, or explain why none fits.

    wanted set: exactly that version (upstream or full), which must be in the branch and available
    (or already installed). Unset: keep an installed version of the branch (a held driver is not
    upgraded behind the operator's back), else the newest available of the branch.
    Returns (full_version or None, problem or None)."""
    branch = str(branch)
    in_branch = sorted((v for v in available if branch_of(v) == branch), key=version_key)
    if wanted:
        if branch_of(wanted) != branch:
            return None, (
                "nvidia_host_driver_version %s is not in branch %s (nvidia_host_driver_branch): "
                "set both to the same branch" % (wanted, branch)
            )
        for candidate in reversed(in_branch):
            if same_version(wanted, candidate):
                return candidate, None
        if installed and same_version(wanted, installed):
            return installed, None
        return None, (
            "driver version %s is not in the configured repositories (branch %s offers: %s): "
            "fix the repository/mirror or choose an offered version in nvidia_host_driver_version"
            % (wanted, branch, ", ".join(in_branch) or "nothing")
        )
    if installed and branch_of(installed) == branch:
        return installed, None
    if in_branch:
        return in_branch[-1], None
    return None, (
        "no driver of branch %s in the configured repositories: check nvidia_host_cuda_repo_url "
        "and nvidia_host_driver_branch" % branch
    )


def choose_fabricmanager(
    driver_version: Optional[str],
    wanted: Optional[str],
    available: Sequence[str],
    installed: Optional[str],
    package: str,
) -> Tuple[Optional[str], Optional[str]]:
    """The fabric manager must be exactly the driver's version (a mismatch is CUDA error 802).

    Returns (full_version or None, problem or None)."""
    driver_up = upstream_version(driver_version)
    if wanted and upstream_version(wanted) != driver_up:
        return None, (
            "fabric manager version %s (nvidia_host_fabricmanager_version) does not match the driver "
            "version %s: on NVSwitch systems they must be identical (else CUDA error 802, 'system not "
            "yet initialized'); fix: unset nvidia_host_fabricmanager_version (it follows the driver) or "
            "set it to %s" % (upstream_version(wanted), driver_up, driver_up)
        )
    matching = sorted((v for v in available if upstream_version(v) == driver_up), key=version_key)
    if wanted:
        exact = [v for v in matching if same_version(wanted, v)]
        matching = exact or matching
    if matching:
        return matching[-1], None
    if installed and upstream_version(installed) == driver_up:
        return installed, None
    offered = ", ".join(sorted(available, key=version_key)) or "nothing"
    return None, (
        "%s %s is not in the configured repositories (offered: %s): the fabric manager must equal the "
        "driver version %s exactly; fix: mirror %s %s or choose a driver version that has one "
        "(nvidia_host_driver_version)" % (package, driver_up, offered, driver_up, package, driver_up)
    )


def installed_mismatch(driver_installed: Optional[str], fm_installed: Optional[str], fm_package: str) -> Optional[str]:
    """A problem when both are installed with different versions (checked after installing)."""
    if driver_installed and fm_installed and upstream_version(driver_installed) != upstream_version(fm_installed):
        return (
            "%s %s is installed but the driver is %s: they must be identical on NVSwitch systems (else CUDA "
            "error 802); fix: re-run with the fabric manager enabled so it follows the driver, or install "
            "%s=%s"
            % (
                fm_package,
                upstream_version(fm_installed),
                upstream_version(driver_installed),
                fm_package,
                upstream_version(driver_installed),
            )
        )
    return None


# --------------------------------------------------------------------------- NVSwitch detection


def fabric_states_from_xml(xml_text: str) -> List[str]:
    """`nvidia-smi -q -x` -> list of per-GPU fabric states ('Completed', 'In Progress', 'N/A', ...)."""
    states = []
    try:
        root = ET.fromstring(xml_text)
    except ET.ParseError:
        return states
    for gpu in root.findall("gpu"):
        state = gpu.findtext("fabric/state")
        states.append((state or "N/A").strip())
    return states


def nvswitch_from_fabric_states(states: Iterable[Optional[str]]) -> bool:
    """Any GPU with a fabric state other than N/A takes part in an NVSwitch fabric."""
    return any(s and s.upper() not in ("N/A", "NOT SUPPORTED", "[N/A]") for s in states)


def nvidia_pci_devices(
    pci_root: str,
    listdir: Callable[[str], List[str]] = os.listdir,
    read: Optional[Callable[[str], Optional[str]]] = None,
) -> Tuple[List[str], List[str]]:
    """NVIDIA PCI devices under /sys/bus/pci/devices: (nvswitches, others), lists of PCI addresses.

    NVSwitch chips are vendor 0x10de with class 0x0680xx; GPUs are 0x0300xx / 0x0302xx."""
    read = read or _read_text
    switches, others = [], []
    try:
        entries = sorted(listdir(pci_root))
    except OSError:
        return switches, others
    for entry in entries:
        base = os.path.join(pci_root, entry)
        vendor = (read(os.path.join(base, "vendor")) or "").strip().lower()
        if vendor != NVIDIA_PCI_VENDOR:
            continue
        klass = (read(os.path.join(base, "class")) or "").strip().lower()
        (switches if klass.startswith(NVSWITCH_PCI_CLASS_PREFIX) else others).append(entry)
    return switches, others


def nvswitch_pci_devices(
    pci_root: str,
    listdir: Callable[[str], List[str]] = os.listdir,
    read: Optional[Callable[[str], Optional[str]]] = None,
) -> List[str]:
    """PCI addresses of NVIDIA NVSwitch devices."""
    return nvidia_pci_devices(pci_root, listdir=listdir, read=read)[0]


def _read_text(path):
    try:
        with open(path) as f:
            return f.read()
    except (IOError, OSError):
        return None


# --------------------------------------------------------------------------- reboot


def reboot_decision(
    driver_changed: bool, installed_version: Optional[str], loaded_version: Optional[str]
) -> Tuple[bool, str]:
    """Reboot only when the driver changed (this run, or an earlier run left a reboot pending) AND the
    loaded kernel module is not the installed version. Returns (required, reason)."""
    installed = upstream_version(installed_version)
    loaded = (loaded_version or "").strip()
    if not installed:
        return False, "no driver installed"
    if loaded == installed:
        return False, "loaded kernel module %s matches the installed driver" % loaded
    if not driver_changed:
        return False, (
            "loaded kernel module %s differs from the installed driver %s, but the driver did not "
            "change: no reboot (re-run after fixing the module load)" % (loaded or "none", installed)
        )
    return True, "driver changed to %s; loaded kernel module is %s" % (installed, loaded or "none (not loaded)")


# --------------------------------------------------------------------------- one host


def plan_host(
    run: Callable[..., Tuple[int, str, str]],
    read: Callable[[str], Optional[str]],
    params: Mapping[str, Any],
    path_exists: Callable[[str], bool] = os.path.exists,
    listdir: Callable[[str], List[str]] = os.listdir,
) -> Dict[str, Any]:
    """Everything the role needs for one host, as a plain dict (the module's return values).

    params: package_manager (apt|dnf), driver_package, driver_branch, driver_version,
    fabricmanager (auto|enabled|disabled), fabricmanager_package ('auto': NVIDIA's name for the branch,
    '': none known), fabricmanager_version, driver_changed, module_version_file, nvidia_smi_path,
    pci_devices_path, driver_module_stream (dnf: the nvidia-driver stream to enable, '' for none)."""
    pm = params["package_manager"]
    problems = []

    stream = None
    if pm == "dnf" and params.get("driver_module_stream"):
        enabled = query_module_streams(run)
        stream = {
            "module": DNF_DRIVER_MODULE,
            "wanted": params["driver_module_stream"],
            "enabled": enabled,
            "commands": module_stream_commands(params["driver_module_stream"], enabled),
        }

    drv_pkg = params["driver_package"]
    drv_installed = query_installed(run, pm, drv_pkg)
    drv_available = query_available(run, pm, drv_pkg)
    drv_target, problem = choose_driver(
        params["driver_branch"], params.get("driver_version") or "", drv_installed, drv_available
    )
    if problem:
        if stream and stream["commands"]:
            problem += " (the module stream %s:%s is not enabled yet, and dnf hides the packages of other streams)" % (
                DNF_DRIVER_MODULE,
                stream["wanted"],
            )
        problems.append(problem)

    nvswitch = detect_nvswitch(run, params, path_exists, listdir, read)
    mode = params.get("fabricmanager") or "auto"
    fm_required = mode == "enabled" or (mode == "auto" and nvswitch["detected"])

    fm_pkg = params.get("fabricmanager_package") or ""
    if fm_pkg == "auto":
        try:
            fm_pkg = fabricmanager_package_name(pm, params["driver_branch"])
        except ValueError as exc:
            fm_pkg = ""
            problems.append("%s (nvidia_host_driver_branch)" % exc)
    notices = []
    fm = {
        "package": fm_pkg,
        "required": fm_required,
        "installed": None,
        "target": None,
        "install_spec": None,
        "available": [],
    }
    if fm_pkg:
        fm["installed"] = query_installed(run, pm, fm_pkg)
        if fm_required:
            fm["available"] = query_available(run, pm, fm_pkg)
            if drv_target:
                fm_target, problem = choose_fabricmanager(
                    drv_target, params.get("fabricmanager_version") or "", fm["available"], fm["installed"], fm_pkg
                )
                if problem:
                    problems.append(problem)
                fm["target"] = fm_target
                fm["install_spec"] = install_spec(pm, fm_pkg, fm_target) if fm_target else None
        # Installed versions that differ and that this run will not bring together.
        mismatch = installed_mismatch(drv_installed, fm["installed"], fm_pkg)
        converges = fm_required and fm["target"] and drv_target
        if mismatch and not converges:
            (problems if fm_required else notices).append(mismatch)
    elif fm_required:
        problems.append(
            "this host needs the NVIDIA fabric manager (%s) but no package name is known for it: set "
            "nvidia_host_fabricmanager_package" % ("forced" if mode == "enabled" else "NVSwitch detected")
        )

    loaded = read(params["module_version_file"])
    loaded = loaded.strip() if loaded else None
    required, reason = reboot_decision(bool(params.get("driver_changed")), drv_installed, loaded)

    return {
        "package_manager": pm,
        "driver": {
            "package": drv_pkg,
            "branch": str(params["driver_branch"]),
            "installed": drv_installed,
            "installed_version": upstream_version(drv_installed) or None,
            "target": drv_target,
            "target_version": upstream_version(drv_target) or None,
            "install_spec": install_spec(pm, drv_pkg, drv_target) if drv_target else None,
            "available": sorted(drv_available, key=version_key),
        },
        "fabricmanager": fm,
        "module_stream": stream,
        "nvswitch": nvswitch,
        "loaded_module_version": loaded,
        "reboot_required": required,
        "reboot_reason": reason,
        "problems": problems,
        "notices": notices,
    }


def detect_nvswitch(
    run: Callable[..., Tuple[int, str, str]],
    params: Mapping[str, Any],
    path_exists: Callable[[str], bool] = os.path.exists,
    listdir: Callable[[str], List[str]] = os.listdir,
    read: Optional[Callable[[str], Optional[str]]] = None,
) -> Dict[str, Any]:
    """Does this OS see NVSwitch chips, i.e. must it run the fabric manager?

    The PCI bus decides (it works before the driver is loaded): NVSwitch devices present means yes;
    NVIDIA GPUs without them means no, even when nvidia-smi reports a fabric state -- that is a VM
    given GPUs of an HGX board whose NVSwitches (and fabric manager) the hypervisor keeps. Only when
    the PCI bus shows no NVIDIA device at all (no sysfs view) does nvidia-smi's fabric state decide."""
    switches, others = nvidia_pci_devices(
        params.get("pci_devices_path") or "/sys/bus/pci/devices", listdir=listdir, read=read
    )
    states = []
    smi = params.get("nvidia_smi_path")
    if smi and path_exists(smi):
        rc, out, _err = run([smi, "-q", "-x"])
        if rc == 0:
            states = fabric_states_from_xml(out)
    if switches:
        detected, evidence = True, "%d NVSwitch PCI device(s)" % len(switches)
    elif others:
        detected, evidence = False, "NVIDIA PCI devices but no NVSwitch"
    else:
        detected = nvswitch_from_fabric_states(states)
        evidence = "no NVIDIA PCI device visible; nvidia-smi fabric state: %s" % (", ".join(states) or "none")
    return {
        "detected": detected,
        "evidence": evidence,
        "pci_devices": switches,
        "pci_other_nvidia_devices": others,
        "fabric_states": states,
    }
