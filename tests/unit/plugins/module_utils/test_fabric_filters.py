from __future__ import annotations

import pathlib

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.filter.fabric_filters import (
    FilterModule,
    nccl_fabric_env,
    nccl_fabric_group_problems,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.fabric import fabric_facts

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "sysfs"


def facts(name):
    return fabric_facts(str(FIXTURES / name), dist_init_address="10.20.0.11", addresses={"eno1": ["10.20.0.12/24"]})


def test_filters_registered():
    assert set(FilterModule().filters()) == {"nccl_fabric_env", "nccl_fabric_group_problems"}


def test_env_filter_roce():
    env = nccl_fabric_env(facts("roce-8x400"), net_gdr_level="PXB", extra={"NCCL_DEBUG_SUBSYS": None})
    assert env["NCCL_IB_GID_INDEX"] == "3" and env["NCCL_SOCKET_IFNAME"] == "=eno1"


@pytest.mark.parametrize(
    "fabric, kwargs, fragment",
    [
        ("nope", {}, "expects the gpufleet_fabric_facts facts"),
        (None, {"extra": ["NCCL_X=1"]}, "nccl_fabric_env_extra must be a mapping"),
        (None, {"extra": {"NCCL_X": "a b"}}, "nccl_fabric_env_extra: NCCL_X='a b'"),
    ],
)
def test_env_filter_errors_name_the_variable(fabric, kwargs, fragment):
    with pytest.raises(AnsibleFilterError, match=fragment):
        nccl_fabric_env(facts("ib-ndr-8x400") if fabric is None else fabric, **kwargs)


def test_group_filter():
    hosts = ["a1", "a2"]
    assert nccl_fabric_group_problems(hosts, "r1_a", [facts("roce-8x400"), facts("roce-8x400")]) == []
    problems = nccl_fabric_group_problems(hosts, "r1_a", [facts("roce-8x400"), None])
    assert problems and "a2 has no fabric facts" in problems[0]
    with pytest.raises(AnsibleFilterError, match="2 hosts but 1 fabric facts"):
        nccl_fabric_group_problems(hosts, "r1_a", [facts("roce-8x400")])
