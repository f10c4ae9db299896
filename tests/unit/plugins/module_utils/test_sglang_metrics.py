from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.filter.sglang_metrics import (
    sglang_gateway_worker_floor,
    sglang_scrape_targets,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_metrics import (
    MetricsError,
    gateway_worker_floor,
    host_port,
    scrape_targets,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import (
    plan_fleet,
)

ADDRESSES = {
    "gpu-a1": "10.20.0.11",
    "gpu-a2": "10.20.0.12",
    "gpu-b1": "10.20.0.21",
    "gpu-b2": "fd00:20::22",
}


def prod_plan(group_vars=None, per_group=None):
    """The real planner on a prod-like inventory: r1_a, r1_b (2 x 8 GPUs each)."""
    model_groups = {"r1_a": ["gpu-a1", "gpu-a2"], "r1_b": ["gpu-b1", "gpu-b2"]}
    hostvars = {}
    for group, hosts in model_groups.items():
        for host in hosts:
            hv = {
                "ansible_host": ADDRESSES[host],
                "sglang_preset": "deepseek-r1-fp8-2x8",
                "sglang_model_path": "/models/deepseek-ai/DeepSeek-R1",
                "sglang_host": "0.0.0.0",
            }
            hv.update(group_vars or {})
            hv.update((per_group or {}).get(group, {}))
            hostvars[host] = hv
    return plan_fleet(model_groups, hostvars)


def targets_of(job):
    return [(e["targets"][0], e["labels"]) for e in job]


def test_rank_0_only_by_default_with_every_label():
    jobs = scrape_targets(prod_plan(), gpu_types={"gpu-a1": "H100"})
    assert targets_of(jobs["sglang"]) == [
        (
            "10.20.0.11:30000",
            {
                "gpu_type": "H100",
                "host": "gpu-a1",
                "model_group": "r1_a",
                "node_rank": "0",
                "role": "head",
                "served_model": "deepseek-r1",
            },
        ),
        (
            "10.20.0.21:30000",
            {
                "gpu_type": "unknown",
                "host": "gpu-b1",
                "model_group": "r1_b",
                "node_rank": "0",
                "role": "head",
                "served_model": "deepseek-r1",
            },
        ),
    ]


def test_every_rank_of_a_group_with_per_scheduler_metrics():
    plan = prod_plan(per_group={"r1_b": {"sglang_args": {"--enable-metrics-for-all-schedulers": True}}})
    jobs = scrape_targets(plan)
    got = [(t, lab["model_group"], lab["node_rank"], lab["role"]) for t, lab in targets_of(jobs["sglang"])]
    assert got == [
        ("10.20.0.11:30000", "r1_a", "0", "head"),
        ("10.20.0.21:30000", "r1_b", "0", "head"),
        ("[fd00:20::22]:30000", "r1_b", "1", "follower"),
    ]


def test_a_group_without_enable_metrics_has_no_sglang_target():
    plan = prod_plan(per_group={"r1_a": {"sglang_args": {"--enable-metrics": False}}})
    assert [lab["model_group"] for _target, lab in targets_of(scrape_targets(plan)["sglang"])] == ["r1_b"]


def test_node_exporter_on_every_host_dcgm_only_when_enabled():
    plan = prod_plan()
    off = scrape_targets(plan)
    assert off["dcgm"] == []
    assert [t for t, _labels in targets_of(off["node"])] == [
        "10.20.0.11:9100",
        "10.20.0.12:9100",
        "10.20.0.21:9100",
        "[fd00:20::22]:9100",
    ]
    on = scrape_targets(plan, dcgm=True, dcgm_port=9500, node_exporter=False)
    assert on["node"] == []
    assert [(t, lab["node_rank"]) for t, lab in targets_of(on["dcgm"])] == [
        ("10.20.0.11:9500", "0"),
        ("10.20.0.12:9500", "1"),
        ("10.20.0.21:9500", "0"),
        ("[fd00:20::22]:9500", "1"),
    ]


def test_gateway_on_its_metrics_port_with_node_exporter():
    jobs = scrape_targets(prod_plan(), {"router-1": {"address": "10.20.0.5", "prometheus_port": 29100}})
    assert targets_of(jobs["gateway"]) == [
        (
            "10.20.0.5:29100",
            {"host": "router-1", "role": "gateway", "served_model": "deepseek-r1"},
        )
    ]
    assert (
        "10.20.0.5:9100",
        {"host": "router-1", "role": "gateway", "served_model": "deepseek-r1"},
    ) in targets_of(jobs["node"])


def test_gateway_bound_to_one_address_is_scraped_there():
    jobs = scrape_targets(
        prod_plan(),
        {"router-1": {"address": "10.20.0.5", "prometheus_host": "10.30.0.5"}},
    )
    assert [t for t, _labels in targets_of(jobs["gateway"])] == ["10.30.0.5:29000"]


def test_files_are_file_sd_json():
    jobs = scrape_targets(prod_plan(), {"router-1": {}}, dcgm=True)
    for job in jobs.values():
        for entry in json.loads(json.dumps(job)):
            assert set(entry) == {"targets", "labels"}
            assert all(isinstance(v, str) and v for v in entry["labels"].values())


BAD = [
    (None, {}, {}, "sglang_plan is not a plan"),
    ({"groups": {"g": {"nodes": []}}}, {}, {}, "group g: the plan has no nodes"),
    (
        "plan",
        {"r": {"prometheus_host": "127.0.0.1"}},
        {},
        ("router r: sglang_router_prometheus_host=127.0.0.1 binds loopback"),
    ),
    (
        "plan",
        {"r": {"prometheus_port": 70000}},
        {},
        "router r: sglang_router_prometheus_port=70000 is not a TCP port",
    ),
    (
        "plan",
        {},
        {"dcgm": True, "dcgm_port": "x"},
        "sglang_metrics_dcgm_exporter_port='x' is not a TCP port",
    ),
    (
        "plan",
        {},
        {"node_port": True},
        "sglang_metrics_node_exporter_port=True is not a TCP port",
    ),
]


@pytest.mark.parametrize("plan, routers, kwargs, message", BAD)
def test_bad_input_names_the_variable(plan, routers, kwargs, message):
    with pytest.raises(MetricsError) as exc:
        scrape_targets(prod_plan() if plan == "plan" else plan, routers, **kwargs)
    assert any(message in p for p in exc.value.problems), exc.value.problems


@pytest.mark.parametrize(
    "plan, floor, expected",
    [
        ({"groups": {"a": {}, "b": {}, "c": {}}}, None, 2),
        ({"groups": {"a": {}}}, None, 1),
        ({"groups": {}}, "", 1),
        ({"groups": {"a": {}}}, 3, 3),
        ({"groups": {"a": {}}}, "0", 0),
    ],
)
def test_gateway_worker_floor(plan, floor, expected):
    assert gateway_worker_floor(plan, floor) == expected


def test_gateway_worker_floor_refuses_a_non_number():
    with pytest.raises(AnsibleFilterError, match="sglang_metrics_gateway_min_healthy_workers='two'"):
        sglang_gateway_worker_floor({"groups": {}}, "two")


@pytest.mark.parametrize(
    "address, port, expected",
    [
        ("10.0.0.1", 9100, "10.0.0.1:9100"),
        ("fd00::1", 9100, "[fd00::1]:9100"),
        ("[fd00::1]", 1, "[fd00::1]:1"),
        ("gpu-a1", 30000, "gpu-a1:30000"),
    ],
)
def test_host_port(address, port, expected):
    assert host_port(address, port) == expected


def test_filter_reads_gpu_type_and_router_variables():
    plan = prod_plan()
    hostvars = {
        "gpu-a1": {"gpufleet_gpus": [{"name": "NVIDIA H100 80GB HBM3"}]},
        "gpu-a2": {},
        "gpu-b1": {"sglang_metrics_gpu_type": "H200"},
        "gpu-b2": {"gpufleet_gpus": [{"name": "Odd GPU"}]},
        "router-1": {
            "ansible_host": "10.20.0.5",
            "sglang_router_prometheus_port": 29001,
        },
    }
    jobs = sglang_scrape_targets(plan, hostvars, routers=["router-1"])
    assert {lab["host"]: lab["gpu_type"] for _target, lab in targets_of(jobs["node"]) if "gpu_type" in lab} == {
        "gpu-a1": "H100",
        "gpu-a2": "unknown",
        "gpu-b1": "H200",
        "gpu-b2": "Odd GPU",
    }
    assert [t for t, _labels in targets_of(jobs["gateway"])] == ["10.20.0.5:29001"]


def test_filter_error_is_a_filter_error_naming_the_router():
    with pytest.raises(
        AnsibleFilterError,
        match="router router-1: sglang_router_prometheus_host=localhost",
    ):
        sglang_scrape_targets(
            prod_plan(),
            {"router-1": {"sglang_router_prometheus_host": "localhost"}},
            routers=["router-1"],
        )
    with pytest.raises(AnsibleFilterError, match="routers must be a list"):
        sglang_scrape_targets(prod_plan(), {}, routers="router-1")
