from __future__ import annotations

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_rollout import (
    RolloutError,
    drain_timeout,
    estimate,
    fmt_duration,
    parse_share,
    plan_rollout,
    progress,
)

PLAN = {"groups": dict((g, {"url": "http://%s-1:30000" % g}) for g in ("a", "b", "c", "d"))}
ALL = dict.fromkeys(PLAN["groups"], True)
NONE = dict.fromkeys(PLAN["groups"], False)


def groups_of(result):
    return [(b["groups"], b["serving"]) for b in result["batches"]]


def test_nothing_changed_nothing_restarts():
    res = plan_rollout(PLAN, NONE, ALL, ALL)
    assert res["batches"] == [] and res["skipped"] == ["a", "b", "c", "d"]


def test_serving_groups_roll_one_at_a_time():
    res = plan_rollout(PLAN, ALL, ALL, ALL)
    assert groups_of(res) == [(["a"], True), (["b"], True), (["c"], True), (["d"], True)]
    assert res["batches"][0]["urls"] == ["http://a-1:30000"]


def test_batch_size_and_fresh_groups_first_together():
    ready = dict(ALL, c=False)
    changed = dict(NONE, a=True, b=True, d=True)
    res = plan_rollout(PLAN, changed, ready, dict(ALL, d=False), max_unavailable=2, min_serving=0)
    assert groups_of(res) == [(["c", "d"], False), (["a", "b"], True)]
    # only a and b serve now; c and d come up first (surge): a floor of 3 lets one go at a time
    res = plan_rollout(PLAN, changed, ready, dict(ALL, d=False), max_unavailable=2, min_serving=3)
    assert groups_of(res) == [(["c", "d"], False), (["a"], True), (["b"], True)]
    assert res["capacity_min"] == 2 and res["floor"] == 3


def test_resume_restarts_only_what_is_left():
    # a and b were rolled already (unchanged, ready); c failed (not ready); d still has the old config
    res = plan_rollout(PLAN, dict(NONE, d=True), dict(ALL, c=False), dict(ALL, c=False))
    assert groups_of(res) == [(["c"], False), (["d"], True)]


def test_min_serving_caps_the_batch():
    res = plan_rollout(PLAN, ALL, ALL, ALL, max_unavailable=4, min_serving=2)
    assert groups_of(res) == [(["a", "b"], True), (["c", "d"], True)]


def test_min_serving_refuses_when_nothing_could_roll():
    one = {"groups": {"a": {"url": "http://a:1"}}}
    with pytest.raises(RolloutError) as err:
        plan_rollout(one, {"a": True}, {"a": True}, None)
    assert "would leave fewer than 1 group(s) serving" in str(err.value)
    assert "lower sglang_rollout_min_serving to 0" in str(err.value)
    assert groups_of(plan_rollout(one, {"a": True}, {"a": True}, None, min_serving=0)) == [(["a"], True)]


def test_without_router_serving_means_ready():
    res = plan_rollout(PLAN, dict(NONE, a=True), dict(ALL, b=False), None)
    assert groups_of(res) == [(["b"], False), (["a"], True)]


def test_force_and_only():
    res = plan_rollout(PLAN, NONE, ALL, ALL, force=["b"])
    assert groups_of(res) == [(["b"], True)]
    res = plan_rollout(PLAN, ALL, ALL, ALL, only=["c"])
    assert groups_of(res) == [(["c"], True)] and "a" in res["skipped"]
    with pytest.raises(RolloutError):
        plan_rollout(PLAN, ALL, ALL, ALL, only=["zz"])


def test_by_group_and_router_membership():
    from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_rollout import by_group, router_membership

    plan = {
        "groups": {
            "a": {"head": "a1", "url": "http://a1:1", "nodes": [{"host": "a1"}, {"host": "a2"}]},
            "b": {"head": "b1", "url": "http://b1:1", "nodes": [{"host": "b1"}, {"host": "b2"}]},
        }
    }
    hv = {
        "a1": {"c": False, "p": {"ready": True}},
        "a2": {"c": True},
        "b1": {"c": False, "p": {"ready": False}},
        "b2": {},
    }
    assert by_group(plan, hv, "c") == {"a": True, "b": False}
    assert by_group(plan, hv, "c", default=True) == {"a": True, "b": True}
    assert by_group(plan, hv, "p.ready", "head") == {"a": True, "b": False}
    assert router_membership(plan, []) is None
    assert router_membership(plan, [["http://a1:1/"], ["http://a1:1", "http://b1:1"]]) == {"a": True, "b": False}


# --- batches by share, surge, drains sized for reasoning models, estimates (issue 19) ---


def test_share_counts_and_percentages():
    assert parse_share(2, 8, "v") == 2
    assert parse_share("3", 8, "v") == 3
    assert parse_share("25%", 8, "v", minimum=1) == 2
    # an allowance rounds down (never more out than the share), at least the minimum
    assert parse_share("30%", 8, "v", minimum=1) == 2
    assert parse_share("10%", 4, "v", minimum=1) == 1
    # a floor rounds up (capacity never below the share)
    assert parse_share("30%", 8, "v", round_up=True) == 3
    assert parse_share("100%", 5, "v", round_up=True) == 5
    assert parse_share("0%", 5, "v", round_up=True) == 0


@pytest.mark.parametrize(
    "value, words",
    [
        ("ten", "is not a count or a percentage"),
        ("150%", "more than 100%"),
        (True, "is not a count or a percentage"),
        (None, "is not a count or a percentage"),
        (1.5, "is not a whole number"),
        (0, "must be 1 or more"),
        (-2, "must be 1 or more"),
        ([1], "has type list"),
        ("-5%", "is not a count or a percentage"),
    ],
)
def test_share_bad_input_names_the_variable_and_the_fix(value, words):
    with pytest.raises(RolloutError) as err:
        parse_share(value, 4, "sglang_rollout_max_unavailable", minimum=1)
    msg = str(err.value)
    assert words in msg and "sglang_rollout_max_unavailable" in msg and "'25%'" in msg


def test_max_unavailable_as_a_percentage_of_serving_groups():
    eight = {"groups": dict(("g%d" % i, {"url": "http://g%d:1" % i}) for i in range(8))}
    every = dict.fromkeys(eight["groups"], True)
    res = plan_rollout(eight, every, every, every, max_unavailable="25%", min_serving="50%")
    assert [len(b["groups"]) for b in res["batches"]] == [2, 2, 2, 2]
    assert res["floor"] == 4 and res["max_unavailable"] == 2 and res["capacity_min"] == 6
    # the floor as a percentage caps the batch: 8 serve, 75% must stay -> 2 at a time
    res = plan_rollout(eight, every, every, every, max_unavailable="50%", min_serving="75%")
    assert [len(b["groups"]) for b in res["batches"]] == [2, 2, 2, 2]


def test_spare_surges_first_so_capacity_never_drops_below_the_floor():
    # a and b serve; c is a spare out of the routers; floor 100% of the serving groups
    in_router = dict(ALL, c=False, d=False)
    only3 = {"groups": dict((g, PLAN["groups"][g]) for g in ("a", "b", "c"))}
    # c is current and ready, out of the routers: not a spare, it does not take part
    with pytest.raises(RolloutError) as err:
        plan_rollout(only3, dict(a=True, b=True, c=False), dict.fromkeys("abc", True), in_router, min_serving="100%")
    assert "would leave fewer than 2 group(s) serving" in str(err.value)
    assert "sglang_rollout_spare: true" in str(err.value)
    res = plan_rollout(
        only3, dict.fromkeys("abc", True), dict.fromkeys("abc", True), in_router, min_serving="100%", spares=["c"]
    )
    assert groups_of(res) == [(["c"], False), (["a"], True), (["b"], True)]
    assert res["batches"][0]["restart"] == ["c"] and res["capacity_min"] == 2 and res["spares"] == ["c"]


def test_a_current_spare_only_joins():
    in_router = dict(ALL, c=False)
    only3 = {"groups": dict((g, PLAN["groups"][g]) for g in ("a", "b", "c"))}
    res = plan_rollout(
        only3, dict(a=True, b=True, c=False), dict.fromkeys("abc", True), in_router, min_serving=2, spares=["c"]
    )
    assert groups_of(res) == [(["c"], False), (["a"], True), (["b"], True)]
    assert res["batches"][0]["restart"] == [] and "c" not in res["skipped"]


def test_unknown_spare_is_named():
    with pytest.raises(RolloutError) as err:
        plan_rollout(PLAN, ALL, ALL, ALL, spares=["zz"])
    assert "zz" in str(err.value) and "the plan has a, b, c, d" in str(err.value)


def test_default_drain_outlasts_a_664_s_reasoning_request():
    # 8,192 max tokens at ~5 tok/s: the published single-group table's long requests (664 s)
    res = drain_timeout("r1_a", ["python3", "-m", "sglang.launch_server"])
    assert res["timeout_s"] >= 8192 / 5.0 > 664
    assert "8192 tokens" in res["basis"] and "5 tok/s" in res["basis"]


def test_drain_sized_from_the_groups_context_length_and_decode_speed():
    argv = ["x", "--context-length", "4096"]
    assert drain_timeout("g", argv)["timeout_s"] == int(4096 / 5.0 * 1.2 + 60) + 1
    assert "--context-length" in drain_timeout("g", argv)["basis"]
    assert drain_timeout("g", argv, max_tokens=32768, decode_tok_s=20)["timeout_s"] == 306
    assert drain_timeout("g", ["x", "--context-length=2000"], max_tokens=32768, decode_tok_s=20)["timeout_s"] == 180
    assert drain_timeout("g", [], timeout=900) == {"timeout_s": 900, "basis": "sglang_rollout_drain_timeout=900"}


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"timeout": "soon"}, "sglang_rollout_drain_timeout='soon' is not a number"),
        ({"timeout": -1}, "sglang_rollout_drain_timeout=-1 must be above 0"),
        ({"decode_tok_s": 0}, "sglang_rollout_decode_tok_s=0 must be above 0"),
        ({"max_tokens": True}, "sglang_rollout_max_tokens=True is not a number"),
    ],
)
def test_drain_bad_input_names_group_and_variable(kwargs, words):
    with pytest.raises(RolloutError) as err:
        drain_timeout("r1_b", [], **kwargs)
    assert str(err.value).startswith("group r1_b: ") and words in str(err.value)


def test_estimate_uses_observed_start_times_then_the_assumption():
    batches = [
        {"groups": ["a", "b"], "restart": ["a"]},
        {"groups": ["c"], "restart": ["c"]},
        {"groups": ["d"], "restart": ["d"]},
    ]
    res = estimate(batches, {"a": 30.0, "c": 300, "d": True}, 600, overhead_s=10)
    assert res["batches_s"] == [40.0, 310.0, 610.0] and res["total_s"] == 960.0 and res["observed"] == ["a", "c"]
    with pytest.raises(RolloutError):
        estimate(batches, {}, "a while")


def test_progress_scales_the_remaining_estimate_by_what_was_observed():
    assert progress(0, [100, 100, 100], 0) == {"done": 0, "total": 3, "elapsed_s": 0.0, "remaining_s": 300.0}
    # the first batch took twice its estimate: the rest is expected to as well
    assert progress(1, [100, 100, 100], 200)["remaining_s"] == 400.0
    assert fmt_duration(42) == "42s" and fmt_duration(754) == "12m34s" and fmt_duration(3725) == "1h02m05s"


def test_drain_failure_names_what_was_in_flight_and_what_to_set():
    from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_rollout import drain_failure

    msg = drain_failure("at the gateway http://a1:30000: 3 active", 2027, "8192 tokens (default) at 5 tok/s", "r1_a")
    assert msg.startswith("group r1_a: still in flight after 2027s: at the gateway http://a1:30000: 3 active")
    assert "sglang_rollout_drain_timeout" in msg and "8192 tokens (default) at 5 tok/s" in msg
    assert "re-run the rollout to resume" in msg


def test_spares_join_only_when_a_serving_group_leaves():
    only3 = {"groups": dict((g, PLAN["groups"][g]) for g in ("a", "b", "c"))}
    in_router = dict(ALL, c=False)
    # nothing to roll: a current spare is left alone (idempotent converge)
    res = plan_rollout(only3, dict.fromkeys("abc", False), dict.fromkeys("abc", True), in_router, spares=["c"])
    assert res["batches"] == []
    # a spare with a change but no serving group to roll restarts and stays out of the routers
    res = plan_rollout(only3, dict(a=False, b=False, c=True), dict.fromkeys("abc", True), in_router, spares=["c"])
    assert groups_of(res) == [(["c"], False)] and res["batches"][0]["join"] == []
    res = plan_rollout(only3, dict.fromkeys("abc", True), dict.fromkeys("abc", True), in_router, spares=["c"])
    assert res["batches"][0]["join"] == ["http://c-1:30000"]


def test_plan_node_is_the_one_planned_host_check():
    from ansible.errors import AnsibleFilterError

    from ansible_collections.gpufleet.sglang.plugins.filter.sglang_filters import sglang_plan_node

    plan = {"hosts": {"gpu-a1": {"group": "r1_a"}}}
    assert sglang_plan_node(plan, "gpu-a1") == {"group": "r1_a"}
    for bad_plan in (None, {}, plan):
        with pytest.raises(AnsibleFilterError) as err:
            sglang_plan_node(bad_plan, "gpu-zz")
        assert str(err.value).startswith("gpu-zz has no plan: run the role after playbooks/plan.yml")
        assert "child group of sglang_model_groups" in str(err.value)
