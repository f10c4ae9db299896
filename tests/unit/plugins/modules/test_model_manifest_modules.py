"""model_manifest's state switch split into one module per verb (issue 17): every option of each
module applies to it, an option of another verb is refused by name instead of being ignored, and
the four modules together do what ``state: create/verify/measure/space`` did."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[4]
MODULES = REPO / "plugins" / "modules"
VERBS = {
    "model_manifest_create": {"path", "dest", "cache", "full", "return_manifest", "name", "revision", "host"},
    "model_manifest_verify": {
        "path",
        "manifest",
        "cache",
        "full",
        "repair",
        "fail_on_problems",
        "return_manifest",
        "host",
    },
    "model_manifest_measure": {"path", "manifest", "host"},
    "model_manifest_space": {
        "path",
        "manifest",
        "total_bytes",
        "present_paths",
        "margin_pct",
        "margin_bytes",
        "extra_bytes",
        "host",
    },
}


def run_module(name, tmp_path, args, check_mode=False):
    args_file = tmp_path / ("args-%s.json" % name)
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    proc = subprocess.run(
        [sys.executable, str(MODULES / (name + ".py")), str(args_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, PYTHONPATH=str(REPO / "collections")),
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def documented_options(name):
    """The module's own options plus those of its doc fragments (gpufleet.sglang.model_manifest[.hashing])."""
    doc = yaml.safe_load(_doc_text(MODULES / (name + ".py"), "DOCUMENTATION"))
    options = set(doc["options"])
    fragments = REPO / "plugins" / "doc_fragments" / "model_manifest.py"
    for ref in doc.get("extends_documentation_fragment", []):
        if ref == "gpufleet.sglang.model_manifest":
            options |= set(yaml.safe_load(_doc_text(fragments, "DOCUMENTATION"))["options"])
        elif ref == "gpufleet.sglang.model_manifest.hashing":
            options |= set(yaml.safe_load(_doc_text(fragments, "HASHING"))["options"])
    return options


def _doc_text(path, name):
    text = path.read_text()
    start = text.index('%s = r"""' % name) + len('%s = r"""' % name)
    return text[start : text.index('"""', start)]


def test_the_state_switch_is_gone():
    assert not (MODULES / "model_manifest.py").exists()


@pytest.mark.parametrize("name", sorted(VERBS))
def test_each_verb_documents_exactly_its_own_options(name):
    assert documented_options(name) == VERBS[name]
    assert "state" not in documented_options(name)


@pytest.mark.parametrize(
    "name, foreign",
    [
        ("model_manifest_create", {"repair": True}),
        ("model_manifest_measure", {"margin_pct": 5.0}),
        ("model_manifest_space", {"dest": "/tmp/x.json"}),
        ("model_manifest_verify", {"state": "verify"}),
    ],
)
def test_an_option_of_another_verb_is_refused_by_name(tmp_path, name, foreign):
    args = {
        "path": str(tmp_path),
        "dest": str(tmp_path / "m.json"),
        "manifest": str(tmp_path / "m.json"),
        "total_bytes": 1,
    }
    args = dict((k, v) for k, v in args.items() if k in VERBS[name])
    result = run_module(name, tmp_path, dict(args, **foreign))
    assert result["failed"] is True
    assert "Unsupported parameters" in result["msg"] and list(foreign)[0] in result["msg"]


def test_create_verify_measure_space_together(tmp_path):
    model = tmp_path / "model"
    (model / "sub").mkdir(parents=True)
    (model / "a.bin").write_bytes(b"a" * 1000)
    (model / "sub" / "b.json").write_text('{"x": 1}')
    dest = tmp_path / "manifests" / "r1.json"
    create = {"path": str(model), "dest": str(dest), "name": "m", "revision": "r1", "host": "h1"}
    assert run_module("model_manifest_create", tmp_path, create, check_mode=True)["changed"] and not dest.exists()
    created = run_module("model_manifest_create", tmp_path, create)
    assert created["changed"] and created["files"] == 2 and created["bytes"] == 1008
    assert not run_module("model_manifest_create", tmp_path, create)["changed"]  # idempotent

    (model / "stray.bin").write_bytes(b"x")
    verify = {"path": str(model), "manifest": str(dest), "host": "h1"}
    failed = run_module("model_manifest_verify", tmp_path, verify)
    assert failed["failed"] and failed["problems"] == [
        {"kind": "extra", "path": "stray.bin", "detail": "not in the manifest (1 B)"}
    ]
    repaired = run_module("model_manifest_verify", tmp_path, dict(verify, repair=True, fail_on_problems=False))
    assert repaired["changed"] and repaired["removed"] == ["stray.bin"] and not repaired.get("failed")
    again = run_module("model_manifest_verify", tmp_path, verify)
    assert again["ok"] and not again["changed"] and again["digest"] == created["digest"]

    measured = run_module("model_manifest_measure", tmp_path, {"path": str(model), "manifest": str(dest)})
    assert (measured["files"], measured["bytes"], measured["present_bytes"]) == (2, 1008, 1008)
    assert measured["changed"] is False

    space = {"path": str(tmp_path / "models"), "manifest": str(dest), "host": "h1"}
    fits = run_module("model_manifest_space", tmp_path, space)
    assert fits["ok"] and fits["bytes"] == 1008 and not fits.get("failed")
    short = run_module("model_manifest_space", tmp_path, dict(space, margin_bytes=1 << 60))
    assert short["failed"] and "host h1" in short["msg"] and short["shortfall"] > 0
    unknown = run_module("model_manifest_space", tmp_path, {"path": str(tmp_path), "host": "h1"})
    assert unknown["failed"] and unknown["msg"].startswith("h1: the size of the model is unknown")
