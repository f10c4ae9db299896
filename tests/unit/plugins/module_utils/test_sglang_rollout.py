from __future__ import annotations

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_rollout import RolloutError, plan_rollout

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
    res = plan_rollout(PLAN, changed, ready, dict(ALL, d=False), batch_size=2, min_serving=0)
    assert groups_of(res) == [(["c", "d"], False), (["a", "b"], True)]
    # only a and b serve: with the default floor of 1 they go one at a time
    res = plan_rollout(PLAN, changed, ready, dict(ALL, d=False), batch_size=2)
    assert groups_of(res) == [(["c", "d"], False), (["a"], True), (["b"], True)]


def test_resume_restarts_only_what_is_left():
    # a and b were rolled already (unchanged, ready); c failed (not ready); d still has the old config
    res = plan_rollout(PLAN, dict(NONE, d=True), dict(ALL, c=False), dict(ALL, c=False))
    assert groups_of(res) == [(["c"], False), (["d"], True)]


def test_min_serving_caps_the_batch():
    res = plan_rollout(PLAN, ALL, ALL, ALL, batch_size=4, min_serving=2)
    assert groups_of(res) == [(["a", "b"], True), (["c", "d"], True)]


def test_min_serving_refuses_when_nothing_could_roll():
    one = {"groups": {"a": {"url": "http://a:1"}}}
    with pytest.raises(RolloutError) as err:
        plan_rollout(one, {"a": True}, {"a": True}, None)
    assert "would leave fewer than 1 group(s) serving" in str(err.value)
    assert "sglang_rollout_min_serving: 0" in str(err.value)
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
    plan = {"groups": {"a": {"head": "a1", "url": "http://a1:1", "nodes": [{"host": "a1"}, {"host": "a2"}]},
                       "b": {"head": "b1", "url": "http://b1:1", "nodes": [{"host": "b1"}, {"host": "b2"}]}}}
    hv = {"a1": {"c": False, "p": {"ready": True}}, "a2": {"c": True}, "b1": {"c": False, "p": {"ready": False}},
          "b2": {}}
    assert by_group(plan, hv, "c") == {"a": True, "b": False}
    assert by_group(plan, hv, "c", default=True) == {"a": True, "b": True}
    assert by_group(plan, hv, "p.ready", "head") == {"a": True, "b": False}
    assert router_membership(plan, []) is None
    assert router_membership(plan, [["http://a1:1/"], ["http://a1:1", "http://b1:1"]]) == {"a": True, "b": False}
