from __future__ import annotations

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import sglang_catalog as catalog
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_args import (
    ArgsError,
    build_args,
    parse_extra_args,
    render_argv,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_legacy_flags import LEGACY_FLAGS


def render(pairs):
    warnings = []
    return render_argv(build_args(pairs, "group g", warnings), "group g"), warnings


def problems(pairs):
    with pytest.raises(ArgsError) as err:
        render(pairs)
    return err.value.problems


def test_names_are_normalised_and_rendered_full():
    argv, _warnings = render(
        [("mem_fraction_static", 0.85), ("chunked-prefill-size", 8192), ("--trust-remote-code", True)]
    )
    assert argv == ["--mem-fraction-static", "0.85", "--chunked-prefill-size", "8192", "--trust-remote-code"]


def test_alias_renders_canonical_and_later_overrides_earlier():
    argv, _warnings = render([("--model", "/a"), ("model-path", "/b")])
    assert argv == ["--model-path", "/b"]


def test_false_switch_and_null_are_omitted():
    assert render([("enable-metrics", False), ("context-length", None)])[0] == []


def test_unknown_flag_names_the_closest():
    probs = problems([("mem-fraction-statik", 0.8)])
    assert "unknown SGLang %s flag --mem-fraction-statik" % catalog.SGLANG_VERSION in probs[0]
    assert "did you mean --mem-fraction-static" in probs[0]


@pytest.mark.parametrize(
    "flag, value, replacement",
    [
        ("--enable-flashinfer-mla", True, ["--attention-backend", "flashinfer"]),
        ("--speculative-draft", "/models/draft", ["--speculative-draft-model-path", "/models/draft"]),
    ],
)
def test_renamed_flags_are_translated_with_a_warning(flag, value, replacement):
    argv, warnings = render([(flag, value)])
    assert argv == replacement
    assert flag in warnings[0] and "renamed" in warnings[0]


def test_removed_flag_is_rejected_with_what_to_do():
    probs = problems([("--enable-ep-moe", True)])
    assert "--enable-ep-moe is not accepted by SGLang" in probs[0] and "--ep-size" in probs[0]


def test_dp_attention_with_dp_size_becomes_attn_dp_size():
    argv, warnings = render([("--enable-dp-attention", True), ("--dp-size", 8)])
    assert argv == ["--attn-dp-size", "8"]
    assert any("--attn-dp-size 8" in w for w in warnings)


def test_dp_attention_without_dp_size_is_refused():
    probs = problems([("--enable-dp-attention", True)])
    assert any("--enable-dp-attention without a DP size does nothing" in p for p in probs)


@pytest.mark.parametrize(
    "pairs, needle",
    [
        ([("--tp-size", "sixteen")], "--tp-size takes an integer, got 'sixteen'"),
        ([("--mem-fraction-static", True)], "--mem-fraction-static takes a value, not true"),
        ([("--mem-fraction-static", "most")], "--mem-fraction-static takes a number, got 'most'"),
        ([("--kv-cache-dtype", "fp9")], "--kv-cache-dtype=fp9 is not one of SGLang"),
        ([("--trust-remote-code", "yes")], "--trust-remote-code is a switch and takes no value"),
    ],
)
def test_value_errors(pairs, needle):
    assert any(needle in p for p in problems(pairs))


@pytest.mark.parametrize("flag", ["--api-key", "api_key", "--admin-api-key"])
def test_secrets_never_reach_argv(flag):
    probs = problems([(flag, "s3cr3t")])
    assert "must not be on the command line" in probs[0] and "s3cr3t" not in probs[0]


def test_extra_args_tokens():
    assert parse_extra_args(["--log-level", "info", "--enable-metrics", "--x=1", "--l", "a", "b"], "g") == [
        ("--log-level", "info"),
        ("--enable-metrics", True),
        ("--x", "1"),
        ("--l", ["a", "b"]),
    ]
    with pytest.raises(ArgsError):
        parse_extra_args(["info"], "g")


def test_all_problems_at_once():
    assert len(problems([("--nope", 1), ("--enable-ep-moe", True), ("--port", "x")])) >= 2


def test_legacy_table_is_consistent_with_the_catalog():
    for flag, entry in LEGACY_FLAGS.items():
        assert entry["status"] in ("removed", "renamed", "deprecated"), flag
        for token in entry.get("replacement") or []:
            if token.startswith("--"):
                assert token in catalog.OPTION_TO_FLAG, (flag, token)
        if entry["status"] in ("removed", "renamed"):
            assert flag not in catalog.OPTION_TO_FLAG, flag


@pytest.mark.parametrize(
    "pairs, argv",
    [
        # BooleanOptionalAction (--X / --no-X): false renders --no-X, never dropped (its default may be
        # None = the model decides, or true), and --no-X never turns into --X.
        ([("enable-tf32-matmul", False)], ["--no-enable-tf32-matmul"]),
        ([("enable-tf32-matmul", True)], ["--enable-tf32-matmul"]),
        ([("no-enable-tf32-matmul", True)], ["--no-enable-tf32-matmul"]),
        ([("no-enable-tf32-matmul", False)], ["--enable-tf32-matmul"]),
        ([("--no-dllm-fdfo", True)], ["--no-dllm-fdfo"]),
        # A plain store_true switch: false is its default, so it is left out.
        ([("enable-metrics", False)], []),
        # Negative numbers are values (argparse's negative-number rule).
        ([("chunked-prefill-size", -1)], ["--chunked-prefill-size", "-1"]),
    ],
)
def test_switches_render_exactly_as_meant(pairs, argv):
    assert render(pairs)[0] == argv


@pytest.mark.parametrize(
    "tokens, pairs",
    [
        (["--no-enable-tf32-matmul"], [("--no-enable-tf32-matmul", True)]),
        (
            ["--cuda-graph-bs", "1", "2", "4", "--log-level", "info"],
            [("--cuda-graph-bs", ["1", "2", "4"]), ("--log-level", "info")],
        ),
        (["--chunked-prefill-size", "-1"], [("--chunked-prefill-size", "-1")]),
        (["--model-checksum", "--log-level", "info"], [("--model-checksum", True), ("--log-level", "info")]),
    ],
)
def test_extra_args_take_exactly_their_flags_values(tokens, pairs):
    assert parse_extra_args(tokens, "group g") == pairs


def test_extra_args_no_switch_renders_no():
    argv, _warnings = render(parse_extra_args(["--no-enable-tf32-matmul"], "group g"))
    assert argv == ["--no-enable-tf32-matmul"]
