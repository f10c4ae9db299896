# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The converge stamp: what a full converge left on a host, and whether it still holds.

site.yml's stages cost a round trip per task and host even when nothing changed. After a
full converge every host gets a stamp (root-only JSON): the digests of the run's inputs
(collection content, the plan, the fleet's variables, the controller files the roles copy)
and a fingerprint of what the roles manage there (the watched files' content, mode and
owner; the watched systemd units' state). A later run compares both in one round trip per
host; when every host still matches, the stages are skipped. Pure functions: the module
and the action plugin do the I/O.
"""

from __future__ import annotations

import fnmatch
import glob
import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Mapping

STAMP_VERSION = 1
# Files larger than this are fingerprinted by size and mtime, not content (the watch list is
# configuration; a large file there is someone else's).
HASH_LIMIT = 16 * 1024 * 1024
INPUT_PARTS = {
    "collection": "the collection's content (roles, plugins, playbooks)",
    "plan": "the plan",
    "fleet": "the fleet's variables (the collection's, of every host) or its groups",
    "controller_files": "controller files the roles copy (router wheels, the emulator checkout)",
}


def digest(value: object) -> str:
    """sha256 of a JSON-able value in canonical form (sorted keys; anything else as str)."""
    blob = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def file_digest(path: str, limit: int = HASH_LIMIT) -> str:
    """Content digest of a regular file, or size:mtime above ``limit``."""
    st = os.stat(path)
    if st.st_size > limit:
        return "size:%d:mtime:%d" % (st.st_size, st.st_mtime_ns)
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tree_digest(root: str, skip_dirs: Iterable[str] = ("__pycache__",), content: bool = True) -> str:
    """Digest of every file below ``root`` (relative path and content, or size and mtime).

    Hidden directories (``.git``, ``.venv``, ``.cache``) and ``skip_dirs`` are left out. A missing
    root digests as ``missing``; a file is its own content digest.
    """
    if os.path.isfile(root):
        return file_digest(root) if content else "%d" % os.stat(root).st_size
    if not os.path.isdir(root):
        return "missing"
    skip = set(skip_dirs)
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in skip)
        for name in sorted(filenames):
            if name.endswith(".pyc"):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root)
            try:
                if content:
                    entries.append([rel, file_digest(path)])
                else:
                    st = os.stat(path)
                    entries.append([rel, st.st_size, st.st_mtime_ns])
            except OSError:
                entries.append([rel, "unreadable"])
    return digest(entries)


def fingerprint_files(patterns: Iterable[str]) -> dict[str, str]:
    """``{path: "digest mode uid:gid"}`` for every regular file or symlink the globs match.

    ``**`` matches any depth. Directories themselves are not listed (their files are).
    """
    found: dict[str, str] = {}
    for pattern in patterns:
        for path in glob.glob(pattern, recursive=True):
            try:
                st = os.lstat(path)
            except OSError:
                continue
            if stat.S_ISLNK(st.st_mode):
                found[path] = "link:%s" % os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                try:
                    content = file_digest(path)
                except OSError:
                    content = "unreadable"
                found[path] = "%s %04o %d:%d" % (content, stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid)
    return dict(sorted(found.items()))


def parse_show(show: str) -> dict[str, str]:
    """``{unit: ExecMainStartTimestampMonotonic}`` from ``systemctl show -p Id,ExecMainStartTimestampMonotonic``."""
    starts: dict[str, str] = {}
    for block in show.split("\n\n"):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        if props.get("Id"):
            starts[props["Id"]] = props.get("ExecMainStartTimestampMonotonic", "0") or "0"
    return starts


def parse_unit_list(list_units: str, list_unit_files: str, patterns: Iterable[str], show: str = "") -> dict[str, str]:
    """``{unit: "active/sub enabled-state started=N"}`` from ``systemctl list-units --all --plain
    --no-legend``, ``systemctl list-unit-files --plain --no-legend`` and ``systemctl show -p
    Id,ExecMainStartTimestampMonotonic`` output, for units matching ``patterns``.

    A unit that only has a unit file (never loaded) shows ``-/-``; one only loaded (generated,
    transient) shows ``-`` as its file state. ``started`` is when its main process started: a
    service that restarted since the stamp (a crashed engine systemd brought back, a gateway
    that lost the workers the rollout registered) differs, though its state reads the same.
    """
    pats = list(patterns)

    def wanted(name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in pats)

    states: dict[str, list[str]] = {}
    for line in list_units.splitlines():
        cols = line.split()
        # UNIT LOAD ACTIVE SUB DESCRIPTION...; a failed unit's line may start with a bullet.
        if cols and cols[0] in ("*", "\u25cf"):
            cols = cols[1:]
        if len(cols) >= 4 and wanted(cols[0]):
            states[cols[0]] = ["%s/%s" % (cols[2], cols[3]), "-"]
    for line in list_unit_files.splitlines():
        cols = line.split()
        if len(cols) >= 2 and wanted(cols[0]):
            states.setdefault(cols[0], ["-/-", "-"])[1] = cols[1]
    starts = parse_show(show)
    return {
        name: " ".join(v) + (" started=%s" % starts[name] if name in starts else "")
        for name, v in sorted(states.items())
    }


def observe(
    patterns: Iterable[str],
    unit_patterns: Iterable[str],
    run: Callable[[list[str]], str],
    commands: Iterable[str] = (),
    run_rc: Callable[[str], tuple[int, str]] | None = None,
) -> dict:
    """What the host has now: the watched files, units and command outputs.

    ``run(argv)`` returns a systemctl's stdout; ``run_rc(command)`` runs one of ``commands`` (a
    read-only command line showing live state the files do not, such as the loaded nftables
    table) and returns its exit status and stdout, of which only a digest is kept.
    """
    units = list(unit_patterns)
    if units:
        lu = run(["systemctl", "list-units", "--all", "--plain", "--no-legend", "--no-pager"] + units)
        lf = run(["systemctl", "list-unit-files", "--plain", "--no-legend", "--no-pager"] + units)
        show = run(["systemctl", "show", "-p", "Id,ExecMainStartTimestampMonotonic", "--no-pager"] + units)
        unit_states = parse_unit_list(lu, lf, units, show)
    else:
        unit_states = {}
    outputs = {}
    for command in commands:
        rc, out = run_rc(command) if run_rc else (0, "")
        outputs[command] = "rc=%d %s" % (rc, hashlib.sha256(out.encode("utf-8")).hexdigest()[:16])
    return {"files": fingerprint_files(patterns), "units": unit_states, "commands": outputs}


def make_stamp(
    inputs: Mapping[str, str],
    observed: Mapping,
    now: float,
    watch: Iterable[str],
    units: Iterable[str],
    commands: Iterable[str] = (),
) -> dict:
    """The stamp a full converge writes."""
    return {
        "version": STAMP_VERSION,
        "written": int(now),
        "inputs": dict(sorted(inputs.items())),
        "watch": list(watch),
        "unit_patterns": list(units),
        "commands": list(commands),
        "files": dict(observed["files"]),
        "units": dict(observed["units"]),
        "outputs": dict(observed.get("commands") or {}),
    }


def same_state(old: Mapping | None, new: Mapping) -> bool:
    """Whether two stamps record the same state (the time they were written aside)."""
    if not old:
        return False
    strip = {k: v for k, v in old.items() if k != "written"}
    return strip == {k: v for k, v in new.items() if k != "written"}


def _shown(kind: str, value: str) -> str:
    """A file's mode and owner, never its content digest (a key file's digest stays out of logs)."""
    return value.split(" ", 1)[-1] if kind == "file" and not value.startswith("link:") else value


def _diff(kind: str, old: Mapping[str, str], new: Mapping[str, str], most: int = 5) -> list[str]:
    out = []
    for key in sorted(set(old) | set(new)):
        if key not in new:
            out.append("%s %s is gone (was %s)" % (kind, key, _shown(kind, old[key])))
        elif key not in old:
            out.append("%s %s is new (%s)" % (kind, key, _shown(kind, new[key])))
        elif old[key] != new[key]:
            if kind != "file":
                now_state = new[key].partition(" started=")[0]
                was_state = old[key].partition(" started=")[0]
                if now_state == was_state:
                    out.append("unit %s restarted since the last full converge (%s)" % (key, now_state))
                else:
                    out.append("unit %s is %s (was %s)" % (key, now_state, was_state))
            elif _shown(kind, new[key]) == _shown(kind, old[key]):
                out.append("file %s: its content changed" % key)
            else:
                out.append("file %s changed (%s, was %s)" % (key, _shown(kind, new[key]), _shown(kind, old[key])))
    if len(out) > most:
        out = out[:most] + ["and %d more" % (len(out) - most)]
    return out


def compare(
    stamp: Mapping | None,
    inputs: Mapping[str, str],
    observed: Mapping | None,
    now: float,
    max_age_s: float,
    watch: Iterable[str],
    units: Iterable[str],
    commands: Iterable[str] = (),
) -> list[str]:
    """Why the host is not converged as stamped; ``[]`` when it is.

    ``observed`` is what the host has now for the stamp's own watch list; ``None`` skips that
    part (the caller found a reason before looking).
    """
    if not stamp:
        return ["no converge stamp (no full converge recorded on this host)"]
    if stamp.get("version") != STAMP_VERSION:
        return ["the converge stamp has version %r, this collection writes %d" % (stamp.get("version"), STAMP_VERSION)]
    reasons = []
    age = now - float(stamp.get("written", 0))
    if max_age_s > 0 and age > max_age_s:
        reasons.append(
            "the last full converge is %.1f h old (gpufleet_converge_max_age_h: %.1f)" % (age / 3600, max_age_s / 3600)
        )
    old_inputs = stamp.get("inputs") or {}
    for part in sorted(set(old_inputs) | set(inputs)):
        if old_inputs.get(part) != inputs.get(part):
            reasons.append("%s changed" % INPUT_PARTS.get(part, part))
    if (
        list(stamp.get("watch") or []) != list(watch)
        or list(stamp.get("unit_patterns") or []) != list(units)
        or list(stamp.get("commands") or []) != list(commands)
    ):
        reasons.append(
            "the watch lists changed (gpufleet_converge_watch, gpufleet_converge_units, gpufleet_converge_commands)"
        )
    if observed is not None:
        reasons += _diff("file", stamp.get("files") or {}, observed["files"])
        reasons += _diff("unit", stamp.get("units") or {}, observed["units"])
        for command in sorted(set(stamp.get("outputs") or {}) | set(observed.get("commands") or {})):
            if (stamp.get("outputs") or {}).get(command) != (observed.get("commands") or {}).get(command):
                reasons.append("the output of `%s` changed (live state its files do not show)" % command)
    return reasons
