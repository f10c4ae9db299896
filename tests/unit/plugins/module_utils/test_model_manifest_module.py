"""model_manifest_module: the options and the ending the four model_manifest_* modules share (issue 17).

The shared option fragments must say what the doc fragments say, and each module's whole
argument_spec what its DOCUMENTATION (with its fragments) says; run_module must end the task the
way each module's own main() did: a ManifestError names the host, a result with ``failed`` fails
the task with that result, anything else exits with it.
"""

from __future__ import annotations

import importlib
import json

import pytest
import yaml
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpufleet.sglang.plugins.doc_fragments.model_manifest import ModuleDocFragment
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import ManifestError
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest_module import (
    HASHING_OPTIONS,
    HOST_OPTIONS,
    argument_spec,
    run_module,
)

FRAGMENTS = {
    "gpufleet.sglang.model_manifest": yaml.safe_load(ModuleDocFragment.DOCUMENTATION)["options"],
    "gpufleet.sglang.model_manifest.hashing": yaml.safe_load(ModuleDocFragment.HASHING)["options"],
}
VERBS = ("create", "verify", "measure", "space")


def _spec_of(doc_options):
    """The argument_spec an option block documents (the keys validate-modules compares)."""
    spec = {}
    for name, doc in doc_options.items():
        option = {"type": doc.get("type", "str")}
        for key in ("required", "default", "elements", "choices"):
            if key in doc and not (key == "required" and doc[key] is False):
                option[key] = doc[key]
        spec[name] = option
    return spec


@pytest.mark.parametrize(
    "shared, fragment",
    [(HOST_OPTIONS, "gpufleet.sglang.model_manifest"), (HASHING_OPTIONS, "gpufleet.sglang.model_manifest.hashing")],
)
def test_shared_options_say_what_their_doc_fragment_says(shared, fragment):
    assert shared == _spec_of(FRAGMENTS[fragment])


@pytest.mark.parametrize("verb", VERBS)
def test_each_module_spec_is_its_documentation(verb):
    module = importlib.import_module("ansible_collections.gpufleet.sglang.plugins.modules.model_manifest_" + verb)
    doc = yaml.safe_load(module.DOCUMENTATION)
    documented = dict(doc["options"])
    for ref in doc["extends_documentation_fragment"]:
        documented.update(FRAGMENTS.get(ref, {}))
    assert module.ARGUMENT_SPEC == _spec_of(documented)


def test_argument_spec_merges_and_refuses_a_name_given_twice():
    own = {"path": {"type": "path", "required": True}}
    spec = argument_spec(own, HOST_OPTIONS)
    assert spec == {"path": {"type": "path", "required": True}, "host": {"type": "str", "default": "this host"}}
    spec["host"]["default"] = "changed"
    assert HOST_OPTIONS["host"]["default"] == "this host"  # the shared fragment is copied, not aliased
    with pytest.raises(ValueError, match="'host'"):
        argument_spec({"host": {"type": "str"}}, HOST_OPTIONS)


def _end(capsys, runner, args, spec=None):
    with patch_module_args(args):
        with pytest.raises(SystemExit) as ended:
            run_module(spec or argument_spec({"path": {"type": "path", "required": True}}, HOST_OPTIONS), runner)
    return ended.value.code, json.loads(capsys.readouterr().out)


def test_a_manifest_error_fails_naming_the_host(capsys):
    def runner(params, check_mode):
        raise ManifestError("/m/x.json: not a manifest")

    code, out = _end(capsys, runner, {"path": "/m", "host": "gpu-1"})
    assert code == 1 and out["failed"] and out["msg"] == "gpu-1: /m/x.json: not a manifest"
    code, out = _end(capsys, runner, {"path": "/m"})
    assert out["msg"] == "this host: /m/x.json: not a manifest"


def test_a_failed_result_fails_with_the_whole_result(capsys):
    code, out = _end(capsys, lambda p, c: {"ok": False, "failed": True, "msg": "short", "shortfall": 7}, {"path": "/m"})
    assert code == 1 and out["failed"] is True and out["msg"] == "short" and out["shortfall"] == 7


@pytest.mark.parametrize("check_mode", [False, True])
def test_a_result_exits_and_the_runner_gets_the_params_and_check_mode(capsys, check_mode):
    seen = []

    def runner(params, check):
        seen.append((params["path"], params["host"], check))
        return {"changed": True, "ok": True, "failed": False, "msg": "done"}

    args = {"path": "/m", "host": "h", "_ansible_check_mode": check_mode}
    code, out = _end(capsys, runner, args)
    assert code == 0 and out["changed"] and out["ok"] and "failed" not in out
    assert seen == [("/m", "h", check_mode)]
