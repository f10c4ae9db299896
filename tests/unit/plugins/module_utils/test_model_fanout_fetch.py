"""The pipelined follower (issue 19): a file moves as soon as the parent holds it verified."""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import model_fanout_fetch as ff
from ansible_collections.gpufleet.sglang.plugins.module_utils import model_manifest as mm

TOKEN = "run-1"


def make_source(root, sizes=(3000, 5000, 7000)):
    os.makedirs(root, exist_ok=True)
    files = []
    for i, size in enumerate(sizes):
        data = os.urandom(size)
        rel = "model-%05d.safetensors" % (i + 1)
        with open(os.path.join(root, rel), "wb") as handle:
            handle.write(data)
        files.append({"path": rel, "size": size, "sha256": hashlib.sha256(data).hexdigest()})
    return mm.make_manifest(files, "m", "r1")


class Parent(object):
    """A parent that publishes one more file each time it is looked at."""

    def __init__(self, manifest, final="done", reason=""):
        self.paths = [f["path"] for f in manifest["files"]]
        self.shown = 0
        self.looks = 0
        self.final = final
        self.reason = reason

    def __call__(self):
        self.looks += 1
        self.shown = min(self.shown + 1, len(self.paths))
        state = self.final if self.shown == len(self.paths) else "running"
        return state, set(self.paths[: self.shown]), self.reason


def follower(tmp_path, manifest, parent, fetch=None, **kwargs):
    src = str(tmp_path / "src")
    dest = str(tmp_path / "dest")
    os.makedirs(dest, exist_ok=True)
    log = {"fetched": [], "published": []}

    def copy(rel):
        log["fetched"].append((rel, sorted(parent.paths[: parent.shown]) if parent else None))
        shutil.copyfile(os.path.join(src, rel), os.path.join(dest, rel))
        return ""

    def publish(state, paths, reason):
        log["published"].append((state, list(paths), reason))

    kwargs.setdefault("sleep", lambda s: None)
    return ff.Follower(dest, manifest, fetch or copy, parent, publish, **kwargs), log, dest


def test_each_file_is_fetched_only_once_the_parent_holds_it(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    parent = Parent(manifest)
    fol, log, dest = follower(tmp_path, manifest, parent)
    stats = fol.run()
    for rel, parent_had in log["fetched"]:
        assert rel in parent_had
    assert [r for r, _had in log["fetched"]] == [f["path"] for f in manifest["files"]]
    assert log["published"][0] == ("running", [], "")
    assert log["published"][-1] == ("done", [f["path"] for f in manifest["files"]], "")
    assert stats["fetched_files"] == 3 and stats["refetched_files"] == 0
    assert mm.verify(dest, manifest)["ok"]


def test_files_verified_out_of_order_are_published_in_the_manifests_order(tmp_path):
    # Verification threads can finish out of order (seen once as [1, 3, 2] in the test above).
    manifest = make_source(str(tmp_path / "src"))
    fol, log, _dest = follower(tmp_path, manifest, None, src_complete=True)
    paths = [f["path"] for f in manifest["files"]]
    for rel in (paths[2], paths[0], paths[1]):
        fol._publish("running", verified=rel)
    assert [p for _s, p, _r in log["published"]] == [[paths[2]], [paths[0], paths[2]], paths]


def test_published_files_are_verified_and_published_in_growing_order(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    fol, log, _dest = follower(tmp_path, manifest, None, src_complete=True)
    fol.run()
    running = [p for s, p, _r in log["published"] if s == "running"]
    assert all(len(a) <= len(b) for a, b in zip(running, running[1:]))


def test_a_verified_file_is_published_while_the_next_one_is_still_fetched(tmp_path):
    # The children of this host take a file as soon as it is published: holding it back until
    # the next fetch returns costs one file's transfer per level of the pipeline.
    manifest = make_source(str(tmp_path / "src"))
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    published_before_fetch_ended = {}
    log_ref = {}

    def slow(rel):
        shutil.copyfile(os.path.join(src, rel), os.path.join(dest, rel))
        index = [f["path"] for f in manifest["files"]].index(rel)
        if index > 0:
            previous = manifest["files"][index - 1]["path"]
            seen = False
            for _attempt in range(200):  # up to 2 s while "transferring" this file
                seen = any(previous in paths for _s, paths, _r in log_ref["log"]["published"])
                if seen:
                    break
                time.sleep(0.01)
            published_before_fetch_ended[previous] = seen
        return ""

    fol, log, _dest = follower(tmp_path, manifest, None, fetch=slow, src_complete=True)
    log_ref["log"] = log
    fol.run()
    assert published_before_fetch_ended == {f["path"]: True for f in manifest["files"][:-1]}
    assert log["published"][-1] == ("done", [f["path"] for f in manifest["files"]], "")


def test_a_corrupt_copy_is_deleted_and_fetched_again(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    src, dest = str(tmp_path / "src"), str(tmp_path / "dest")
    calls = []

    def flaky(rel):
        calls.append(rel)
        shutil.copyfile(os.path.join(src, rel), os.path.join(dest, rel))
        if calls.count(rel) == 1 and rel.endswith("00002.safetensors"):
            with open(os.path.join(dest, rel), "r+b") as handle:
                handle.write(b"\0" * 16)
        return ""

    fol, log, dest = follower(tmp_path, manifest, None, fetch=flaky, src_complete=True)
    stats = fol.run()
    assert calls.count("model-00002.safetensors") == 2 and stats["refetched_files"] == 1
    assert mm.verify(dest, manifest)["ok"]
    assert log["published"][-1][0] == "done"


def test_a_copy_that_never_verifies_fails_and_says_so(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    dest = str(tmp_path / "dest")

    def bad(rel):
        with open(os.path.join(dest, rel), "wb") as handle:
            handle.write(b"x" * [f["size"] for f in manifest["files"] if f["path"] == rel][0])
        return ""

    fol, log, _dest = follower(tmp_path, manifest, None, fetch=bad, src_complete=True, attempts=2)
    with pytest.raises(ff.FollowError, match=r"model-0000\d.safetensors: sha256 .* after 2 attempts"):
        fol.run()
    assert log["published"][-1][0] == "failed"
    assert "corrupted" in log["published"][-1][2]


def test_a_failed_transfer_is_retried_then_reported(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    fol, _log, _dest = follower(
        tmp_path, manifest, None, fetch=lambda rel: "rsync exited 12: broken pipe", src_complete=True, attempts=3
    )
    with pytest.raises(ff.FollowError, match="rsync exited 12: broken pipe after 3 attempts"):
        fol.run()


def test_a_failed_parent_ends_the_follow(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    parent = Parent(manifest, final="failed", reason="disk full")
    parent.paths = parent.paths[:1] + ["other"]  # the parent fails after one file
    fol, _log, _dest = follower(tmp_path, manifest, parent)
    with pytest.raises(ff.FollowError, match="the parent failed: disk full"):
        fol.run()


def test_a_parent_that_finishes_without_a_file_ends_the_follow(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    parent = Parent(manifest)
    parent.paths = parent.paths[:2]
    fol, _log, _dest = follower(tmp_path, manifest, parent)
    with pytest.raises(ff.FollowError, match="finished without model-00003.safetensors"):
        fol.run()


def test_a_parent_without_progress_times_out(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    now = [0.0]

    def sleep(seconds):
        now[0] += seconds

    fol, _log, _dest = follower(
        tmp_path,
        manifest,
        lambda: ("absent", set(), ""),
        stall_timeout=5,
        poll_interval=1,
        sleep=sleep,
        clock=lambda: now[0],
    )
    with pytest.raises(ff.FollowError, match="no progress for 5 s"):
        fol.run()
    assert 5 <= now[0] <= 7


def test_files_already_verified_here_are_not_fetched_and_extras_go(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    dest = tmp_path / "dest"
    dest.mkdir()
    shutil.copyfile(str(tmp_path / "src" / "model-00001.safetensors"), str(dest / "model-00001.safetensors"))
    (dest / "stale.bin").write_bytes(b"old")
    fol, log, _dest = follower(tmp_path, manifest, None, src_complete=True)
    stats = fol.run()
    assert [r for r, _had in log["fetched"]] == ["model-00002.safetensors", "model-00003.safetensors"]
    assert stats["removed_extra"] == 1 and not (dest / "stale.bin").exists()
    assert mm.verify(str(dest), manifest)["ok"]


@pytest.mark.parametrize(
    "text, expect",
    [
        (ff.format_ready(TOKEN, "running", ["a", "b/c"]), ("running", {"a", "b/c"}, "")),
        (ff.format_ready(TOKEN, "failed", ["a"], "disk\nfull"), ("failed", {"a"}, "disk full")),
        (ff.format_ready("other-run", "done", ["a"]), ("absent", set(), "")),
        (ff.format_ready(TOKEN, "done", ["a"])[:-1], ("absent", set(), "")),
        ("", ("absent", set(), "")),
        ("garbage\n", ("absent", set(), "")),
    ],
)
def test_ready_files(text, expect):
    assert ff.parse_ready(text, TOKEN) == expect


@pytest.mark.skipif(not shutil.which("rsync"), reason="rsync not installed")
def test_two_hosts_in_a_pipeline_with_rsync(tmp_path):
    """run(): b follows a through a's ready file while a still fetches from the source (local rsync)."""
    manifest = make_source(str(tmp_path / "src"), sizes=(200000, 300000, 400000, 500000))
    mfile = tmp_path / "r1.json"
    mfile.write_text(mm.dumps(manifest))
    for host in ("a", "b"):
        (tmp_path / host / "staging").mkdir(parents=True)
    common = {"manifest": str(mfile), "token": TOKEN, "poll_interval": 0.02, "stall_timeout": 30}
    a = dict(
        common,
        dest=str(tmp_path / "a/staging/r1"),
        src=str(tmp_path / "src"),
        src_complete=True,
        cache=str(tmp_path / "a/cache.json"),
    )
    b = dict(
        common,
        dest=str(tmp_path / "b/staging/r1"),
        src=str(tmp_path / "a/staging/r1"),
        src_ready=str(tmp_path / "a/staging/r1.ready"),
    )
    results = {}

    def go(name, params):
        try:
            results[name] = ff.run(params)
        except ff.FollowError as exc:
            results[name] = exc

    thread = threading.Thread(target=go, args=("b", b))
    thread.start()
    go("a", a)
    thread.join(30)
    assert results["a"]["files"] == 4 and results["b"]["files"] == 4, results
    for host in ("a", "b"):
        assert mm.verify(str(tmp_path / host / "staging/r1"), manifest)["ok"]
        state, paths, _reason = ff.parse_ready((tmp_path / host / "staging/r1.ready").read_text(), TOKEN)
        assert state == "done" and len(paths) == 4
    cache = mm.load_cache(str(tmp_path / "a/cache.json"))
    assert sorted(cache["files"]) == [f["path"] for f in manifest["files"]]


# ---------------------------------------------------------------- hashing while the file arrives


def never_hash(path):
    raise AssertionError("%s was read again after it arrived" % path)


def test_a_digest_taken_while_the_file_arrived_is_used_and_the_file_not_read_again(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    src = str(tmp_path / "src")

    def fetch(rel):
        with open(os.path.join(src, rel), "rb") as handle:
            data = handle.read()
        with open(os.path.join(dest, rel), "wb") as handle:
            handle.write(data)
        return "", hashlib.sha256(data).hexdigest()

    f, log, dest = follower(tmp_path, manifest, Parent(manifest), fetch=fetch, hasher=never_hash)
    stats = f.run()
    assert stats["fetched_files"] == 3 and stats["streamed_files"] == 3 and stats["refetched_files"] == 0
    state, paths, _reason = log["published"][-1]
    assert state == "done" and sorted(paths) == [e["path"] for e in manifest["files"]]


def test_a_corrupted_chunk_is_refused_and_never_published(tmp_path):
    manifest = make_source(str(tmp_path / "src"))
    src = str(tmp_path / "src")
    bad = manifest["files"][1]["path"]
    attempts = []

    def fetch(rel):
        with open(os.path.join(src, rel), "rb") as handle:
            data = bytearray(handle.read())
        if rel == bad and not attempts:
            attempts.append(rel)
            data[len(data) // 2] ^= 0xFF  # one chunk arrives damaged
        with open(os.path.join(dest, rel), "wb") as handle:
            handle.write(data)
        return "", hashlib.sha256(bytes(data)).hexdigest()  # what the stream hashed

    f, log, dest = follower(tmp_path, manifest, Parent(manifest), fetch=fetch, hasher=never_hash)
    stats = f.run()
    assert attempts == [bad] and stats["refetched_files"] == 1 and stats["fetched_files"] == 4
    first_with_bad = next(i for i, (_s, paths, _r) in enumerate(log["published"]) if bad in paths)
    assert first_with_bad > 0 and mm.verify(dest, manifest)["ok"]


def test_a_streamed_digest_that_never_matches_fails_as_before(tmp_path):
    manifest = make_source(str(tmp_path / "src"))

    def fetch(rel):
        shutil.copyfile(os.path.join(str(tmp_path / "src"), rel), os.path.join(dest, rel))
        return "", "0" * 64

    f, log, dest = follower(tmp_path, manifest, Parent(manifest), fetch=fetch, hasher=never_hash, attempts=2)
    with pytest.raises(
        ff.FollowError,
        match=r"model-0000\d.safetensors: sha256 0{12}\.\.\., expected \w{12}\.\.\. \(corrupted\) after 2 attempts",
    ):
        f.run()
    assert log["published"][-1][0] == "failed" and log["published"][-1][1] == []


def write_slowly(path, data, chunk, pause=0.005):
    with open(path, "ab") as handle:
        for i in range(0, len(data), chunk):
            handle.write(data[i : i + chunk])
            handle.flush()
            time.sleep(pause)


def test_the_tail_hasher_hashes_a_resumed_prefix_then_what_arrives(tmp_path):
    data = os.urandom(300000)
    path = str(tmp_path / "f")
    with open(path, "wb") as handle:
        handle.write(data[:70000])  # left by an interrupted transfer
    tail = ff.TailHasher(path, chunk=4096, poll=0.001).start()
    write_slowly(path, data[70000:], 10000)
    assert tail.hashed > 0  # it hashed while the data arrived
    assert tail.finish() == hashlib.sha256(data).hexdigest()


def test_the_tail_hasher_hands_back_nothing_for_a_replaced_or_rewritten_file(tmp_path):
    path = str(tmp_path / "f")
    tail = ff.TailHasher(path, poll=0.001).start()
    write_slowly(path, b"x" * 5000, 1000)
    time.sleep(0.05)
    os.rename(str(tmp_path / "f"), str(tmp_path / "old"))
    (tmp_path / "f").write_bytes(b"x" * 5000)
    assert tail.finish() is None
    tail = ff.TailHasher(path, poll=0.001).start()
    time.sleep(0.05)
    with open(path, "r+b") as handle:  # truncated and shorter: not what was hashed
        handle.truncate(10)
    assert tail.finish() is None
    assert ff.TailHasher(str(tmp_path / "never")).start().finish() is None


def fake_rsync(calls, corrupt_once=()):
    """Writes like rsync --append: keeps the receiver's bytes, appends the rest in chunks."""

    def runner(argv, timeout=None):
        calls.append(argv)
        src, target = argv[-2], argv[-1]
        if not src.endswith(".safetensors"):
            return 23, "no ready file"
        with open(src, "rb") as handle:
            data = bytearray(handle.read())
        have = os.path.getsize(target) if os.path.exists(target) else 0
        if have >= len(data):
            return 0, ""
        rel = os.path.basename(src)
        if rel in corrupt_once:
            corrupt_once.remove(rel)
            data[-1] ^= 0xFF
        write_slowly(target, bytes(data[have:]), 20000, pause=0.001)
        return 0, ""

    return runner


def test_run_hashes_while_rsync_appends_resumes_a_partial_file_and_refuses_a_bad_chunk(tmp_path, monkeypatch):
    manifest = make_source(str(tmp_path / "src"), sizes=(100000, 200000, 150000))
    mfile = tmp_path / "r1.json"
    mfile.write_text(mm.dumps(manifest))
    dest = tmp_path / "a/staging/r1"
    dest.mkdir(parents=True)
    first, second = manifest["files"][0]["path"], manifest["files"][1]["path"]
    (dest / first).write_bytes((tmp_path / "src" / first).read_bytes()[:40000])  # interrupted before
    reads = []
    monkeypatch.setattr(ff, "sha256_file", lambda path: reads.append(path) or mm.sha256_file(path))
    calls = []
    params = {
        "manifest": str(mfile),
        "token": TOKEN,
        "dest": str(dest),
        "src": str(tmp_path / "src"),
        "src_complete": True,
        "poll_interval": 0.01,
    }
    stats = ff.run(params, runner=fake_rsync(calls, corrupt_once=[second]))
    assert all("--append" in argv for argv in calls)
    assert stats["files"] == 3 and stats["streamed_files"] == 4 and stats["refetched_files"] == 1
    assert reads == []  # the partial/missing files fail the size check at the start; none is read again
    assert mm.verify(str(dest), manifest)["ok"]


@pytest.mark.skipif(not shutil.which("rsync"), reason="rsync not installed")
def test_real_rsync_resumes_a_good_prefix_and_replaces_a_bad_one(tmp_path):
    manifest = make_source(str(tmp_path / "src"), sizes=(200000, 300000))
    mfile = tmp_path / "r1.json"
    mfile.write_text(mm.dumps(manifest))
    dest = tmp_path / "a/staging/r1"
    dest.mkdir(parents=True)
    good, bad = [f["path"] for f in manifest["files"]]
    (dest / good).write_bytes((tmp_path / "src" / good).read_bytes()[:50000])
    (dest / bad).write_bytes(b"\0" * 60000)  # a prefix that is not the source's
    params = {"manifest": str(mfile), "token": TOKEN, "dest": str(dest), "src": str(tmp_path / "src")}
    stats = ff.run(dict(params, src_complete=True, poll_interval=0.01))
    assert stats["files"] == 2 and stats["streamed_files"] == 3 and stats["refetched_files"] == 1
    assert mm.verify(str(dest), manifest)["ok"]


# ---------------------------------------------------------------- cut-through (the parent still receives the file)


class GrowingParent(object):
    """A parent that receives its files in chunks: each pass of the child's stream moves it on.

    ``stream(rel)`` appends what the parent holds of ``rel`` beyond what the child has (as
    rsync --append does); the parent lists a file once it holds it whole (``bad``: with its
    last byte flipped, which the parent itself rejects and fetches again, as a follower does).
    """

    def __init__(self, src, dest, manifest, chunk=1000, bad=(), final="done"):
        self.src, self.dest = src, dest
        self.paths = [f["path"] for f in manifest["files"]]
        self.sizes = dict((f["path"], f["size"]) for f in manifest["files"])
        self.chunk = chunk
        self.bad = set(bad)
        self.final = final
        self.held = dict((p, 0) for p in self.paths)  # bytes the parent holds of each file
        self.verified = []
        self.passes = []
        self.fetched = []

    def _advance(self):
        for rel in self.paths:
            if rel in self.verified:
                continue
            self.held[rel] = min(self.held[rel] + self.chunk, self.sizes[rel])
            if self.held[rel] == self.sizes[rel]:
                if rel in self.bad:
                    self.bad.discard(rel)  # the parent's own check fails: it starts the file again
                    self.held[rel] = 0
                else:
                    self.verified.append(rel)
            return

    def look(self):
        self._advance()
        done = len(self.verified) == len(self.paths)
        return (self.final if done else "running"), set(self.verified), ""

    def stream(self, rel):
        self.passes.append(rel)
        with open(os.path.join(self.src, rel), "rb") as handle:
            data = bytearray(handle.read())[: self.held[rel]]
        if rel in self.bad and len(data) > 0:
            data[-1] ^= 0xFF  # what the child copies of a file the parent will reject
        target = os.path.join(self.dest, rel)
        have = os.path.getsize(target) if os.path.exists(target) else 0
        if len(data) > have:
            with open(target, "ab") as handle:
                handle.write(bytes(data[have:]))
        self._advance()
        return ""

    def fetch(self, rel):
        self.fetched.append(rel)
        assert rel in self.verified, "%s fetched before the parent held it verified" % rel
        shutil.copyfile(os.path.join(self.src, rel), os.path.join(self.dest, rel))
        return ""


def cut_through_follower(manifest, parent, **kwargs):
    published = []

    def publish(state, paths, reason):
        published.append((state, list(paths), reason))

    kwargs.setdefault("sleep", lambda s: None)
    fol = ff.Follower(parent.dest, manifest, parent.fetch, parent.look, publish, stream=parent.stream, **kwargs)
    return fol, published


def test_cut_through_takes_a_file_while_the_parent_still_receives_it(tmp_path):
    manifest = make_source(str(tmp_path / "src"), sizes=(3000, 5000, 7000))
    dest = str(tmp_path / "dest")
    os.makedirs(dest)
    parent = GrowingParent(str(tmp_path / "src"), dest, manifest, chunk=1000)
    fol, published = cut_through_follower(manifest, parent)
    stats = fol.run()
    assert stats["cut_through_files"] == 3 and stats["fetched_files"] == 3 and stats["refetched_files"] == 0
    assert parent.fetched == []  # no file waited for its verified copy at the parent
    assert len(parent.passes) > 3  # pass after pass over each growing file
    assert mm.verify(dest, manifest)["ok"]
    assert published[-1] == ("done", [f["path"] for f in manifest["files"]], "")


def test_cut_through_bytes_the_parent_rejects_are_never_published_here(tmp_path):
    manifest = make_source(str(tmp_path / "src"), sizes=(3000, 5000))
    dest = str(tmp_path / "dest")
    os.makedirs(dest)
    bad = manifest["files"][1]["path"]
    parent = GrowingParent(str(tmp_path / "src"), dest, manifest, chunk=1000, bad=[bad])
    fol, published = cut_through_follower(manifest, parent)
    stats = fol.run()
    # The corrupted bytes failed this host's own check; the file came again from the parent's
    # verified copy, and only then was it published.
    assert parent.fetched == [bad]
    assert stats["refetched_files"] == 1 and stats["cut_through_files"] == 2
    first_with_bad = [paths for _s, paths, _r in published if bad in paths][0]
    assert first_with_bad == [f["path"] for f in manifest["files"]]
    assert mm.verify(dest, manifest)["ok"]


def test_cut_through_ends_when_the_parent_fails(tmp_path):
    manifest = make_source(str(tmp_path / "src"), sizes=(3000,))
    dest = str(tmp_path / "dest")
    os.makedirs(dest)
    looks = []
    passes = []

    def parent_state():  # running when the follow starts; failed once the file stops growing
        looks.append(1)
        return ("running", set(), "") if len(looks) == 1 else ("failed", set(), "disk full")

    fol = ff.Follower(
        dest,
        manifest,
        lambda rel: "",
        parent_state,
        lambda *a: None,
        stream=lambda rel: passes.append(rel) or "",
        sleep=lambda s: None,
    )
    with pytest.raises(ff.FollowError, match="the parent failed: disk full"):
        fol.run()
    assert passes == [manifest["files"][0]["path"]]  # the cut-through pass ran, then its look saw the failure


def test_cut_through_without_progress_times_out_and_says_which_file(tmp_path):
    manifest = make_source(str(tmp_path / "src"), sizes=(3000,))
    dest = str(tmp_path / "dest")
    os.makedirs(dest)
    clock = [0.0]

    def sleep(seconds):
        clock[0] += max(seconds, 1.0)

    fol = ff.Follower(
        dest,
        manifest,
        lambda rel: "",
        lambda: ("running", set(), ""),
        lambda *a: None,
        stream=lambda rel: "",
        sleep=sleep,
        clock=lambda: clock[0],
        stall_timeout=30,
    )
    rel = manifest["files"][0]["path"]
    with pytest.raises(ff.FollowError, match="no progress for 30 s \\(receiving %s\\)" % rel):
        fol.run()


def test_a_failed_cut_through_pass_drops_what_came_and_waits_for_the_verified_file(tmp_path):
    manifest = make_source(str(tmp_path / "src"), sizes=(3000,))
    dest = str(tmp_path / "dest")
    os.makedirs(dest)
    parent = GrowingParent(str(tmp_path / "src"), dest, manifest, chunk=1000)
    real_stream = parent.stream
    rel = manifest["files"][0]["path"]

    def flaky(name):
        real_stream(name)
        if len(parent.passes) == 2:
            return "rsync exited 12: connection reset"
        return ""

    fol, _published = cut_through_follower(manifest, parent)
    fol.stream = flaky
    removed = []
    real_remove = fol._remove
    fol._remove = lambda name: removed.append((name, os.path.getsize(os.path.join(dest, name)))) or real_remove(name)
    stats = fol.run()
    assert removed == [(rel, 2000)]  # the partial copy is not trusted as a prefix
    assert parent.fetched == [rel] and stats["refetched_files"] == 1
    assert mm.verify(dest, manifest)["ok"]


def _write_growing(path, data, follower_copy, delay, chunk=50000):
    """Write ``data`` to ``path`` chunk by chunk, as a receiving parent does. The last chunk waits (up to 20 s)
    until the follower holds part of the file, so the follower takes it while it grows however loaded the
    machine is (on a busy one a small file was otherwise whole and listed before the follower looked)."""
    with open(str(path), "wb") as handle:
        for i in range(0, len(data), chunk):
            if i + chunk >= len(data):
                deadline = time.time() + 20
                while time.time() < deadline and not (follower_copy.exists() and follower_copy.stat().st_size > 0):
                    time.sleep(0.01)
            handle.write(data[i : i + chunk])
            handle.flush()
            time.sleep(delay)


@pytest.mark.skipif(not shutil.which("rsync"), reason="rsync not installed")
def test_real_rsync_cut_through_follows_a_growing_file(tmp_path):
    """run(): b takes a's file while a writes it (a is a writer here, not a follower), by rsync --append passes."""
    sizes = (600000, 400000)
    manifest = make_source(str(tmp_path / "src"), sizes=sizes)
    mfile = tmp_path / "r1.json"
    mfile.write_text(mm.dumps(manifest))
    a_dir = tmp_path / "a/staging/r1"
    a_dir.mkdir(parents=True)
    a_ready = tmp_path / "a/staging/r1.ready"
    (tmp_path / "b/staging").mkdir(parents=True)
    paths = [f["path"] for f in manifest["files"]]
    finished = {}

    def writer():
        a_ready.write_text(ff.format_ready(TOKEN, "running", []))
        done = []
        for rel in paths:
            data = (tmp_path / "src" / rel).read_bytes()
            _write_growing(a_dir / rel, data, tmp_path / "b/staging/r1" / rel, delay=0.02)
            finished[rel] = time.time()
            done.append(rel)
            a_ready.write_text(ff.format_ready(TOKEN, "running" if len(done) < len(paths) else "done", done))

    thread = threading.Thread(target=writer)
    thread.start()
    params = {
        "manifest": str(mfile),
        "token": TOKEN,
        "dest": str(tmp_path / "b/staging/r1"),
        "src": str(a_dir),
        "src_ready": str(a_ready),
        "poll_interval": 0.02,
        "stall_timeout": 30,
        "timeline": True,
    }
    stats = ff.run(params)
    thread.join(30)
    assert stats["files"] == 2 and stats["cut_through_files"] == 2, stats
    assert mm.verify(str(tmp_path / "b/staging/r1"), manifest)["ok"]
    # b started on each file before a held it whole
    started = dict((rel, t) for rel, event, t in stats["timeline"] if event == "fetch")
    assert all(started[rel] < finished[rel] for rel in paths), (started, finished)


FAKE_SSH = r"""
import os, sys
args = sys.argv[1:]
if "-M" in args:
    sys.exit(0)  # no multiplexing here: every client connects "directly"
rest = []
skip = False
for arg in args:
    if skip:
        skip = False
    elif arg in ("-o", "-p", "-i", "-l"):
        skip = True
    elif arg.startswith("-") and not rest:
        pass
    else:
        rest.append(arg)
# rest[0] is the host; what follows is the command, which sshd hands to the forced command
os.environ["SSH_ORIGINAL_COMMAND"] = " ".join(rest[1:])
os.execv("/usr/bin/python3", ["python3", "/usr/bin/rrsync", "-ro", os.environ["FAKE_SSH_ROOT"]])
"""


@pytest.mark.skipif(not os.path.exists("/usr/bin/rrsync"), reason="rrsync not installed")
def test_cut_through_works_through_a_read_only_rrsync_peer(tmp_path, monkeypatch):
    """The peers are limited to `rrsync -ro <root>` (model_sync's trust): the passes and the looks pass through it."""
    sizes = (500000, 300000)
    manifest = make_source(str(tmp_path / "src"), sizes=sizes)
    mfile = tmp_path / "r1.json"
    mfile.write_text(mm.dumps(manifest))
    root = tmp_path / "root"
    a_dir = root / "m/staging/r1"
    a_dir.mkdir(parents=True)
    a_ready = root / "m/staging/r1.ready"
    (tmp_path / "b/staging").mkdir(parents=True)
    fake = tmp_path / "fake_ssh.py"
    fake.write_text(FAKE_SSH)
    monkeypatch.setenv("FAKE_SSH_ROOT", str(root))
    paths = [f["path"] for f in manifest["files"]]

    def writer():
        a_ready.write_text(ff.format_ready(TOKEN, "running", []))
        for n, rel in enumerate(paths):
            data = (tmp_path / "src" / rel).read_bytes()
            _write_growing(a_dir / rel, data, tmp_path / "b/staging/r1" / rel, delay=0.03)
            a_ready.write_text(ff.format_ready(TOKEN, "running" if n + 1 < len(paths) else "done", paths[: n + 1]))

    thread = threading.Thread(target=writer)
    thread.start()
    stats = ff.run(
        {
            "manifest": str(mfile),
            "token": TOKEN,
            "dest": str(tmp_path / "b/staging/r1"),
            "src": "peer:m/staging/r1/",
            "src_ready": "peer:m/staging/r1.ready",
            "ssh": "python3 %s" % fake,
            "poll_interval": 0.02,
            "stall_timeout": 30,
        }
    )
    thread.join(30)
    assert stats["files"] == 2 and stats["cut_through_files"] == 2, stats
    assert mm.verify(str(tmp_path / "b/staging/r1"), manifest)["ok"]
