"""Property-based tests (hypothesis) of the GPU and nccl-tests parsers (issue 18, Parsers).

For any input, each parser returns its result or raises its own error (NcclTestsError,
GpuFactsError, PreflightError) with a message of its own, never another exception. Style of
test_parser_properties.py.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.gpufleet.sglang.plugins.module_utils import nccl_tests_parse as ntp
from ansible_collections.gpufleet.sglang.plugins.module_utils import nccl_tests_report as ntr
from ansible_collections.gpufleet.sglang.plugins.module_utils import nccl_tests_verdict as ntv
from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_facts import (
    QUERY_GPU_FIELDS,
    GpuFactsError,
    build_facts,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_preflight import (
    PreflightError,
    group_problems,
    host_findings,
)

REPO = Path(__file__).resolve().parents[4]
GPU = REPO / "tests" / "fixtures" / "gpu" / "h200-x2"
XML = (GPU / "nvidia-smi-q.xml").read_text()
CSV = (GPU / "query-gpu-noheader-nounits.csv").read_text()
JSON_RUN = json.loads((REPO / "tests" / "fixtures" / "nccl-tests" / "all_reduce_g2.json").read_text())
TEXT_RUN = (REPO / "tests" / "fixtures" / "nccl-tests" / "all_reduce_perf_g2.txt").read_text()
BUILT = build_facts(XML, query_csv=CSV)
FACTS = {"gpufleet_gpus": BUILT["gpus"], "gpufleet_gpu_driver": BUILT["driver"]}

SETTINGS = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
numbers = (
    st.integers()
    | st.integers(min_value=2**64)
    | st.integers(max_value=-1)
    | st.floats()
    | st.sampled_from([10**400, -(10**400), float("nan"), float("inf"), float("-inf")])
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
LEAK = re.compile(r"Traceback|object has no attribute|not subscriptable|not iterable|too large to convert")


def own_error(exc):
    assert str(exc) and not LEAK.search(str(exc)), str(exc)


# ------------------------------------------------------------------ nccl-tests


def judge(text, fmt="auto"):
    try:
        parsed = ntp.parse(text, fmt)
    except ntp.NcclTestsError as exc:
        own_error(exc)
        assert "nccl-tests JSON field" in str(exc)
        return None
    verdict = ntv.evaluate(parsed, host="gpu-a1")
    assert isinstance(verdict["passed"], bool)
    assert all(isinstance(f, str) for f in verdict["failures"])
    return verdict


@SETTINGS
@given(st.text(max_size=400))
def test_nccl_any_text(text):
    judge(text, "text")
    judge(text)


@SETTINGS
@given(
    st.lists(st.sampled_from(TEXT_RUN.splitlines()), max_size=40),
    st.lists(st.text(max_size=30), max_size=5),
    st.integers(0, 40),
)
def test_nccl_real_lines_shuffled_with_garbage(lines, garbage, where):
    lines = list(lines)
    for item in garbage:
        lines.insert(min(where, len(lines)), item)
    judge("\n".join(lines), "text")


@SETTINGS
@given(st.sampled_from(sorted(JSON_RUN)), json_values)
def test_nccl_json_any_value_at_any_top_level_field(key, value):
    data = dict(JSON_RUN)
    data[key] = value
    judge(json.dumps(data))


@SETTINGS
@given(
    st.integers(0, len(JSON_RUN["results"]) - 1),
    st.sampled_from(["size", "count", "root", "out_of_place", "in_place"]),
    json_values,
    st.sampled_from([None, "time", "alg_bw", "bus_bw", "nwrong"]),
)
def test_nccl_json_any_value_in_a_result_row(row, key, value, half_key):
    data = copy.deepcopy(JSON_RUN)
    if half_key is None:
        data["results"][row][key] = value
    else:
        data["results"][row]["out_of_place"][half_key] = value
    judge(json.dumps(data))


@SETTINGS
@given(json_values)
def test_nccl_json_any_document(value):
    judge(json.dumps(value), "json")


@SETTINGS
@given(st.binary(max_size=300))
def test_nccl_any_bytes_through_run_check(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("nccl") / "result.json"
    path.write_bytes(data)
    try:
        result = ntr.run_check({"src": str(path), "host": "gpu-a1"})
    except ntp.NcclTestsError as exc:
        own_error(exc)
        assert str(exc).startswith("src %s: " % path)
        return
    assert isinstance(result["passed"], bool)


# ------------------------------------------------------------------ nvidia-smi XML / CSV


def facts_of(xml, **kwargs):
    try:
        built = build_facts(xml, **kwargs)
    except GpuFactsError as exc:
        own_error(exc)
        return None
    assert all(isinstance(gpu, dict) for gpu in built["gpus"])
    return built


@SETTINGS
@given(st.text(max_size=300))
def test_xml_any_text(text):
    facts_of(text)


ELEMENTS = sorted(set(re.findall(r"<([a-z_]+)>[^<]+</\1>", XML)))


@SETTINGS
@given(
    st.sampled_from(ELEMENTS),
    st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), max_size=30)
    | numbers.map(str)
    | st.sampled_from(["9" * 400, "-1", "N/A", "[N/A]", "1e999", "0x" + "f" * 40]),
)
def test_xml_any_value_in_any_element(element, value):
    escaped = value.replace("&", "&amp;").replace("<", "&lt;")
    # a function as the replacement: the generated value is text, never a regex template (backslashes)
    replacement = "<%s>%s</%s>" % (element, escaped, element)
    xml = re.sub(r"<%s>[^<]+</%s>" % (element, element), lambda _m: replacement, XML)
    built = facts_of(xml)
    if built is None:
        return
    preflight(built)


@SETTINGS
@given(
    st.sampled_from(QUERY_GPU_FIELDS),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters=',"\n\r'), max_size=30)
    | numbers.map(str)
    | st.just("9" * 400),
)
def test_query_csv_any_value_in_any_field(field, value):
    lines = CSV.splitlines()
    cells = [cell.strip() for cell in lines[0].split(",")]
    cells[QUERY_GPU_FIELDS.index(field)] = value
    lines[0] = ", ".join(cells)
    built = facts_of(XML, query_csv="\n".join(lines) + "\n")
    if built is not None:
        preflight(built)


@SETTINGS
@given(st.text(max_size=300), st.text(max_size=300), st.text(max_size=300), st.text(max_size=300))
def test_other_outputs_any_text(query, remapped, topo, nvlink):
    facts_of(XML, query_csv=query, remapped_csv=remapped, topo_text=topo, nvlink_text=nvlink, proc_version_text=topo)


# ------------------------------------------------------------------ hand-made preflight facts


def preflight(built):
    findings = host_findings(
        "gpu-a1", {"gpufleet_gpus": built["gpus"], "gpufleet_gpu_driver": built["driver"]}, {"expected_gpu_count": 2}
    )
    assert all(isinstance(p, str) for p in findings["problems"] + findings["warnings"])


def judged(facts):
    try:
        findings = host_findings("gpu-a1", facts, {"expected_gpu_count": 2, "min_memory_mib": 1000})
    except PreflightError as exc:
        own_error(exc)
        assert str(exc).startswith("gpu-a1: ")
        return
    assert all(isinstance(p, str) and p.startswith("gpu-a1") for p in findings["problems"])
    problems = group_problems("h200", [("gpu-a0", FACTS), ("gpu-a1", facts)])
    assert all(isinstance(p, str) and p.startswith("group h200: ") for p in problems)


@SETTINGS
@given(json_values)
def test_preflight_any_facts_value(value):
    judged(value)
    judged({"gpufleet_gpus": value, "gpufleet_gpu_driver": value})


@SETTINGS
@given(st.integers(0, 1), st.sampled_from(sorted(FACTS["gpufleet_gpus"][0])), st.data())
def test_preflight_any_value_at_any_gpu_field(position, key, data):
    facts = copy.deepcopy(FACTS)
    gpu = facts["gpufleet_gpus"][position]
    if isinstance(gpu[key], dict) and data.draw(st.booleans()):
        gpu[key][data.draw(st.sampled_from(sorted(gpu[key])))] = data.draw(json_values)
    else:
        gpu[key] = data.draw(json_values)
    judged(facts)


@SETTINGS
@given(st.sampled_from(sorted(FACTS["gpufleet_gpu_driver"])), json_values)
def test_preflight_any_value_at_any_driver_field(key, value):
    facts = copy.deepcopy(FACTS)
    facts["gpufleet_gpu_driver"][key] = value
    judged(facts)
