from __future__ import annotations

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_fanout import (
    SOURCE,
    FanoutError,
    choose_seeds,
    next_wave,
    plan,
)

NODES = ["n%d" % i for i in range(1, 9)]


def simulate(result, holders=()):
    """Replay a plan: every copy's source must hold a verified copy when its wave starts."""
    have = set(holders)
    per_wave_src = []
    for wave in result["waves"]:
        srcs = [c["src"] for c in wave]
        for copy in wave:
            assert copy["src"] == SOURCE or copy["src"] in have, copy
            assert copy["dest"] not in have
        per_wave_src.append(srcs)
        have.update(c["dest"] for c in wave)
    return have, per_wave_src


def test_eight_nodes_one_seed_double_each_wave():
    result = plan(NODES, [], seed_count=1, peer_fanout=1, max_parallel=8)
    assert result["seeds"] == ["n1"] and result["source_copies"] == 1
    assert [len(w) for w in result["waves"]] == [1, 1, 2, 4]
    have, _srcs = simulate(result)
    assert have == set(NODES) and result["unreachable"] == []


@pytest.mark.parametrize("seed_count, fanout, max_parallel, sizes", [
    (2, 1, 8, [2, 2, 4]),
    (1, 2, 8, [1, 2, 5]),
    (1, 1, 2, [1, 1, 2, 2, 2]),
    (1, 3, 8, [1, 3, 4]),
])
def test_wave_shapes(seed_count, fanout, max_parallel, sizes):
    result = plan(NODES, [], seed_count=seed_count, peer_fanout=fanout, max_parallel=max_parallel)
    assert [len(w) for w in result["waves"]] == sizes
    have, srcs = simulate(result)
    assert have == set(NODES)
    for wave_srcs in srcs[1:]:
        assert max(wave_srcs.count(s) for s in set(wave_srcs)) <= fanout
        assert len(wave_srcs) <= max_parallel


def test_source_is_not_touched_when_a_verified_copy_exists():
    result = plan(NODES, ["n5"], seed_count=1)
    assert result["seeds"] == [] and result["source_copies"] == 0
    assert all(c["src"] != SOURCE for w in result["waves"] for c in w)
    assert result["waves"][0] == [{"dest": "n1", "src": "n5"}]


def test_everyone_holds_means_nothing_to_do():
    assert plan(NODES, NODES) == {"seeds": [], "waves": [], "unreachable": [], "source_copies": 0}


def test_sites_seed_separately_and_never_copy_across():
    sites = dict((h, "east" if h in ("n1", "n2", "n3", "n4") else "west") for h in NODES)
    result = plan(NODES, ["n6"], seed_count=1, sites=sites)
    assert result["seeds"] == ["n1"]
    for wave in result["waves"]:
        for copy in wave:
            if copy["src"] != SOURCE:
                assert sites[copy["src"]] == sites[copy["dest"]]
    assert simulate(result, ["n6"])[0] == set(NODES)


def test_preferred_seeds_come_first():
    assert choose_seeds(NODES, [], 2, preferred=["n7", "nX"]) == ["n7", "n1"]


def test_next_wave_skips_busy_hosts_and_spreads_load():
    wave = next_wave(NODES, ["n1", "n2"], peer_fanout=2, max_parallel=8, busy=["n3"])
    assert "n3" not in wave
    assert sorted(wave.values()) == ["n1", "n1", "n2", "n2"]
    assert list(wave) == ["n4", "n5", "n6", "n7"]


def test_a_failed_holder_is_simply_not_used():
    # n2 failed its copy: it is no holder, so the next wave serves it from n1 again
    assert next_wave(["n1", "n2", "n3"], ["n1"], peer_fanout=1) == {"n2": "n1"}


@pytest.mark.parametrize("kwargs, message", [
    ({"seed_count": 0}, "model_sync_seed_count"),
    ({"peer_fanout": 0}, "model_sync_peer_fanout"),
    ({"max_parallel": True}, "model_sync_max_parallel"),
])
def test_bad_settings_name_the_variable(kwargs, message):
    with pytest.raises(FanoutError, match=message):
        plan(NODES, [], **kwargs)


def test_duplicate_hosts_are_refused():
    with pytest.raises(FanoutError, match="listed twice"):
        plan(["a", "a"], [])
