from __future__ import annotations

import hashlib
import json
import os
import shutil

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import model_manifest as mm

# A small model tree: what a hub download of a safetensors checkpoint looks like.
FILES = {
    "config.json": b'{"architectures": ["DeepseekV3ForCausalLM"]}\n',
    "model-00001-of-00002.safetensors": os.urandom(4096) + b"A" * 3000,
    "model-00002-of-00002.safetensors": b"B" * 5000,
    "tokenizer/tokenizer.json": b'{"version": "1.0"}',
    "empty.txt": b"",
}


def make_tree(root, files=None):
    for rel, data in (files or FILES).items():
        full = root / rel
        full.parent.mkdir(parents=True, exist_ok=True)
        full.write_bytes(data)
    return root


@pytest.fixture
def tree(tmp_path):
    return make_tree(tmp_path / "model")


def counting_hasher(calls):
    def hasher(path):
        calls.append(path)
        return mm.sha256_file(path)

    return hasher


# ------------------------------------------------------------------ manifests


def test_manifest_lists_every_file_with_size_and_sha256(tree):
    (tree / ".cache" / "huggingface").mkdir(parents=True)
    (tree / ".cache" / "huggingface" / "x.metadata").write_text("resume state")
    manifest, _cache, stats = mm.scan(str(tree))
    assert [f["path"] for f in manifest["files"]] == sorted(FILES)
    by_path = dict((f["path"], f) for f in manifest["files"])
    for rel, data in FILES.items():
        assert by_path[rel]["size"] == len(data)
        assert by_path[rel]["sha256"] == hashlib.sha256(data).hexdigest()
    assert manifest["bytes"] == sum(len(d) for d in FILES.values())
    assert manifest["count"] == len(FILES)
    assert stats["hashed_files"] == len(FILES)


def test_digest_depends_on_content_not_on_place_time_or_metadata(tmp_path, tree):
    other = make_tree(tmp_path / "elsewhere")
    os.utime(other / "config.json", (1, 1))
    a = mm.scan(str(tree), name="r1", revision="abc")[0]
    b = mm.scan(str(other))[0]
    assert a["digest"] == b["digest"]
    assert mm.dumps(mm.make_manifest(a["files"])) == mm.dumps(b)
    (other / "config.json").write_bytes(b"{}")
    assert mm.scan(str(other))[0]["digest"] != a["digest"]


def test_dumps_is_deterministic_and_loads_round_trips(tree):
    manifest = mm.scan(str(tree), name="m", revision="r1")[0]
    text = mm.dumps(manifest)
    assert text == mm.dumps(json.loads(text))
    assert mm.loads(text) == manifest
    assert text.endswith("\n") and text.count("\n") == (len(manifest) - 1) + len(manifest["files"]) + 4


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda m: m["files"][0].update(size=m["files"][0]["size"] + 1), "does not match its file list"),
        (lambda m: m["files"][0].update(path="../etc/passwd"), "must be relative"),
        (lambda m: m["files"][0].update(path="/abs"), "must be relative"),
        (lambda m: m["files"][0].update(sha256="XYZ"), "64 lowercase hex"),
        (lambda m: m["files"][0].update(size=-1), "byte count"),
        (lambda m: m["files"].append(dict(m["files"][0])), "listed twice"),
        (lambda m: m.update(version=9), "version 9"),
        (lambda m: m.pop("files"), "no 'files' list"),
    ],
)
def test_loads_refuses_bad_manifests(tree, mutate, message):
    manifest = json.loads(mm.dumps(mm.scan(str(tree))[0]))
    mutate(manifest)
    with pytest.raises(mm.ManifestError, match=message):
        mm.loads(json.dumps(manifest), "m.json")


def test_loads_refuses_non_json():
    with pytest.raises(mm.ManifestError, match="m.json is not JSON"):
        mm.loads("{nope", "m.json")


# ------------------------------------------------------------------ verify


@pytest.mark.parametrize(
    "damage, kind, path",
    [
        (lambda t: (t / "config.json").unlink(), "missing", "config.json"),
        (
            lambda t: (t / "model-00002-of-00002.safetensors").write_bytes(b"B" * 100),
            "size",
            "model-00002-of-00002.safetensors",
        ),
        (
            lambda t: (t / "model-00002-of-00002.safetensors").write_bytes(b"C" * 5000),
            "hash",
            "model-00002-of-00002.safetensors",
        ),
        (lambda t: (t / "stray.bin").write_bytes(b"x"), "extra", "stray.bin"),
    ],
)
def test_verify_names_each_kind_of_problem(tree, damage, kind, path):
    manifest = mm.scan(str(tree))[0]
    assert mm.verify(str(tree), manifest)["ok"]
    damage(tree)
    result = mm.verify(str(tree), manifest)
    assert not result["ok"]
    assert [(p["kind"], p["path"]) for p in result["problems"]] == [(kind, path)]
    assert path in mm.summarize(result["problems"])


def test_verify_of_a_missing_directory_lists_every_file_missing(tmp_path, tree):
    manifest = mm.scan(str(tree))[0]
    result = mm.verify(str(tmp_path / "nothing"), manifest)
    assert {p["kind"] for p in result["problems"]} == {"missing"}
    assert len(result["problems"]) == len(FILES) and result["present_bytes"] == 0


def test_size_mismatch_is_not_hashed_and_counts_present_bytes(tree):
    manifest = mm.scan(str(tree))[0]
    (tree / "model-00002-of-00002.safetensors").write_bytes(b"B" * 1000)  # an interrupted copy
    calls = []
    result = mm.verify(str(tree), manifest, hasher=counting_hasher(calls))
    assert not any(c.endswith("model-00002-of-00002.safetensors") for c in calls)
    assert result["present_bytes"] == manifest["bytes"] - 4000


def test_cache_skips_unchanged_files_and_catches_a_changed_mtime(tree):
    manifest, cache, _stats = mm.scan(str(tree))
    calls = []
    result = mm.verify(str(tree), manifest, cache=cache, hasher=counting_hasher(calls))
    assert result["ok"] and calls == [] and result["stats"]["reused_files"] == len(FILES)
    # corruption in place (same size) changes the mtime: found without full
    target = tree / "model-00001-of-00002.safetensors"
    with open(str(target), "r+b") as handle:
        handle.seek(10)
        handle.write(b"\xff\xfe")
    result = mm.verify(str(tree), manifest, cache=result["new_cache"], hasher=counting_hasher(calls))
    assert [p["kind"] for p in result["problems"]] == ["hash"]
    assert len(calls) == 1


def test_corruption_with_the_mtime_put_back_is_caught_by_the_ctime(tree):
    manifest, cache, _stats = mm.scan(str(tree))
    target = tree / "model-00002-of-00002.safetensors"
    st = target.stat()
    target.write_bytes(b"b" * 5000)
    os.utime(str(target), ns=(st.st_atime_ns, st.st_mtime_ns))
    assert target.stat().st_mtime_ns == st.st_mtime_ns and target.stat().st_size == st.st_size
    assert [p["kind"] for p in mm.verify(str(tree), manifest, cache=cache)["problems"]] == ["hash"]
    assert [p["kind"] for p in mm.verify(str(tree), manifest, cache=cache, full=True)["problems"]] == ["hash"]


def test_a_stale_cache_entry_is_not_trusted_for_a_new_file(tree):
    """A refetched file with the same size and mtime (rsync -a) is a new inode: hashed again."""
    manifest, cache, _stats = mm.scan(str(tree))
    target = tree / "model-00002-of-00002.safetensors"
    st = target.stat()
    good = target.read_bytes()
    target.unlink()
    target.write_bytes(good)
    os.utime(str(target), ns=(st.st_atime_ns, st.st_mtime_ns))
    calls = []
    result = mm.verify(str(tree), manifest, cache=cache, hasher=counting_hasher(calls))
    assert result["ok"] and [os.path.basename(c) for c in calls] == ["model-00002-of-00002.safetensors"]


def test_full_hashes_everything(tree):
    manifest, cache, _stats = mm.scan(str(tree))
    calls = []
    assert mm.verify(str(tree), manifest, cache=cache, full=True, hasher=counting_hasher(calls))["ok"]
    assert len(calls) == len(FILES)


def test_cache_text_that_is_not_a_cache_is_empty():
    assert mm.loads_cache("garbage") == mm.empty_cache()
    assert mm.loads_cache('{"version": 7, "files": {}}') == mm.empty_cache()


def test_repair_removes_bad_and_extra_files_only(tree):
    manifest = mm.scan(str(tree))[0]
    (tree / "config.json").unlink()
    (tree / "model-00002-of-00002.safetensors").write_bytes(b"C" * 5000)
    (tree / "stray.bin").write_bytes(b"x")
    problems = mm.verify(str(tree), manifest)["problems"]
    removed = mm.repair(str(tree), problems)
    assert sorted(removed) == ["model-00002-of-00002.safetensors", "stray.bin"]
    assert (tree / "model-00001-of-00002.safetensors").exists()
    with pytest.raises(mm.ManifestError, match="must be relative"):
        mm.repair(str(tree), [mm.problem("hash", "../x", "bad")])


# ------------------------------------------------------------------ disk


@pytest.mark.parametrize(
    "total, present, free, pct, extra_margin, ok, shortfall",
    [
        (1000, 0, 2000, 5, 0, True, 0),
        (1000, 0, 1049, 5, 0, False, 1),
        (1000, 600, 500, 5, 0, True, 0),  # resume: only the rest counts
        (1000, 1000, 0, 5, 100, True, 0),  # complete: nothing needed
        (1000, 0, 1100, 0, 200, False, 100),
    ],
)
def test_disk_check(total, present, free, pct, extra_margin, ok, shortfall):
    result = mm.disk_check("gpu-a1", "/models/r1", total, present, free, pct, extra_margin)
    assert result["ok"] is ok and result["shortfall"] == shortfall


def test_disk_message_names_host_path_and_shortfall():
    gib = 1024**3
    result = mm.disk_check("gpu-a1", "/models/r1", 642 * gib, 0, 100 * gib, 5, 0)
    assert not result["ok"]
    for part in ("host gpu-a1", "/models/r1", "100.0 GiB free", "short by 574.1 GiB", "model_sync_root"):
        assert part in result["msg"]


def test_free_bytes_looks_at_the_nearest_existing_parent(tmp_path):
    seen = []

    class Vfs(object):
        f_bavail = 10
        f_frsize = 4096

    def statvfs(path):
        seen.append(path)
        return Vfs()

    free, probe = mm.free_bytes(str(tmp_path / "a" / "b" / "c"), statvfs)
    assert free == 40960 and probe == str(tmp_path) and seen == [str(tmp_path)]


def test_space_state_on_a_real_filesystem(tmp_path, tree):
    manifest_path = tmp_path / "m.json"
    manifest_path.write_text(mm.dumps(mm.scan(str(tree))[0]))
    params = {
        "path": str(tmp_path / "models"),
        "manifest": str(manifest_path),
        "host": "h1",
        "present_paths": [str(tree)],
        "margin_pct": 5.0,
        "margin_bytes": 0,
        "extra_bytes": 0,
    }
    result = mm.run_space(params)
    assert result["ok"] and result["present_bytes"] == result["bytes"] and result["needed"] == 0
    params.update(present_paths=[], margin_bytes=1 << 60)
    result = mm.run_space(params)
    assert result["failed"] and "host h1" in result["msg"] and result["shortfall"] > 0


def test_space_without_a_size_is_a_clear_error(tmp_path):
    with pytest.raises(mm.ManifestError, match="model_sync_size_bytes"):
        mm.run_space({"path": str(tmp_path), "manifest": None, "total_bytes": 0})


# ------------------------------------------------------------------ module runners


def test_create_then_verify_with_repair_and_check_mode(tmp_path, tree):
    dest = tmp_path / "manifests" / "r1.json"
    cache = tmp_path / "manifests" / "r1.cache.json"
    params = {"path": str(tree), "dest": str(dest), "cache": str(cache), "full": False, "name": "m", "revision": "r1"}
    assert mm.run_create(params, check_mode=True)["changed"] and not dest.exists()
    first = mm.run_create(params)
    assert first["changed"] and dest.exists() and cache.exists()
    second = mm.run_create(params)
    assert not second["changed"] and second["stats"]["reused_files"] == len(FILES)
    (tree / "stray.bin").write_bytes(b"x")
    vparams = {"path": str(tree), "manifest": str(dest), "cache": str(cache), "repair": True, "fail_on_problems": False}
    checked = mm.run_verify(vparams, check_mode=True)
    assert checked["removed"] == ["stray.bin"] and (tree / "stray.bin").exists()
    fixed = mm.run_verify(vparams)
    assert fixed["changed"] and not (tree / "stray.bin").exists() and not fixed.get("failed")
    assert mm.run_verify(dict(vparams, repair=False, fail_on_problems=True))["ok"]


# ------------------------------------------------------------------ switch


def staged(tmp_path, rev="r1"):
    base = tmp_path / "m"
    stage = make_tree(base / "staging" / rev)
    (base / "manifests").mkdir(parents=True, exist_ok=True)
    (base / "manifests" / (rev + ".json")).write_text(mm.dumps(mm.scan(str(stage))[0]))
    return base


def test_switch_promotes_a_verified_staging_copy_and_is_idempotent(tmp_path):
    base = staged(tmp_path)
    params = {"path": str(base), "revision": "r1", "keep": 2}
    dry = mm.run_switch(params, check_mode=True)
    assert dry["changed"] and dry["promoted"] and not (base / "current").exists()
    result = mm.run_switch(params)
    assert result["promoted"] and result["switched"]
    assert os.readlink(str(base / "current")) == "revisions/r1"
    assert (base / "current" / "config.json").read_bytes() == FILES["config.json"]
    assert not (base / "staging" / "r1").exists()
    again = mm.run_switch(params)
    assert not again["changed"] and again["problems"] == []


def test_switch_refuses_a_copy_that_does_not_match(tmp_path):
    base = staged(tmp_path)
    mm.run_switch({"path": str(base), "revision": "r1", "keep": 2})
    stage2 = make_tree(base / "staging" / "r2")
    (base / "manifests" / "r2.json").write_text(mm.dumps(mm.scan(str(stage2))[0]))
    (stage2 / "config.json").write_bytes(b"{broken")
    result = mm.run_switch({"path": str(base), "revision": "r2", "keep": 2})
    assert result["failed"] and "not switching" in result["msg"] and "config.json" in result["msg"]
    assert os.readlink(str(base / "current")) == "revisions/r1"
    assert not (base / "revisions" / "r2").exists()


def test_switch_keeps_target_and_previous_and_prunes_the_rest(tmp_path):
    base = tmp_path / "m"
    for i, rev in enumerate(["r1", "r2", "r3"]):
        stage = make_tree(base / "staging" / rev, {"w.bin": rev.encode() * 10})
        (base / "manifests").mkdir(parents=True, exist_ok=True)
        (base / "manifests" / (rev + ".json")).write_text(mm.dumps(mm.scan(str(stage))[0]))
        result = mm.run_switch({"path": str(base), "revision": rev, "keep": 2})
        os.utime(str(base / "revisions" / rev), (1000 + i, 1000 + i))
    assert result["pruned"] == ["r1"]
    assert sorted(os.listdir(str(base / "revisions"))) == ["r2", "r3"]
    assert not (base / "manifests" / "r1.json").exists()


def test_switch_refuses_a_directory_where_the_link_goes(tmp_path):
    base = staged(tmp_path)
    (base / "current").mkdir()
    with pytest.raises(mm.ManifestError, match="not a symlink"):
        mm.run_switch({"path": str(base), "revision": "r1", "keep": 2})


def test_switch_without_any_copy_says_fetch_first(tmp_path):
    base = staged(tmp_path)
    shutil.rmtree(str(base / "staging" / "r1"))
    with pytest.raises(mm.ManifestError, match="fetch the model first"):
        mm.run_switch({"path": str(base), "revision": "r1"})


def test_switch_link_is_atomic_rename(tmp_path):
    link = str(tmp_path / "current")
    calls = []

    def replace(src, dst):
        calls.append((os.path.basename(src), os.path.basename(dst)))
        os.replace(src, dst)

    assert mm.switch_link(link, "revisions/a", replace=replace) == (True, None)
    assert mm.switch_link(link, "revisions/b", replace=replace) == (True, "revisions/a")
    assert mm.switch_link(link, "revisions/b", replace=replace) == (False, "revisions/b")
    assert [c[1] for c in calls] == ["current", "current"] and all(".tmp-" in c[0] for c in calls)


@pytest.mark.parametrize(
    "revisions, keep, protect, pruned",
    [
        ([("a", 1), ("b", 2), ("c", 3)], 2, ["c"], ["a"]),
        ([("a", 1), ("b", 2), ("c", 3)], 2, ["c", "a"], ["b"]),
        ([("a", 1), ("b", 2), ("c", 3)], 0, ["c"], []),
        ([("a", 1), ("b", 2), ("c", 3)], 1, ["c", "b"], ["a"]),
        ([("a", 1)], 2, ["a"], []),
    ],
)
def test_revisions_to_prune(revisions, keep, protect, pruned):
    assert mm.revisions_to_prune(revisions, keep, protect) == pruned


@pytest.mark.parametrize(
    "value, ok",
    [
        ("56d4cbbb4d29f4355bab4b9a39ccb717a14ad5ad", True),
        ("v1.0", True),
        ("main", True),
        ("../x", False),
        ("a/b", False),
        ("", False),
        (".hidden", False),
        ("a b", False),
    ],
)
def test_check_name(value, ok):
    if ok:
        assert mm.check_name(value, "revision") == value
    else:
        with pytest.raises(mm.ManifestError, match="revision"):
            mm.check_name(value, "revision")


@pytest.mark.parametrize("num, text", [(0, "0 B"), (1536, "1.5 KiB"), (642 * 10**9, "597.9 GiB")])
def test_human_bytes(num, text):
    assert mm.human_bytes(num) == text
