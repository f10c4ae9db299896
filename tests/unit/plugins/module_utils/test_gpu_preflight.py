# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/module_utils/gpu_preflight.py, the gpu_group_problems filter and the gpu_preflight module, on facts
parsed from real nvidia-smi captures (tests/fixtures/gpu) and failure variants derived from them."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.errors import AnsibleFilterError
from conftest import load_fake_nvidia_smi

from ansible_collections.gpufleet.sglang.plugins.filter.gpu_filters import gpu_group_problems
from ansible_collections.gpufleet.sglang.plugins.module_utils import gpu_facts
from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_preflight import (
    PreflightError,
    group_problems,
    host_findings,
    host_problems,
    version_matches,
)

REPO = Path(__file__).resolve().parents[4]
FIXTURES = REPO / "tests" / "fixtures" / "gpu"
FAKE = FIXTURES / "fake_nvidia_smi.py"
MODULE = REPO / "plugins" / "modules" / "gpu_preflight.py"
FACTS_MODULE = REPO / "plugins" / "modules" / "gpu_facts.py"

FAKE_SMI = load_fake_nvidia_smi()


def config_for(capture="h200-x2", variant=None):
    if variant is None:
        return {"_base": str(FIXTURES), "capture_dir": capture}
    path = FIXTURES / "variants" / (variant + ".json")
    config = json.loads(path.read_text())
    config["_base"] = str(path.parent)
    return config


def facts_of(capture="h200-x2", variant=None):
    """ansible_facts as gpu_facts sets them, from the test double answering in-process."""
    config = config_for(capture, variant)

    def run(argv):
        try:
            return 0, FAKE_SMI.answer(config, list(argv[1:])), ""
        except FAKE_SMI.Refused as exc:
            return exc.rc, "", exc.message

    facts, warnings = gpu_facts.gather("host", "nvidia-smi", None, run, lambda path: True, lambda path: None)
    assert warnings == []
    return facts


H200 = {
    "expected_gpu_count": 2,
    "expected_models": ["H200"],
    "min_memory_mib": 140000,
    "expected_driver_version": "580.159.04",
    "expected_cuda_version": "13.0",
    "fabric_manager_active": True,
}
H100 = {
    "expected_gpu_count": 1,
    "expected_models": ["H100", "H800"],
    "min_memory_mib": 80000,
    "expected_driver_version": "580",
    "fabric_manager_active": False,
}


@pytest.mark.parametrize("capture, expect", [("h200-x2", H200), ("h100-x1", H100)])
def test_real_captures_are_fit(capture, expect):
    assert host_problems("gpu-a1", facts_of(capture), expect) == []


# (variant, extra expectations, [(substring, ...) per expected problem])
VARIANTS = [
    (
        "persistence-off",
        {},
        [("gpu-a1 GPU 0 (00000000:00:06.0): persistence mode is Disabled, expected Enabled", "nvidia-persistenced")],
    ),
    ("uncorrectable-ecc", {}, [("GPU 0 (00000000:00:06.0): 2 uncorrectable ECC error(s)", "at most 0", "replace")]),
    ("uncorrectable-ecc", {"max_uncorrectable_ecc": 2}, []),
    (
        "uncorrectable-ecc",
        {"max_uncorrectable_ecc": 2, "max_uncorrectable_ecc_aggregate": 0},
        [("2 uncorrectable ECC error(s) over the GPU's life",)],
    ),
    ("ecc-pending-off", {}, [("ECC pending mode is Disabled", "-e 1")]),
    ("pending-remap", {}, [("GPU 0 (00000000:00:06.0): a row remap is pending", "nvidia-smi -r -i 0")]),
    ("pending-remap", {"allow_pending_remaps": True}, []),
    (
        "remap-failure",
        {"allow_pending_remaps": True},
        [("GPU 0", "row remapping failed", "RMA"), ("GPU 1 (00000000:00:07.0)", "row remapping failed")],
    ),
    ("pcie-x8", {}, [("GPU 0 (00000000:00:06.0): PCIe link x8, the link can do x16", "reseat")]),
    ("pcie-x8", {"require_pcie_max_width": False}, []),
    ("nvlink-down", {}, [("GPU 0 (00000000:00:06.0): NVLink link(s) 3, 7 inactive (16 of 18 active)", "Xid 74")]),
    ("nvlink-down", {"require_nvlinks_active": False}, []),
    (
        "fabric-in-progress",
        {},
        [
            ("GPU 0", "fabric state In Progress / status not reported", "error 802"),
            ("GPU 1", "fabric state In Progress"),
        ],
    ),
    ("fabric-in-progress", {"nvswitch_system": False}, []),
    ("fabric-in-progress", {"require_fabric_completed": False}, []),
    # The fabric state not judged and not Completed: the local service is the only signal left.
    (
        "fabric-in-progress",
        {"require_fabric_completed": False, "fabric_manager_active": False},
        [
            (
                "gpu-a1: NVSwitch system but nvidia-fabricmanager is not active",
                "require_fabric_completed is off",
                "exactly driver version 580.159.04",
            )
        ],
    ),
    ("hw-slowdown", {}, [("GPU 0 (00000000:00:06.0): clocks held back by hw_slowdown", "cooling")]),
    ("hw-slowdown", {"forbidden_clocks_event_reasons": []}, []),
    ("mig-on", {}, [("GPU 0", "MIG mode is Enabled", "-mig 0")]),
    ("mig-on", {"allow_mig": True}, []),
    (
        "driver-570",
        {},
        [
            ("gpu-a1: NVIDIA driver 570.195.03, expected 580.159.04",),
            ("gpu-a1: driver's CUDA version 12.8, expected 13.0",),
        ],
    ),
    ("driver-570", {"expected_driver_version": "570", "expected_cuda_version": "12"}, []),
]


@pytest.mark.parametrize("variant, extra, expected", VARIANTS)
def test_variant_problems(variant, extra, expected):
    problems = host_problems("gpu-a1", facts_of(variant=variant), dict(H200, **extra))
    assert len(problems) == len(expected), problems
    for problem, parts in zip(problems, expected):
        for part in parts:
            assert part in problem, (part, problem)


EXPECTATIONS = [
    ({"expected_gpu_count": 8}, ["gpu-a1: 2 GPU(s) visible, expected 8", "Xid 79"]),
    (
        {"expected_models": ["H100"]},
        ["GPU 0 (00000000:00:06.0): model 'NVIDIA H200' matches none of the expected ['H100']", "GPU 1"],
    ),
    ({"expected_models": "h200"}, []),
    ({"min_memory_mib": 150000}, ["143771 MiB of GPU memory, expected at least 150000 MiB", "GPU 1"]),
    ({"expected_driver_version": "580.95.05"}, ["NVIDIA driver 580.159.04, expected 580.95.05"]),
    # The real capture is a VM whose NVSwitches the hypervisor manages: no local fabric manager, fabric Completed.
    ({"fabric_manager_active": False}, []),
    ({"fabric_manager_active": None}, []),
    ({"fabric_manager_active": False, "nvswitch_system": False}, []),
]


@pytest.mark.parametrize("extra, parts", EXPECTATIONS)
def test_expectations_on_the_real_h200(extra, parts):
    problems = host_problems("gpu-a1", facts_of(), dict(H200, **extra))
    assert bool(problems) == bool(parts), problems
    joined = "\n".join(problems)
    for part in parts:
        assert part in joined


def test_real_h200_vm_without_a_local_fabric_manager_is_accepted_with_a_warning():
    """The real 2 x H200 VM: no nvidia-fabricmanager in the guest, every GPU's fabric Completed / Success."""
    findings = host_findings("gpu-a1", facts_of(), dict(H200, fabric_manager_active=False))
    assert findings["problems"] == [] and findings["nvswitch_system"] is True
    assert len(findings["warnings"]) == 1
    warning = findings["warnings"][0]
    assert warning.startswith(
        "gpu-a1: nvidia-fabricmanager is not active on this host, but every GPU (2) reports "
        "NVLink fabric state Completed / status Success"
    )
    assert "expected to run on the hypervisor host" in warning
    assert host_findings("gpu-a1", facts_of(), H200)["warnings"] == []


def test_fabric_not_completed_without_a_fabric_manager_names_each_gpu_state_and_fix():
    problems = host_problems("gpu-a1", facts_of(variant="fabric-in-progress"), dict(H200, fabric_manager_active=False))
    assert len(problems) == 2, problems
    for index, bus, problem in zip((0, 1), ("00000000:00:06.0", "00000000:00:07.0"), problems):
        assert problem.startswith(
            "gpu-a1 GPU %d (%s): NVLink fabric state In Progress / status not reported, "
            "expected Completed / Success, and nvidia-fabricmanager is not active" % (index, bus)
        )
        assert "exactly driver version 580.159.04" in problem and "hypervisor host" in problem
        assert "error 802" in problem
    assert not any("NVSwitch system but" in problem for problem in problems)


def test_one_gpu_not_completed_is_refused_even_if_the_other_is():
    facts = facts_of()
    facts["gpufleet_gpus"][1]["fabric"] = dict(facts["gpufleet_gpus"][1]["fabric"], state="Not Started", status=None)
    findings = host_findings("gpu-a1", facts, dict(H200, fabric_manager_active=False))
    assert findings["warnings"] == []
    assert len(findings["problems"]) == 1
    assert findings["problems"][0].startswith("gpu-a1 GPU 1 (00000000:00:07.0): NVLink fabric state Not Started")


def test_wrong_model_in_the_group():
    """The real H100 capture judged as a member of an H200 group."""
    problems = host_problems("gpu-b2", facts_of("h100-x1"), H200)
    joined = "\n".join(problems)
    for part in (
        "gpu-b2: 1 GPU(s) visible, expected 2",
        "model 'NVIDIA H100 80GB HBM3' matches none",
        "81559 MiB of GPU memory, expected at least 140000",
    ):
        assert part in joined
    assert len(problems) == 3


def test_unknown_values_are_problems_where_they_matter():
    facts = facts_of()
    gpu = facts["gpufleet_gpus"][1]
    gpu["persistence_mode"] = None
    gpu["ecc"]["mode_current"] = None
    gpu["pcie"]["width_current"] = None  # PCIe not reported: nothing to judge
    problems = host_problems("gpu-a1", facts, H200)
    assert problems == [
        "gpu-a1 GPU 1 (00000000:00:07.0): persistence mode is not reported, expected Enabled. Fix: systemctl enable "
        "--now nvidia-persistenced (or nvidia-smi -pm 1).",
        "gpu-a1 GPU 1 (00000000:00:07.0): ECC is not reported, expected Enabled. Fix: nvidia-smi -i 1 -e 1, then "
        "reboot.",
    ]


def test_pcie_generation_only_when_asked():
    facts = facts_of()
    facts["gpufleet_gpus"][0]["pcie"]["gen_current"] = 1
    assert host_problems("h", facts, H200) == []
    problems = host_problems("h", facts, dict(H200, require_pcie_max_gen=True))
    assert len(problems) == 1 and "PCIe gen 1, the link can do gen 5" in problems[0]


@pytest.mark.parametrize(
    "found, expected, ok",
    [
        ("580.159.04", "580.159.04", True),
        ("580.159.04", "580", True),
        ("580.159.04", "580.159", True),
        ("580.159.04", "580.15", False),
        ("580.159.04", "58", False),
        (None, "580", False),
        ("580.159.04", None, True),
    ],
)
def test_version_matches(found, expected, ok):
    assert version_matches(found, expected) is ok


@pytest.mark.parametrize(
    "facts, message",
    [
        (None, "gpu-a1: no GPU facts to judge"),
        ({"gpufleet_gpus": []}, "need gpufleet_gpus and gpufleet_gpu_driver"),
        ({"gpufleet_gpus": "x", "gpufleet_gpu_driver": {}}, "gpufleet_gpus must be a list"),
    ],
)
def test_bad_facts_are_refused(facts, message):
    with pytest.raises(PreflightError, match=message):
        host_problems("gpu-a1", facts, {})


def test_unknown_expectation_is_refused():
    with pytest.raises(PreflightError, match="unknown GPU preflight expectation.*expected_gpus"):
        host_problems("gpu-a1", facts_of(), {"expected_gpus": 8})


# ------------------------------------------------------------------ group parity
def test_group_in_parity():
    assert group_problems("r1_a", [("gpu-a1", facts_of()), ("gpu-a2", facts_of())]) == []


def test_group_driver_mismatch_names_the_differing_host():
    problems = group_problems("r1_a", [("gpu-a1", facts_of()), ("gpu-a2", facts_of(variant="driver-570"))])
    assert problems == [
        "group r1_a: host gpu-a2 has driver version 570.195.03, but gpu-a1 has 580.159.04. Fix: pin one driver "
        "version for the whole group and converge every host.",
        "group r1_a: host gpu-a2 has CUDA version 12.8, but gpu-a1 has 13.0. Fix: pin one driver branch for the "
        "whole group (the CUDA version comes with the driver).",
    ]


def test_group_mixed_models_and_missing_facts():
    problems = group_problems("r1_b", [("gpu-b0", None), ("gpu-b1", facts_of()), ("gpu-b2", facts_of("h100-x1"))])
    assert len(problems) == 3
    assert problems[0].startswith("group r1_b: gpu-b0: no GPU facts to judge")
    assert "host gpu-b2 has GPU model NVIDIA H100 80GB HBM3, but gpu-b1 has NVIDIA H200" in problems[1]
    assert "host gpu-b2 has GPU count 1, but gpu-b1 has 2" in problems[2]


def test_filter_with_a_plain_mapping():
    hostvars = {"gpu-a1": facts_of(), "gpu-a2": facts_of(variant="driver-570"), "other": {}}
    problems = gpu_group_problems(["gpu-a1", "gpu-a2"], hostvars, "r1_a")
    assert len(problems) == 2 and all("host gpu-a2" in problem for problem in problems)
    assert gpu_group_problems(["gpu-a1", "gpu-a1"], hostvars, "r1_a") == []
    assert "gpu-zz: no GPU facts" in gpu_group_problems(["gpu-a1", "gpu-zz"], hostvars, "r1_a")[0]
    with pytest.raises(AnsibleFilterError, match="host names as a list"):
        gpu_group_problems("gpu-a1", hostvars, "r1_a")


# ------------------------------------------------------------------ modules end to end
def stand_in(folder, config):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "fake_nvidia_smi.json").write_text(json.dumps(config))
    script = folder / "nvidia-smi"
    script.write_text(
        '#!/bin/sh\nFAKE_NVIDIA_SMI_CONFIG="%s" exec "%s" "%s" "$@"\n'
        % (folder / "fake_nvidia_smi.json", sys.executable, FAKE)
    )
    script.chmod(0o755)
    return script


def variant_config(variant):
    config = config_for(variant=variant)
    config.pop("_base")
    config["capture_dir"] = str(FIXTURES / "h200-x2")
    return config


def run_module(module, tmp_path, args):
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    proc = subprocess.run(
        [sys.executable, str(module), str(args_file)],
        capture_output=True,
        text=True,
        timeout=60,
        env=dict(os.environ, PYTHONPATH=str(REPO / "collections")),
        check=False,
    )
    return json.loads(proc.stdout)


def test_preflight_module_runs_nvidia_smi_itself(tmp_path):
    smi = stand_in(tmp_path / "bin", variant_config("pcie-x8"))
    result = run_module(
        MODULE, tmp_path, dict(H200, nvidia_smi_path=str(smi), host_label="gpu-a1", _ansible_check_mode=True)
    )
    assert result["failed"] is True and result["changed"] is False
    assert result["host"] == "gpu-a1" and result["gpu_count"] == 2 and result["nvswitch_system"] is True
    assert len(result["problems"]) == 1 and "PCIe link x8" in result["problems"][0]
    assert result["msg"].startswith("gpu-a1: 1 GPU preflight problem(s):\n- gpu-a1 GPU 0 (00000000:00:06.0)")


def test_preflight_module_on_facts_from_the_facts_module(tmp_path):
    smi = stand_in(tmp_path / "bin", {"capture_dir": str(FIXTURES / "h200-x2")})
    facts = run_module(FACTS_MODULE, tmp_path, {"nvidia_smi_path": str(smi)})["ansible_facts"]
    result = run_module(MODULE, tmp_path, dict(H200, facts=facts, host_label="gpu-a1"))
    assert result.get("failed") is not True, result
    assert result["problems"] == [] and result["changed"] is False
    result = run_module(MODULE, tmp_path, dict(H200, facts=facts, host_label="gpu-a1", fabric_manager_active=False))
    assert result.get("failed") is not True, result
    assert result["problems"] == [] and len(result["findings_warnings"]) == 1
    assert any("expected to run on the hypervisor host" in str(warning) for warning in result["warnings"]), result


def test_preflight_module_with_unusable_facts(tmp_path):
    result = run_module(MODULE, tmp_path, {"facts": {"ansible_hostname": "x"}, "host_label": "gpu-a9"})
    assert result["failed"] is True and result["msg"].startswith("gpu-a9: no GPU facts to judge")
    assert "Traceback" not in json.dumps(result)


PLAYBOOK = """
- name: GPU facts and preflight through Ansible itself
  hosts: r1_a
  gather_facts: false
  tasks:
    - name: Read the GPU facts through the stand-in nvidia-smi
      gpufleet.sglang.gpu_facts:
        nvidia_smi_path: "{{ smi }}"
    - name: Preflight each host
      gpufleet.sglang.gpu_preflight:
        facts: "{{ ansible_facts }}"
        host_label: "{{ inventory_hostname }}"
        expected_gpu_count: 2
        expected_models: [H200]
        fabric_manager_active: false
      register: preflight
    - name: Group parity through the filter and the real hostvars
      ansible.builtin.copy:
        content: "{{ (groups['r1_a'] + ['gpu-ghost']) | gpufleet.sglang.gpu_group_problems(hostvars, 'r1_a') | to_json }}"
        dest: "{{ out }}"
        mode: "0600"
      run_once: true
      delegate_to: localhost
"""


def test_through_ansible_playbook(tmp_path):
    """Both modules and the filter as a play runs them: real hostvars, two hosts, one on another driver."""
    a1 = stand_in(tmp_path / "a1", {"capture_dir": str(FIXTURES / "h200-x2")})
    a2 = stand_in(tmp_path / "a2", variant_config("driver-570"))
    (tmp_path / "inventory.yml").write_text(
        json.dumps(
            {
                "all": {
                    "vars": {
                        "ansible_connection": "local",
                        "ansible_python_interpreter": sys.executable,
                        "out": str(tmp_path / "group.json"),
                    },
                    "children": {"r1_a": {"hosts": {"gpu-a1": {"smi": str(a1)}, "gpu-a2": {"smi": str(a2)}}}},
                }
            }
        )
    )
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    env = dict(
        os.environ,
        ANSIBLE_COLLECTIONS_PATH=str(REPO / "collections"),
        ANSIBLE_NOCOLOR="1",
        ANSIBLE_HOST_KEY_CHECKING="False",
        ANSIBLE_LOCAL_TEMP=str(tmp_path / "tmp"),
        ANSIBLE_REMOTE_TEMP=str(tmp_path / "tmp"),
    )
    playbook = Path(sys.executable).parent / "ansible-playbook"
    proc = subprocess.run(
        [str(playbook), "-i", str(tmp_path / "inventory.yml"), str(tmp_path / "play.yml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
        cwd=str(tmp_path),
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    # Both hosts: the real VM capture's GPUs report their fabric Completed without a local fabric manager.
    assert (proc.stdout + proc.stderr).count("expected to run on the hypervisor host") == 2
    problems = json.loads((tmp_path / "group.json").read_text())
    assert len(problems) == 3
    assert problems[0].startswith("group r1_a: host gpu-a2 has driver version 570.195.03, but gpu-a1 has 580.159.04")
    assert problems[2].startswith("group r1_a: gpu-ghost: no GPU facts to judge")


def test_copy_of_facts_is_not_mutated():
    facts = facts_of(variant="nvlink-down")
    before = copy.deepcopy(facts)
    host_problems("h", facts, H200)
    group_problems("g", [("h", facts), ("i", facts)])
    assert facts == before
