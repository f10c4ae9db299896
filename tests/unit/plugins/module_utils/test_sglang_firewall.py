from __future__ import annotations

import shutil
import subprocess

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.filter.sglang_firewall import (
    sglang_firewall_peers,
    sglang_firewall_ruleset,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_firewall import (
    FirewallError,
    compute_rules,
    firewall,
    peer_addresses,
    peers_needed,
    render_ruleset,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import (
    DIST_INIT_PORT_WINDOW,
    plan_fleet,
)

ROUTER = "router-1"
HOSTS = {
    # host: (management/bootstrap address = ansible_host, fabric address, IPv6)
    "gpu-a1": ("10.20.0.11", "192.168.100.11", "fd00:20::11"),
    "gpu-a2": ("10.20.0.12", "192.168.100.12", "fd00:20::12"),
    "gpu-b1": ("10.20.0.13", "192.168.100.13", "fd00:20::13"),
    "gpu-b2": ("10.20.0.14", "192.168.100.14", "fd00:20::14"),
    ROUTER: ("10.20.0.5", None, "fd00:20::5"),
}


def prod_plan(group_vars=None):
    """The real planner on a prod-like inventory: r1_a, r1_b (2 x 8 GPUs each)."""
    model_groups = {"r1_a": ["gpu-a1", "gpu-a2"], "r1_b": ["gpu-b1", "gpu-b2"]}
    hostvars = {}
    for _group, hosts in model_groups.items():
        for host in hosts:
            hv = {
                "ansible_host": HOSTS[host][0],
                "sglang_preset": "deepseek-r1-fp8-2x8",
                "sglang_model_path": "/models/deepseek-ai/DeepSeek-R1",
            }
            hv.update(group_vars or {})
            hostvars[host] = hv
    return plan_fleet(model_groups, hostvars)


def hostvars_with_facts():
    """hostvars as Ansible has them after fact gathering (loopback; docker0 on the GPU hosts)."""
    out = {}
    for host, (mgmt, fabric, v6) in HOSTS.items():
        v4 = [mgmt, "127.0.0.1"] + (["172.17.0.1", fabric] if fabric else [])
        out[host] = {"ansible_facts": {"all_ipv4_addresses": v4, "all_ipv6_addresses": [v6, "::1"]}}
    return out


def addresses():
    return peer_addresses(list(HOSTS), hostvars_with_facts())


def rules_by_name(result):
    return dict((r["name"], r) for r in result["rules"])


def run_fw(host, plan=None, **kwargs):
    kwargs.setdefault("routers", [ROUTER])
    kwargs.setdefault("router_port", 30000)
    kwargs.setdefault("router_metrics_port", 29000)
    return firewall(plan or prod_plan(), host, addresses(), **kwargs)


def problems(host, plan=None, addrs=None, **kwargs):
    kwargs.setdefault("routers", [ROUTER])
    kwargs.setdefault("router_port", 30000)
    kwargs.setdefault("router_metrics_port", 29000)
    with pytest.raises(FirewallError) as err:
        compute_rules(plan or prod_plan(), host, addresses() if addrs is None else addrs, **kwargs)
    return "\n".join(err.value.problems)


# ---------------------------------------------------------------- rules


@pytest.mark.parametrize("host, rank, role", [("gpu-a1", 0, "API"), ("gpu-a2", 1, "liveness only")])
def test_member_internal_ports_only_from_own_group(host, rank, role):
    result = run_fw(host, operator_cidrs=["10.99.0.0/16"])
    rules = rules_by_name(result)
    assert list(rules) == ["internal", "http"]
    internal = rules["internal"]
    assert internal["ports"] == [[20000, 20000 + DIST_INIT_PORT_WINDOW - 1], [20010, 20010]]
    # Both members, on every non-loopback address of their facts; never the other group.
    assert internal["ipv4"] == ["10.20.0.11", "10.20.0.12", "172.17.0.1", "192.168.100.11", "192.168.100.12"]
    assert internal["ipv6"] == ["fd00:20::11", "fd00:20::12"]
    assert not set(internal["ipv4"]) & {"10.20.0.13", "10.20.0.14", "192.168.100.13", "10.20.0.5"}
    http = rules["http"]
    assert http["ports"] == [[30000, 30000]]
    assert http["ipv4"] == ["10.20.0.5", "10.99.0.0/16"]
    assert http["ipv6"] == ["fd00:20::5"]
    assert "rank %d HTTP 30000 (%s)" % (rank, role) in http["label"]
    assert result["warnings"] == []


def test_router_port_default_any_and_metrics_from_operator_only():
    rules = rules_by_name(run_fw(ROUTER, operator_cidrs=["10.99.0.0/16", "fd99::/64"]))
    assert list(rules) == ["router", "router_metrics"]
    assert rules["router"]["ports"] == [[30000, 30000]]
    assert (rules["router"]["ipv4"], rules["router"]["ipv6"]) == (["0.0.0.0/0"], ["::/0"])
    assert rules["router_metrics"]["ports"] == [[29000, 29000]]
    assert (rules["router_metrics"]["ipv4"], rules["router_metrics"]["ipv6"]) == (["10.99.0.0/16"], ["fd99::/64"])


def test_router_client_allowlist_narrows_and_empty_means_operator_nobody():
    rules = rules_by_name(run_fw(ROUTER, router_client_cidrs=["10.30.0.0/16"]))
    assert (rules["router"]["ipv4"], rules["router"]["ipv6"]) == (["10.30.0.0/16"], [])
    text = run_fw(ROUTER, router_client_cidrs=[])["text"]
    assert "@router_v4" not in text and "tcp dport 30000 counter drop" in text


def test_pinned_ports_follow_the_plan():
    plan = prod_plan({"sglang_dist_init_port": 21000, "sglang_nccl_port": 21010, "sglang_port": 31000})
    rules = rules_by_name(run_fw("gpu-b2", plan=plan))
    assert rules["internal"]["ports"] == [[21000, 21006], [21010, 21010]]
    assert rules["http"]["ports"] == [[31000, 31000]]
    # Adjacent NCCL port merges into the window's range.
    plan = prod_plan({"sglang_nccl_port": 20007})
    assert rules_by_name(run_fw("gpu-a1", plan=plan))["internal"]["ports"] == [[20000, 20007]]


def test_overlapping_allowlists_are_merged_for_the_interval_set():
    rules = rules_by_name(run_fw(ROUTER, operator_cidrs=["10.0.0.0/8", "10.1.0.0/16", "10.20.0.5"]))
    assert rules["router_metrics"]["ipv4"] == ["10.0.0.0/8"]
    # Neighbours stay separate (readable), duplicates go.
    rules = rules_by_name(
        run_fw(ROUTER, operator_cidrs=["10.0.0.3", "10.0.0.2", "10.0.0.2/32", "fd00::/64", "fd00::1"])
    )
    assert (rules["router_metrics"]["ipv4"], rules["router_metrics"]["ipv6"]) == (
        ["10.0.0.2", "10.0.0.3"],
        ["fd00::/64"],
    )


def test_no_router_and_no_allowlist_warns():
    result = firewall(prod_plan(), "gpu-a1", addresses(), routers=[])
    assert rules_by_name(result)["http"]["ipv4"] == []
    assert "answers only on this host" in result["warnings"][0]


# ------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    "group_vars, kwargs, host, expected",
    [
        ({"sglang_port": 22}, {}, "gpu-a1", "SGLang HTTP port would use port 22, an SSH port"),
        ({"sglang_dist_init_port": 16}, {}, "gpu-a2", "dist-init/ZMQ/NCCL ports would use port 22"),
        ({"sglang_nccl_port": 2222}, {"protected_ports": [22, 2222]}, "gpu-b1", "would use port 2222, an SSH port"),
        ({}, {"router_port": 22}, ROUTER, "router port would use port 22"),
        ({}, {"router_metrics_port": 22}, ROUTER, "Move sglang_router_prometheus_port"),
    ],
)
def test_ssh_port_is_refused(group_vars, kwargs, host, expected):
    # The planner refuses SSH ports itself (test_bad_inputs.py); the firewall refuses them again
    # in a plan edited by hand (defence in depth), so they are patched into a valid plan here.
    plan = prod_plan()
    for group in plan["groups"].values():
        for var, value in group_vars.items():
            group[var[len("sglang_") :]] = value
            if var == "sglang_dist_init_port":
                group["dist_init_ports"] = [value, value + DIST_INIT_PORT_WINDOW - 1]
            for node in group["nodes"]:
                node[var[len("sglang_") :]] = value
    text = problems(host, plan=plan, **kwargs)
    assert expected in text and "host %s" % host in text and "lock you out" in text


def test_router_ports_come_from_the_plan_never_a_default_of_its_own():
    model_groups = {"r1_a": ["gpu-a1", "gpu-a2"]}
    hostvars = dict((h, {"ansible_host": HOSTS[h][0], "sglang_model_path": "/models/m"}) for h in model_groups["r1_a"])
    plan = plan_fleet(
        model_groups, hostvars, routers={ROUTER: {"sglang_router_port": 8080, "sglang_router_prometheus_port": 9090}}
    )
    rules = rules_by_name(firewall(plan, ROUTER, addresses(), routers=[ROUTER]))
    assert rules["router"]["ports"] == [[8080, 8080]] and rules["router_metrics"]["ports"] == [[9090, 9090]]
    with pytest.raises(FirewallError, match="router router-2 is not in the plan's routers; run playbooks/plan.yml"):
        compute_rules(plan, "router-2", addresses(), routers=[ROUTER, "router-2"])


def test_router_on_a_member_sharing_the_http_port_is_refused():
    text = problems("gpu-a1", routers=["gpu-a1"], router_port=30000)
    assert "port 30000 would serve both the SGLang HTTP port and the router port" in text


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"operator_cidrs": ["prometheus.example.com"]}, "never resolves names"),
        ({"operator_cidrs": ["10.0.0.1/8"]}, "did you mean 10.0.0.0/8?"),
        ({"operator_cidrs": "10.0.0.0/8"}, "must be a list"),
        ({"router_client_cidrs": ["any"]}, "sglang_firewall_router_client_cidrs: 'any' is not an IP"),
        ({"router_port": 70000}, "router port=70000 is not a TCP port"),
    ],
)
def test_bad_variables_are_named(kwargs, expected):
    assert expected in problems(ROUTER, **kwargs)


def test_peer_without_addresses_and_host_outside_everything():
    addrs = addresses()
    del addrs["gpu-a2"]
    assert "no addresses given for peer gpu-a2" in problems("gpu-a1", addrs=addrs)
    addrs = addresses()
    addrs["gpu-a2"] = ["gpu-a2.example.com"]
    assert "address 'gpu-a2.example.com' is not an IP address" in problems("gpu-a1", addrs=addrs)
    assert "neither in a planned model group nor in the routers group" in problems("bastion")
    with pytest.raises(FirewallError, match="not a valid nftables table name"):
        run_fw("gpu-a1", table="gpufleet-sglang")


# ------------------------------------------------------ addresses, IPv6


def test_ipv6_rendering_zone_ids_and_only_v6_peers():
    addrs = addresses()
    addrs["gpu-a2"] = {"ipv4": [], "ipv6": ["fd00:20::12", "fe80::1%eth0"]}
    result = firewall(prod_plan(), "gpu-a1", addrs, routers=[ROUTER])
    internal = rules_by_name(result)["internal"]
    assert internal["ipv6"] == ["fd00:20::11", "fd00:20::12", "fe80::1"]
    assert "10.20.0.12" not in internal["ipv4"]
    assert "ip6 saddr @internal_v6 accept" in result["text"]
    assert "elements = { fd00:20::11, fd00:20::12, fe80::1 }" in result["text"]


def test_peer_addresses_override_and_missing_facts():
    hv = hostvars_with_facts()
    hv["gpu-a2"]["sglang_firewall_addresses"] = ["192.168.100.12"]
    assert peer_addresses(["gpu-a2"], hv) == {"gpu-a2": ["192.168.100.12"]}
    hv["gpu-b1"] = {"ansible_host": "10.20.0.13"}
    with pytest.raises(FirewallError, match="no addresses known for host.s. gpu-b1, gpu-x"):
        peer_addresses(["gpu-a1", "gpu-b1", "gpu-x"], hv)


def test_peers_needed():
    plan = prod_plan()
    assert peers_needed(plan, "gpu-a2", [ROUTER]) == ["gpu-a1", "gpu-a2", ROUTER]
    assert peers_needed(plan, ROUTER, [ROUTER]) == []


# ------------------------------------------------------------ rendering


def test_text_is_one_transaction_on_a_dedicated_table_only():
    result = run_fw("gpu-a1")
    text = result["text"]
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert lines[:3] == [
        "table inet gpufleet_sglang {}",
        "delete table inet gpufleet_sglang",
        "table inet gpufleet_sglang {",
    ]
    assert sum(ln.startswith("table ") or ln.startswith("delete ") for ln in lines) == 3
    assert "flush" not in text and " 22" not in text
    assert '    comment "gpufleet.sglang %s gpu-a1"' % result["fingerprint"] in text
    chain = text[text.index("chain input") :]
    assert (
        chain.index('iif "lo" accept')
        < chain.index("ct state established,related accept")
        < chain.index("@internal_v4")
    )
    assert chain.index("@internal_v4 accept") < chain.index("tcp dport { 20000-20006, 20010 } counter drop")
    assert "type filter hook input priority filter; policy accept;" in chain


def test_render_is_deterministic_and_fingerprint_follows_content():
    shuffled = dict((h, list(reversed(a))) for h, a in reversed(list(addresses().items())))
    one = firewall(prod_plan(), "gpu-a1", addresses(), routers=[ROUTER])
    two = firewall(prod_plan(), "gpu-a1", shuffled, routers=[ROUTER])
    assert one["text"] == two["text"]
    three = firewall(prod_plan(), "gpu-a1", addresses(), routers=[ROUTER], operator_cidrs=["10.99.0.1"])
    assert three["fingerprint"] != one["fingerprint"]
    text, fingerprint = render_ruleset(compute_rules(prod_plan(), "gpu-a1", addresses(), routers=[ROUTER]))
    assert (text, fingerprint) == (one["text"], one["fingerprint"])


# ------------------------------------------------- the real nft, isolated


def _netns_nft_available():
    if not shutil.which("nft") or not shutil.which("unshare"):
        return False
    return subprocess.run(["unshare", "-n", "nft", "list", "ruleset"], capture_output=True, check=False).returncode == 0


needs_nft = pytest.mark.skipif(not _netns_nft_available(), reason="nft in a private network namespace unavailable")


def _nft_script(tmp_path, script):
    path = tmp_path / "t.sh"
    path.write_text(script)
    return subprocess.run(["unshare", "-n", "sh", "-e", str(path)], capture_output=True, text=True, check=False)


@needs_nft
@pytest.mark.parametrize("host", ["gpu-a1", "gpu-a2", "gpu-b1", ROUTER])
def test_real_nft_checks_applies_and_reapplies_atomically(tmp_path, host):
    result = run_fw(host, operator_cidrs=["10.99.0.0/16", "fd99::/64"])
    (tmp_path / "fw.nft").write_text(result["text"])
    (tmp_path / "other.nft").write_text(
        "table inet operator_keep {\n chain input {\n  type filter hook input priority 10; policy accept;\n"
        "  tcp dport 22 accept\n }\n}\n"
    )
    proc = _nft_script(
        tmp_path,
        "\n".join(
            [
                "nft -f %s/other.nft" % tmp_path,
                "nft -c -f %s/fw.nft" % tmp_path,
                "nft -f %s/fw.nft" % tmp_path,
                "nft -s list ruleset > %s/one" % tmp_path,
                "nft -f %s/fw.nft" % tmp_path,
                "nft -s list ruleset > %s/two" % tmp_path,
            ]
        ),
    )
    assert proc.returncode == 0, proc.stderr
    one, two = (tmp_path / "one").read_text(), (tmp_path / "two").read_text()
    assert one == two
    assert "table inet operator_keep" in one and result["fingerprint"] in one


@needs_nft
def test_real_nft_rejects_a_broken_ruleset_without_touching_the_table(tmp_path):
    good = run_fw("gpu-a1")
    broken = good["text"].replace("@internal_v4 accept", "@no_such_set accept")
    (tmp_path / "good.nft").write_text(good["text"])
    (tmp_path / "broken.nft").write_text(broken)
    proc = _nft_script(
        tmp_path,
        "\n".join(
            [
                "nft -f %s/good.nft" % tmp_path,
                "if nft -c -f %s/broken.nft; then exit 3; fi" % tmp_path,
                "if nft -f %s/broken.nft; then exit 4; fi" % tmp_path,
                "nft list table inet gpufleet_sglang > %s/live" % tmp_path,
            ]
        ),
    )
    assert proc.returncode == 0, proc.stderr
    assert good["fingerprint"] in (tmp_path / "live").read_text()


# ---------------------------------------------------------------- filters


def test_filter_reads_hostvars_and_names_the_host_on_error():
    plan = prod_plan()
    hv = hostvars_with_facts()
    out = sglang_firewall_ruleset(plan, "gpu-a1", hv, routers=[ROUTER], router_port=30000, router_metrics_port=29000)
    assert out["rules"][0]["ipv4"][0] == "10.20.0.11"
    del hv["gpu-a2"]["ansible_facts"]
    with pytest.raises(
        AnsibleFilterError, match="(?s)problem.s. for host gpu-a1.*no addresses known for host.s. gpu-a2"
    ):
        sglang_firewall_ruleset(plan, "gpu-a1", hv, routers=[ROUTER])
    with pytest.raises(AnsibleFilterError, match="run playbooks/plan.yml first"):
        sglang_firewall_ruleset(None, "gpu-a1", hv)


def test_filter_peers_to_gather():
    plan = prod_plan()
    hv = hostvars_with_facts()
    del hv["gpu-b2"]["ansible_facts"]
    del hv[ROUTER]["ansible_facts"]
    assert sglang_firewall_peers(plan, ["gpu-b1", ROUTER], [ROUTER]) == ["gpu-b1", "gpu-b2", ROUTER]
    assert sglang_firewall_peers(plan, ["gpu-b1", ROUTER], [ROUTER], missing_in=hv) == ["gpu-b2", ROUTER]
    assert sglang_firewall_peers(plan, [ROUTER], [ROUTER], missing_in=hv) == []
