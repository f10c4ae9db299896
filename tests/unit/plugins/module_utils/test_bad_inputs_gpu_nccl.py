"""Bad inputs for the GPU and nccl-tests parsers, table-driven (issue 18, Parsers).

Beside test_bad_inputs.py (planner, fabric, manifest). Each refusal case must raise the parser's own
error (NcclTestsError, GpuFactsError, PreflightError) whose message names the input (file, field,
GPU, host) and what was wrong, never an exception's text such as a KeyError's ``'Enabled'``. Each
"judged" case must give a result (a verdict, facts, problems) without any exception. The modules
turn the errors into fail_json with the message, never a traceback.

``test_case_count_by_class`` prints the count per class (pytest -s).
"""

from __future__ import annotations

import collections
import copy
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import gpu_facts
from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_facts import GpuFactsError, build_facts
from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_preflight import (
    PreflightError,
    group_problems,
    host_findings,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.nccl_tests_parse import NcclTestsError
from ansible_collections.gpufleet.sglang.plugins.module_utils.nccl_tests_report import run_check

REPO = Path(__file__).resolve().parents[4]
GPU = REPO / "tests" / "fixtures" / "gpu" / "h200-x2"
NCCL = REPO / "tests" / "fixtures" / "nccl-tests"
XML = (GPU / "nvidia-smi-q.xml").read_text()
CSV = (GPU / "query-gpu-noheader-nounits.csv").read_text()
REMAP = (GPU / "remapped-rows.csv").read_text()
JSON_RUN = json.loads((NCCL / "all_reduce_g2.json").read_text())
TEXT_RUN = (NCCL / "all_reduce_perf_g2.txt").read_text()
HUGE = "9" * 400
LEAKS = re.compile(
    r"Traceback|KeyError|TypeError|AttributeError|object has no attribute|not subscriptable|"
    r"not iterable|^'[^']*'$"
)


def facts():
    """Real facts of the H200 x2 capture (what gpu_facts returns), to spoil one field at a time."""
    built = build_facts(XML, query_csv=CSV, remapped_csv=REMAP)
    return {"gpufleet_gpus": built["gpus"], "gpufleet_gpu_driver": built["driver"]}


def spoiled(path, value):
    """facts() with the value at path ('gpufleet_gpus.0.ecc.mode_current') replaced (None: deleted)."""
    data = facts()
    keys = path.split(".")
    target = data
    for key in keys[:-1]:
        target = target[int(key)] if isinstance(target, list) else target[key]
    last = int(keys[-1]) if isinstance(target, list) else keys[-1]
    if value is DELETE:
        del target[last]
    else:
        target[last] = value
    return data


DELETE = object()


def nccl_file(tmp_path, content):
    path = tmp_path / "result.json"
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return str(path)


def json_run(**changes):
    data = copy.deepcopy(JSON_RUN)
    for key, value in changes.items():
        if value is DELETE:
            data.pop(key, None)
        else:
            data[key] = value
    return json.dumps(data)


def run_on(content, **params):
    def call(tmp_path):
        return run_check(dict({"src": nccl_file(tmp_path, content), "host": "gpu-a1"}, **params))

    return call


# ------------------------------------------------------------------ refusals: (class, id, call, error, needles)
NJ = "nccl-tests JSON wrong types"
REFUSE = [
    (NJ, "args-int", run_on(json_run(args=5)), NcclTestsError, ["result.json", "'args' is a number, expected a list"]),
    (NJ, "args-object", run_on(json_run(args={"a": 1})), NcclTestsError, ["'args' is an object, expected a list"]),
    (
        NJ,
        "args-string",
        run_on(json_run(args="all_reduce_perf -b 8")),
        NcclTestsError,
        ["'args' is a string, expected a list"],
    ),
    (NJ, "env-int", run_on(json_run(env=1)), NcclTestsError, ["'env' is a number, expected a list"]),
    (NJ, "env-string", run_on(json_run(env="NCCL_DEBUG=INFO")), NcclTestsError, ["'env' is a string"]),
    (NJ, "env-bool", run_on(json_run(env=True)), NcclTestsError, ["'env' is a boolean"]),
    (NJ, "config-list", run_on(json_run(config=[1, 2])), NcclTestsError, ["'config' is a list, expected an object"]),
    (NJ, "config-string", run_on(json_run(config="x")), NcclTestsError, ["'config' is a string"]),
    (
        NJ,
        "devices-int",
        run_on(json_run(config={"devices": 3})),
        NcclTestsError,
        ["'config.devices' is a number, expected a list"],
    ),
    (
        NJ,
        "devices-object",
        run_on(json_run(config={"devices": {"rank": 0}})),
        NcclTestsError,
        ["'config.devices' is an object"],
    ),
    (
        NJ,
        "results-object",
        run_on(json_run(results={"size": 8})),
        NcclTestsError,
        ["'results' is an object, expected a list"],
    ),
    (NJ, "results-int", run_on(json_run(results=7)), NcclTestsError, ["'results' is a number"]),
    (NJ, "results-string", run_on(json_run(results="8 2 float sum")), NcclTestsError, ["'results' is a string"]),
    (NJ, "errors-int", run_on(json_run(errors=1)), NcclTestsError, ["'errors' is a number, expected a list"]),
    (NJ, "errors-string", run_on(json_run(errors="NCCL failure")), NcclTestsError, ["'errors' is a string"]),
    (
        NJ,
        "oob-list",
        run_on(json_run(out_of_bounds=[0])),
        NcclTestsError,
        ["'out_of_bounds' is a list, expected an object"],
    ),
    (
        NJ,
        "bitwise-string",
        run_on(json_run(bitwise_mismatches="0")),
        NcclTestsError,
        ["'bitwise_mismatches' is a string"],
    ),
    (
        NJ,
        "average-list",
        run_on(json_run(average_bus_bandwidth=[1.0])),
        NcclTestsError,
        ["'average_bus_bandwidth' is a list"],
    ),
    (
        NJ,
        "average-number",
        run_on(json_run(average_bus_bandwidth=104.8)),
        NcclTestsError,
        ["'average_bus_bandwidth' is a number"],
    ),
]
GX = "nvidia-smi XML/CSV"


def _xml_total(value):
    return re.sub(r"<total>\d+ MiB</total>", "<total>%s MiB</total>" % value, XML, count=1)


REFUSE += [
    (GX, "xml-none", lambda _t: build_facts(None), GpuFactsError, ["nvidia-smi -q -x printed no text (got NoneType)"]),
    (GX, "xml-bytes", lambda _t: build_facts(XML.encode()), GpuFactsError, ["printed no text (got bytes)"]),
    (GX, "xml-empty", lambda _t: build_facts(""), GpuFactsError, ["nvidia-smi -q -x printed no valid XML"]),
    (GX, "xml-truncated", lambda _t: build_facts(XML[: len(XML) // 2]), GpuFactsError, ["printed no valid XML"]),
    (
        GX,
        "xml-text-output",
        lambda _t: build_facts((GPU / "nvidia-smi-q.txt").read_text()),
        GpuFactsError,
        ["printed no valid XML"],
    ),
    (
        GX,
        "xml-wrong-root",
        lambda _t: build_facts("<log/>"),
        GpuFactsError,
        ["printed <log>, expected <nvidia_smi_log>"],
    ),
    (
        GX,
        "xml-huge-memory",
        lambda _t: build_facts(_xml_total(HUGE)),
        GpuFactsError,
        ["nvidia-smi -q -x, GPU 0 (00000000:00:06.0): fb_memory_usage/total is '999", "expected a count"],
    ),
    (
        GX,
        "xml-negative-memory",
        lambda _t: build_facts(_xml_total("-143771")),
        GpuFactsError,
        ["GPU 0 (00000000:00:06.0): fb_memory_usage/total is '-143771 MiB', expected a count"],
    ),
    (
        GX,
        "xml-2-to-the-64-memory",
        lambda _t: build_facts(_xml_total(str(2**64))),
        GpuFactsError,
        ["fb_memory_usage/total is '18446744073709551616 MiB'"],
    ),
    (
        GX,
        "xml-huge-attached",
        lambda _t: build_facts(
            XML.replace("<attached_gpus>2</attached_gpus>", "<attached_gpus>%s</attached_gpus>" % HUGE)
        ),
        GpuFactsError,
        ["nvidia-smi -q -x: attached_gpus is '999"],
    ),
    (
        GX,
        "xml-huge-ecc",
        lambda _t: build_facts(
            re.sub(
                r"<dram_uncorrectable>0</dram_uncorrectable>",
                "<dram_uncorrectable>%s</dram_uncorrectable>" % HUGE,
                XML,
                count=1,
            )
        ),
        GpuFactsError,
        ["GPU 0 (00000000:00:06.0): dram_uncorrectable is '999"],
    ),
    (
        GX,
        "xml-negative-remap",
        lambda _t: build_facts(
            re.sub(r"<remapped_row_unc>0</remapped_row_unc>", "<remapped_row_unc>-3</remapped_row_unc>", XML, count=1)
        ),
        GpuFactsError,
        ["GPU 0 (00000000:00:06.0): remapped_rows/remapped_row_unc is '-3'"],
    ),
    (
        GX,
        "xml-huge-pcie-width",
        lambda _t: build_facts(
            re.sub(r"<max_link_width>16x</max_link_width>", "<max_link_width>%sx</max_link_width>" % HUGE, XML, count=1)
        ),
        GpuFactsError,
        ["link_widths/max_link_width is '999"],
    ),
    (
        GX,
        "csv-huge-memory",
        lambda _t: build_facts(XML, query_csv=CSV.replace("143771", HUGE, 1)),
        GpuFactsError,
        ["nvidia-smi --query-gpu row 1 (00000000:00:06.0): memory.total is '999"],
    ),
    (
        GX,
        "csv-negative-ecc",
        lambda _t: build_facts(XML, query_csv=_csv_field(CSV, 1, "ecc.errors.uncorrected.volatile.total", "-1")),
        GpuFactsError,
        ["--query-gpu row 2 (00000000:00:07.0): ecc.errors.uncorrected.volatile.total is '-1'"],
    ),
    (
        GX,
        "csv-huge-index",
        lambda _t: build_facts(XML, query_csv=_csv_field(CSV, 0, "index", HUGE)),
        GpuFactsError,
        ["--query-gpu row 1 (00000000:00:06.0): index is '999"],
    ),
    (
        GX,
        "csv-short-row",
        lambda _t: build_facts(XML, query_csv="0, NVIDIA H200\n"),
        GpuFactsError,
        ["nvidia-smi query output row 1 has 2 values for"],
    ),
    (
        GX,
        "csv-bad-quoting",
        lambda _t: build_facts(XML, query_csv='"0, NVIDIA H200\n'),
        GpuFactsError,
        ["row 1 has 1 values"],
    ),
    (
        GX,
        "remap-huge",
        lambda _t: build_facts(XML, remapped_csv=REMAP.replace(", 0,", ", %s," % HUGE, 1)),
        GpuFactsError,
        ["nvidia-smi --query-remapped-rows row 1", "is '999"],
    ),
]


def _csv_field(text, row, field, value):
    lines = text.splitlines()
    cells = [cell.strip() for cell in lines[row].split(",")]
    cells[gpu_facts.QUERY_GPU_FIELDS.index(field)] = value
    lines[row] = ", ".join(cells)
    return "\n".join(lines) + "\n"


PF = "hand-made preflight facts"


def _pf(facts_value, needles):
    return (
        lambda _t: host_findings("gpu-a1", facts_value, {"expected_gpu_count": 2}),
        PreflightError,
        ["gpu-a1: "] + needles,
    )


G0 = "gpufleet_gpus.0."
for case_id, path, value, needles in [
    ("no-gpus-key", "gpufleet_gpus", DELETE, ["no GPU facts to judge (need gpufleet_gpus and gpufleet_gpu_driver"]),
    ("no-driver-key", "gpufleet_gpu_driver", DELETE, ["no GPU facts to judge"]),
    ("gpus-string", "gpufleet_gpus", "GPU0,GPU1", ["gpufleet_gpus must be a list of GPUs, got str"]),
    ("gpus-mapping", "gpufleet_gpus", {"0": {}}, ["gpufleet_gpus must be a list of GPUs, got dict"]),
    ("gpus-int", "gpufleet_gpus", 8, ["gpufleet_gpus must be a list of GPUs, got int"]),
    ("gpu-null", "gpufleet_gpus.1", None, ["gpufleet_gpus[1] is None, expected a mapping of one GPU's facts"]),
    ("gpu-string", "gpufleet_gpus.0", "H200", ["gpufleet_gpus[0] is 'H200', expected a mapping"]),
    ("gpu-list", "gpufleet_gpus.0", [], ["gpufleet_gpus[0] is [], expected a mapping"]),
    ("driver-string", "gpufleet_gpu_driver", "580.159.04", ["gpufleet_gpu_driver is '580.159.04', expected a mapping"]),
    (
        "driver-version-int",
        "gpufleet_gpu_driver.driver_version",
        580,
        ["gpufleet_gpu_driver.driver_version is 580, expected a string"],
    ),
    (
        "cuda-version-float",
        "gpufleet_gpu_driver.cuda_version",
        13.0,
        ["gpufleet_gpu_driver.cuda_version is 13.0, expected a string"],
    ),
    (
        "persistence-word",
        G0 + "persistence_mode",
        "Enabled",
        ["gpufleet_gpus[0].persistence_mode is 'Enabled', expected true or false"],
    ),
    ("persistence-int", G0 + "persistence_mode", 1, ["persistence_mode is 1, expected true or false"]),
    (
        "memory-string",
        G0 + "memory_total_mib",
        "143771 MiB",
        ["gpufleet_gpus[0].memory_total_mib is '143771 MiB', expected a count (an integer >= 0)"],
    ),
    ("memory-float", G0 + "memory_total_mib", 80.5, ["memory_total_mib is 80.5, expected a count"]),
    ("memory-nan", G0 + "memory_total_mib", float("nan"), ["memory_total_mib is nan, expected a count"]),
    ("memory-inf", G0 + "memory_total_mib", float("inf"), ["memory_total_mib is inf, expected a count"]),
    ("memory-negative", G0 + "memory_total_mib", -1, ["memory_total_mib is -1, expected a count"]),
    ("memory-bool", G0 + "memory_total_mib", True, ["memory_total_mib is True, expected a count"]),
    ("memory-huge-string", G0 + "memory_total_mib", HUGE, ["memory_total_mib is '9999", "...", "expected a count"]),
    ("index-string", G0 + "index", "0", ["gpufleet_gpus[0].index is '0', expected a count"]),
    ("name-int", G0 + "name", 200, ["gpufleet_gpus[0].name is 200, expected a string"]),
    ("ecc-string", G0 + "ecc", "Enabled", ["gpufleet_gpus[0].ecc is 'Enabled', expected a mapping"]),
    ("ecc-mode-bool", G0 + "ecc.mode_current", True, ["gpufleet_gpus[0].ecc.mode_current is True, expected a string"]),
    (
        "ecc-count-string",
        G0 + "ecc.uncorrectable_volatile",
        "0",
        ["gpufleet_gpus[0].ecc.uncorrectable_volatile is '0', expected a count"],
    ),
    ("ecc-count-negative", G0 + "ecc.uncorrectable_aggregate", -5, ["ecc.uncorrectable_aggregate is -5"]),
    ("remap-list", G0 + "remapped_rows", [0, 0], ["gpufleet_gpus[0].remapped_rows is [0, 0], expected a mapping"]),
    (
        "remap-pending-word",
        G0 + "remapped_rows.pending",
        "Yes",
        ["gpufleet_gpus[0].remapped_rows.pending is 'Yes', expected true or false"],
    ),
    ("pcie-width-string", G0 + "pcie.width_current", "16x", ["gpufleet_gpus[0].pcie.width_current is '16x'"]),
    ("pcie-string", G0 + "pcie", "Gen5 x16", ["gpufleet_gpus[0].pcie is 'Gen5 x16', expected a mapping"]),
    (
        "clocks-string",
        G0 + "clocks_event_reasons",
        "hw_slowdown",
        ["gpufleet_gpus[0].clocks_event_reasons is 'hw_slowdown', expected a list of strings"],
    ),
    (
        "clocks-ints",
        G0 + "clocks_event_reasons",
        [1, 2],
        ["clocks_event_reasons is [1, 2], expected a list of strings"],
    ),
    ("nvlink-list", G0 + "nvlink", [1], ["gpufleet_gpus[0].nvlink is [1], expected a mapping"]),
    (
        "nvlink-inactive-string",
        G0 + "nvlink",
        {"total": 2, "inactive_links": "0,1"},
        ["gpufleet_gpus[0].nvlink.inactive_links is '0,1', expected a list of counts"],
    ),
    ("fabric-string", G0 + "fabric", "Completed", ["gpufleet_gpus[0].fabric is 'Completed', expected a mapping"]),
    ("fabric-state-int", G0 + "fabric.state", 3, ["gpufleet_gpus[0].fabric.state is 3, expected a string"]),
    ("mig-bool", G0 + "mig_mode", False, ["gpufleet_gpus[0].mig_mode is False, expected a string"]),
]:
    REFUSE.append((PF, case_id) + _pf(spoiled(path, value), needles))
REFUSE += [
    (
        PF,
        "facts-list",
        lambda _t: host_findings("gpu-a1", [facts()]),
        PreflightError,
        ["gpu-a1: no GPU facts to judge", "got list"],
    ),
    (PF, "facts-string", lambda _t: host_findings("gpu-a1", "{}"), PreflightError, ["gpu-a1: no GPU facts", "got str"]),
    (PF, "facts-none", lambda _t: host_findings("gpu-a1", None), PreflightError, ["gpu-a1: no GPU facts"]),
]


@pytest.mark.parametrize("klass, case_id, call, error, needles", REFUSE, ids=["%s/%s" % (r[0], r[1]) for r in REFUSE])
def test_bad_input_is_refused_naming_it(tmp_path, klass, case_id, call, error, needles):
    with pytest.raises(error) as err:
        call(tmp_path)
    message = str(err.value)
    assert all(needle in message for needle in needles), message
    assert not LEAKS.search(message), message


# ------------------------------------------------------------------ judged without an exception
NV = "nccl-tests odd values and files"


def _row_values(**half):
    data = copy.deepcopy(JSON_RUN)
    for row in data["results"]:
        row["out_of_place"].update(half)
    return data


def _dump(data):
    return json.dumps(data)


JUDGED = [
    (NV, "busbw-nan", _dump(_row_values(bus_bw=float("nan"))), False),
    (NV, "busbw-inf", _dump(_row_values(bus_bw=float("inf"))), False),
    (NV, "busbw-negative", _dump(_row_values(bus_bw=-5.0)), False),
    (NV, "busbw-huge-int", _dump(_row_values(bus_bw=10**400)), False),
    (NV, "busbw-string", _dump(_row_values(bus_bw="fast")), False),
    (NV, "busbw-list", _dump(_row_values(bus_bw=[1.0])), False),
    (NV, "nwrong-huge", _dump(_row_values(nwrong=10**400)), False),
    (NV, "nwrong-negative", _dump(_row_values(nwrong=-1)), None),
    (NV, "nwrong-string", _dump(_row_values(nwrong="N/A")), None),
    (NV, "time-inf-literal", json.dumps(_row_values()).replace('"time": ', '"time": 1e999, "x": ', 1), None),
    (
        NV,
        "size-negative",
        _dump(dict(JSON_RUN, results=[dict(r, size=-r["size"]) for r in JSON_RUN["results"]])),
        False,
    ),
    (NV, "size-huge", _dump(dict(JSON_RUN, results=[dict(r, size=10**400) for r in JSON_RUN["results"]])), None),
    (
        NV,
        "size-string",
        _dump(dict(JSON_RUN, results=[dict(r, size=str(r["size"])) for r in JSON_RUN["results"]])),
        False,
    ),
    (NV, "results-items-not-objects", _dump(dict(JSON_RUN, results=[1, "a", None, []])), False),
    (NV, "nccl-version-huge", _dump(dict(JSON_RUN, nccl_version=10**400)), None),
    (NV, "nccl-version-inf", _dump(dict(JSON_RUN, nccl_version=float("inf"))), None),
    (NV, "nccl-version-string", _dump(dict(JSON_RUN, nccl_version="2.28.9")), None),
    (NV, "oob-count-huge", _dump(dict(JSON_RUN, out_of_bounds={"count": 10**400, "okay": True})), False),
    (NV, "oob-count-nan", _dump(dict(JSON_RUN, out_of_bounds={"count": float("nan"), "okay": "true"})), None),
    (NV, "average-nan", _dump(dict(JSON_RUN, average_bus_bandwidth={"bandwidth": float("nan"), "okay": "true"})), None),
    (NV, "version-string", _dump(dict(JSON_RUN, version="3")), None),
    (NV, "json-array", "[1, 2, 3]", False),
    (NV, "json-truncated", _dump(JSON_RUN)[: len(_dump(JSON_RUN)) // 2], False),
    (NV, "json-empty-object", "{}", False),
    (NV, "json-non-utf8", b'{"version": 3, "args": ["\xff\xfe all_reduce_perf"]}', False),
    (
        NV,
        "text-non-utf8",
        TEXT_RUN.encode("utf-8").replace(b"#  Avg bus bandwidth", b"#  Avg \xff\xfe bandwidth"),
        None,
    ),
    (NV, "text-truncated", TEXT_RUN[: len(TEXT_RUN) // 2], False),
    (NV, "text-huge-numbers", re.sub(r"(\s)\d+\.\d+(\s)", lambda m: m.group(1) + HUGE + m.group(2), TEXT_RUN), None),
    (NV, "text-negative-numbers", re.sub(r"(\s)(\d+\.\d+)(\s)", r"\1-\2\3", TEXT_RUN), False),
    (
        NV,
        "text-nan-inf",
        re.sub(r"(\s)(\d+\.\d+)(\s)", r"\1nan\3", TEXT_RUN, count=40).replace(" 0 ", " inf ", 3),
        False,
    ),
    (NV, "empty-file", "", False),
    (NV, "nul-bytes", b"\x00" * 64, False),
]


@pytest.mark.parametrize("klass, case_id, content, passed", JUDGED, ids=["%s/%s" % (j[0], j[1]) for j in JUDGED])
def test_odd_nccl_output_is_judged_not_an_exception(tmp_path, klass, case_id, content, passed):
    result = run_check({"src": nccl_file(tmp_path, content), "host": "gpu-a1"})
    assert isinstance(result["passed"], bool)
    if passed is not None:
        assert result["passed"] is passed, result
    if not result["passed"]:
        assert result["failures"] and all(isinstance(f, str) and "gpu-a1" in f for f in result["failures"]), result[
            "failures"
        ]
    json.dumps(result, allow_nan=False)  # the module's result is plain JSON (no NaN/inf)


HP = "hand-made preflight facts judged"
JUDGED_FACTS = [
    (
        HP,
        "huge-ecc-count",
        spoiled(G0 + "ecc.uncorrectable_volatile", 10**30),
        "gpu-a1 GPU 0 (00000000:00:06.0): 1000000000000000000000000000000 uncorrectable ECC error(s)",
    ),
    (HP, "huge-memory", spoiled(G0 + "memory_total_mib", 10**30), None),
    (HP, "gpus-empty", spoiled("gpufleet_gpus", []), "gpu-a1: 0 GPU(s) visible, expected 2"),
    (HP, "persistence-null", spoiled(G0 + "persistence_mode", None), "persistence mode is not reported"),
    (HP, "ecc-null", spoiled(G0 + "ecc", None), "ECC is not reported, expected Enabled"),
    (HP, "driver-null", spoiled("gpufleet_gpu_driver", None), None),
    (HP, "gpu-empty-mapping", spoiled("gpufleet_gpus.0", {}), "gpu-a1 GPU None (?)"),
]


@pytest.mark.parametrize(
    "klass, case_id, facts_value, needle", JUDGED_FACTS, ids=["%s/%s" % (j[0], j[1]) for j in JUDGED_FACTS]
)
def test_odd_but_well_typed_facts_are_judged(klass, case_id, facts_value, needle):
    findings = host_findings("gpu-a1", facts_value, {"expected_gpu_count": 2})
    if needle is None:
        assert findings["problems"] == []
    else:
        assert any(needle in problem for problem in findings["problems"]), findings["problems"]


def test_group_parity_names_the_host_of_bad_facts():
    problems = group_problems("h200", [("gpu-a1", facts()), ("gpu-a2", spoiled(G0 + "persistence_mode", "Enabled"))])
    assert problems == [
        "group h200: gpu-a2: gpufleet_gpus[0].persistence_mode is 'Enabled', expected true or false "
        "(null: not reported). Fix: pass the ansible_facts of gpufleet.sglang.gpu_facts unchanged, "
        "or correct the hand-made facts"
    ]


# ------------------------------------------------------------------ the modules: fail_json, never a traceback
def run_module(name, tmp_path, args):
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    proc = subprocess.run(
        [sys.executable, str(REPO / "plugins" / "modules" / name), str(args_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, PYTHONPATH=str(REPO / "collections")),
    )
    assert "Traceback" not in proc.stdout + proc.stderr
    return json.loads(proc.stdout)


def test_preflight_module_fails_cleanly_on_hand_made_facts(tmp_path):
    result = run_module(
        "gpu_preflight.py", tmp_path, {"facts": spoiled(G0 + "persistence_mode", "Enabled"), "host_label": "gpu-a1"}
    )
    assert result["failed"] is True
    assert result["msg"].startswith("gpu-a1: gpufleet_gpus[0].persistence_mode is 'Enabled', expected true or false")


def test_nccl_module_fails_cleanly_on_wrong_typed_json(tmp_path):
    src = nccl_file(tmp_path, json_run(results={"size": 8}))
    result = run_module("nccl_tests_check.py", tmp_path, {"src": src, "host": "gpu-a1"})
    assert result["failed"] is True
    assert result["msg"] == (
        "nccl_tests_check: src %s: nccl-tests JSON field 'results' is an object, expected a list: "
        "the file is not nccl-tests -J output (or was edited); rerun the test" % src
    )


def test_facts_module_fails_cleanly_on_corrupted_nvidia_smi_output(tmp_path):
    smi = tmp_path / "nvidia-smi"
    xml = tmp_path / "out.xml"
    xml.write_text(_xml_total(HUGE))
    smi.write_text('#!/bin/sh\n[ "$1" = -q ] && exec cat %s\nexit 1\n' % xml)
    smi.chmod(0o755)
    result = run_module("gpu_facts.py", tmp_path, {"nvidia_smi_path": str(smi)})
    assert result["failed"] is True
    assert "nvidia-smi -q -x, GPU 0 (00000000:00:06.0): fb_memory_usage/total is '999" in result["msg"], result["msg"]


def test_case_count_by_class():
    counts = collections.Counter(r[0] for r in REFUSE)
    counts.update(j[0] for j in JUDGED)
    counts.update(j[0] for j in JUDGED_FACTS)
    print("\nGPU/nccl-tests bad inputs by class: %s; total %d" % (dict(sorted(counts.items())), sum(counts.values())))
    assert sum(counts.values()) >= 100
