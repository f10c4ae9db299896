from __future__ import annotations

import pathlib

import pytest
import yaml

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import DEFAULTS, PlanError, plan_fleet
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_software import (
    driver_branch,
    image_cuda_major,
    software_problems,
)

ROOT = pathlib.Path(__file__).resolve().parents[4]


@pytest.mark.parametrize(
    "image, cuda",
    [
        ("lmsysorg/sglang:v0.5.23-cu130", 13),
        ("lmsysorg/sglang:v0.5.23-cu130-runtime", 13),
        ("lmsysorg/sglang:v0.5.19-cu129", 12),
        ("lmsysorg/sglang:v0.5.3-cu126", 12),
        ("lmsysorg/sglang:v0.5.23", 13),
        ("registry.local:5000/lmsysorg/sglang:v0.5.23", 13),
        ("lmsysorg/sglang@sha256:" + "a" * 64, 13),
        ("lmsysorg/sglang:my-build", None),
        ("lmsysorg/sglang:v0.5.99", None),
    ],
)
def test_image_cuda_major(image, cuda):
    assert image_cuda_major(image, "0.5.23") == cuda


@pytest.mark.parametrize(
    "value, branch",
    [("580", 580), (580, 580), ("570.195.03", 570), ("R580", None), (True, None), ("", None), (None, None)],
)
def test_driver_branch(value, branch):
    assert driver_branch(value) == branch


def test_cuda13_image_on_a_570_driver_is_refused_naming_both_and_the_fix():
    problems = software_problems(
        "r1_a", "container", image="lmsysorg/sglang:v0.5.23-cu130", sglang_version="0.5.23", branch="570"
    )
    assert len(problems) == 1
    text = problems[0]
    for part in (
        "group r1_a",
        "lmsysorg/sglang:v0.5.23-cu130",
        "sglang_server_image",
        "CUDA 13",
        "nvidia_host_driver_branch is 570",
        'nvidia_host_driver_branch: "580"',
        "v0.5.19-cu129",
    ):
        assert part in text


def test_native_cuda13_on_a_570_driver_is_refused():
    problems = software_problems("r1_a", "native", sglang_version="0.5.23", branch=570)
    assert problems and "sglang_server_sglang_version" in problems[0]


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(runtime="container", image="lmsysorg/sglang:v0.5.23-cu130", sglang_version="0.5.23", branch="580"),
        dict(runtime="container", image="lmsysorg/sglang:v0.5.19-cu129", sglang_version="0.5.23", branch="570"),
        dict(runtime="emulator", image="lmsysorg/sglang:v0.5.23-cu130", sglang_version="0.5.23", branch="535"),
        # The host stack is managed elsewhere: the inventory's branch says nothing.
        dict(
            runtime="container",
            image="lmsysorg/sglang:v0.5.23-cu130",
            sglang_version="0.5.23",
            branch="570",
            host_stack=False,
        ),
    ],
)
def test_accepted(kwargs):
    assert software_problems("g", **kwargs) == []


def test_bad_branch_value_is_named():
    problems = software_problems("g", "native", sglang_version="0.5.23", branch="latest")
    assert problems and "nvidia_host_driver_branch='latest'" in problems[0]


def test_planner_refuses_before_any_host_changes():
    hv = {
        "ansible_host": "10.0.0.1",
        "sglang_model_path": "/models/m",
        "nvidia_host_driver_branch": "570",
        "sglang_nodes_per_group": 1,
    }
    with pytest.raises(PlanError) as err:
        plan_fleet({"g": ["h"]}, {"h": hv})
    assert any("needs NVIDIA driver branch 580" in p for p in err.value.problems)
    hv["nvidia_host_driver_branch"] = "580"
    assert plan_fleet({"g": ["h"]}, {"h": hv})["groups"]["g"]


@pytest.mark.parametrize(
    "role, var",
    [
        ("sglang_server", "sglang_server_image"),
        ("sglang_server", "sglang_server_sglang_version"),
        ("nvidia_host", "nvidia_host_driver_branch"),
    ],
)
def test_planner_defaults_are_the_roles_defaults(role, var):
    defaults = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text())
    assert str(DEFAULTS[var]) == str(defaults[var])
