from __future__ import annotations

import json

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import (
    PlanError,
    format_table,
    plan_fleet,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_presets import PRESETS


def fleet(n_groups=1, nodes=2, group_vars=None, host_vars=None):
    """Inventory inputs: groups g0..gN, hosts gX-nY with ansible_host 10.0.X.Y."""
    model_groups, hostvars = {}, {}
    for g in range(n_groups):
        hosts = ["g%d-n%d" % (g, n) for n in range(nodes)]
        model_groups["g%d" % g] = hosts
        for n, host in enumerate(hosts):
            hv = {"ansible_host": "10.0.%d.%d" % (g, n + 1), "sglang_model_path": "/models/m"}
            hv.update(group_vars or {})
            hv.update((host_vars or {}).get(host, {}))
            hostvars[host] = hv
    return model_groups, hostvars


def problems_of(model_groups, hostvars, targets=None):
    with pytest.raises(PlanError) as err:
        plan_fleet(model_groups, hostvars, targets)
    return err.value.problems


def test_two_node_group_ranks_dist_init_and_argv():
    plan = plan_fleet(*fleet())
    group = plan["groups"]["g0"]
    assert [n["host"] for n in group["nodes"]] == ["g0-n0", "g0-n1"]
    assert [n["node_rank"] for n in group["nodes"]] == [0, 1]
    assert group["head"] == "g0-n0" and group["nodes"][0]["is_head"] and not group["nodes"][1]["is_head"]
    assert group["dist_init_addr"] == "10.0.0.1:20000"
    assert group["tp_size"] == 16 and group["nnodes"] == 2
    argv0, argv1 = (n["argv"] for n in group["nodes"])
    assert argv0[:3] == ["python3", "-m", "sglang.launch_server"]
    assert argv0[argv0.index("--tp-size") + 1] == "16"
    assert argv0[argv0.index("--dist-init-addr") + 1] == "10.0.0.1:20000"
    assert argv0[argv0.index("--node-rank") + 1] == "0"
    assert argv1[argv1.index("--node-rank") + 1] == "1"

    # Same command on both nodes except --node-rank.
    def strip(a):
        return [t for i, t in enumerate(a) if t != "--node-rank" and (i == 0 or a[i - 1] != "--node-rank")]

    assert strip(argv0) == strip(argv1)
    assert plan["hosts"]["g0-n1"]["group"] == "g0"
    json.dumps(plan)  # JSON-safe


def test_explicit_rank_overrides_host_order():
    groups, hv = fleet(host_vars={"g0-n0": {"sglang_node_rank": 1}})
    plan = plan_fleet(groups, hv)
    assert plan["groups"]["g0"]["head"] == "g0-n1"
    assert plan["groups"]["g0"]["dist_init_addr"] == "10.0.0.2:20000"


def test_explicit_dist_init_host_and_port():
    groups, hv = fleet(group_vars={"sglang_dist_init_host": "192.168.50.1", "sglang_dist_init_port": 5000})
    assert plan_fleet(groups, hv)["groups"]["g0"]["dist_init_addr"] == "192.168.50.1:5000"


def test_dist_init_interface_from_rank0_facts():
    facts = {"interfaces": ["eth0", "bond0"], "bond0": {"ipv4": {"address": "172.31.9.9"}}}
    groups, hv = fleet(
        group_vars={"sglang_dist_init_interface": "bond0"},
        host_vars={"g0-n0": {"ansible_facts": facts}, "g0-n1": {"ansible_facts": {}}},
    )
    assert plan_fleet(groups, hv)["groups"]["g0"]["dist_init_addr"] == "172.31.9.9:20000"


def test_tp_follows_group_shape():
    groups, hv = fleet(nodes=1, group_vars={"sglang_nodes_per_group": 1, "sglang_gpus_per_node": 4})
    node = plan_fleet(groups, hv)["groups"]["g0"]["nodes"][0]
    assert node["tp_size"] == 4 and node["dist_init_addr"] is None and "--dist-init-addr" not in node["argv"]


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_plans(preset):
    shape = PRESETS[preset]
    groups, hv = fleet(nodes=shape["nodes_per_group"], group_vars={"sglang_preset": preset})
    group = plan_fleet(groups, hv)["groups"]["g0"]
    assert group["nnodes"] == shape["nodes_per_group"]
    argv = group["nodes"][0]["argv"]
    assert "--quantization" not in argv
    assert argv[argv.index("--served-model-name") + 1] == shape["served_model_name"]
    if "mtp" in preset:
        assert argv[argv.index("--speculative-algorithm") + 1] == "EAGLE"
    if preset.startswith("deepseek-r1-fp8"):
        assert argv[argv.index("--dist-timeout") + 1] == "3600"


def test_variables_override_preset_and_null_drops():
    groups, hv = fleet(
        group_vars={
            "sglang_preset": "deepseek-r1-fp8-2x8",
            "sglang_watchdog_timeout": 900,
            "sglang_args": {"enable-metrics": False, "log-level": "warning"},
        }
    )
    argv = plan_fleet(groups, hv)["groups"]["g0"]["nodes"][0]["argv"]
    assert argv[argv.index("--watchdog-timeout") + 1] == "900"
    assert "--enable-metrics" not in argv
    assert argv[argv.index("--log-level") + 1] == "warning"


def test_speculative_mapping_and_extra_args():
    groups, hv = fleet(
        group_vars={
            "sglang_speculative": {"algorithm": "EAGLE", "num_steps": 2, "eagle_topk": 1, "num_draft_tokens": 3},
            "sglang_extra_args": ["--log-level", "info", "--enable-cache-report"],
        }
    )
    argv = plan_fleet(groups, hv)["groups"]["g0"]["nodes"][0]["argv"]
    assert argv[argv.index("--speculative-num-steps") + 1] == "2"
    assert "--enable-cache-report" in argv and argv[argv.index("--log-level") + 1] == "info"


def test_a_set_secret_gets_a_default_config_file():
    groups, hv = fleet(group_vars={"sglang_has_secrets": True})
    argv = plan_fleet(groups, hv)["groups"]["g0"]["nodes"][0]["argv"]
    assert argv[argv.index("--config") + 1] == "/etc/sglang/g0.secrets.yaml"


def test_secrets_file_goes_in_as_config_not_the_key():
    groups, hv = fleet(group_vars={"sglang_secrets_file": "/etc/sglang/g0.yaml"})
    argv = plan_fleet(groups, hv)["groups"]["g0"]["nodes"][0]["argv"]
    assert argv[argv.index("--config") + 1] == "/etc/sglang/g0.yaml"


# ---- every validation error names the group/host/variable and a fix ----


@pytest.mark.parametrize(
    "hosts_in_group, needle",
    [
        (1, "has 1 host(s) (g0-n0) but sglang_nodes_per_group is 2"),
        (3, "has 3 host(s)"),
    ],
)
def test_wrong_number_of_hosts(hosts_in_group, needle):
    groups, hv = fleet(nodes=hosts_in_group)
    probs = problems_of(groups, hv)
    assert any(needle in p and "group g0" in p for p in probs), probs


def test_duplicate_rank():
    groups, hv = fleet(host_vars={"g0-n0": {"sglang_node_rank": 0}, "g0-n1": {"sglang_node_rank": 0}})
    probs = problems_of(groups, hv)
    assert any("g0-n0 and g0-n1 both have sglang_node_rank=0" in p for p in probs), probs


@pytest.mark.parametrize("rank", [2, -1])
def test_out_of_range_rank(rank):
    groups, hv = fleet(host_vars={"g0-n1": {"sglang_node_rank": rank}})
    probs = problems_of(groups, hv)
    assert any("host g0-n1 has sglang_node_rank=%r, outside 0..1" % (rank,) in p for p in probs), probs


@pytest.mark.parametrize("rank", ["one", 1.0, True, float("nan")])
def test_rank_that_is_not_an_integer(rank):
    groups, hv = fleet(host_vars={"g0-n1": {"sglang_node_rank": rank}})
    probs = problems_of(groups, hv)
    assert any("host g0-n1 has sglang_node_rank=" in p and "which is not an integer" in p for p in probs), probs


def test_host_in_two_groups():
    groups, hv = fleet(n_groups=2)
    groups["g1"] = ["g1-n0", "g0-n1"]
    probs = problems_of(groups, hv)
    assert any("host g0-n1 is in two model groups, g0 and g1" in p for p in probs), probs


def test_targeted_host_outside_every_group():
    groups, hv = fleet()
    probs = problems_of(groups, hv, targets=["g0-n0", "g0-n1", "stray-1"])
    assert any("host stray-1 is targeted by the play but is in no model group" in p for p in probs), probs


def test_tp_inconsistent_with_group_shape():
    groups, hv = fleet(group_vars={"sglang_tp_size": 12})
    probs = problems_of(groups, hv)
    assert any("tp 12 x pp 1 x dp 1 = 12 GPUs, but the group has 2 node(s) x 8 GPUs = 16" in p for p in probs), probs


def test_tp_not_a_multiple_of_nodes():
    groups, hv = fleet(
        nodes=2, group_vars={"sglang_gpus_per_node": 6, "sglang_tp_size": 4, "sglang_args": {"dp-size": 3}}
    )
    probs = problems_of(groups, hv)
    assert any("group g0: tp 4 does not fit nodes of 6 GPUs" in p for p in probs), probs


def test_mismatched_gpus_per_node_inside_group():
    groups, hv = fleet(host_vars={"g0-n0": {"sglang_gpus_per_node": 8}, "g0-n1": {"sglang_gpus_per_node": 4}})
    probs = problems_of(groups, hv)
    assert any(
        "group g0: sglang_gpus_per_node differs between its hosts" in p and "group_vars/g0" in p for p in probs
    ), probs


@pytest.mark.parametrize(
    "var, value, needle",
    [
        ("sglang_port", 20003, "sglang_port=20003 collides with the dist-init port window 20000-20006"),
        ("sglang_nccl_port", 20000, "sglang_nccl_port=20000 collides with the dist-init port window"),
        ("sglang_nccl_port", 30000, "sglang_port and sglang_nccl_port are both 30000"),
        ("sglang_port", 70000, "sglang_port=70000 is not a TCP port"),
    ],
)
def test_port_collisions_on_a_host(var, value, needle):
    groups, hv = fleet(group_vars={var: value})
    probs = problems_of(groups, hv)
    assert any(needle in p for p in probs), probs


def test_two_groups_share_a_dist_init_address():
    groups, hv = fleet(n_groups=2, group_vars={"sglang_dist_init_host": "10.9.9.9"})
    probs = problems_of(groups, hv)
    assert any("groups g0 and g1 both use dist-init address 10.9.9.9:20000" in p for p in probs), probs


@pytest.mark.parametrize(
    "host_vars, needle",
    [
        ({"g0-n0": {"ansible_host": "127.0.0.1"}}, "ansible_host of rank 0 host g0-n0=127.0.0.1 is loopback"),
        ({"g0-n0": {"ansible_host": ""}}, "no dist-init address for rank 0 host g0-n0"),
    ],
)
def test_missing_or_unusable_address(host_vars, needle):
    groups, hv = fleet(host_vars=host_vars)
    probs = problems_of(groups, hv)
    assert any(needle in p for p in probs), probs


def test_interface_without_facts_names_the_fix():
    groups, hv = fleet(group_vars={"sglang_dist_init_interface": "ib0"})
    probs = problems_of(groups, hv)
    assert any(
        "sglang_dist_init_interface=ib0, but rank 0 host g0-n0 has no IPv4 address" in p
        and "sglang_dist_init_host" in p
        for p in probs
    ), probs


def test_missing_model_path_and_unknown_preset():
    groups, hv = fleet(group_vars={"sglang_model_path": None, "sglang_preset": "r1-fast"})
    probs = problems_of(groups, hv)
    assert any("sglang_model_path is not set" in p for p in probs), probs
    assert any("sglang_preset=r1-fast is not a known preset" in p for p in probs), probs


def test_planner_owned_flags_rejected_in_args():
    groups, hv = fleet(group_vars={"sglang_args": {"tp-size": 8}})
    probs = problems_of(groups, hv)
    assert any("--tp-size is set by the planner" in p for p in probs), probs


def test_all_problems_reported_at_once():
    groups, hv = fleet(n_groups=2, host_vars={"g0-n0": {"sglang_node_rank": 5}})
    hv["g1-n0"]["sglang_port"] = 20001
    hv["g1-n1"]["sglang_port"] = 20001
    probs = problems_of(groups, hv)
    assert any("g0-n0" in p for p in probs) and any("group g1" in p for p in probs), probs


def test_no_model_groups():
    probs = problems_of({}, {})
    assert "no model groups" in probs[0]


def test_table_lists_every_node():
    table = format_table(plan_fleet(*fleet(n_groups=2)))
    assert "g1-n1" in table and "10.0.1.1:20000" in table and "sglang.launch_server" in table


def test_an_empty_group_is_skipped_with_a_warning():
    groups, hv = fleet()
    groups["spare"] = []
    plan = plan_fleet(groups, hv)
    assert "spare" not in plan["groups"] and any("spare has no hosts" in w for w in plan["warnings"])


def test_ipv6_dist_init_and_urls_are_bracketed():
    groups, hv = fleet(host_vars={"g0-n0": {"ansible_host": "fd00:0::11"}, "g0-n1": {"ansible_host": "fd00::12"}})
    group = plan_fleet(groups, hv)["groups"]["g0"]
    # sglang/srt/utils/network.py NetworkAddress.parse refuses a bare "fd00::11:20000" as ambiguous.
    assert group["dist_init_addr"] == "[fd00::11]:20000"
    assert group["url"] == "http://[fd00::11]:30000"
    assert [n["address"] for n in group["nodes"]] == ["fd00::11", "fd00::12"]


def test_secrets_reach_the_plan_as_names_only():
    groups, hv = fleet(group_vars={"sglang_secret_vars": {"sglang_api_key": 0, "sglang_ssl_keyfile_password": 0}})
    group = plan_fleet(groups, hv)["groups"]["g0"]
    assert group["secret_vars"] == {"api-key": "sglang_api_key", "ssl-keyfile-password": "sglang_ssl_keyfile_password"}
    argv = group["nodes"][0]["argv"]
    assert argv[argv.index("--config") + 1] == "/etc/sglang/g0.secrets.yaml"


def test_router_elsewhere_and_distinct_ports_plan():
    groups, hv = fleet()
    plan = plan_fleet(groups, hv, routers={"router-1": {}, "g0-n1": {"sglang_router_port": 8000}})
    assert plan["groups"]["g0"]["port"] == 30000


@pytest.mark.parametrize(
    "role, var",
    [
        ("sglang_server", "sglang_server_model_mount"),
        ("sglang_router", "sglang_router_host"),
        ("sglang_router", "sglang_router_port"),
        ("sglang_router", "sglang_router_prometheus_port"),
    ],
)
def test_planner_defaults_are_the_roles_defaults(role, var):
    import pathlib

    import yaml

    from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import DEFAULTS, ROUTER_DEFAULTS

    root = pathlib.Path(__file__).resolve().parents[4]
    defaults = yaml.safe_load((root / "roles" / role / "defaults" / "main.yml").read_text())
    assert str(dict(DEFAULTS, **ROUTER_DEFAULTS)[var]) == str(defaults[var])
