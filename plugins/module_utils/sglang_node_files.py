# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A node's files in one pass (gpufleet.sglang.sglang_node_files): directories, whole files written
atomically when their content differs, paths removed. What a file, copy or template task does for
one path, for many, so a node costs one module round trip instead of three per file.

Content is compared byte for byte and written with module_utils.atomic_file (a temp file in the same
directory, then rename): a reader sees the old file or the new one, never half of either. The
checksum returned is the SHA-1 of the content, the same value copy and template return, so digests
built from them do not change when a role moves to this module. Ownership, mode bits and SELinux
contexts are the module's (AnsibleModule's set_*_if_different), not this file's.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import os
from dataclasses import dataclass, field
from typing import Iterable, List, Optional

from ansible_collections.gpufleet.sglang.plugins.module_utils.atomic_file import write_atomic


class NodeFilesError(Exception):
    """Bad input or an operation that failed, with a message naming the path."""


def sha1(data: bytes) -> str:
    """The SHA-1 hex digest of ``data`` (what copy and template return as ``checksum``)."""
    return hashlib.sha1(data).hexdigest()  # nosec B324 - a content fingerprint, as copy's


def parse_mode(mode, path: str) -> Optional[int]:
    """An octal mode (``"0644"``, ``"644"``, ``0o644``) as an int; None when not given."""
    if mode is None or mode == "":
        return None
    if isinstance(mode, int):
        value = mode
    else:
        text = str(mode).strip()
        try:
            value = int(text, 8)
        except ValueError:
            raise NodeFilesError("%s: mode %r is not an octal mode such as '0644'" % (path, mode)) from None
    if not 0 <= value <= 0o7777:
        raise NodeFilesError("%s: mode %r is out of range (0000-7777)" % (path, mode))
    return value


def read_bytes(path: str) -> Optional[bytes]:
    """The file's content, or None when there is no file at ``path``."""
    try:
        with open(path, "rb") as handle:
            return handle.read()
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return None
        if exc.errno == errno.EISDIR:
            raise NodeFilesError("%s: is a directory, not a file" % path) from None
        raise NodeFilesError("%s: cannot read it: %s" % (path, exc.strerror)) from None


@dataclass
class FileOutcome:
    path: str
    checksum: str
    # The content differs (or there was no file): written, or would be in check mode.
    content_changed: bool
    created: bool = False


def put_file(path: str, data: bytes, mode: Optional[int], check_mode: bool, pending: Iterable[str] = ()) -> FileOutcome:
    """Write ``data`` to ``path`` when its content differs (atomically; ``mode`` for a new file).

    Parent directories must exist (as with copy and template): a missing one is an error naming it,
    unless it is in ``pending`` (directories a check-mode run would have created).
    """
    if not os.path.isabs(path):
        raise NodeFilesError("%s: give an absolute path" % path)
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        if check_mode and os.path.normpath(parent) in pending:
            return FileOutcome(path=path, checksum=sha1(data), content_changed=True, created=True)
        raise NodeFilesError("%s: its directory %s does not exist" % (path, parent))
    current = read_bytes(path)
    outcome = FileOutcome(path=path, checksum=sha1(data), content_changed=current != data, created=current is None)
    if outcome.content_changed and not check_mode:
        if mode is None:
            # Keep an existing file's mode bits; a new file gets 0644 less the umask, as copy does.
            if current is not None:
                mode = os.stat(path).st_mode & 0o7777
            else:
                umask = os.umask(0)
                os.umask(umask)
                mode = 0o666 & ~umask
        try:
            write_atomic(path, data, mode)
        except OSError as exc:
            raise NodeFilesError("%s: cannot write it: %s" % (path, exc.strerror)) from None
    return outcome


def missing_directories(path: str) -> List[str]:
    """The components of ``path`` that do not exist yet, outermost first."""
    if not os.path.isabs(path):
        raise NodeFilesError("%s: give an absolute path" % path)
    missing = []
    current = os.path.normpath(path)
    while not os.path.lexists(current):
        missing.append(current)
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    if os.path.lexists(current) and not os.path.isdir(current):
        raise NodeFilesError("%s: %s exists and is not a directory" % (path, current))
    return list(reversed(missing))


def make_directories(paths: List[str], check_mode: bool) -> None:
    """Create ``paths`` (from missing_directories) in order, 0700 until the caller sets their mode."""
    if check_mode:
        return
    for path in paths:
        try:
            os.mkdir(path, 0o700)
        except FileExistsError:
            pass
        except OSError as exc:
            raise NodeFilesError("%s: cannot create it: %s" % (path, exc.strerror)) from None


def remove_path(path: str, check_mode: bool) -> bool:
    """Remove the file (or link) at ``path``; True when there was one. A directory is an error."""
    if not os.path.lexists(path):
        return False
    if os.path.isdir(path) and not os.path.islink(path):
        raise NodeFilesError("%s: is a directory; only files are removed" % path)
    if not check_mode:
        try:
            os.unlink(path)
        except FileNotFoundError:
            return False
        except OSError as exc:
            raise NodeFilesError("%s: cannot remove it: %s" % (path, exc.strerror)) from None
    return True


@dataclass
class Report:
    """What one call did, by path (the module's return)."""

    directories: dict = field(default_factory=dict)
    files: dict = field(default_factory=dict)
    absent: dict = field(default_factory=dict)

    @property
    def changed(self) -> bool:
        return any(entry["changed"] for part in (self.directories, self.files, self.absent) for entry in part.values())

    def as_dict(self) -> dict:
        return {"directories": self.directories, "files": self.files, "absent": self.absent}


def duplicate_paths(directories, files, absent) -> List[str]:
    """Paths named more than once across the three lists (a call must say one thing per path)."""
    seen, dups = set(), []
    for path in [d["path"] for d in directories] + [f["path"] for f in files] + list(absent):
        norm = os.path.normpath(path)
        if norm in seen and norm not in dups:
            dups.append(norm)
        seen.add(norm)
    return dups


def read_file(path: str, with_content: bool) -> dict:
    """What gpufleet.sglang.sglang_node_read returns for one path: whether a file is there, the SHA-1 of
    its content (as stat's checksum) and, with ``with_content``, the content base64-encoded (as slurp's)."""
    if not os.path.isabs(path):
        raise NodeFilesError("%s: give an absolute path" % path)
    data = read_bytes(path)
    if data is None:
        return {"exists": False}
    out = {"exists": True, "checksum": sha1(data)}
    if with_content:
        out["content"] = base64.b64encode(data).decode("ascii")
    return out
