"""The action plugin path (issue 18): real ``ansible-playbook playbooks/plan.yml`` runs on inventories
with values that are not JSON-plain (YAML dates as keys, sets, NaN) and with secrets. Every bad input
ends in the plan's own message, never a traceback, and no secret appears in any output, -vvv included.
"""

from __future__ import annotations

import json
import pathlib

import pytest
from conftest import run_playbook

ROOT = pathlib.Path(__file__).resolve().parents[4]

BAD_INVENTORY = """
all:
  children:
    sglang_model_groups:
      vars:
        sglang_model_path: /models/m
        sglang_nodes_per_group: 1
      children:
        date_key:
          hosts: {h-date: {ansible_host: 10.0.0.1}}
          vars: {sglang_args: {2024-01-01: 1}}
        date_key_speculative:
          hosts: {h-spec: {ansible_host: 10.0.0.2}}
          vars: {sglang_speculative: {2024-01-01: 1}}
        set_value:
          hosts: {h-set: {ansible_host: 10.0.0.3}}
          vars: {sglang_extra_args: !!set {--log-level: null}}
        nan_value:
          hosts: {h-nan: {ansible_host: 10.0.0.4}}
          vars: {sglang_mem_fraction_static: .nan}
        key_differs:
          hosts:
            h-k1: {ansible_host: 10.0.0.5, sglang_api_key: SECRET-A-1234}
            h-k2: {ansible_host: 10.0.0.6, sglang_api_key: SECRET-B-5678}
          vars: {sglang_nodes_per_group: 2}
        one_token_key:
          hosts: {h-one: {ansible_host: 10.0.0.7}}
          vars: {sglang_extra_args: ["--api-key SECRET-C-9012"]}
        admin_key_in_args:
          hosts: {h-admin: {ansible_host: 10.0.0.8}}
          vars: {sglang_args: {admin-api-key: SECRET-D-3456}}
        key_is_a_mapping:
          hosts: {h-map: {ansible_host: 10.0.0.9, sglang_api_key: {SECRET-E-7890: 1}}}
        timestamp_value:
          hosts: {h-time: {ansible_host: 10.0.0.10}}
          vars: {sglang_served_model_name: 2024-01-01 12:00:00, sglang_tp_size: two}
"""

GOOD_INVENTORY = """
all:
  children:
    sglang_model_groups:
      vars:
        sglang_model_path: /models/m
        sglang_api_key: SECRET-F-1234
        sglang_admin_api_key: SECRET-G-5678
        sglang_ssl_keyfile_password: SECRET-H-9012
      children:
        r1:
          hosts:
            gpu-1: {ansible_host: "fd00::11"}
            gpu-2: {ansible_host: "fd00::12"}
    sglang_routers:
      hosts:
        router-1: {ansible_host: 10.0.0.5}
"""


def run_plan(tmp_path, inventory, *extra):
    inv = tmp_path / "hosts.yml"
    inv.write_text(inventory)
    return run_playbook([ROOT / "playbooks" / "plan.yml", "-i", inv] + list(extra), tmp_path)


@pytest.fixture(scope="module")
def bad_run(tmp_path_factory):
    return run_plan(tmp_path_factory.mktemp("bad"), BAD_INVENTORY, "-vvv")


@pytest.mark.parametrize(
    "needle",
    [
        "group date_key (sglang_args): unknown SGLang 0.5.23 flag --2024-01-01",
        "group date_key_speculative: sglang_speculative.2024-01-01 is not a known key",
        "group set_value: sglang_extra_args item 1: --log-level takes 1 value(s), got 0",
        "group nan_value: sglang_mem_fraction_static=nan must be a fraction of GPU memory strictly between 0 and 1",
        "group key_differs: sglang_api_key differs between its hosts (value 1 on h-k1; value 2 on h-k2; values not shown)",
        "group one_token_key: --api-key (in sglang_extra_args item 1) is a secret and must not be on the command line; "
        "set sglang_api_key",
        "group admin_key_in_args: --admin-api-key (in sglang_args) is a secret",
        "host h-map: sglang_api_key must be a string (from vault), not a mapping (value not shown)",
        "group timestamp_value: sglang_tp_size=two must be a positive integer",
    ],
)
def test_bad_inventory_is_refused_with_every_problem_and_no_traceback(bad_run, needle):
    rc, out = bad_run
    assert rc != 0
    assert "SGLang plan has" in out and "nothing was changed" in out
    flat = " ".join(out.split())
    assert needle in flat, out[-4000:]


def test_bad_inventory_output_has_no_traceback_and_no_secret(bad_run):
    _rc, out = bad_run
    assert "Traceback" not in out and "Exception" not in out
    assert "SECRET" not in out


def test_secrets_never_reach_the_plan_or_the_output(tmp_path):
    plan_out = tmp_path / "plan.json"
    rc, out = run_plan(tmp_path, GOOD_INVENTORY, "-vvv", "-e", "plan_out=%s" % plan_out)
    assert rc == 0, out[-3000:]
    assert "SECRET" not in out
    text = plan_out.read_text()
    assert "SECRET" not in text
    plan = json.loads(text)
    group = plan["groups"]["r1"]
    assert group["secret_vars"] == {
        "api-key": "sglang_api_key",
        "admin-api-key": "sglang_admin_api_key",
        "ssl-keyfile-password": "sglang_ssl_keyfile_password",
    }
    argv = group["nodes"][0]["argv"]
    assert argv[argv.index("--config") + 1] == "/etc/sglang/r1.secrets.yaml"
    assert group["dist_init_addr"] == "[fd00::11]:20000" and group["url"] == "http://[fd00::11]:30000"


ROUTER_0_3_INVENTORY = """
all:
  children:
    sglang_model_groups:
      vars:
        sglang_model_path: /models/m
        sglang_nodes_per_group: 1
      children:
        r1:
          hosts: {gpu-1: {ansible_host: 10.0.0.11}}
          vars: {sglang_api_key: SECRET-R1-1234}
        r2:
          hosts: {gpu-2: {ansible_host: 10.0.0.12}}
    sglang_routers:
      hosts:
        router-1:
          ansible_host: 10.0.0.5
          sglang_router_version: "0.3.2"
          sglang_router_api_key: SECRET-ROUTER-5678
          sglang_router_extra_args: [--mini-lb, --api, SECRET-ARG-9012]
"""


@pytest.mark.parametrize(
    "needle",
    [
        "router router-1: sglang_router_version 0.3.2 is an sglang-router release",
        "router router-1: sglang_router_extra_args: --mini-lb: the Python mini load balancer is gone from smg",
        "router router-1: sglang_router_extra_args: --api is not an smg option (full names only, abbreviations are "
        "refused) (did you mean --api-key?)",
        "router router-1: sglang_router_api_key is set but sglang_router_admin_api_key is not",
        "router router-1: group r1 has an sglang_api_key different from sglang_router_api_key",
    ],
)
def test_an_sglang_router_inventory_fails_before_any_host_naming_the_variable(tmp_path, needle):
    rc, out = run_plan(tmp_path, ROUTER_0_3_INVENTORY, "-vvv")
    assert rc != 0 and "nothing was changed" in out
    flat = " ".join(out.split())
    assert needle in flat, out[-4000:]
    assert "group r2 has" not in flat
    assert "SECRET" not in out and "Traceback" not in out
