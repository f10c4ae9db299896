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


@pytest.mark.parametrize(
    "seed_count, fanout, max_parallel, sizes",
    [
        (2, 1, 8, [2, 2, 4]),
        (1, 2, 8, [1, 2, 5]),
        (1, 1, 2, [1, 1, 2, 2, 2]),
        (1, 3, 8, [1, 3, 4]),
    ],
)
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


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"seed_count": 0}, "model_sync_seed_count"),
        ({"peer_fanout": 0}, "model_sync_peer_fanout"),
        ({"max_parallel": True}, "model_sync_max_parallel"),
    ],
)
def test_bad_settings_name_the_variable(kwargs, message):
    with pytest.raises(FanoutError, match=message):
        plan(NODES, [], **kwargs)


def test_duplicate_hosts_are_refused():
    with pytest.raises(FanoutError, match="listed twice"):
        plan(["a", "a"], [])


# ------------------------------------------------------------ the pipeline (issue 19)
from ansible_collections.gpufleet.sglang.plugins.module_utils.model_fanout import pipeline  # noqa: E402


def test_pipeline_is_the_wave_tree_with_every_copy_at_once():
    waves = plan(NODES, [], seed_count=1, peer_fanout=1, max_parallel=8)
    piped = pipeline(NODES, [], seed_count=1, peer_fanout=1, max_parallel=8)
    assert piped["copies"] == dict(
        (c["dest"], dict(piped["copies"][c["dest"]], src=c["src"])) for w in waves["waves"] for c in w
    )
    assert piped["seeds"] == ["n1"] and piped["source_copies"] == 1
    # n1 from the source (level 1); the waves' log2(8) = 3 levels of peers behind it
    assert piped["copies"]["n1"] == {"src": SOURCE, "src_complete": True, "level": 1}
    assert piped["depth"] == 4
    for _dest, copy in piped["copies"].items():
        if copy["src"] != SOURCE:
            assert copy["src_complete"] is False
            assert copy["level"] == piped["copies"][copy["src"]]["level"] + 1


def test_pipeline_from_holders_only():
    piped = pipeline(NODES, ["n3"], from_source=False)
    assert piped["seeds"] == [] and piped["source_copies"] == 0
    assert set(piped["copies"]) == set(NODES) - {"n3"}
    assert piped["copies"]["n1"] == {"src": "n3", "src_complete": True, "level": 1}
    assert piped["depth"] == 3


def test_pipeline_without_source_leaves_holderless_sites_out():
    sites = dict((n, "a" if n in ("n1", "n2") else "b") for n in NODES)
    piped = pipeline(NODES, ["n1"], sites=sites, from_source=False)
    assert set(piped["copies"]) == {"n2"} and piped["unreachable"] == NODES[2:]
    with_source = pipeline(NODES, ["n1"], sites=sites)
    assert with_source["seeds"] == ["n3"] and set(with_source["copies"]) == set(NODES) - {"n1"}
    assert all(c["src"] in ("n1", "n2") for d, c in with_source["copies"].items() if sites[d] == "a")
