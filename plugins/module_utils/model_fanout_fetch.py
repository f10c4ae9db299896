# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One host's part of a pipelined fan-out: fetch a model file by file behind a parent.

The parent is the source, a host that holds a verified copy, or a host that is
itself still fetching. Each file is fetched as soon as the parent holds it
verified or, with cut-through (a parent still fetching), while the parent
receives it: rsync passes over the parent's growing file, each appending what
arrived there since the last. Either way it is verified here (size and sha256
against the reference manifest; the
sha256 is taken while the file arrives, so a fetched file is not read again, and
compared on a thread of its own while the next file moves), and then published in this host's
ready file (``staging/<rev>.ready``: a header with the run's token, the state,
then one verified path a line; replaced atomically), so this host's own
receivers can take it at once. A file that does not verify is deleted and
fetched again, up to ``attempts`` times. A parent that fails, finishes without a
file, or shows no progress for ``stall_timeout`` seconds ends the follow with an
error (the role then copies the whole model from a holder, wave by wave).

``Follower`` is pure (fetching, reading the parent and publishing are passed
in); ``run`` wires it to rsync over SSH (one multiplexed SSH connection to the
parent for every file and every look at its ready file).
"""

from __future__ import annotations

import hashlib
import os
import shlex
import subprocess
import tempfile
import threading
import time
from collections import deque
from typing import Any, Callable, Dict, Iterable, Mapping, Optional, Set, Tuple

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import (
    DEFAULT_EXCLUDES,
    _stamp,
    dumps_cache,
    empty_cache,
    sha256_file,
    walk_files,
    write_text,
)

READY_HEADER = "gpufleet-model-fanout-ready 1"
STATES = ("running", "done", "failed")


def ready_file(staging: str) -> str:
    """Where a host publishes what it holds verified: next to its staging directory."""
    return staging.rstrip("/") + ".ready"


def format_ready(token: str, state: str, paths: Iterable[str], reason: str = "") -> str:
    lines = ["%s %s" % (READY_HEADER, token), ("%s %s" % (state, " ".join(reason.split()))).strip()]
    return "\n".join(lines + list(paths)) + "\n"


def parse_ready(text: Optional[str], token: str) -> Tuple[str, Set[str], str]:
    """``(state, paths, reason)``; state ``absent`` for a missing, partial or other run's file."""
    if not text or not text.endswith("\n"):
        return "absent", set(), ""
    lines = text.split("\n")[:-1]
    if len(lines) < 2 or lines[0] != "%s %s" % (READY_HEADER, token):
        return "absent", set(), ""
    state, _sep, reason = lines[1].partition(" ")
    if state not in STATES:
        return "absent", set(), ""
    return state, set(lines[2:]), reason


class FollowError(Exception):
    pass


def _size_of(path):
    try:
        return os.stat(path).st_size
    except OSError:
        return -1


class TailHasher(object):
    """sha256 of a file while another process writes it from start to end (rsync ``--append``).

    A thread reads what has arrived so far (from the page cache, just written) and
    updates the digest chunk by chunk; ``finish()`` (after the writer exited) hashes the
    last bytes and returns the hex digest, or ``None`` when the file was replaced or
    truncated under it (the caller then hashes the file whole, as before). A prefix
    left by an interrupted transfer is hashed first, like any other bytes.
    """

    def __init__(self, path, chunk=1024 * 1024, poll=0.02):
        self.path = path
        self.chunk = chunk
        self.poll = poll
        self.digest = hashlib.sha256()
        self.hashed = 0
        self._fd = None
        self._broken = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop)
        self._thread.daemon = True

    def start(self):
        self._thread.start()
        return self

    def _loop(self):
        while not self._stop.is_set():
            self._drain()
            self._stop.wait(self.poll)

    def _drain(self):
        if self._broken:
            return
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_RDONLY)
            while True:
                data = os.read(self._fd, self.chunk)
                if not data:
                    return
                self.digest.update(data)
                self.hashed += len(data)
        except OSError:
            if self._fd is not None:
                self._broken = True  # a read error on an open file: hash it whole afterwards

    def finish(self):
        """The hex digest of the whole file as it is now, or ``None`` (hash it again)."""
        self._stop.set()
        if self._thread.ident is not None:  # started
            self._thread.join()
        self._drain()
        if self._fd is None:
            return None
        try:
            opened = os.fstat(self._fd)
            now = os.stat(self.path)
        except OSError:
            return None
        finally:
            os.close(self._fd)
            self._fd = None
        same = (opened.st_dev, opened.st_ino) == (now.st_dev, now.st_ino)
        if self._broken or not same or now.st_size != self.hashed:
            return None
        return self.digest.hexdigest()


class Follower(object):
    """Fetch ``manifest``'s files into ``dest`` in order, each once the parent holds it.

    ``fetch(rel)`` returns an error text ('' on success), or ``(error, sha256)`` when it
    hashed the file while it arrived (the file is then not read again: only its size
    is checked and the digest compared with the manifest's); ``parent_state()`` returns
    ``(state, paths, reason)`` as ``parse_ready``; ``publish(state, paths, reason)``
    makes this host's progress visible. ``src_complete``: the parent holds everything.
    """

    def __init__(
        self,
        dest,
        manifest,
        fetch,
        parent_state,
        publish,
        src_complete=False,
        attempts=3,
        poll_interval=0.25,
        stall_timeout=600.0,
        cache=None,
        hasher=None,
        stream=None,
        tail_hasher=None,
        timeline=False,
        sleep=time.sleep,
        clock=time.monotonic,
    ):
        self.dest = dest
        self.files = list(manifest["files"])
        self.fetch = fetch
        self.parent_state = parent_state
        self.publish = publish
        self.src_complete = src_complete
        self.attempts = attempts
        self.poll_interval = poll_interval
        self.stall_timeout = stall_timeout
        self.cache = cache or empty_cache()
        self.hasher = hasher or sha256_file
        self.stream = stream
        self.tail_hasher = tail_hasher or TailHasher
        # (path, event, wall-clock time) per fetch/fetched/published, when asked (benchmarks)
        self.timeline = [] if timeline else None
        self.sleep = sleep
        self.clock = clock
        self.new_cache = empty_cache()
        self.ready = []
        # Verifications run in threads and publish as soon as a file is verified (not when the
        # next fetch returns: a child would wait a whole file's transfer per pipeline level).
        self._lock = threading.Lock()
        self._closed = False
        self.stats = {
            "fetched_files": 0,
            "fetched_bytes": 0,
            "reused_files": 0,
            "refetched_files": 0,
            "streamed_files": 0,
            "cut_through_files": 0,
            "removed_extra": 0,
            "waited_s": 0.0,
        }

    def _path(self, rel):
        return os.path.join(self.dest, *rel.split("/"))

    def _check(self, entry, use_cache, digest=None):
        """``''`` when the file here is the manifest's, else why not.

        ``digest``: the sha256 taken while the file arrived (no second read of it).
        """
        path = self._path(entry["path"])
        try:
            st = os.stat(path)
        except OSError:
            return "missing"
        if st.st_size != entry["size"]:
            return "size %d, expected %d" % (st.st_size, entry["size"])
        hit = self.cache.get("files", {}).get(entry["path"]) if use_cache else None
        if digest is not None:
            pass
        elif (
            isinstance(hit, dict)
            and hit.get("sha256") == entry["sha256"]
            and all(hit.get(k) == v for k, v in _stamp(st).items())
        ):
            digest = entry["sha256"]
            self.stats["reused_files"] += 1
        else:
            try:
                digest = self.hasher(path)
            except (IOError, OSError) as exc:
                return "cannot read: %s" % (exc.strerror or exc)
        if digest != entry["sha256"]:
            return "sha256 %s..., expected %s... (corrupted)" % (digest[:12], entry["sha256"][:12])
        cached = _stamp(st)
        cached["sha256"] = digest
        self.new_cache["files"][entry["path"]] = cached
        return ""

    def _remove(self, rel):
        try:
            os.remove(self._path(rel))
        except OSError:
            pass

    def _remove_extra(self):
        listed = set(e["path"] for e in self.files)
        if not os.path.isdir(self.dest):
            return
        for rel in sorted(walk_files(self.dest, DEFAULT_EXCLUDES)):
            if rel not in listed:
                self._remove(rel)
                self.stats["removed_extra"] += 1

    def run(self):
        """Follow to the end; returns the stats. Raises FollowError (after publishing ``failed``)."""
        self._publish("running")
        try:
            self._run()
        except FollowError as exc:
            self._publish("failed", str(exc), final=True)
            raise
        self._publish("done", final=True)
        return self.stats

    def _publish(self, state, reason="", final=False, verified=None):
        with self._lock:
            if self._closed:
                return
            if verified is not None:
                self.ready.append(verified)
            # In the manifest's order: verification threads can finish out of order, and what a
            # child reads should not depend on which thread won.
            order = {e["path"]: i for i, e in enumerate(self.files)}
            self.publish(state, sorted(self.ready, key=lambda p: (order.get(p, len(order)), p)), reason)
            self._closed = final

    def _run(self):
        self._remove_extra()
        todo = deque()
        for entry in self.files:  # what a previous, interrupted copy left verified here
            if self._check(entry, use_cache=True) == "":
                self.ready.append(entry["path"])
            else:
                todo.append(entry)
        if self.ready:
            self._publish("running")
        tries = dict((e["path"], 0) for e in todo)
        parent = ("done", None, "") if self.src_complete else ("absent", set(), "")
        last_change = self.clock()
        verifying = deque()  # (entry, result holder, thread)
        cut = set()  # files taken while the parent still received them (once each)
        while todo or verifying:
            while verifying and not verifying[0][2].is_alive():
                entry, result, _thread = verifying.popleft()
                if result[0] == "":
                    continue  # published by its verification thread
                self._remove(entry["path"])
                tries[entry["path"]] += 1
                self.stats["refetched_files"] += 1
                if tries[entry["path"]] >= self.attempts:
                    raise FollowError("%s: %s after %d attempts" % (entry["path"], result[0], tries[entry["path"]]))
                todo.appendleft(entry)
            if not todo:
                if verifying:
                    verifying[0][2].join()
                continue
            entry = todo[0]
            state, paths, reason = parent
            if paths is not None and entry["path"] not in paths:
                before = parent
                state, paths, reason = parent = self._look()
                if (state, paths) != (before[0], before[1]):
                    last_change = self.clock()
            if paths is not None and entry["path"] not in paths:
                if state == "failed":
                    raise FollowError("the parent failed: %s" % (reason or "no reason given"))
                if state == "done":
                    raise FollowError("the parent finished without %s" % entry["path"])
                if self.stream is not None and state == "running" and entry["path"] not in cut:
                    # Cut-through: the parent is receiving this file (or is about to); take its
                    # bytes as they arrive there. Only this host's own check publishes it.
                    cut.add(entry["path"])
                    todo.popleft()
                    self._note(entry["path"], "fetch")
                    self._fetched(entry, self._cut_through(entry), todo, tries, verifying, cut_through=True)
                    last_change = self.clock()
                    continue
                if self.clock() - last_change > self.stall_timeout:
                    raise FollowError(
                        "the parent showed no progress for %d s (waiting for %s)" % (self.stall_timeout, entry["path"])
                    )
                t0 = self.clock()
                self.sleep(self.poll_interval)
                self.stats["waited_s"] += self.clock() - t0
                continue
            last_change = self.clock()
            todo.popleft()
            self._note(entry["path"], "fetch")
            self._fetched(entry, self.fetch(entry["path"]), todo, tries, verifying)

    def _fetched(self, entry, outcome, todo, tries, verifying, cut_through=False):
        """Hand a fetched file to a verification thread, or count the failed fetch and queue it again."""
        error, digest = outcome if isinstance(outcome, tuple) else (outcome, None)
        self._note(entry["path"], "fetched")
        if error:
            if cut_through:
                self._remove(entry["path"])  # what came may not be a prefix of the verified file
            tries[entry["path"]] += 1
            self.stats["refetched_files"] += 1
            if tries[entry["path"]] >= self.attempts:
                raise FollowError("%s: %s after %d attempts" % (entry["path"], error, tries[entry["path"]]))
            todo.appendleft(entry)
            self.sleep(self.poll_interval)
            return
        self.stats["fetched_files"] += 1
        self.stats["fetched_bytes"] += entry["size"]
        if cut_through:
            self.stats["cut_through_files"] += 1
        result = [None]
        if digest is not None:
            self.stats["streamed_files"] += 1
        thread = threading.Thread(target=self._verify_into, args=(entry, result, digest))
        thread.daemon = True
        thread.start()
        verifying.append((entry, result, thread))

    def _cut_through(self, entry):
        """Take ``entry`` while the parent still receives it: one ``stream`` pass after another.

        Each pass appends what the parent holds beyond what is here (the parent writes the
        file in place from its first byte to its last). A pass that brings nothing looks at
        the parent's ready file: once the parent lists the file (it holds it whole), one last
        pass brings the rest. The digest is taken while the bytes arrive; the caller checks
        size and sha256 against the manifest before anything is published, so bytes that the
        parent itself rejects later are rejected here too (and fetched again once the parent
        holds the file verified). Returns what ``fetch`` returns.
        """
        rel, size = entry["path"], entry["size"]
        path = self._path(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        tail = self.tail_hasher(path).start()
        error = ""
        try:
            last_growth = self.clock()
            have = _size_of(path)
            while have < size:
                started = self.clock()
                error = self.stream(rel)
                if error:
                    break
                before, have = have, _size_of(path)
                if have > before:
                    last_growth = self.clock()
                else:
                    state, paths, reason = self._look()
                    if state == "failed":
                        raise FollowError("the parent failed: %s" % (reason or "no reason given"))
                    if rel in paths or state == "done":
                        error = self.stream(rel)  # the rest; a wrong or longer prefix fails the check
                        break
                    if self.clock() - last_growth > self.stall_timeout:
                        raise FollowError(
                            "the parent showed no progress for %d s (receiving %s)" % (self.stall_timeout, rel)
                        )
                wait = self.poll_interval - (self.clock() - started)
                if wait > 0:
                    self.sleep(wait)
        finally:
            digest = tail.finish()
        return error if error else ("", digest)

    def _note(self, rel, event):
        if self.timeline is not None:
            self.timeline.append((rel, event, round(time.time(), 3)))

    def _verify_into(self, entry, result, digest=None):
        try:
            result[0] = self._check(entry, use_cache=False, digest=digest)
        except Exception as exc:  # a thread must hand every outcome back
            result[0] = "cannot verify: %s" % exc
        if result[0] == "":
            self._note(entry["path"], "published")
            try:
                self._publish("running", verified=entry["path"])
            except Exception:
                pass  # the path is in self.ready: the next publish carries it

    def _look(self):
        state, paths, reason = self.parent_state()
        return state, set(paths), reason


# ------------------------------------------------------------------ rsync over SSH


def _run(argv, timeout=None):
    proc = subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        universal_newlines=True,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, (proc.stderr or "").strip()


def _remote_host(src):
    """``user@host`` of an rsync ``[user@]host:path`` (``None`` for a local path)."""
    if src.startswith("/") or ":" not in src.split("/", 1)[0]:
        return None
    return src.split(":", 1)[0]


def run(params: Mapping[str, Any], runner: Callable[..., Tuple[int, str]] = _run) -> Dict[str, Any]:
    """Follow as ``params`` say (the module's options); returns the stats, raises FollowError."""
    dest = params["dest"]
    src = params["src"].rstrip("/") + "/"
    token = params["token"]
    ssh = params.get("ssh") or ""
    host = _remote_host(src)
    master = None
    sockdir = None
    if ssh and host:
        # One SSH connection carries every file and every look at the parent's ready file
        # (ssh_config(5) ControlMaster/ControlPath; a client finding no socket connects directly).
        sockdir = tempfile.mkdtemp(prefix="model-fanout-")
        sock = os.path.join(sockdir, "mux")
        master = subprocess.Popen(
            shlex.split(ssh) + ["-M", "-N", "-o", "ControlPath=" + sock, "-o", "ControlPersist=no", host],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _attempt in range(50):
            if os.path.exists(sock) or master.poll() is not None:
                break
            time.sleep(0.05)
        ssh = ssh + " -o ControlPath=" + sock + " -o ControlMaster=no"
    rsync = ["rsync"] + list(params.get("rsync_flags") or ["--archive", "--partial", "--no-compress"])
    if ssh:
        rsync += ["-e", ssh]
    # The file is written in place from its first byte to its last, so it can be hashed while
    # it arrives (TailHasher): rsync(1) --append "updates these growing files in-place without
    # verifying any of the existing content" and "skips any files that exist on the receiving
    # side that are not shorter" (rsync 3.5.0 man page). A partial file left by an interrupted
    # transfer is resumed and hashed whole (its prefix first); a wrong prefix or a skipped
    # wrong file fails the manifest's sha256 and is deleted and fetched again, as before.
    fetch_rsync = rsync if {"--append", "--append-verify"} & set(rsync) else rsync + ["--append"]

    def fetch(rel):
        target = os.path.join(dest, *rel.split("/"))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tail = TailHasher(target).start()
        try:
            rc, err = runner(fetch_rsync + [src + rel, target])
        finally:
            digest = tail.finish()
        if rc != 0:
            return "rsync exited %d: %s" % (rc, err[-400:])
        return "", digest

    def stream_pass(rel):
        """One pass over the parent's growing file: append what it holds beyond what is here."""
        target = os.path.join(dest, *rel.split("/"))
        rc, err = runner(fetch_rsync + [src + rel, target])
        # rsync(1) EXIT VALUES: 23 partial transfer due to error (the parent has no such file
        # yet: "link_stat ... failed: No such file or directory"), 24 source files vanished.
        if rc == 0 or (rc in (23, 24) and ("No such file" in err or "vanished" in err)):
            return ""
        return "rsync exited %d: %s" % (rc, err[-400:])

    def parent_state():
        fd, tmp = tempfile.mkstemp(prefix=".ready-", dir=os.path.dirname(dest.rstrip("/")))
        os.close(fd)
        try:
            rc, _err = runner(rsync + ["--no-perms", params["src_ready"], tmp])
            if rc != 0:
                return "absent", set(), ""
            with open(tmp, "r") as handle:
                return parse_ready(handle.read(), token)
        finally:
            os.remove(tmp)

    own_ready = ready_file(dest)

    def publish(state, paths, reason):
        write_text(own_ready, format_ready(token, state, paths, reason))

    os.makedirs(dest, exist_ok=True)
    from ansible_collections.gpufleet.sglang.plugins.module_utils.model_manifest import load_cache, load_file

    cache = load_cache(params.get("cache"))
    follower = Follower(
        dest,
        load_file(params["manifest"]),
        fetch,
        parent_state,
        publish,
        src_complete=bool(params.get("src_complete")),
        attempts=int(params.get("attempts", 3)),
        poll_interval=float(params.get("poll_interval", 0.25)),
        stall_timeout=float(params.get("stall_timeout", 600)),
        cache=cache,
        stream=stream_pass if params.get("cut_through", True) and not params.get("src_complete") else None,
        timeline=bool(params.get("timeline")),
    )
    t0 = time.monotonic()
    try:
        stats = follower.run()
    finally:
        if master is not None:
            master.terminate()
            try:
                master.wait(5)
            except subprocess.TimeoutExpired:
                master.kill()
        if sockdir:
            try:
                for name in os.listdir(sockdir):
                    os.remove(os.path.join(sockdir, name))
                os.rmdir(sockdir)
            except OSError:
                pass
    if params.get("cache"):
        merged = empty_cache()
        merged["files"].update(follower.new_cache["files"])
        try:
            write_text(params["cache"], dumps_cache(merged))
        except (IOError, OSError):
            pass  # a cache only saves time
    stats["seconds"] = round(time.monotonic() - t0, 3)
    stats["waited_s"] = round(stats["waited_s"], 3)
    stats["files"] = len(follower.ready)
    if follower.timeline is not None:
        stats["timeline"] = follower.timeline
    return stats
