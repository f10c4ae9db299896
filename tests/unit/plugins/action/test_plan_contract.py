"""The plan is the contract between stages (issue 17): every key the planner returns is documented in
the module's RETURN (``contains:``, with its type), and every documented key is returned, so the docs
and the plan cannot drift apart.
"""

from __future__ import annotations

import pathlib

import pytest
import yaml
from conftest import plain_namespace

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import PLAN_VERSION, plan_fleet

ROOT = pathlib.Path(__file__).resolve().parents[4]
DOC_FILE = ROOT / "plugins" / "modules" / "sglang_plan.py"
# Mappings keyed by a name the inventory chooses: RETURN documents one entry.
KEYED = ("groups", "hosts", "routers")
TYPES = {"str": str, "int": int, "bool": bool, "list": list, "dict": dict}


def documented():
    return yaml.safe_load(plain_namespace(DOC_FILE)["RETURN"])["plan"]


def full_plan():
    """Every kind of entry: a two-node group with secrets and a preset, a one-node group, two routers."""
    model_groups = {"r1_a": ["gpu-a1", "gpu-a2"], "small": ["gpu-s1"]}
    hostvars = {
        "gpu-a1": {
            "ansible_host": "10.20.0.11",
            "sglang_model_path": "/models/r1",
            "sglang_preset": "deepseek-r1-fp8-2x8",
            "sglang_has_secrets": True,
            "sglang_secret_vars": {"sglang_api_key": 0},
        },
        "gpu-a2": {
            "ansible_host": "10.20.0.12",
            "sglang_model_path": "/models/r1",
            "sglang_preset": "deepseek-r1-fp8-2x8",
            "sglang_has_secrets": True,
            "sglang_secret_vars": {"sglang_api_key": 0},
        },
        "gpu-s1": {
            "ansible_host": "10.20.0.13",
            "sglang_model_path": "/models/s",
            "sglang_nodes_per_group": 1,
            "sglang_served_model_name": "small",
        },
    }
    routers = {"router-1": {}, "router-2": {"sglang_router_port": 8080}}
    return plan_fleet(model_groups, hostvars, routers=routers)


def walk(doc, value, path):
    """Problems where ``value`` and its documentation ``doc`` differ (keys and types)."""
    problems = []
    kind = TYPES[doc["type"]]
    if value is None:
        return problems  # documented as "null when ..." for str fields
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        problems.append("%s: documented as %s, returned %s" % (path, doc["type"], type(value).__name__))
        return problems
    if kind is dict and "contains" in doc:
        entries = value.items() if path.rsplit(".", 1)[-1] in KEYED else [(None, value)]
        if not value and path.rsplit(".", 1)[-1] in KEYED:
            problems.append("%s: empty in the test plan, nothing to compare" % path)
        for name, entry in entries:
            where = path if name is None else "%s[%s]" % (path, name)
            missing = sorted(set(doc["contains"]) - set(entry))
            extra = sorted(set(entry) - set(doc["contains"]))
            if missing:
                problems.append("%s: documented but not returned: %s" % (where, ", ".join(missing)))
            if extra:
                problems.append("%s: returned but not documented: %s" % (where, ", ".join(extra)))
            for key in set(doc["contains"]) & set(entry):
                problems.extend(walk(doc["contains"][key], entry[key], "%s.%s" % (where, key)))
    if kind is list and doc.get("elements") in TYPES and doc["elements"] != "dict":
        for i, item in enumerate(value):
            if not isinstance(item, TYPES[doc["elements"]]):
                problems.append(
                    "%s[%d]: documented as %s, returned %s" % (path, i, doc["elements"], type(item).__name__)
                )
    return problems


def test_every_returned_key_is_documented_and_every_documented_key_returned():
    assert walk(documented(), full_plan(), "plan") == []


def test_every_documented_key_has_a_description_and_a_type():
    def check(doc, path):
        out = [] if doc.get("description") and doc.get("type") in TYPES else [path]
        for key, sub in (doc.get("contains") or {}).items():
            out.extend(check(sub, "%s.%s" % (path, key)))
        return out

    assert check(documented(), "plan") == []


def test_a_group_node_is_the_host_entry():
    plan = full_plan()
    for group in plan["groups"].values():
        assert group["nodes"] == [plan["hosts"][h] for h in group["hosts"]]


def test_plan_version_and_what_later_stages_read():
    plan = full_plan()
    assert plan["plan_version"] == PLAN_VERSION == 1
    group = plan["groups"]["r1_a"]
    assert group["hosts"] == ["gpu-a1", "gpu-a2"]
    assert group["secrets_file"] == "/etc/sglang/r1_a.secrets.yaml"
    assert plan["hosts"]["gpu-a2"]["secrets_file"] == group["secrets_file"]
    assert group["dist_init_ports"] == [20000, 20006]
    assert plan["hosts"]["gpu-a2"]["url"] == "http://10.20.0.12:30000"
    assert plan["groups"]["small"]["secrets_file"] is None
    assert plan["routers"] == {
        "router-1": {"host": "0.0.0.0", "port": 30000, "prometheus_port": 29000, "local_url": "http://127.0.0.1:30000"},
        "router-2": {"host": "0.0.0.0", "port": 8080, "prometheus_port": 29000, "local_url": "http://127.0.0.1:8080"},
    }


@pytest.mark.parametrize("key", ["groups", "hosts", "routers"])
def test_keyed_sections_document_one_entry(key):
    assert "contains" in documented()["contains"][key]
