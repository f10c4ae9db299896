# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a verified copy of a model is: a manifest of its files, and the checks around it.

A manifest lists every regular file of a model directory (relative POSIX path,
size, sha256), sorted by path, and carries a digest of that list: two hosts hold
the same model exactly when their digests are equal. The JSON is deterministic
(sorted keys, fixed separators), so the same tree gives the same bytes anywhere.

Hashing 642 GB takes a while; ``scan``/``verify`` reuse a cached sha256 for a file
whose size, mtime, ctime and inode are unchanged since it was last hashed, unless
``full``. Any write through the filesystem changes the ctime (even when the mtime
is put back), and a fetched file is a new inode; only damage below the filesystem
(bit rot) needs ``full``.

Also here: the disk-space preflight (bytes still needed, with a margin, against
the free space of the filesystem) and the atomic switch of a ``current`` link.
Plain functions; no Ansible objects.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import stat
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Tuple

from ansible_collections.gpufleet.sglang.plugins.module_utils.atomic_file import write_atomic

MANIFEST_VERSION = 1
CACHE_VERSION = 1
# Top-level names never part of a model: the hub CLIs keep their resume and
# metadata files under <local-dir>/.cache (huggingface_hub: .cache/huggingface).
DEFAULT_EXCLUDES = (".cache",)
CHUNK_BYTES = 8 * 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_REVISION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


class ManifestError(Exception):
    """A manifest, a cache or a directory that cannot be used as asked."""


# --------------------------------------------------------------------- sizes


def human_bytes(num: float) -> str:
    """1536 -> '1.5 KiB'; binary units, one decimal."""
    num = float(num)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(num) < 1024.0 or unit == "TiB":
            return ("%d B" % num) if unit == "B" else "%.1f %s" % (num, unit)
        num /= 1024.0
    return "%.1f TiB" % num  # pragma: no cover - loop always returns


def check_name(value: Any, what: str) -> str:
    """A model name or revision used as a directory name: refuse what could escape or confuse."""
    value = "" if value is None else str(value)
    if not _REVISION.match(value) or value in (".", ".."):
        raise ManifestError(
            "%s %r is not usable as a directory name: use letters, digits, '.', '_' and '-' only "
            "(a Hugging Face commit sha or a tag like v1.0), starting with a letter or digit" % (what, value)
        )
    return value


# --------------------------------------------------------------------- files


def _excluded(rel, excludes):
    top = rel.split("/", 1)[0]
    return top in excludes or rel in excludes


def walk_files(root: str, excludes: Iterable[str] = DEFAULT_EXCLUDES) -> Dict[str, os.stat_result]:
    """{relative posix path: os.stat_result} of the regular files under ``root``.

    Symlinks to files count as the file they point to (a dangling link is an
    error); directory symlinks are not followed. ``excludes`` names top-level
    entries (or exact relative paths) to leave out.
    """
    if not os.path.isdir(root):
        raise ManifestError("%s is not a directory" % root)
    found = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir.replace(os.sep, "/") + "/"
        dirnames[:] = sorted(d for d in dirnames if not _excluded(rel_dir + d, excludes))
        for name in filenames:
            rel = rel_dir + name
            if _excluded(rel, excludes):
                continue
            full = os.path.join(dirpath, name)
            try:
                st = os.stat(full)
            except OSError as exc:
                raise ManifestError("%s: cannot stat (%s); a dangling link?" % (full, exc.strerror))
            if stat.S_ISREG(st.st_mode):
                found[rel] = st
    return found


def sha256_file(path: str, chunk: int = CHUNK_BYTES) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while True:
            block = handle.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------- manifests


def manifest_digest(files: List[Dict[str, Any]]) -> str:
    """``sha256:<hex>`` of the canonical file list (path, size, sha256), independent of metadata."""
    canon = [[f["path"], int(f["size"]), f["sha256"]] for f in sorted(files, key=lambda f: f["path"])]
    blob = json.dumps(canon, separators=(",", ":"), ensure_ascii=True).encode("ascii")
    return "sha256:" + hashlib.sha256(blob).hexdigest()


def make_manifest(
    files: List[Dict[str, Any]], name: Optional[str] = None, revision: Optional[str] = None
) -> Dict[str, Any]:
    files = sorted(
        ({"path": f["path"], "size": int(f["size"]), "sha256": f["sha256"]} for f in files), key=lambda f: f["path"]
    )
    manifest = {
        "version": MANIFEST_VERSION,
        "files": files,
        "count": len(files),
        "bytes": sum(f["size"] for f in files),
        "digest": manifest_digest(files),
    }
    if name:
        manifest["name"] = str(name)
    if revision:
        manifest["revision"] = str(revision)
    return manifest


def dumps(manifest: Dict[str, Any]) -> str:
    """Deterministic JSON text (one file per line keeps diffs readable)."""
    head = dict((k, v) for k, v in manifest.items() if k != "files")
    lines = ["{"]
    for key in sorted(head):
        lines.append(" %s: %s," % (json.dumps(key), json.dumps(head[key], sort_keys=True)))
    lines.append(' "files": [')
    files = manifest["files"]
    for i, entry in enumerate(files):
        lines.append(
            "  %s%s" % (json.dumps(entry, sort_keys=True, separators=(", ", ": ")), "," if i < len(files) - 1 else "")
        )
    lines.append(" ]")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _check_rel_path(path, where):
    if not isinstance(path, str) or not path:
        raise ManifestError("%s: a file entry has no path" % where)
    parts = path.split("/")
    if re.search(r"[\x00-\x1f\x7f]", path):
        raise ManifestError(
            "%s: file path %r has a control character (NUL, newline, ...), which no file name on "
            "the hosts can carry; regenerate the manifest" % (where, path[:80])
        )
    if path.startswith("/") or "\\" in path or any(p in ("", ".", "..") for p in parts):
        raise ManifestError("%s: file path %r must be relative, '/'-separated, without '.' or '..'" % (where, path))


def loads(text: str, where: str = "manifest") -> Dict[str, Any]:
    """Parse and validate manifest JSON; the stored digest must match the file list."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ManifestError("%s is not JSON: %s" % (where, str(exc)[:200]))
    if not isinstance(data, dict) or not isinstance(data.get("files"), list):
        raise ManifestError(
            "%s has no 'files' list; expected a manifest written by gpufleet.sglang.model_manifest_create" % where
        )
    for key in ("name", "revision", "digest"):
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ManifestError("%s: %s is a %s, expected a string" % (where, key, type(data[key]).__name__))
    if isinstance(data.get("version"), bool) or data.get("version") != MANIFEST_VERSION:
        raise ManifestError(
            "%s: version %r, this collection reads version %d" % (where, data.get("version"), MANIFEST_VERSION)
        )
    seen = set()
    for entry in data["files"]:
        if not isinstance(entry, dict):
            raise ManifestError("%s: file entries must be objects" % where)
        _check_rel_path(entry.get("path"), where)
        if entry["path"] in seen:
            raise ManifestError("%s: %s is listed twice" % (where, entry["path"]))
        seen.add(entry["path"])
        size = entry.get("size")
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise ManifestError("%s: %s has size %r, expected a byte count" % (where, entry["path"], size))
        if not isinstance(entry.get("sha256"), str) or not _HEX64.match(entry["sha256"]):
            raise ManifestError(
                "%s: %s has sha256 %r, expected 64 lowercase hex digits" % (where, entry["path"], entry.get("sha256"))
            )
    manifest = make_manifest(data["files"], data.get("name"), data.get("revision"))
    if "digest" in data and data["digest"] != manifest["digest"]:
        raise ManifestError(
            "%s: stored digest %s does not match its file list (%s): the manifest was edited or truncated"
            % (where, data["digest"], manifest["digest"])
        )
    return manifest


def load_file(path: str) -> Dict[str, Any]:
    try:
        with open(path, "r") as handle:
            text = handle.read()
    except (IOError, OSError) as exc:
        raise ManifestError("cannot read manifest %s: %s" % (path, exc.strerror or exc))
    except UnicodeDecodeError:
        raise ManifestError(
            "manifest %s is not UTF-8 text (a binary file?); point at a manifest written by "
            "gpufleet.sglang.model_manifest_create" % path
        )
    return loads(text, path)


# --------------------------------------------------------------------- hash cache


def empty_cache() -> Dict[str, Any]:
    return {"version": CACHE_VERSION, "files": {}}


def loads_cache(text: str) -> Dict[str, Any]:
    """A cache that cannot be read is an empty cache (it only saves time)."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return empty_cache()
    if not isinstance(data, dict) or data.get("version") != CACHE_VERSION or not isinstance(data.get("files"), dict):
        return empty_cache()
    return data


def load_cache(path: Optional[str]) -> Dict[str, Any]:
    if not path or not os.path.isfile(path):
        return empty_cache()
    try:
        with open(path, "r") as handle:
            return loads_cache(handle.read())
    except (IOError, OSError, ValueError):  # ValueError: UnicodeDecodeError of a binary file
        return empty_cache()


def dumps_cache(cache: Dict[str, Any]) -> str:
    return json.dumps(cache, sort_keys=True, separators=(",", ":")) + "\n"


def _stamp(st):
    """What must not change for a cached hash to stay valid: any write, even one that resets
    the mtime afterwards, changes the ctime; a new file (a fetch) has a new inode."""
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "inode": st.st_ino}


def _cached_hash(cache, rel, st):
    hit = cache.get("files", {}).get(rel)
    if not isinstance(hit, dict) or not _HEX64.match(str(hit.get("sha256"))):
        return None
    stamp = _stamp(st)
    if any(hit.get(key) != value for key, value in stamp.items()):
        return None
    return hit["sha256"]


class HashStats(object):
    def __init__(self):
        self.hashed_files = 0
        self.hashed_bytes = 0
        self.reused_files = 0

    def as_dict(self):
        return {"hashed_files": self.hashed_files, "hashed_bytes": self.hashed_bytes, "reused_files": self.reused_files}


def _hash(root, rel, st, cache, new_cache, full, stats, hasher):
    digest = None if full else _cached_hash(cache, rel, st)
    if digest is None:
        digest = hasher(os.path.join(root, *rel.split("/")))
        stats.hashed_files += 1
        stats.hashed_bytes += st.st_size
    else:
        stats.reused_files += 1
    entry = _stamp(st)
    entry["sha256"] = digest
    new_cache["files"][rel] = entry
    return digest


def scan(
    root: str,
    excludes: Iterable[str] = DEFAULT_EXCLUDES,
    cache: Optional[Dict[str, Any]] = None,
    full: bool = False,
    hasher: Callable[[str], str] = sha256_file,
    name: Optional[str] = None,
    revision: Optional[str] = None,
) -> Tuple[Dict[str, Any], Dict[str, Any], Dict[str, int]]:
    """Manifest of ``root``. Returns (manifest, new_cache, stats dict)."""
    cache = cache or empty_cache()
    new_cache = empty_cache()
    stats = HashStats()
    files = []
    for rel, st in sorted(walk_files(root, excludes).items()):
        files.append(
            {"path": rel, "size": st.st_size, "sha256": _hash(root, rel, st, cache, new_cache, full, stats, hasher)}
        )
    return make_manifest(files, name, revision), new_cache, stats.as_dict()


def problem(kind: str, path: str, detail: str) -> Dict[str, str]:
    return {"kind": kind, "path": path, "detail": detail}


def verify(
    root: str,
    manifest: Dict[str, Any],
    excludes: Iterable[str] = DEFAULT_EXCLUDES,
    cache: Optional[Dict[str, Any]] = None,
    full: bool = False,
    hasher: Callable[[str], str] = sha256_file,
) -> Dict[str, Any]:
    """Compare ``root`` with ``manifest``.

    Problems (each ``{kind, path, detail}``): ``missing``, ``size`` (no hash is
    computed for it), ``hash``, ``extra`` (a file the manifest does not list).
    Returns ``{ok, problems, present_bytes, new_cache, stats}``; ``present_bytes``
    counts the bytes already there toward the manifest (for the disk check and
    for resuming).
    """
    cache = cache or empty_cache()
    new_cache = empty_cache()
    stats = HashStats()
    problems = []
    present_bytes = 0
    if os.path.isdir(root):
        found = walk_files(root, excludes)
    else:
        found = {}
    for entry in manifest["files"]:
        rel = entry["path"]
        st = found.pop(rel, None)
        if st is None:
            problems.append(problem("missing", rel, "missing (%s expected)" % human_bytes(entry["size"])))
            continue
        present_bytes += min(st.st_size, entry["size"])
        if st.st_size != entry["size"]:
            problems.append(problem("size", rel, "size %d, expected %d" % (st.st_size, entry["size"])))
            continue
        try:
            digest = _hash(root, rel, st, cache, new_cache, full, stats, hasher)
        except (IOError, OSError) as exc:
            problems.append(problem("unreadable", rel, "cannot read: %s" % (exc.strerror or exc)))
            continue
        if digest != entry["sha256"]:
            problems.append(
                problem("hash", rel, "sha256 %s..., expected %s... (corrupted)" % (digest[:12], entry["sha256"][:12]))
            )
    for rel, st in sorted(found.items()):
        problems.append(problem("extra", rel, "not in the manifest (%s)" % human_bytes(st.st_size)))
    return {
        "ok": not problems,
        "problems": problems,
        "present_bytes": present_bytes,
        "new_cache": new_cache,
        "stats": stats.as_dict(),
    }


def summarize(problems: List[Dict[str, str]], limit: int = 5) -> str:
    """'3 problems: a.bin: missing; b.bin: size 1, expected 2; ... (+1 more)'."""
    if not problems:
        return "no problems"
    shown = ["%s: %s" % (p["path"], p["detail"]) for p in problems[:limit]]
    more = len(problems) - limit
    plural = "" if len(problems) == 1 else "s"
    suffix = " (+%d more)" % more if more > 0 else ""
    return "%d problem%s: %s%s" % (len(problems), plural, "; ".join(shown), suffix)


def repair(root: str, problems: List[Dict[str, str]], remove: Callable[[str], None] = os.remove) -> List[str]:
    """Delete the files a fetch must bring again (size/hash mismatch, unreadable, extra).

    Returns the relative paths removed. Missing files need nothing. Paths come
    from ``walk_files``/manifests (already checked relative); still refuse to
    leave ``root``.
    """
    removed = []
    real_root = os.path.realpath(root)
    for item in problems:
        if item["kind"] == "missing":
            continue
        _check_rel_path(item["path"], "repair")
        full = os.path.join(root, *item["path"].split("/"))
        if not os.path.realpath(full).startswith(real_root + os.sep):
            raise ManifestError("%s leaves %s; not removing it" % (full, root))
        try:
            remove(full)
        except OSError as exc:
            if os.path.exists(full):
                raise ManifestError("cannot remove %s: %s" % (full, exc.strerror or exc))
        removed.append(item["path"])
    return removed


# --------------------------------------------------------------------- disk space


def free_bytes(path: str, statvfs: Callable[[str], Any] = os.statvfs) -> Tuple[int, str]:
    """Free bytes (for an unprivileged writer) of the filesystem that holds ``path``
    or, when it does not exist yet, its nearest existing parent."""
    probe = os.path.abspath(path)
    while not os.path.exists(probe):
        parent = os.path.dirname(probe)
        if parent == probe:
            break
        probe = parent
    st = statvfs(probe)
    return st.f_bavail * st.f_frsize, probe


def disk_check(
    host: str,
    path: str,
    total_bytes: int,
    present_bytes: int,
    free: int,
    margin_pct: float = 5.0,
    margin_bytes: int = 0,
    extra_bytes: int = 0,
) -> Dict[str, Any]:
    """Is there room for the rest of a model? Returns ``{ok, needed, free, shortfall, msg}``.

    needed = (total - present) * (1 + pct/100) + margin_bytes + extra_bytes
    (``extra_bytes``: e.g. an archive that is unpacked next to its download).
    """
    if total_bytes < 0 or present_bytes < 0 or margin_pct < 0 or margin_bytes < 0:
        raise ManifestError("disk check: sizes and margins must not be negative")
    remaining = max(0, int(total_bytes) - int(present_bytes))
    if remaining == 0 and not extra_bytes:
        needed = 0
    else:
        needed = int(remaining * (1.0 + margin_pct / 100.0)) + int(margin_bytes) + int(extra_bytes)
    shortfall = max(0, needed - int(free))
    detail = "%s to fetch of %s (%s already here) + %g%% + %s margin%s" % (
        human_bytes(remaining),
        human_bytes(total_bytes),
        human_bytes(present_bytes),
        margin_pct,
        human_bytes(margin_bytes),
        (" + %s archive" % human_bytes(extra_bytes)) if extra_bytes else "",
    )
    if shortfall:
        msg = (
            "host %s: not enough disk space under %s: needs %s (%s), %s free; short by %s. "
            "Free space there, or point model_sync_root at a larger filesystem."
            % (host, path, human_bytes(needed), detail, human_bytes(free), human_bytes(shortfall))
        )
    else:
        msg = "host %s: %s free under %s, needs %s (%s)" % (host, human_bytes(free), path, human_bytes(needed), detail)
    return {"ok": shortfall == 0, "needed": needed, "free": int(free), "shortfall": shortfall, "msg": msg}


# --------------------------------------------------------------------- current link


def read_link(link: str) -> Optional[str]:
    try:
        return os.readlink(link)
    except OSError:
        return None


def switch_link(
    link: str,
    target: str,
    symlink: Callable[[str, str], None] = os.symlink,
    replace: Callable[[str, str], None] = os.replace,
) -> Tuple[bool, Optional[str]]:
    """Point ``link`` at ``target`` atomically (a temporary link renamed over it).

    Returns (changed, previous target or None). Refuses to replace a real
    directory or file standing where the link should be.
    """
    previous = read_link(link)
    if previous is None and os.path.lexists(link):
        raise ManifestError(
            "%s exists and is not a symlink; move it away (e.g. into revisions/) so it can become "
            "the 'current' link" % link
        )
    if previous == target:
        return False, previous
    tmp = "%s.tmp-%d" % (link, os.getpid())
    if os.path.lexists(tmp):
        os.remove(tmp)
    symlink(target, tmp)
    try:
        replace(tmp, link)
    except OSError:
        if os.path.lexists(tmp):
            os.remove(tmp)
        raise
    return True, previous


def revisions_to_prune(revisions: Iterable[Tuple[str, float]], keep: int, protect: Iterable[str]) -> List[str]:
    """Which revision directories to delete: keep the ``keep`` newest (by mtime) and every name in ``protect``.

    ``revisions``: [(name, mtime)]. ``keep`` 0 disables pruning.
    """
    if keep <= 0:
        return []
    ordered = sorted(revisions, key=lambda r: (r[1], r[0]), reverse=True)
    kept = set(protect)
    for name, _mtime in ordered:
        if len(kept) >= max(keep, len(set(protect))):
            break
        kept.add(name)
    return sorted(n for n, _m in revisions if n not in kept)


def remove_tree(path: str) -> None:
    shutil.rmtree(path)


# --------------------------------------------------------------------- module runners


def write_text(path: str, text: str, check_mode: bool = False, mode: int = 0o644) -> bool:
    """Write ``text`` to ``path`` atomically when it differs. Returns whether it differed."""
    try:
        with open(path, "r") as handle:
            if handle.read() == text:
                return False
    except (IOError, OSError):
        pass
    if check_mode:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    write_atomic(path, text.encode("utf-8"), mode)
    return True


def _save_cache(path, cache, check_mode):
    if path and not check_mode:
        try:
            write_text(path, dumps_cache(cache))
        except (IOError, OSError):
            pass  # a cache only saves time


def _present_bytes(paths, manifest):
    """Bytes already present toward ``manifest`` in the best of ``paths`` (sizes only, no hashing)."""
    best = 0
    for path in paths:
        if not os.path.isdir(path):
            continue
        found = walk_files(path)
        have = 0
        for entry in manifest["files"] if manifest else []:
            st = found.get(entry["path"])
            if st is not None:
                have += min(st.st_size, entry["size"])
        if not manifest:
            have = sum(st.st_size for st in found.values())
        best = max(best, have)
    return best


# One function per module (model_manifest_create, _verify, _measure, _space): each reads only
# the options its module has; ``p`` are that module's parameters. They raise ManifestError.


def run_create(p: Mapping[str, Any], check_mode: bool = False) -> Dict[str, Any]:
    """What model_manifest_create does: hash ``path`` and write its manifest to ``dest``."""
    path = p["path"]
    cache = load_cache(p.get("cache"))
    manifest, new_cache, stats = scan(
        path, cache=cache, full=p.get("full"), name=p.get("name"), revision=p.get("revision")
    )
    changed = write_text(p["dest"], dumps(manifest), check_mode)
    _save_cache(p.get("cache"), new_cache, check_mode)
    result = {
        "changed": changed,
        "ok": True,
        "digest": manifest["digest"],
        "files": manifest["count"],
        "bytes": manifest["bytes"],
        "stats": stats,
        "msg": "%s: %d files, %s, %s" % (path, manifest["count"], human_bytes(manifest["bytes"]), manifest["digest"]),
    }
    if p.get("return_manifest"):
        result["manifest"] = manifest
    return result


def run_measure(p: Mapping[str, Any]) -> Dict[str, Any]:
    """What model_manifest_measure does: count files and bytes (no hashing), and what is present toward a manifest."""
    path = p["path"]
    manifest = load_file(p["manifest"]) if p.get("manifest") else None
    found = walk_files(path) if os.path.isdir(path) else {}
    result = {
        "changed": False,
        "ok": True,
        "files": len(found),
        "bytes": sum(st.st_size for st in found.values()),
        "msg": "%s: %d files" % (path, len(found)),
    }
    if manifest:
        result["present_bytes"] = _present_bytes([path], manifest)
        result["digest"] = manifest["digest"]
    return result


def run_space(p: Mapping[str, Any], statvfs: Callable[[str], Any] = os.statvfs) -> Dict[str, Any]:
    """What model_manifest_space does: will the rest of the model fit under ``path``? ``failed`` set when not."""
    path = p["path"]
    manifest = load_file(p["manifest"]) if p.get("manifest") else None
    total = manifest["bytes"] if manifest else int(p.get("total_bytes") or 0)
    if total <= 0:
        raise ManifestError(
            "the size of the model is unknown: give a manifest or total_bytes (role variable model_sync_size_bytes)"
        )
    present = _present_bytes(p.get("present_paths") or [], manifest)
    free, probe = free_bytes(path, statvfs)
    check = disk_check(
        p.get("host") or "this host",
        path,
        total,
        present,
        free,
        p.get("margin_pct", 5.0),
        p.get("margin_bytes", 0),
        p.get("extra_bytes", 0),
    )
    result = {
        "changed": False,
        "ok": check["ok"],
        "bytes": total,
        "present_bytes": present,
        "needed": check["needed"],
        "free": check["free"],
        "shortfall": check["shortfall"],
        "msg": check["msg"],
        "files": manifest["count"] if manifest else 0,
        "filesystem": probe,
    }
    if manifest:
        result["digest"] = manifest["digest"]
    if not check["ok"]:
        result["failed"] = True
    return result


def run_verify(p: Mapping[str, Any], check_mode: bool = False) -> Dict[str, Any]:
    """What model_manifest_verify does: compare ``path`` with ``manifest``; ``repair`` deletes what must be fetched again."""
    path = p["path"]
    manifest = load_file(p["manifest"])
    cache = load_cache(p.get("cache"))
    outcome = verify(path, manifest, cache=cache, full=p.get("full"))
    _save_cache(p.get("cache"), outcome["new_cache"], check_mode)
    removed = []
    if p.get("repair") and outcome["problems"]:
        bad = [item for item in outcome["problems"] if item["kind"] != "missing"]
        if check_mode:
            removed = [item["path"] for item in bad]
        else:
            removed = repair(path, bad)
    problems = outcome["problems"]
    ok = outcome["ok"]
    result = {
        "changed": bool(removed),
        "ok": ok,
        "digest": manifest["digest"],
        "files": manifest["count"],
        "bytes": manifest["bytes"],
        "present_bytes": outcome["present_bytes"],
        "problems": problems,
        "removed": removed,
        "stats": outcome["stats"],
        "msg": ("%s matches %s" % (path, manifest["digest"]))
        if ok
        else "%s does not match %s: %s" % (path, manifest["digest"], summarize(problems)),
    }
    if removed:
        result["msg"] += "; removed %d file(s) to fetch again" % len(removed)
    if p.get("return_manifest"):
        result["manifest"] = manifest
    if not ok and p.get("fail_on_problems", True):
        result["failed"] = True
    return result


def run_switch(p: Mapping[str, Any], check_mode: bool = False) -> Dict[str, Any]:
    """What the model_switch module does. Raises ManifestError.

    Layout under ``path``: ``revisions/<rev>/``, ``staging/<rev>/``,
    ``manifests/<rev>.json`` (+ ``.cache.json``), and the ``current`` link
    (relative: ``revisions/<rev>``). A staged copy is promoted (renamed) only when
    it matches the manifest; the link moves only to a revision that matches it.
    """
    base = p["path"]
    rev = check_name(p["revision"], "revision")
    manifest_path = p.get("manifest") or os.path.join(base, "manifests", rev + ".json")
    cache_path = p.get("cache") or os.path.join(base, "manifests", rev + ".cache.json")
    staging = p.get("staging") or os.path.join(base, "staging", rev)
    revision_dir = os.path.join(base, "revisions", rev)
    link = os.path.join(base, p.get("link") or "current")
    target = "revisions/" + rev
    manifest = load_file(manifest_path)
    cache = load_cache(cache_path)
    result = {
        "changed": False,
        "digest": manifest["digest"],
        "files": manifest["count"],
        "bytes": manifest["bytes"],
        "promoted": False,
        "switched": False,
        "pruned": [],
        "link": link,
        "target": target,
        "revision_path": revision_dir,
    }

    source = revision_dir
    if not os.path.isdir(revision_dir):
        if not os.path.isdir(staging):
            raise ManifestError(
                "neither %s nor a staged copy in %s exists: fetch the model first" % (revision_dir, staging)
            )
        source = staging
    outcome = verify(source, manifest, cache=cache, full=p.get("full"))
    _save_cache(cache_path, outcome["new_cache"], check_mode)
    if not outcome["ok"]:
        result["problems"] = outcome["problems"]
        result["failed"] = True
        result["msg"] = "not switching %s: %s does not match %s: %s" % (
            link,
            source,
            manifest["digest"],
            summarize(outcome["problems"]),
        )
        return result
    result["problems"] = []
    if source == staging:
        result["promoted"] = result["changed"] = True
        if not check_mode:
            parent = os.path.dirname(revision_dir)
            if not os.path.isdir(parent):
                os.makedirs(parent, 0o755)
            os.rename(staging, revision_dir)
    elif os.path.isdir(staging) and p.get("clean_staging", True):
        # a stale staging copy of a revision that is already in place
        result["changed"] = True
        result["removed_staging"] = staging
        if not check_mode:
            remove_tree(staging)

    previous = read_link(link)
    result["previous"] = previous
    if previous is None and os.path.lexists(link):
        raise ManifestError(
            "%s exists and is not a symlink; move it away (e.g. into revisions/) so it can become "
            "the 'current' link" % link
        )
    if previous != target:
        result["switched"] = result["changed"] = True
        if not check_mode:
            switch_link(link, target)

    rev_root = os.path.join(base, "revisions")
    prune = []
    if os.path.isdir(rev_root):
        entries = [
            (n, os.stat(os.path.join(rev_root, n)).st_mtime)
            for n in os.listdir(rev_root)
            if os.path.isdir(os.path.join(rev_root, n)) and not os.path.islink(os.path.join(rev_root, n))
        ]
        if check_mode and result["promoted"]:
            entries.append((rev, float("inf")))
        protect = [rev]
        if previous and previous.startswith("revisions/"):
            protect.append(previous.split("/", 1)[1])
        prune = revisions_to_prune(entries, int(p.get("keep") or 0), protect)
        result["pruned"] = prune
        if prune:
            result["changed"] = True
            if not check_mode:
                for name in prune:
                    remove_tree(os.path.join(rev_root, name))
                    for suffix in (".json", ".cache.json"):
                        stale = os.path.join(base, "manifests", name + suffix)
                        if os.path.exists(stale):
                            os.remove(stale)
    pruned = "; pruned %s" % ", ".join(prune) if prune else ""
    result["msg"] = "%s -> %s (%s)%s" % (link, target, manifest["digest"], pruned)
    return result
