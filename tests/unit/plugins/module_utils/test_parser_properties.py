"""Property-based tests (hypothesis) of the parsers and the planner (issue 18).

For any input, each parser returns its result or raises its own error (FabricError, ManifestError,
ArgsError, PlanError) whose message is its own, never another exception. The planner's argv never
carries a secret, a planner-owned flag from free-form args, a control character, or a value that
SGLang's parser would read as a flag.
"""

from __future__ import annotations

import json
import os
import re
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.gpufleet.sglang.plugins.module_utils import sglang_catalog as catalog
from ansible_collections.gpufleet.sglang.plugins.module_utils.fabric import (
    FabricError,
    _natural_key,
    nccl_env,
    parse_ip_addr_json,
    parse_rate,
    read_sysfs,
    split_host_port,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import ManifestError, loads
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_args import (
    PLANNER_FLAGS,
    SECRET_FLAGS,
    ArgsError,
    build_args,
    parse_extra_args,
    render_argv,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import (
    OWNED_FLAGS,
    ROUTER_DEFAULTS,
    PlanError,
    check_address,
    plan_fleet,
)

SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
NEGATIVE = re.compile(r"^-\d+$|^-\d*\.\d+$")


# ------------------------------------------------------------------ ip -j addr


@SETTINGS
@given(st.text(max_size=200))
def test_ip_json_any_text(text):
    try:
        assert isinstance(parse_ip_addr_json(text), dict)
    except FabricError as exc:
        assert "ip -j addr" in str(exc)


@SETTINGS
@given(json_values)
def test_ip_json_any_json_value(value):
    try:
        result = parse_ip_addr_json(json.dumps(value))
    except FabricError as exc:
        assert "ip -j addr" in str(exc)
        return
    for name, cidrs in result.items():
        assert isinstance(name, str) and all(isinstance(c, str) and "/" in c for c in cidrs)


links = st.lists(
    st.fixed_dictionaries(
        {
            "ifname": st.from_regex(r"\A[a-z][a-z0-9]{0,10}\Z"),
            "addr_info": st.lists(
                st.one_of(
                    st.builds(
                        lambda a, p: {"family": "inet", "local": str(a), "prefixlen": p},
                        st.ip_addresses(v=4),
                        st.integers(0, 32),
                    ),
                    st.builds(
                        lambda a, p: {"family": "inet6", "local": str(a), "prefixlen": p},
                        st.ip_addresses(v=6),
                        st.integers(0, 128),
                    ),
                ),
                max_size=3,
            ),
        }
    ),
    max_size=4,
    unique_by=lambda link: link["ifname"],
)


@SETTINGS
@given(links)
def test_ip_json_well_formed_round_trips(data):
    result = parse_ip_addr_json(json.dumps(data))
    for link in data:
        assert result[link["ifname"]] == ["%s/%d" % (i["local"], i["prefixlen"]) for i in link["addr_info"]]


# ------------------------------------------------------------------ sysfs and small parsers

entry_names = st.text(
    st.characters(blacklist_characters="/\x00", blacklist_categories=("Cs",)), min_size=1, max_size=12
).filter(lambda n: n not in (".", ".."))


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(entry_names, min_size=1, max_size=4, unique=True),
    st.lists(entry_names, max_size=3, unique=True),
    st.text(max_size=12),
)
def test_sysfs_any_entry_names(ports, gids, net_type):
    with tempfile.TemporaryDirectory() as root:
        base = os.path.join(root, "class", "infiniband", "mlx5_0")
        for port in ports:
            for gid in gids:
                os.makedirs(os.path.join(base, "ports", port, "gids"), exist_ok=True)
                with open(os.path.join(base, "ports", port, "gids", gid), "w") as handle:
                    handle.write("fe80::1\n")
            os.makedirs(os.path.join(base, "ports", port), exist_ok=True)
        os.makedirs(os.path.join(root, "class", "net", "eth0"))
        with open(os.path.join(root, "class", "net", "eth0", "type"), "w") as handle:
            handle.write(net_type)
        hcas, interfaces = read_sysfs(root)
        numbers = [p["port"] for h in hcas for p in h["ports"]]
        assert sorted(numbers) == sorted(int(p) for p in ports if re.match(r"^[0-9]+$", p))
        assert interfaces["eth0"]["type"] is None or isinstance(interfaces["eth0"]["type"], int)


@SETTINGS
@given(st.lists(st.text(max_size=10), max_size=6))
def test_natural_key_sorts_any_names(names):
    assert sorted(sorted(names, key=_natural_key)) == sorted(names)


@SETTINGS
@given(st.text(max_size=60))
def test_rate_and_host_port_any_text(text):
    rate = parse_rate(text)
    assert rate is None or (rate >= 0 and rate != float("inf"))
    assert isinstance(split_host_port(text), str)


@SETTINGS
@given(st.dictionaries(st.text(max_size=12) | st.integers(), json_values, max_size=4) | json_values)
def test_nccl_env_any_extra(extra):
    try:
        env = nccl_env({"active_compute_ports": ["mlx5_0:1"], "transport": "infiniband"}, extra=extra)
    except FabricError as exc:
        assert str(exc)
        return
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in env.items())


@SETTINGS
@given(st.text(max_size=200) | json_values.map(json.dumps))
def test_manifest_any_text(text):
    try:
        loads(text)
    except ManifestError as exc:
        assert str(exc).startswith("manifest")


# ------------------------------------------------------------------ addresses


@SETTINGS
@given(st.text(max_size=40) | st.ip_addresses().map(str) | st.integers() | st.none())
def test_check_address_never_raises(value):
    address, problem = check_address(value, "sglang_dist_init_host")
    assert (address is None) == bool(problem)
    if address is not None:
        assert not re.search(r"[\s\[\]/%]", address) and address != "localhost"


# ------------------------------------------------------------------ argv: nothing smuggled

flag_names = st.sampled_from(sorted(catalog.OPTION_TO_FLAG) + ["--no-enable-tf32-matmul", "--tp", "--api-key"])
tokens = st.one_of(
    flag_names,
    flag_names.map(lambda f: f + "=x"),
    st.text(max_size=12),
    st.sampled_from(["-1", "--", "-x", "1", "true", "a b", "--api-key SECRET"]),
)


def assert_clean_argv(argv):
    for _i, token in enumerate(argv):
        assert not re.search(r"[\x00-\x1f\x7f]", token)
        if token.startswith("-") and not NEGATIVE.match(token):
            assert token in catalog.OPTION_TO_FLAG, (token, argv)
            assert catalog.OPTION_TO_FLAG[token] not in SECRET_FLAGS
    assert "SECRET" not in " ".join(argv)


@SETTINGS
@given(st.lists(tokens | st.integers() | st.none(), max_size=8))
def test_extra_args_never_smuggle(items):
    warnings = []
    try:
        pairs = parse_extra_args(items, "group g")
        argv = render_argv(
            build_args([(f, v, "sglang_extra_args") for f, v in pairs], "group g", warnings, owned=OWNED_FLAGS),
            "group g",
        )
    except ArgsError as exc:
        assert all(p.startswith("group g") for p in exc.problems)
        assert "SECRET" not in " ".join(exc.problems)
        return
    assert_clean_argv(argv)
    assert not set(argv) & set(PLANNER_FLAGS) and "--config" not in argv and "--port" not in argv


@SETTINGS
@given(st.dictionaries(flag_names.map(lambda f: f.lstrip("-")) | st.text(max_size=10), json_values, max_size=4))
def test_sglang_args_never_smuggle(mapping):
    warnings = []
    try:
        argv = render_argv(
            build_args([(f, v, "sglang_args") for f, v in mapping.items()], "group g", warnings, owned=OWNED_FLAGS),
            "group g",
        )
    except ArgsError as exc:
        assert all(p.startswith("group g") for p in exc.problems)
        return
    assert_clean_argv(argv)


# ------------------------------------------------------------------ the planner end to end

weird = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(),
    st.text(max_size=16),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
GROUP_VARS = [
    "sglang_tp_size",
    "sglang_nodes_per_group",
    "sglang_gpus_per_node",
    "sglang_port",
    "sglang_nccl_port",
    "sglang_dist_init_port",
    "sglang_dist_init_host",
    "sglang_host",
    "sglang_mem_fraction_static",
    "sglang_attn_dp_size",
    "sglang_runtime",
    "sglang_preset",
    "sglang_model_path",
    "sglang_secrets_file",
    "sglang_args",
    "sglang_extra_args",
    "sglang_speculative",
    "sglang_secret_vars",
    "sglang_has_secrets",
    "sglang_server_model_mount",
    "sglang_dist_init_interface",
    "ansible_port",
]


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.dictionaries(st.sampled_from(GROUP_VARS), weird, max_size=4),
    st.text(max_size=8),
    st.one_of(st.none(), weird),
    st.dictionaries(st.sampled_from(GROUP_VARS), weird, max_size=2),
    st.dictionaries(
        st.sampled_from(["router-1", "n0", "n1"]),
        st.dictionaries(st.sampled_from(sorted(ROUTER_DEFAULTS)), weird, max_size=2),
        max_size=2,
    ),
)
def test_planner_any_group_vars(group_vars, group, rank, n1_vars, routers):
    hosts = ["n0", "n1"]
    hostvars = dict(
        (h, dict({"ansible_host": "10.0.0.%d" % (i + 1), "sglang_model_path": "/models/m"}, **group_vars))
        for i, h in enumerate(hosts)
    )
    hostvars["n1"].update(n1_vars)  # a host that differs from its group
    if rank is not None:
        hostvars["n1"]["sglang_node_rank"] = rank
    try:
        plan = plan_fleet({group or "g": hosts}, hostvars, routers=routers)
    except PlanError as exc:
        assert exc.problems and all(
            p.startswith(("group ", "host ", "groups ", "router ", "no model")) for p in exc.problems
        )
        return
    json.dumps(plan)
    for node in plan["hosts"].values():
        assert_clean_argv(node["launch_args"])
        addr = node["dist_init_addr"]
        if addr:  # SGLang's NetworkAddress.parse: [v6]:port or host:port, one port
            assert re.match(r"^(\[[0-9a-f:.]+\]|[^:\[\]]+):[0-9]+$", addr), addr
