"""module_utils.sglang_node_files: a node's files in one pass (issue 19, the rollout's pre-stage), with
the checksums copy and template return, atomic writes, and check mode that writes nothing."""

from __future__ import annotations

import base64
import hashlib
import os

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_node_files import (
    NodeFilesError,
    duplicate_paths,
    make_directories,
    missing_directories,
    parse_mode,
    put_file,
    read_file,
    remove_path,
    sha1,
)


@pytest.mark.parametrize(
    "mode, expected",
    [("0644", 0o644), ("644", 0o644), ("0600", 0o600), (0o750, 0o750), ("2755", 0o2755), (None, None), ("", None)],
)
def test_parse_mode(mode, expected):
    assert parse_mode(mode, "/x") == expected


@pytest.mark.parametrize("mode", ["u=rw", "0999", "77777", "rw-r--r--"])
def test_parse_mode_refuses_what_is_not_octal(mode):
    with pytest.raises(NodeFilesError, match="/x: mode"):
        parse_mode(mode, "/x")


def test_checksum_is_what_copy_and_template_return():
    # ansible.builtin.copy/template return checksum = SHA-1 of the content (the config digest is built on it).
    assert sha1(b"nccl_env none\n") == hashlib.sha1(b"nccl_env none\n").hexdigest()


def test_new_file_written_with_its_mode_then_unchanged(tmp_path):
    path = str(tmp_path / "g.env")
    first = put_file(path, b"A=1\n", 0o600, check_mode=False)
    assert first.content_changed and first.created
    assert open(path, "rb").read() == b"A=1\n"
    assert os.stat(path).st_mode & 0o7777 == 0o600
    again = put_file(path, b"A=1\n", 0o600, check_mode=False)
    assert not again.content_changed and again.checksum == first.checksum
    assert os.listdir(str(tmp_path)) == ["g.env"]  # no temp file left behind


def test_changed_content_replaces_the_file_whole(tmp_path):
    path = tmp_path / "unit.service"
    path.write_bytes(b"old\n")
    inode = path.stat().st_ino
    out = put_file(str(path), b"new\n", 0o644, check_mode=False)
    assert out.content_changed and not out.created
    assert path.read_bytes() == b"new\n"
    assert path.stat().st_ino != inode  # renamed over the old one, never written in place


def test_without_a_mode_an_existing_file_keeps_its_mode(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    path.chmod(0o640)
    put_file(str(path), b"new", None, check_mode=False)
    assert path.stat().st_mode & 0o7777 == 0o640


def test_check_mode_writes_nothing(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    out = put_file(str(path), b"new", 0o644, check_mode=True)
    assert out.content_changed and path.read_bytes() == b"old"
    out = put_file(str(tmp_path / "g"), b"x", 0o644, check_mode=True)
    assert out.created and not (tmp_path / "g").exists()


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(NodeFilesError, match="its directory .*/nope does not exist"):
        put_file(str(tmp_path / "nope" / "f"), b"x", 0o644, check_mode=False)
    # In check mode, a directory the same call would create is no error.
    pending = {str(tmp_path / "nope")}
    assert put_file(str(tmp_path / "nope" / "f"), b"x", 0o644, check_mode=True, pending=pending).created


def test_relative_paths_are_refused():
    with pytest.raises(NodeFilesError, match="absolute"):
        put_file("etc/x", b"", None, check_mode=True)


def test_missing_directories_outermost_first_and_created(tmp_path):
    target = tmp_path / "a" / "b" / "c"
    missing = missing_directories(str(target))
    assert missing == [str(tmp_path / "a"), str(tmp_path / "a" / "b"), str(target)]
    make_directories(missing, check_mode=True)
    assert not (tmp_path / "a").exists()
    make_directories(missing, check_mode=False)
    assert target.is_dir() and missing_directories(str(target)) == []


def test_a_file_in_the_way_of_a_directory_is_named(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(NodeFilesError, match="exists and is not a directory"):
        missing_directories(str(tmp_path / "f" / "d"))


def test_remove_path(tmp_path):
    path = tmp_path / "x.prom"
    path.write_text("x")
    assert remove_path(str(path), check_mode=True) and path.exists()
    assert remove_path(str(path), check_mode=False) and not path.exists()
    assert not remove_path(str(path), check_mode=False)
    with pytest.raises(NodeFilesError, match="is a directory"):
        remove_path(str(tmp_path), check_mode=False)


def test_read_file(tmp_path):
    path = tmp_path / "fabric.json"
    assert read_file(str(path), True) == {"exists": False}
    path.write_bytes(b'{"transport": "ib"}')
    assert read_file(str(path), False) == {"exists": True, "checksum": sha1(b'{"transport": "ib"}')}
    got = read_file(str(path), True)
    assert base64.b64decode(got["content"]) == b'{"transport": "ib"}'


def test_duplicate_paths():
    assert duplicate_paths([{"path": "/etc/sglang"}], [{"path": "/etc/sglang/a"}], ["/etc/x"]) == []
    assert duplicate_paths([], [{"path": "/etc/a"}, {"path": "/etc//a"}], ["/etc/a"]) == ["/etc/a"]
