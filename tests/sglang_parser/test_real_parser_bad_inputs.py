"""What the planner encodes about SGLang's parsing, checked against SGLang 0.5.23 itself (issue 18).

Runs code in the parser venv (.venv-sglang; ``SGLANG_PARSER_PYTHON`` points at another):
- ``sglang.srt.server_args.ServerArgs.add_cli_args`` (argparse, allow_abbrev on) for the argv;
- ``sglang.srt.utils.network.NetworkAddress.parse`` for ``--dist-init-addr`` (IPv6 in brackets);
- ``sglang.srt.utils.server_args_config_parser.ConfigArgumentMerger`` for the 0600 ``--config`` file
  that carries every secret flag.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_args import SECRET_FLAGS
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import plan_fleet

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("SGLANG_PARSER_PYTHON", str(ROOT / ".venv-sglang" / "bin" / "python"))

PROBE = r"""
import argparse, contextlib, io, json, sys, tempfile, os
from sglang.srt.server_args import ServerArgs
from sglang.srt.utils.network import NetworkAddress
from sglang.srt.utils.server_args_config_parser import ConfigArgumentMerger

def parser():
    p = argparse.ArgumentParser()
    ServerArgs.add_cli_args(p)
    return p

def parse(argv):
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            ns = parser().parse_args(argv)
    except SystemExit:
        return {"ok": False, "error": err.getvalue().strip().splitlines()[-1]}
    return {"ok": True, "args": json.loads(json.dumps(vars(ns), default=str))}

req = json.load(sys.stdin)
out = {"argv": [parse(a) for a in req["argv"]], "addr": []}
for text in req["addr"]:
    try:
        na = NetworkAddress.parse(text)
        out["addr"].append({"ok": True, "host": na.host, "port": na.port})
    except ValueError as exc:
        out["addr"].append({"ok": False, "error": str(exc)})
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "secrets.yaml")
    with open(path, "w") as handle:
        handle.write(req["config_yaml"])
    os.chmod(path, 0o600)
    merged = ConfigArgumentMerger(parser()).merge_config_with_args(["--model-path", "/m", "--config", path])
    out["config"] = parse(merged)
json.dump(out, sys.stdout)
"""


def probe(argv=(), addr=(), config_yaml="{}\n"):
    if not os.path.exists(PYTHON):
        pytest.fail("SGLang parser venv missing at %s: run tools/sglang-parser-venv.sh (make test does)" % PYTHON)
    request = json.dumps({"argv": list(argv), "addr": list(addr), "config_yaml": config_yaml})
    res = subprocess.run([PYTHON, "-c", PROBE], input=request, capture_output=True, text=True, timeout=300, check=True)
    return json.loads(res.stdout)


def plan_argv(group_vars, nodes=2, address="10.0.0.1"):
    hosts = ["n%d" % i for i in range(nodes)]
    hostvars = dict(
        (
            h,
            dict(
                {
                    "ansible_host": address if i == 0 else "10.0.0.%d" % (i + 1),
                    "sglang_model_path": "/models/m",
                    "sglang_nodes_per_group": nodes,
                },
                **group_vars,
            ),
        )
        for i, h in enumerate(hosts)
    )
    return plan_fleet({"g": hosts}, hostvars)["groups"]["g"]["nodes"][0]["launch_args"]


def test_boolean_optional_and_negated_switches_parse_as_meant():
    cases = [
        ({"sglang_args": {"enable-tf32-matmul": False}}, "enable_tf32_matmul", False),
        ({"sglang_args": {"enable-tf32-matmul": True}}, "enable_tf32_matmul", True),
        ({"sglang_args": {"no-enable-tf32-matmul": True}}, "enable_tf32_matmul", False),
        ({"sglang_args": {"no-enable-tf32-matmul": False}}, "enable_tf32_matmul", True),
        ({"sglang_extra_args": ["--no-enable-tf32-matmul"]}, "enable_tf32_matmul", False),
        ({"sglang_extra_args": ["--no-dllm-fdfo"]}, "dllm_fdfo", False),  # default True: dropping it is wrong
        ({"sglang_args": {"dllm-fdfo": False}}, "dllm_fdfo", False),
        ({"sglang_args": {"chunked-prefill-size": -1}}, "chunked_prefill_size", -1),  # a negative value is a value
    ]
    argvs = [plan_argv(gv) for gv, _dest, _want in cases]
    results = probe(argv=argvs)["argv"]
    for (gv, dest, want), argv, res in zip(cases, argvs, results):
        assert res["ok"], (gv, res, argv)
        assert res["args"][dest] == want, (gv, argv, res["args"][dest])


def test_a_value_that_begins_with_dashes_is_a_flag_to_sglang():
    """Why the planner refuses values beginning with '-': SGLang's parser reads them as flags,
    so a list value can smuggle a secret or a planner-owned flag onto the command line."""
    results = probe(
        argv=[
            ["--model-path", "/m", "--lora-paths", "a", "--api-key", "SECRET"],
            ["--model-path", "/m", "--served-model-name", "--nnodes", "4"],
        ]
    )["argv"]
    assert results[0]["ok"] and results[0]["args"]["api_key"] == "SECRET"
    assert not results[1]["ok"] and "expected one argument" in results[1]["error"]


def test_ipv6_dist_init_address_is_rendered_as_sglang_parses_it():
    argv = plan_argv({"sglang_dist_init_host": "fd00:0:0::1"})
    rendered = argv[argv.index("--dist-init-addr") + 1]
    assert rendered == "[fd00::1]:20000"
    out = probe(argv=[argv], addr=[rendered, "fd00::1:20000"])
    assert out["argv"][0]["ok"] and out["argv"][0]["args"]["dist_init_addr"] == rendered
    assert out["addr"][0] == {"ok": True, "host": "fd00::1", "port": 20000}
    # What the planner rendered before: SGLang refuses a bare IPv6 address with a port.
    assert not out["addr"][1]["ok"] and "ambiguous" in out["addr"][1]["error"]


def test_every_secret_flag_reaches_sglang_through_the_config_file():
    values = dict((flag[2:], "SECRET-%d" % i) for i, flag in enumerate(sorted(SECRET_FLAGS)))
    values["watermark-config"] = json.dumps({"key": "SECRET-wm"})
    config = "".join("%s: %s\n" % (key, json.dumps(value)) for key, value in sorted(values.items()))
    res = probe(config_yaml=config)["config"]
    assert res["ok"], res
    for flag in SECRET_FLAGS:
        dest = flag[2:].replace("-", "_")
        assert res["args"][dest] == values[flag[2:]], flag
