from __future__ import annotations

import pathlib

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import nvidia_host as nh

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures"


def fixture(*parts):
    return (FIXTURES.joinpath(*parts)).read_text()


@pytest.mark.parametrize(
    "version, upstream, branch",
    [
        ("580.159.04-1", "580.159.04", "580"),
        ("1:580.159.04-1", "580.159.04", "580"),
        ("3:575.51-1.fc41", "575.51", "575"),
        ("570.172.08-0ubuntu0.24.04.1", "570.172.08", "570"),
        ("580.159.04-1.el9", "580.159.04", "580"),
        ("580.159.04", "580.159.04", "580"),
        ("", "", ""),
        (None, "", ""),
    ],
)
def test_upstream_version_and_branch(version, upstream, branch):
    assert nh.upstream_version(version) == upstream
    assert nh.branch_of(version) == branch


def test_version_key_is_numeric_not_lexical():
    versions = ["580.159.04-1", "580.95.05-1", "580.172.08-1", "580.159.04-2"]
    assert sorted(versions, key=nh.version_key) == ["580.95.05-1", "580.159.04-1", "580.159.04-2", "580.172.08-1"]
    assert sorted(versions) != sorted(versions, key=nh.version_key)


@pytest.mark.parametrize(
    "wanted, full, same",
    [
        ("580.159.04", "580.159.04-1", True),
        ("580.159.04-1", "580.159.04-1", True),
        ("580.159.04-1", "1:580.159.04-1", True),
        ("580.159.04-2", "580.159.04-1", False),
        ("580.159.0", "580.159.04-1", False),
        ("", "580.159.04-1", False),
    ],
)
def test_same_version(wanted, full, same):
    assert nh.same_version(wanted, full) is same


def test_parse_madison_fixture_keeps_distinct_versions():
    assert nh.parse_madison(fixture("nvidia_host", "madison-nvidia-open-580.txt")) == [
        "580.172.08-1",
        "580.159.04-1",
        "580.95.05-1",
    ]
    assert nh.parse_madison("") == []
    assert nh.parse_madison("N: Unable to locate package foo\n") == []


@pytest.mark.parametrize(
    "text, installed",
    [
        ("ii |580.159.04-1\n", "580.159.04-1"),
        ("hi |580.159.04-1\n", "580.159.04-1"),
        ("rc |580.159.04-1\n", None),
        ("un |\n", None),
        ("", None),
    ],
)
def test_parse_dpkg_query(text, installed):
    assert nh.parse_dpkg_query(text) == installed


def test_parse_rpm_versions_skips_messages():
    assert nh.parse_rpm_versions("package nvidia-open is not installed\n") == []
    assert nh.parse_rpm_versions("580.159.04-1.el9\n580.159.04-1.el9\n580.172.08-1.el9\n") == [
        "580.159.04-1.el9",
        "580.172.08-1.el9",
    ]


@pytest.mark.parametrize(
    "pm, version, spec",
    [
        ("apt", "580.159.04-1", "nvidia-open-580=580.159.04-1"),
        ("dnf", "3:580.159.04-1.el9", "nvidia-open-580-580.159.04-1.el9"),
        ("apt", None, "nvidia-open-580"),
    ],
)
def test_install_spec(pm, version, spec):
    assert nh.install_spec(pm, "nvidia-open-580", version) == spec


AVAILABLE = ["580.172.08-1", "580.159.04-1", "580.95.05-1", "570.133.20-1"]


@pytest.mark.parametrize(
    "wanted, installed, target, problem",
    [
        ("580.159.04", None, "580.159.04-1", None),
        ("580.159.04-1", "580.95.05-1", "580.159.04-1", None),
        ("", None, "580.172.08-1", None),  # newest of the branch, numerically
        ("", "580.95.05-1", "580.95.05-1", None),  # an installed driver of the branch is kept
        ("", "570.133.20-1", "580.172.08-1", None),  # another branch installed: move to this one
        ("580.82.07", None, None, "not in the configured repositories"),
        ("570.133.20", None, None, "is not in branch 580"),
        ("580.1.1", "580.1.1-1", "580.1.1-1", None),  # installed, no longer offered: still satisfied
    ],
)
def test_choose_driver(wanted, installed, target, problem):
    got, why = nh.choose_driver("580", wanted, installed, AVAILABLE)
    assert got == target
    if problem:
        assert problem in why
    else:
        assert why is None


def test_choose_driver_empty_repository_names_the_variables():
    got, why = nh.choose_driver("580", "", None, [])
    assert got is None and "nvidia_host_cuda_repo_url" in why and "branch 580" in why


def test_fabricmanager_follows_driver_exactly():
    fm_available = nh.parse_madison(fixture("nvidia_host", "madison-nvidia-fabricmanager.txt"))
    got, why = nh.choose_fabricmanager("580.159.04-1", "", fm_available, None, "nvidia-fabricmanager")
    assert (got, why) == ("580.159.04-1", None)


def test_fabricmanager_mismatch_is_refused_with_both_versions_and_the_fix():
    got, why = nh.choose_fabricmanager(
        "580.159.04-1", "580.172.08", ["580.172.08-1", "580.159.04-1"], None, "nvidia-fabricmanager"
    )
    assert got is None
    for part in ("580.172.08", "580.159.04", "nvidia_host_fabricmanager_version", "802"):
        assert part in why


def test_fabricmanager_missing_version_lists_what_is_offered():
    got, why = nh.choose_fabricmanager(
        "580.95.05-1", "", ["580.172.08-1", "580.159.04-1"], None, "nvidia-fabricmanager"
    )
    assert got is None
    assert "nvidia-fabricmanager 580.95.05 is not in the configured repositories" in why
    assert "580.159.04-1, 580.172.08-1" in why


def test_installed_mismatch():
    assert nh.installed_mismatch("580.159.04-1", "580.159.04-1", "fm") is None
    assert nh.installed_mismatch("580.159.04-1", None, "fm") is None
    why = nh.installed_mismatch("580.172.08-1", "580.159.04-1", "nvidia-fabricmanager")
    assert "580.159.04 is installed but the driver is 580.172.08" in why


@pytest.mark.parametrize(
    "capture, states, nvswitch",
    [
        ("h200-x2", ["Completed", "Completed"], True),  # HGX H200 slice: GPUs in an NVSwitch fabric
        ("h100-x1", ["N/A"], False),
    ],
)
def test_fabric_state_from_real_captures(capture, states, nvswitch):
    got = nh.fabric_states_from_xml(fixture("gpu", capture, "nvidia-smi-q.xml"))
    assert got == states
    assert nh.nvswitch_from_fabric_states(got) is nvswitch


def test_fabric_state_from_garbage_is_empty():
    assert nh.fabric_states_from_xml("NVIDIA-SMI has failed") == []
    assert nh.nvswitch_from_fabric_states([]) is False


def make_pci(tmp_path, devices):
    for addr, (vendor, klass) in devices.items():
        d = tmp_path / addr
        d.mkdir()
        (d / "vendor").write_text(vendor + "\n")
        (d / "class").write_text(klass + "\n")
    return str(tmp_path)


def test_nvswitch_pci_scan(tmp_path):
    root = make_pci(
        tmp_path,
        {
            "0000:05:00.0": ("0x10de", "0x068000"),  # NVSwitch
            "0000:18:00.0": ("0x10de", "0x030200"),  # H100 (3D controller)
            "0000:00:1f.0": ("0x8086", "0x068000"),  # someone else's bridge
        },
    )
    assert nh.nvswitch_pci_devices(root) == ["0000:05:00.0"]
    assert nh.nvidia_pci_devices(root) == (["0000:05:00.0"], ["0000:18:00.0"])
    assert nh.nvswitch_pci_devices(str(tmp_path / "missing")) == []


@pytest.mark.parametrize(
    "devices, capture, detected, evidence",
    [
        # bare-metal HGX: the NVSwitches are on this OS's PCI bus
        (
            {"0000:05:00.0": ("0x10de", "0x068000"), "0000:18:00.0": ("0x10de", "0x030200")},
            "h200-x2",
            True,
            "1 NVSwitch PCI device(s)",
        ),
        # a VM given two H200s of an HGX board (the real capture): fabric Completed, but the hypervisor keeps
        # the NVSwitches and runs the fabric manager, so this OS must not
        (
            {"0000:00:06.0": ("0x10de", "0x030200"), "0000:00:07.0": ("0x10de", "0x030200")},
            "h200-x2",
            False,
            "no NVSwitch",
        ),
        # no sysfs view of NVIDIA devices: nvidia-smi's fabric state decides
        ({}, "h200-x2", True, "fabric state: Completed, Completed"),
        ({}, "h100-x1", False, "fabric state: N/A"),
    ],
)
def test_detect_nvswitch_pci_decides(tmp_path, devices, capture, detected, evidence):
    host = FakeHost(
        {("/usr/bin/nvidia-smi", "-x"): (0, fixture("gpu", capture, "nvidia-smi-q.xml"), "")},
        files={"/usr/bin/nvidia-smi": ""},
    )
    got = nh.detect_nvswitch(
        host.run,
        {"pci_devices_path": make_pci(tmp_path, devices), "nvidia_smi_path": "/usr/bin/nvidia-smi"},
        path_exists=host.exists,
    )
    assert got["detected"] is detected and evidence in got["evidence"]


@pytest.mark.parametrize(
    "changed, installed, loaded, required, reason",
    [
        (True, "580.159.04-1", "580.95.05", True, "loaded kernel module is 580.95.05"),
        (True, "580.159.04-1", None, True, "none (not loaded)"),
        (True, "580.159.04-1", "580.159.04", False, "matches"),
        (False, "580.159.04-1", "580.95.05", False, "did not change"),
        (False, "580.159.04-1", "580.159.04", False, "matches"),
        (True, None, None, False, "no driver installed"),
    ],
)
def test_reboot_decision(changed, installed, loaded, required, reason):
    got, why = nh.reboot_decision(changed, installed, loaded)
    assert got is required and reason in why


class FakeHost(object):
    """Canned package-manager answers for plan_host, keyed by argv."""

    def __init__(self, answers, files=None):
        self.answers = answers
        self.files = files or {}
        self.calls = []

    def run(self, argv):
        self.calls.append(argv)
        for key, value in self.answers.items():
            if all(part in argv for part in key):
                return value
        return 1, "", "no such package"

    def read(self, path):
        return self.files.get(path)

    def exists(self, path):
        return path in self.files


def apt_host(installed_driver=None, installed_fm=None, loaded=None, smi_xml=None):
    answers = {
        ("madison", "nvidia-open-580"): (0, fixture("nvidia_host", "madison-nvidia-open-580.txt"), ""),
        # From R580 NVIDIA's repositories name it nvidia-fabricmanager (no branch suffix)
        ("madison", "nvidia-fabricmanager"): (0, fixture("nvidia_host", "madison-nvidia-fabricmanager.txt"), ""),
    }
    if installed_driver:
        answers[("dpkg-query", "nvidia-open-580")] = (0, "hi |%s\n" % installed_driver, "")
    if installed_fm:
        answers[("dpkg-query", "nvidia-fabricmanager")] = (0, "hi |%s\n" % installed_fm, "")
    files = {}
    if loaded:
        files["/sys/module/nvidia/version"] = loaded + "\n"
    if smi_xml:
        files["/usr/bin/nvidia-smi"] = ""
        answers[("/usr/bin/nvidia-smi", "-x")] = (0, smi_xml, "")
    return FakeHost(answers, files)


def params(**over):
    base = dict(
        package_manager="apt",
        driver_package="nvidia-open-580",
        driver_branch="580",
        driver_version="580.159.04",
        fabricmanager="auto",
        fabricmanager_package="auto",
        fabricmanager_version="",
        driver_changed=False,
        module_version_file="/sys/module/nvidia/version",
        nvidia_smi_path="/usr/bin/nvidia-smi",
        pci_devices_path="/nonexistent",
    )
    base.update(over)
    return base


def plan(host, **over):
    return nh.plan_host(host.run, host.read, params(**over), path_exists=host.exists)


def test_plan_fresh_nvswitch_host_from_real_capture():
    host = apt_host(smi_xml=fixture("gpu", "h200-x2", "nvidia-smi-q.xml"))
    res = plan(host)
    assert res["problems"] == []
    assert res["driver"]["install_spec"] == "nvidia-open-580=580.159.04-1"
    assert res["nvswitch"]["detected"] and res["nvswitch"]["fabric_states"] == ["Completed", "Completed"]
    assert res["fabricmanager"]["required"]
    assert res["fabricmanager"]["package"] == "nvidia-fabricmanager"
    assert res["fabricmanager"]["install_spec"] == "nvidia-fabricmanager=580.159.04-1"


def test_plan_pcie_host_needs_no_fabric_manager():
    res = plan(apt_host(smi_xml=fixture("gpu", "h100-x1", "nvidia-smi-q.xml")))
    assert not res["nvswitch"]["detected"]
    assert res["fabricmanager"]["required"] is False and res["fabricmanager"]["install_spec"] is None
    assert res["problems"] == []


def test_plan_forced_fabric_manager_mismatch_is_a_problem():
    res = plan(apt_host(), fabricmanager="enabled", fabricmanager_version="580.172.08")
    assert len(res["problems"]) == 1 and "580.172.08" in res["problems"][0] and "580.159.04" in res["problems"][0]


def test_plan_disabled_fabric_manager_left_behind_is_a_notice_only():
    res = plan(
        apt_host(installed_driver="580.172.08-1", installed_fm="580.159.04-1"),
        fabricmanager="disabled",
        driver_version="580.172.08",
    )
    assert res["problems"] == [] and len(res["notices"]) == 1


def test_plan_upgrade_converges_a_mismatched_fabric_manager():
    # before installing: the fabric manager will follow the driver, nothing to reboot yet
    res = plan(
        apt_host(installed_driver="580.159.04-1", installed_fm="580.159.04-1", loaded="580.159.04"),
        fabricmanager="enabled",
        driver_version="580.172.08",
        driver_changed=False,
    )
    assert res["problems"] == []
    assert res["fabricmanager"]["target"] == "580.172.08-1"
    assert res["reboot_required"] is False
    # after installing: the old module is still loaded and the driver changed
    res = plan(
        apt_host(installed_driver="580.172.08-1", installed_fm="580.172.08-1", loaded="580.159.04"),
        fabricmanager="enabled",
        driver_version="580.172.08",
        driver_changed=True,
    )
    assert res["problems"] == [] and res["driver"]["installed"] == res["driver"]["target"]
    assert res["reboot_required"] and res["loaded_module_version"] == "580.159.04"


def test_plan_stale_mismatch_that_will_not_converge_is_a_problem():
    # someone installed a newer fabric manager by hand
    host = apt_host(installed_driver="580.159.04-1", installed_fm="580.172.08-1")
    res = plan(host, fabricmanager="enabled", driver_version="580.159.04")
    assert res["problems"] == []  # converging brings the fabric manager back to 580.159.04
    # the wanted driver has no fabric manager in the repository: refused, and the mismatch is named too
    res = plan(host, fabricmanager="enabled", driver_version="580.95.05")
    assert len(res["problems"]) == 2
    assert "nvidia-fabricmanager 580.95.05 is not in the configured repositories" in res["problems"][0]
    assert "580.172.08 is installed but the driver is 580.159.04" in res["problems"][1]
    # an installed fabric manager of the wanted version satisfies it even when no longer offered
    res = plan(
        apt_host(installed_driver="580.95.05-1", installed_fm="580.95.05-1"),
        fabricmanager="enabled",
        driver_version="580.95.05",
    )
    assert res["problems"] == [] and res["fabricmanager"]["target"] == "580.95.05-1"


def test_plan_unknown_fabric_manager_package():
    res = plan(apt_host(), fabricmanager="enabled", fabricmanager_package="")
    assert "nvidia_host_fabricmanager_package" in res["problems"][0]


def test_plan_dnf_queries_and_specs():
    host = FakeHost(
        {
            ("repoquery", "nvidia-open"): (0, "580.159.04-1.el9\n580.172.08-1.el9\n", ""),
            ("rpm", "nvidia-open"): (0, "580.159.04-1.el9\n", ""),
            ("repoquery", "nvidia-fabric-manager"): (0, "580.159.04-1.el9\n", ""),
            ("rpm", "nvidia-fabric-manager"): (1, "package nvidia-fabric-manager is not installed\n", ""),
        }
    )
    res = nh.plan_host(
        host.run,
        host.read,
        params(
            package_manager="dnf",
            driver_package="nvidia-open",
            fabricmanager="enabled",
            fabricmanager_package="nvidia-fabric-manager",
        ),
        path_exists=host.exists,
    )
    assert res["problems"] == []
    assert res["driver"]["installed"] == "580.159.04-1.el9"
    assert res["driver"]["install_spec"] == "nvidia-open-580.159.04-1.el9"
    assert res["fabricmanager"]["install_spec"] == "nvidia-fabric-manager-580.159.04-1.el9"


# NVIDIA's names per branch, as NVIDIA/gpu-driver-container installs them (ubuntu*/precompiled/nvidia-driver,
# rhel9|rhel10/precompiled/Dockerfile) and NVIDIA/cloud-native-stack playbooks/nvidia-driver.yaml (Ubuntu).
@pytest.mark.parametrize(
    "pm, branch, name",
    [
        ("apt", "580", "nvidia-fabricmanager"),
        ("apt", "590", "nvidia-fabricmanager"),
        ("dnf", "580", "nvidia-fabricmanager"),
        ("apt", "570", "nvidia-fabricmanager-570"),
        ("apt", "550", "nvidia-fabricmanager-550"),
        ("dnf", "570", "nvidia-fabric-manager"),
        ("dnf", 575, "nvidia-fabric-manager"),
    ],
)
def test_fabricmanager_package_name_by_branch(pm, branch, name):
    assert nh.fabricmanager_package_name(pm, branch) == name


def test_fabricmanager_package_name_refuses_a_branch_that_is_no_number():
    with pytest.raises(ValueError, match="580"):
        nh.fabricmanager_package_name("apt", "r580")


def test_plan_asks_for_the_unsuffixed_fabric_manager_at_the_default_branch():
    # the repository offers only nvidia-fabricmanager (as NVIDIA's does from R580): no problem, and no
    # query ever names nvidia-fabricmanager-580
    host = apt_host(smi_xml=fixture("gpu", "h200-x2", "nvidia-smi-q.xml"))
    res = plan(host)
    assert res["problems"] == [] and res["fabricmanager"]["target"] == "580.159.04-1"
    assert not [argv for argv in host.calls if "nvidia-fabricmanager-580" in argv]


def test_plan_older_branch_keeps_the_suffixed_name():
    host = FakeHost(
        {
            ("madison", "nvidia-open-570"): (0, "nvidia-open-570 | 570.172.08-1 | http://mirror  Packages\n", ""),
            ("madison", "nvidia-fabricmanager-570"): (
                0,
                "nvidia-fabricmanager-570 | 570.172.08-1 | http://mirror  Packages\n",
                "",
            ),
        }
    )
    res = plan(host, driver_package="nvidia-open-570", driver_branch="570", driver_version="", fabricmanager="enabled")
    assert res["problems"] == []
    assert res["fabricmanager"]["install_spec"] == "nvidia-fabricmanager-570=570.172.08-1"


def test_plan_bad_branch_is_a_problem_not_a_traceback():
    res = plan(apt_host(), driver_branch="r580", fabricmanager="enabled")
    assert any("nvidia_host_driver_branch" in p for p in res["problems"])


@pytest.mark.parametrize(
    "text, enabled",
    [
        (fixture("nvidia_host", "dnf-module-list-nvidia-driver.txt"), ["580-open"]),
        ("nvidia-driver   580-dkms [d][e]   default [d], fm, ks, src   Nvidia driver\n", ["580-dkms"]),
        ("nvidia-driver   580-dkms [d]   default [d] [i], fm   Nvidia driver\n", []),
        ("nvidia-driver   580-open [x]   default [d], fm   Nvidia driver\n", []),
        ("other-module    580-open [e]   default [d]   Something else\n", []),
        ("", []),
        ("Error: No matching Modules to list\n", []),
    ],
)
def test_parse_dnf_module_list(text, enabled):
    assert nh.parse_dnf_module_list(text) == enabled


@pytest.mark.parametrize(
    "branch, open_modules, stream", [("580", True, "580-open"), ("580", False, "580-dkms"), (590, True, "590-open")]
)
def test_driver_module_stream(branch, open_modules, stream):
    assert nh.driver_module_stream(branch, open_modules) == stream


@pytest.mark.parametrize(
    "wanted, enabled, commands",
    [
        ("580-open", ["580-open"], []),
        ("580-open", [], [["dnf", "-y", "module", "enable", "nvidia-driver:580-open"]]),
        (
            "580-open",
            ["570-open"],
            [
                ["dnf", "-y", "module", "reset", "nvidia-driver"],
                ["dnf", "-y", "module", "enable", "nvidia-driver:580-open"],
            ],
        ),
        ("", ["570-open"], []),
    ],
)
def test_module_stream_commands(wanted, enabled, commands):
    assert nh.module_stream_commands(wanted, enabled) == commands


def rhel_host(enabled_listing):
    answers = {
        ("module", "list", "--enabled", "nvidia-driver"): (0, enabled_listing, "")
        if enabled_listing
        else (1, "", "Error: No matching Modules to list\n"),
        ("rpm", "nvidia-open"): (1, "package nvidia-open is not installed\n", ""),
        ("rpm", "nvidia-fabricmanager"): (1, "package nvidia-fabricmanager is not installed\n", ""),
    }
    if enabled_listing:  # modular filtering: the stream's packages are visible only once it is enabled
        answers[("repoquery", "nvidia-open")] = (0, "580.159.04-1.el9\n580.172.08-1.el9\n", "")
        answers[("repoquery", "nvidia-fabricmanager")] = (0, "580.159.04-1.el9\n580.172.08-1.el9\n", "")
    return FakeHost(answers)


def rhel_plan(host):
    return nh.plan_host(
        host.run,
        host.read,
        params(
            package_manager="dnf",
            driver_package="nvidia-open",
            fabricmanager="enabled",
            driver_module_stream="580-open",
        ),
        path_exists=host.exists,
    )


def test_plan_rhel_stream_not_enabled_says_how_and_why_the_driver_is_hidden():
    res = rhel_plan(rhel_host(""))
    assert res["module_stream"] == {
        "module": "nvidia-driver",
        "wanted": "580-open",
        "enabled": [],
        "commands": [["dnf", "-y", "module", "enable", "nvidia-driver:580-open"]],
    }
    assert "nvidia-driver:580-open is not enabled yet" in res["problems"][0]


def test_plan_rhel_stream_enabled_installs_the_unsuffixed_fabric_manager():
    res = rhel_plan(rhel_host(fixture("nvidia_host", "dnf-module-list-nvidia-driver.txt")))
    assert res["problems"] == [] and res["module_stream"]["commands"] == []
    assert res["driver"]["install_spec"] == "nvidia-open-580.159.04-1.el9"
    assert res["fabricmanager"]["install_spec"] == "nvidia-fabricmanager-580.159.04-1.el9"


def test_plan_apt_has_no_module_stream():
    assert plan(apt_host(), driver_module_stream="580-open")["module_stream"] is None
