"""Bad inputs, table-driven (issue 18): every one is refused cleanly, before any host changes.

Each planner case must raise PlanError (never another exception) with a problem that names the
group/host/variable and the fix (the needles), and no secret value may appear in any problem or
warning (every secret in the table contains "SECRET"). Each parser case must raise the parser's own
error naming the input and what was wrong, or (sysfs entry names) be read without an exception.

``test_case_count_by_class`` prints the count per class (pytest -s) and keeps the table >= 100.
"""

from __future__ import annotations

import collections
import datetime
import json

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import sglang_catalog as catalog
from ansible_collections.gpufleet.sglang.plugins.module_utils.fabric import (
    FabricError,
    fabric_facts,
    group_problems,
    nccl_env,
    parse_ip_addr_json,
    read_sysfs,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import (
    ManifestError,
    loads,
    loads_cache,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_args import NOT_SECRET_FLAGS, SECRET_FLAGS
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import PlanError, plan_fleet

NAN = float("nan")


def fleet(group_vars=None, host_vars=None, groups=None, nodes=2):
    """One group g0 of ``nodes`` hosts g0-n0.. with ansible_host 10.0.0.N (or ``groups`` given)."""
    groups = groups or {"g0": ["g0-n%d" % n for n in range(nodes)]}
    hostvars = {}
    for g, (_group, hosts) in enumerate(groups.items()):
        for n, host in enumerate(hosts):
            hv = {
                "ansible_host": "10.0.%d.%d" % (g, n + 1),
                "sglang_model_path": "/models/m",
                "sglang_nodes_per_group": len(hosts),
            }
            hv.update(group_vars or {})
            hv.update((host_vars or {}).get(host, {}))
            hostvars[host] = hv
    return groups, hostvars


P = collections.namedtuple("P", "klass id kwargs needles")
PLANNER = []


def bad(klass, case_id, needles, **kwargs):
    PLANNER.append(P(klass, case_id, kwargs, needles))


def args(value):
    return {"group_vars": {"sglang_args": value}}


def extra(value):
    return {"group_vars": {"sglang_extra_args": value}}


def gv(**values):
    return {"group_vars": values}


SECRET_FIX = ["is a secret and must not be on the command line", "only through the 0600 --config file"]
OWNED = "is set by the planner from the inventory"
LEADING_DASH = "a value may not begin with '-'"

# ------------------------------------------------------------------ smuggled flags
S = "smuggled flags"
bad(
    S,
    "extra-secret-after-value",
    SECRET_FIX + ["--api-key", "sglang_api_key"],
    **extra(["--served-model-name", "m", "--api-key", "sk-SECRET1"]),
)
bad(S, "extra-secret-one-token", SECRET_FIX + ["sglang_api_key"], **extra(["--api-key sk-SECRET2"]))
bad(S, "extra-secret-equals", SECRET_FIX + ["sglang_api_key"], **extra(["--api-key=sk-SECRET3"]))
bad(S, "extra-secret-equals-empty-then-value", SECRET_FIX, **extra(["--api-key=", "sk-SECRET3b"]))
bad(S, "args-api-key", SECRET_FIX + ["sglang_api_key"], **args({"api-key": "sk-SECRET4"}))
bad(S, "args-admin-key-underscores", SECRET_FIX + ["sglang_admin_api_key"], **args({"admin_api_key": "SECRET5"}))
bad(S, "args-ssl-password", SECRET_FIX + ["sglang_ssl_keyfile_password"], **args({"ssl-keyfile-password": "SECRET6"}))
bad(
    S,
    "args-watermark-config",
    SECRET_FIX + ["sglang_watermark_config"],
    **args({"watermark-config": '{"key": "SECRET7"}'}),
)
bad(S, "args-secret-name-and-value-as-key", SECRET_FIX, **args({"--api-key SECRET8": True}))
bad(S, "value-is-a-flag", [LEADING_DASH, "--served-model-name"], **args({"served-model-name": "--api-key"}))
bad(S, "value-is-flag-equals-secret", [LEADING_DASH], **args({"served-model-name": "--api-key=SECRET9"}))
bad(
    S,
    "list-value-smuggles-flag",
    [LEADING_DASH, "--lora-paths"],
    **args({"lora-paths": ["a", "--api-key", "SECRET10"]}),
)
bad(
    S,
    "list-int-value-smuggles-flag",
    ["--cuda-graph-bs-decode takes an integer"],
    **args({"cuda-graph-bs-decode": [1, "--nnodes", 4]}),
)
bad(
    S,
    "stray-token-after-value",
    ["item 3 is not a flag", "--context-length already has its value"],
    **extra(["--context-length", "4096", "8192"]),
)
bad(
    S,
    "stray-token-after-switch",
    ["item 2 is not a flag", "a switch that takes no value"],
    **extra(["--enable-metrics", "true"]),
)
bad(S, "value-without-flag", ["item 1 is not a flag", "no flag precedes it"], **extra(["4096"]))
bad(S, "double-dash", ["'--', which ends SGLang's options"], **extra(["--", "--log-level", "info"]))
bad(
    S,
    "missing-value-then-dash-value",
    ["--served-model-name takes 1 value(s), got 0"],
    **extra(["--served-model-name", "-x"]),
)
bad(S, "item-is-a-mapping", ["item 1 is a dict", "one argv token"], **extra([{"--api-key": "SECRET17"}]))
bad(S, "item-is-null", ["item 2 is a NoneType"], **extra(["--log-level", None]))
bad(
    S,
    "flag-and-value-in-one-item",
    ["holds a flag and its value in one item", "['--log-level', 'VALUE']"],
    **extra(["--log-level info"]),
)
bad(S, "args-key-with-space", ["holds a flag name and something after it"], **args({"--tp-size 8": True}))
bad(S, "newline-in-value", ["contains a newline or another control character"], **args({"served-model-name": "a\nb"}))
bad(S, "nul-in-value", ["control character"], **args({"chat-template": "x\x00y"}))
bad(S, "newline-in-extra-value", ["control character"], **extra(["--log-level", "info\n--api-key"]))
bad(S, "legacy-tp-renamed-to-owned", [OWNED, "sglang_tp_size"], **extra(["--tp", "8"]))
bad(S, "alias-of-dist-init", [OWNED, "sglang_dist_init_host"], **extra(["--nccl-init-addr", "10.0.0.9:1"]))
bad(S, "alias-of-tp", [OWNED, "sglang_tp_size"], **args({"tensor-parallel-size": 8}))
bad(S, "node-rank", [OWNED, "sglang_node_rank"], **args({"node-rank": 1}))
bad(S, "nnodes", [OWNED, "sglang_nodes_per_group"], **args({"nnodes": 4}))
bad(S, "dist-init-equals", [OWNED, "sglang_dist_init_host"], **extra(["--dist-init-addr=1.2.3.4:5"]))

# ------------------------------------------------------------------ flags that move what the plan owns
OWNS = "flags the plan owns"
bad(OWNS, "port", [OWNED, "use sglang_port"], **args({"port": 31000}))
bad(OWNS, "host", [OWNED, "use sglang_host"], **extra(["--host", "0.0.0.0"]))
bad(OWNS, "nccl-port", [OWNED, "use sglang_nccl_port"], **args({"nccl-port": 21000}))
bad(OWNS, "config", [OWNED, "use sglang_secrets_file"], **extra(["--config", "/tmp/x.yaml"]))
bad(OWNS, "model-alias", [OWNED, "use sglang_model_path", "(--model-path)"], **args({"model": "/models/x"}))
bad(OWNS, "model-path", [OWNED, "use sglang_model_path"], **args({"model-path": "/models/x"}))
bad(OWNS, "port-equals", [OWNED, "use sglang_port"], **extra(["--port=31000"]))

# ------------------------------------------------------------------ switches
W = "switches"
SWITCH = "is a switch and takes no value"
bad(W, "extra-switch-equals-false", [SWITCH, "'--enable-metrics' alone"], **extra(["--enable-metrics=false"]))
bad(W, "args-switch-string-false", [SWITCH, "set it to true or false"], **args({"enable-metrics": "false"}))
bad(W, "args-switch-yes", [SWITCH], **args({"enable-metrics": "yes"}))
bad(W, "args-switch-number", [SWITCH], **args({"trust-remote-code": 1}))
bad(
    W,
    "boolean-optional-string",
    [SWITCH, "--no-enable-tf32-matmul to turn it off"],
    **args({"enable-tf32-matmul": "false"}),
)
bad(
    W,
    "no-form-of-plain-switch",
    ["has no --no-enable-metrics", "off unless given"],
    **args({"no-enable-metrics": True}),
)
bad(W, "no-form-equals", [SWITCH], **extra(["--no-enable-tf32-matmul=true"]))
bad(W, "no-form-string", [SWITCH], **args({"no-enable-tf32-matmul": "x"}))

# ------------------------------------------------------------------ addresses and ports
A = "addresses and ports"
UNREACH = "which other nodes cannot connect to"
for case_id, value, needle in [
    ("unspecified-v4", "0.0.0.0", "unspecified"),
    ("unspecified-v6", "::", "unspecified"),
    ("loopback", "127.0.0.1", "loopback"),
    ("loopback-other", "127.1.2.3", "loopback"),
    ("loopback-v6-bracketed", "[::1]", "loopback"),
    ("loopback-v4-mapped", "::ffff:127.0.0.1", "loopback"),
    ("multicast-v4", "224.0.0.1", "multicast"),
    ("multicast-v6", "ff02::1", "multicast"),
    ("broadcast", "255.255.255.255", "broadcast"),
    ("link-local-v6", "fe80::1", "link-local"),
]:
    bad(
        A,
        "dist-init-" + case_id,
        ["sglang_dist_init_host", needle, UNREACH, "set sglang_dist_init_host"],
        **gv(sglang_dist_init_host=value),
    )
for case_id, value in [
    ("localhost", "localhost"),
    ("localhost-upper-dot", "LOCALHOST."),
    ("ip6-localhost", "ip6-localhost"),
    ("under-localhost", "node.localhost"),
]:
    bad(A, "dist-init-" + case_id, ["sglang_dist_init_host", "is a loopback name"], **gv(sglang_dist_init_host=value))
for case_id, value in [("shorthand", "127.1"), ("hex", "0x7f000001"), ("decimal", "2130706433")]:
    bad(
        A,
        "dist-init-" + case_id,
        ["shorthand IPv4 spelling", "write the dotted quad"],
        **gv(sglang_dist_init_host=value),
    )
bad(
    A,
    "dist-init-host-port",
    ["looks like host:port", "sglang_dist_init_port"],
    **gv(sglang_dist_init_host="10.0.0.1:20000"),
)
bad(A, "dist-init-bracketed-with-port", ["is not an IP address"], **gv(sglang_dist_init_host="[fd00::1]:20000"))
bad(A, "dist-init-zone", ["link-local", UNREACH], **gv(sglang_dist_init_host="fe80::1%eth0"))
bad(A, "dist-init-leading-space", ["whitespace"], **gv(sglang_dist_init_host=" 10.0.0.1"))
bad(A, "dist-init-two-addresses", ["whitespace"], **gv(sglang_dist_init_host="10.0.0.1 10.0.0.2"))
bad(A, "dist-init-bad-name", ["neither an IP address nor a host name"], **gv(sglang_dist_init_host="bad!host"))
bad(A, "dist-init-octet-256", ["neither an IP address nor a host name"], **gv(sglang_dist_init_host="10.0.0.256"))
bad(A, "dist-init-int", ["is not an address"], **gv(sglang_dist_init_host=10))
bad(
    A,
    "ansible-host-loopback",
    ["ansible_host of rank 0 host g0-n0=127.0.0.1 is loopback"],
    host_vars={"g0-n0": {"ansible_host": "127.0.0.1"}},
)
bad(
    A,
    "member-address-loopback",
    ["ansible_host of g0-n1=localhost is a loopback name", "set ansible_host"],
    host_vars={"g0-n1": {"ansible_host": "localhost"}},
)
bad(
    A,
    "window-past-65535",
    ["leaves no room for the dist-init window", "65529 or lower"],
    **gv(sglang_dist_init_port=65530),
)
bad(A, "dist-port-zero", ["sglang_dist_init_port=0 is not a TCP port"], **gv(sglang_dist_init_port=0))
bad(A, "dist-port-too-big", ["sglang_dist_init_port=70000 is not a TCP port"], **gv(sglang_dist_init_port=70000))
bad(A, "dist-port-word", ["sglang_dist_init_port=20k is not a TCP port"], **gv(sglang_dist_init_port="20k"))
bad(A, "http-port-ssh", ["sglang_port=22 takes port 22, which is SSH", "choose another port"], **gv(sglang_port=22))
bad(
    A,
    "http-port-ansible-port",
    ["takes port 2222, which is SSH (ansible_port of g0-n1)"],
    group_vars={"sglang_port": 2222},
    host_vars={"g0-n1": {"ansible_port": 2222}},
)
bad(A, "nccl-port-ssh", ["sglang_nccl_port=22 takes port 22"], **gv(sglang_nccl_port=22))
bad(A, "dist-window-covers-ssh", ["sglang_dist_init_port=16 takes port 22"], **gv(sglang_dist_init_port=16))
bad(A, "http-port-bool", ["sglang_port=True is not a TCP port"], **gv(sglang_port=True))
bad(A, "http-port-float", ["sglang_port=30000.5 is not a TCP port"], **gv(sglang_port=30000.5))
bad(
    A,
    "loopback-bind-behind-router",
    ["sglang_host=127.0.0.1 binds loopback", "router(s) router-1"],
    group_vars={"sglang_host": "127.0.0.1"},
    routers={"router-1": {}},
)
bad(
    A,
    "localhost-bind-behind-router",
    ["binds loopback"],
    group_vars={"sglang_host": "localhost"},
    routers={"router-1": {}},
)
bad(
    A,
    "router-on-member-same-port",
    ["router g0-n0 is also a node of group g0 and both want port 30000", "set sglang_router_port"],
    routers={"g0-n0": {}},
)
bad(
    A,
    "router-metrics-on-nccl-port",
    ["both want port 20010", "sglang_router_prometheus_port"],
    routers={"g0-n1": {"sglang_router_port": 8000, "sglang_router_prometheus_port": 20010}},
)
bad(
    A,
    "router-port-in-dist-window",
    ["both want port 20003", "the dist-init window"],
    routers={"g0-n0": {"sglang_router_port": 20003}},
)
bad(
    A,
    "router-port-word",
    ["router router-1: sglang_router_port=abc is not a TCP port"],
    routers={"router-1": {"sglang_router_port": "abc"}},
)
bad(A, "bind-whitespace", ["sglang_host", "whitespace"], **gv(sglang_host="0.0.0.0 "))
bad(A, "bind-multicast", ["sglang_host=224.0.0.5 is a multicast address"], **gv(sglang_host="224.0.0.5"))
bad(A, "bind-host-port", ["sglang_host=0.0.0.0:30000 looks like host:port"], **gv(sglang_host="0.0.0.0:30000"))

# ------------------------------------------------------------------ names
N = "names"
NAME_RULE = "cannot name a systemd unit"
for case_id, group in [
    ("space", "r1 a"),
    ("slash", "r1/a"),
    ("dotdot", "a..b"),
    ("non-ascii", "grüppe"),
    ("colon", "a:b"),
    ("leading-dash", "-x"),
    ("too-long", "a" * 241),
    ("empty", ""),
    ("newline", "a\nb"),
    ("leading-dot", ".hidden"),
]:
    bad(
        N,
        "group-" + case_id,
        [NAME_RULE, "rename the inventory group", "at most 240 characters"],
        groups={group: ["h1", "h2"]},
    )
for case_id, host in [
    ("space", "gpu 1"),
    ("slash", "gpu/1"),
    ("dotdot", "gpu..1"),
    ("non-ascii", "gpü1"),
    ("at", "root@gpu1"),
]:
    bad(N, "host-" + case_id, ["group g0:", NAME_RULE, "rename the inventory host"], groups={"g0": [host, "ok-2"]})

# ------------------------------------------------------------------ ranges and types
R = "ranges and types"
for case_id, tp in [
    ("word", "eight"),
    ("bool", True),
    ("zero", 0),
    ("nan", NAN),
    ("float", 16.0),
    ("negative", -16),
    ("list", [16]),
]:
    bad(
        R,
        "tp-" + case_id,
        ["sglang_tp_size=", "must be a positive integer", "nodes x GPUs per node = 16"],
        **gv(sglang_tp_size=tp),
    )
bad(R, "nodes-word", ["sglang_nodes_per_group=two must be a positive integer"], **gv(sglang_nodes_per_group="two"))
bad(R, "nodes-zero", ["sglang_nodes_per_group=0 must be a positive integer"], **gv(sglang_nodes_per_group=0))
bad(R, "gpus-zero", ["sglang_gpus_per_node=0 must be an integer between 1 and 64"], **gv(sglang_gpus_per_node=0))
bad(R, "gpus-65", ["sglang_gpus_per_node=65"], **gv(sglang_gpus_per_node=65))
bad(R, "gpus-float", ["sglang_gpus_per_node=8.0"], **gv(sglang_gpus_per_node=8.0))
for case_id, rank in [("float", 1.0), ("float-string", "1.5"), ("bool", True), ("nan", NAN)]:
    bad(
        R,
        "rank-" + case_id,
        ["host g0-n1 has sglang_node_rank=", "which is not an integer", "0..1"],
        host_vars={"g0-n1": {"sglang_node_rank": rank}},
    )
for case_id, value in [("zero", 0), ("one", 1), ("above", 1.5), ("negative", -0.1), ("nan", NAN), ("inf", "inf")]:
    bad(
        R,
        "mem-fraction-" + case_id,
        ["sglang_mem_fraction_static=", "strictly between 0 and 1"],
        **gv(sglang_mem_fraction_static=value),
    )
bad(
    R,
    "mem-fraction-in-args",
    ["mem-fraction-static in sglang_args=0", "strictly between 0 and 1"],
    **args({"mem-fraction-static": 0}),
)
bad(
    R,
    "attn-dp-not-dividing",
    ["sglang_attn_dp_size=3 does not divide tp 16", "1, 2, 4, 8, 16"],
    **gv(sglang_attn_dp_size=3),
)
bad(R, "attn-dp-zero", ["sglang_attn_dp_size=0 must be a positive integer"], **gv(sglang_attn_dp_size=0))
bad(R, "attn-dp-word", ["sglang_attn_dp_size=two must be a positive integer"], **gv(sglang_attn_dp_size="two"))
bad(
    R,
    "attn-dp-with-dp-replicas",
    ["refuses data-parallel replicas combined with attention"],
    group_vars={"sglang_attn_dp_size": 2, "sglang_args": {"dp-size": 2}},
)
bad(R, "preset-list", ["sglang_preset=a list is not a known preset"], **gv(sglang_preset=["x"]))
bad(
    R,
    "runtime-list",
    ["sglang_runtime=a list is not one of container, native, emulator"],
    **gv(sglang_runtime=["container"]),
)
bad(R, "runtime-word", ["sglang_runtime=docker is not one of"], **gv(sglang_runtime="docker"))
bad(R, "speculative-string", ["sglang_speculative must be a mapping"], **gv(sglang_speculative="eagle"))
bad(
    R, "speculative-unknown-key", ["sglang_speculative.bogus is not a known key"], **gv(sglang_speculative={"bogus": 1})
)
bad(R, "args-not-mapping", ["sglang_args must be a mapping"], **args(["mem-fraction-static", 0.8]))
bad(R, "extra-not-list", ["sglang_extra_args must be a list"], **extra("--log-level info"))
bad(
    R,
    "int-flag-list",
    ["--context-length takes one human_readable_int value, not a list"],
    **args({"context-length": [1, 2]}),
)
bad(
    R,
    "int-flag-mapping",
    ["--context-length takes one human_readable_int value, not a dict"],
    **args({"context-length": {"a": 1}}),
)
bad(
    R,
    "human-int-word",
    ["--max-total-tokens takes an integer, optionally with an SI or IEC suffix"],
    **args({"max-total-tokens": "lots"}),
)
bad(R, "human-int-float", ["--max-total-tokens takes an integer"], **args({"max-total-tokens": 1.5}))
bad(R, "int-flag-inf", ["--chunked-prefill-size takes an integer"], **args({"chunked-prefill-size": float("inf")}))
bad(R, "float-flag-nan", ["--schedule-conservativeness takes a number"], **args({"schedule-conservativeness": "nan"}))
bad(R, "float-flag-inf", ["--schedule-conservativeness takes a number"], **args({"schedule-conservativeness": "-inf"}))
bad(R, "nested-list", ["takes a flat list of values"], **args({"cuda-graph-bs-decode": [[1, 2]]}))
bad(R, "null-item", ["has an empty (null) item"], **args({"cuda-graph-bs-decode": [None]}))
bad(R, "choice", ["--kv-cache-dtype=fp9 is not one of SGLang"], **args({"kv-cache-dtype": "fp9"}))
bad(R, "key-none", ["is not a flag name"], **args({None: 1}))
bad(R, "key-date", ["is not a flag name"], **args({datetime.date(2024, 1, 1): 1}))
bad(R, "key-empty", ["is not a flag name"], **args({"": 1}))
bad(R, "key-int", ["'12' is not a flag name"], **args({12: 3}))
bad(R, "key-odd-chars", ["is not a flag name (letters, digits and '-'"], **args({"mem/fraction": 0.5}))

# ------------------------------------------------------------------ paths
T = "paths"
for case_id, path, needle in [
    ("relative", "models/x", "is not an absolute path"),
    ("dotdot", "/models/../etc/shadow", "is not a normalised path"),
    ("double-slash", "/models//x", "is not a normalised path"),
    ("outside-mount", "/data/x", "is outside sglang_server_model_mount=/models"),
    ("mount-prefix-only", "/models-other/x", "is outside sglang_server_model_mount=/models"),
    ("newline", "/models/x\n", "control characters or surrounding whitespace"),
    ("list", ["/models/x"], "must be a path string"),
]:
    bad(T, "model-" + case_id, ["sglang_model_path=", needle], **gv(sglang_model_path=path))
bad(
    T,
    "model-mount-relative",
    ["sglang_server_model_mount=models must be an absolute"],
    **gv(sglang_server_model_mount="models"),
)
for case_id, path in [
    ("colon", "/etc/sglang/a:b.yaml"),
    ("comma", "/etc/sglang/a,b.yaml"),
    ("relative", "x.yaml"),
    ("json", "/etc/sglang/x.json"),
    ("dotdot", "/etc/sglang/../x.yaml"),
    ("space", "/etc/sg lang/x.yaml"),
    ("list", ["/etc/x.yaml"]),
]:
    bad(
        T,
        "secrets-file-" + case_id,
        ["sglang_secrets_file=", "docker -v splits on them", "ending in .yaml or .yml"],
        **gv(sglang_secrets_file=path),
    )

# ------------------------------------------------------------------ secrets (planner side)
C = "secrets"
bad(
    C,
    "api-key-differs",
    ["sglang_api_key differs between its hosts", "values not shown", "from vault"],
    host_vars={
        "g0-n0": {"sglang_secret_vars": {"sglang_api_key": 0}},
        "g0-n1": {"sglang_secret_vars": {"sglang_api_key": 1}},
    },
)
bad(
    C,
    "admin-key-on-one-host",
    ["sglang_admin_api_key differs", "unset on g0-n1"],
    host_vars={"g0-n0": {"sglang_secret_vars": {"sglang_admin_api_key": 0}}},
)
bad(
    C,
    "args-with-secret-differ",
    ["sglang_args differs between its hosts", "values not shown"],
    host_vars={"g0-n0": {"sglang_args": {"api-key": "SECRET-differs"}}},
)
bad(
    C,
    "extra-with-secret-differ",
    ["sglang_extra_args differs between its hosts", "values not shown"],
    host_vars={"g0-n1": {"sglang_extra_args": ["--admin-api-key", "SECRET-differs2"]}},
)

ALLOWED_START = ("group ", "host ", "groups ", "router ")


@pytest.mark.parametrize("case", PLANNER, ids=["%s/%s" % (c.klass, c.id) for c in PLANNER])
def test_planner_refuses(case):
    kwargs = dict(case.kwargs)
    routers = kwargs.pop("routers", None)
    model_groups, hostvars = fleet(**kwargs)
    with pytest.raises(PlanError) as err:
        plan_fleet(model_groups, hostvars, routers=routers)
    problems = err.value.problems
    text = "\n".join(problems + err.value.warnings)
    assert any(all(n in p for n in case.needles) for p in problems), problems
    assert all(p.startswith(ALLOWED_START) for p in problems), problems
    assert "SECRET" not in text, text
    assert "Traceback" not in text


# ------------------------------------------------------------------ parsers


def _sysfs(tmp, hca="mlx5_0", ports=("1",), gids=("0",), net_types=None):
    base = tmp / "class" / "infiniband" / hca
    (base / "device" / "infiniband_verbs" / "uverbs0").mkdir(parents=True)
    (base / "node_type").write_text("1: CA\n")
    for port in ports:
        pdir = base / "ports" / port
        (pdir / "gids").mkdir(parents=True)
        (pdir / "state").write_text("4: ACTIVE\n")
        (pdir / "phys_state").write_text("5: LinkUp\n")
        (pdir / "rate").write_text("400 Gb/sec (4X NDR)\n")
        for gid in gids:
            (pdir / "gids" / gid).write_text("fe80:0000:0000:0000:0000:0000:0000:0001\n")
    for name, kind in (net_types or {}).items():
        ndir = tmp / "class" / "net" / name
        ndir.mkdir(parents=True)
        (ndir / "type").write_text(kind)
    return tmp


IP = "malformed ip -j"
DEEP = "[" * 100000
PARSER = [
    (IP, "not-json", lambda: parse_ip_addr_json("not json"), FabricError, ["cannot parse `ip -j addr` output"]),
    (IP, "deep-nesting", lambda: parse_ip_addr_json(DEEP), FabricError, ["cannot parse `ip -j addr` output"]),
    (IP, "object", lambda: parse_ip_addr_json("{}"), FabricError, ["expected a list of links, got a dict"]),
    (IP, "null", lambda: parse_ip_addr_json("null"), FabricError, ["expected a list of links, got a NoneType"]),
    (IP, "link-number", lambda: parse_ip_addr_json("[1]"), FabricError, ["link 0 is a int"]),
    (IP, "ifname-int", lambda: parse_ip_addr_json('[{"ifname": 5}]'), FabricError, ["link 0 has ifname '5'"]),
    (IP, "ifname-space", lambda: parse_ip_addr_json('[{"ifname": "eth 0"}]'), FabricError, ["not an interface name"]),
    (IP, "ifname-slash", lambda: parse_ip_addr_json('[{"ifname": "a/b"}]'), FabricError, ["not an interface name"]),
    (
        IP,
        "addr-info-object",
        lambda: parse_ip_addr_json('[{"ifname": "eth0", "addr_info": {}}]'),
        FabricError,
        ["eth0: addr_info is a dict, not a list"],
    ),
    (
        IP,
        "addr-info-string",
        lambda: parse_ip_addr_json('[{"ifname": "eth0", "addr_info": "x"}]'),
        FabricError,
        ["eth0: addr_info is a str"],
    ),
    (
        IP,
        "addr-entry-number",
        lambda: parse_ip_addr_json('[{"ifname": "eth0", "addr_info": [1]}]'),
        FabricError,
        ["eth0: an addr_info entry is a int"],
    ),
    (
        IP,
        "local-int",
        lambda: parse_ip_addr_json(
            '[{"ifname": "eth0", "addr_info": [{"family": "inet", "local": 5, "prefixlen": 24}]}]'
        ),
        FabricError,
        ["eth0: address '5'/'24' is not ADDRESS and an integer prefix length"],
    ),
    (
        IP,
        "prefix-string",
        lambda: parse_ip_addr_json(
            '[{"ifname": "eth0", "addr_info": [{"family": "inet", "local": "10.0.0.1", "prefixlen": "24"}]}]'
        ),
        FabricError,
        ["is not ADDRESS and an integer prefix length"],
    ),
    (
        IP,
        "prefix-bool",
        lambda: parse_ip_addr_json(
            '[{"ifname": "eth0", "addr_info": [{"family": "inet", "local": "10.0.0.1", "prefixlen": true}]}]'
        ),
        FabricError,
        ["is not ADDRESS and an integer prefix length"],
    ),
    (
        IP,
        "prefix-huge",
        lambda: parse_ip_addr_json(
            '[{"ifname": "eth0", "addr_info": [{"family": "inet", "local": "10.0.0.1", "prefixlen": 99999999999}]}]'
        ),
        FabricError,
        ["10.0.0.1/99999999999 is not a valid inet address/prefix"],
    ),
    (
        IP,
        "local-not-ip",
        lambda: parse_ip_addr_json(
            '[{"ifname": "eth0", "addr_info": [{"family": "inet", "local": "300.1.1.1", "prefixlen": 24}]}]'
        ),
        FabricError,
        ["300.1.1.1/24 is not a valid inet address/prefix"],
    ),
    (
        IP,
        "v6-prefix-default",
        lambda: parse_ip_addr_json('[{"ifname": "eth0", "addr_info": [{"family": "inet", "local": "fd00::1"}]}]'),
        FabricError,
        ["fd00::1/32 is not a valid inet address/prefix"],
    ),
    (
        IP,
        "inet6-with-v4",
        lambda: parse_ip_addr_json(
            '[{"ifname": "eth0", "addr_info": [{"family": "inet6", "local": "10.0.0.1", "prefixlen": 64}]}]'
        ),
        FabricError,
        ["10.0.0.1/64 is not a valid inet6 address/prefix"],
    ),
    (
        IP,
        "addresses-key-int",
        lambda: fabric_facts("/nonexistent", addresses={1: ["10.0.0.1/24"]}),
        FabricError,
        ["addresses must map interface names to lists of ADDRESS/PREFIX strings"],
    ),
    (
        IP,
        "addresses-value-int",
        lambda: fabric_facts("/nonexistent", addresses={"eth0": [5]}),
        FabricError,
        ["entry 'eth0' is not"],
    ),
    (
        IP,
        "addresses-value-mapping",
        lambda: fabric_facts("/nonexistent", addresses={"eth0": {"a": 1}}),
        FabricError,
        ["entry 'eth0' is not"],
    ),
]
ENV = "nccl env / fabric facts"
PARSER += [
    (
        ENV,
        "extra-string",
        lambda: nccl_env({}, extra="NCCL_X=1"),
        FabricError,
        ["nccl_fabric_env_extra must be a mapping"],
    ),
    (
        ENV,
        "extra-int-key",
        lambda: nccl_env({}, extra={1: "a"}),
        FabricError,
        ["nccl_fabric_env_extra must be a mapping"],
    ),
    (
        ENV,
        "extra-bad-key",
        lambda: nccl_env({}, extra={"BAD KEY": 1}),
        FabricError,
        ["is not an environment variable name"],
    ),
    (ENV, "extra-space-value", lambda: nccl_env({}, extra={"NCCL_X": "a b"}), FabricError, ["without spaces"]),
    (ENV, "cross-nic", lambda: nccl_env({}, cross_nic=5), FabricError, ["nccl_fabric_cross_nic must be 0, 1 or 2"]),
    (ENV, "debug", lambda: nccl_env({}, debug="LOUD"), FabricError, ["nccl_fabric_debug must be one of"]),
]
MAN = "model manifest"
HEX = "0" * 64
PARSER += [
    (MAN, "deep-nesting", lambda: loads(DEEP), ManifestError, ["manifest is not JSON"]),
    (
        MAN,
        "huge-int",
        lambda: loads('{"version": 1, "files": [{"path": "a", "size": %s, "sha256": "%s"}]}' % ("9" * 5000, HEX)),
        ManifestError,
        ["manifest is not JSON"],
    ),
    (MAN, "version-bool", lambda: loads('{"version": true, "files": []}'), ManifestError, ["version True"]),
    (
        MAN,
        "name-list",
        lambda: loads('{"version": 1, "files": [], "name": ["x"]}'),
        ManifestError,
        ["name is a list, expected a string"],
    ),
    (
        MAN,
        "path-nul",
        lambda: loads('{"version": 1, "files": [{"path": "a\\u0000b", "size": 1, "sha256": "%s"}]}' % HEX),
        ManifestError,
        ["has a control character"],
    ),
    (
        MAN,
        "size-float",
        lambda: loads('{"version": 1, "files": [{"path": "a", "size": 1.5, "sha256": "%s"}]}' % HEX),
        ManifestError,
        ["a has size 1.5, expected a byte count"],
    ),
]


@pytest.mark.parametrize("klass, case_id, call, error, needles", PARSER, ids=["%s/%s" % (p[0], p[1]) for p in PARSER])
def test_parser_refuses(klass, case_id, call, error, needles):
    with pytest.raises(error) as err:
        call()
    assert all(n in str(err.value) for n in needles), str(err.value)
    assert "Traceback" not in str(err.value)


# Odd sysfs entry names: read without an exception, the odd entries left out.
SYSFS = [
    ("superscript-port", {"ports": ("1", "\u00b2")}),  # '²'.isdigit() is True, int('²') raises
    ("arabic-indic-port", {"ports": ("1", "\u0661")}),  # '١'.isdigit() is True, int('١') == 1
    ("port-with-letters", {"ports": ("1", "1a")}),
    ("huge-port-number", {"ports": ("1", "9" * 30)}),
    ("superscript-gid", {"gids": ("0", "\u00b2")}),
    ("odd-hca-name", {"hca": "mlx5 \u00b2\u2028x"}),
    ("net-type-superscript", {"net_types": {"eth0": "\u00b2\n"}}),
    ("net-type-huge", {"net_types": {"eth1": "9" * 40 + "\n"}}),
]


@pytest.mark.parametrize("case_id, layout", SYSFS, ids=[s[0] for s in SYSFS])
def test_sysfs_odd_entry_names_are_read_without_an_exception(tmp_path, case_id, layout):
    root = _sysfs(tmp_path, **layout)
    hcas, interfaces = read_sysfs(str(root))
    ports = [p["port"] for h in hcas for p in h["ports"]]
    assert 1 in ports and all(isinstance(p, int) for p in ports)
    assert "\u00b2" not in [str(p) for p in ports] and 1 == ports.count(1)
    for info in interfaces.values():
        assert info["type"] is None or isinstance(info["type"], int)
    json.dumps(fabric_facts(str(root)))


HANDMADE = [
    ("ports-not-a-list", {"active_compute_ports": 5, "rate_gbps": 400, "transport": "infiniband", "problems": []}),
    ("rate-a-list", {"active_compute_ports": ["a:1"], "rate_gbps": [400], "transport": "roce", "problems": []}),
    ("transport-a-mapping", {"active_compute_ports": ["a:1"], "rate_gbps": 400, "transport": {}, "problems": []}),
]


@pytest.mark.parametrize("case_id, facts", HANDMADE, ids=[h[0] for h in HANDMADE])
def test_hand_made_fabric_facts_give_a_problem_not_an_exception(case_id, facts):
    good = {"active_compute_ports": ["m:1"] * 8, "rate_gbps": 400, "transport": "infiniband", "problems": []}
    problems = group_problems("g", [("h1", good), ("h2", facts)])
    assert problems and "group g: nodes differ in their compute fabric" in problems[0]


def test_unreadable_hash_cache_is_an_empty_cache():
    for text in (DEEP, '{"version": 1, "files": {"a": 5}}', "\x00"):
        assert isinstance(loads_cache(text), dict)


def test_every_secret_natured_catalog_flag_is_a_secret():
    """Catalog flags whose name or help speak of a key, password, access token or secret carry a value that
    must travel in the --config file: each is in SECRET_FLAGS or explicitly in NOT_SECRET_FLAGS."""
    import re

    suspicious = set()
    for flag, spec in catalog.FLAGS.items():
        if not spec.get("takes_value") or spec.get("type") not in ("str", None, "json", "nullable_str"):
            continue
        words = "%s %s" % (flag, spec.get("dest", ""))
        if re.search(
            r"(^|[-_ ])(api[-_]key|key|password|passwd|secret|credential)s?($|[-_ ])"
            r"|(hf|access|auth|bearer)[-_]token",
            words,
        ) or re.search(r"\b(password|secret|api key|credential)", spec.get("help") or "", re.I):
            suspicious.add(flag)
    assert suspicious - set(SECRET_FLAGS) - NOT_SECRET_FLAGS == set()
    assert set(SECRET_FLAGS) <= set(catalog.FLAGS)


def test_case_count_by_class():
    counts = collections.Counter(c.klass for c in PLANNER)
    counts.update(p[0] for p in PARSER)
    counts["sysfs entry names"] += len(SYSFS)
    counts["hand-made fabric facts"] += len(HANDMADE)
    print("\nbad inputs by class: %s; total %d" % (dict(sorted(counts.items())), sum(counts.values())))
    assert sum(counts.values()) >= 100
