"""Every argv the planner renders is parsed by SGLang's own parser (the pinned version).

Needs the parser venv (``tools/sglang-parser-venv.sh``, done by ``make test``);
``SGLANG_PARSER_PYTHON`` points at another interpreter with sglang installed.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import sglang_catalog as catalog
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_legacy_flags import LEGACY_FLAGS
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import plan_fleet
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_presets import PRESETS

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYTHON = os.environ.get("SGLANG_PARSER_PYTHON", str(ROOT / ".venv-sglang" / "bin" / "python"))


def real_parse(argvs):
    if not os.path.exists(PYTHON):
        pytest.fail("SGLang parser venv missing at %s: run tools/sglang-parser-venv.sh (make test does)" % PYTHON)
    out = subprocess.run(
        [PYTHON, str(ROOT / "tools" / "sglang_parse_check.py")],
        input=json.dumps(argvs),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return json.loads(out.stdout)


def preset_nodes():
    for name, preset in sorted(PRESETS.items()):
        nodes = preset["nodes_per_group"]
        hosts = ["n%d" % i for i in range(nodes)]
        hostvars = dict(
            (
                h,
                {
                    "ansible_host": "10.1.0.%d" % (i + 1),
                    "sglang_preset": name,
                    "sglang_model_path": "/models/%s" % name,
                },
            )
            for i, h in enumerate(hosts)
        )
        for node in plan_fleet({name: hosts}, hostvars)["groups"][name]["nodes"]:
            yield "%s/rank%d" % (name, node["node_rank"]), node


def test_every_preset_and_rank_parses_with_the_real_parser():
    cases = list(preset_nodes())
    results = real_parse([node["launch_args"] for _label, node in cases])
    for (label, node), res in zip(cases, results):
        assert res["ok"], "%s: %s\n%s" % (label, res["error"], node["launch_args"])
        args = res["args"]
        assert args["tp_size"] == node["tp_size"], label
        assert args["nnodes"] == node["nnodes"] and args["node_rank"] == node["node_rank"], label
        assert args["dist_init_addr"] == node["dist_init_addr"], label
        assert args["quantization"] is None, label


def test_legacy_replacements_parse_and_legacy_spellings_fail():
    renamed = [(f, e) for f, e in sorted(LEGACY_FLAGS.items()) if e["status"] == "renamed"]
    argvs = []
    for _flag, entry in renamed:
        new = list(entry["replacement"])
        if "<VALUE>" in new:
            spec = catalog.FLAGS[catalog.OPTION_TO_FLAG[new[new.index("<VALUE>") - 1]]]
            new[new.index("<VALUE>")] = str((spec["choices"] or [1])[0])
        argvs.append(["--model-path", "/m"] + new)
    results = real_parse(argvs)
    for (flag, _entry), res in zip(renamed, results):
        assert res["ok"], "%s replacement: %s" % (flag, res["error"])


def test_real_parser_rejects_what_the_catalog_rejects():
    results = real_parse([["--model-path", "/m", "--enable-ep-moe"], ["--model-path", "/m", "--not-a-flag", "1"]])
    assert [r["ok"] for r in results] == [False, False]
