"""The converge stamp (issue 19, converge cost): what it records and every way a host stops matching it."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.converge_state import (
    STAMP_VERSION,
    compare,
    digest,
    fingerprint_files,
    make_stamp,
    observe,
    parse_unit_list,
    same_state,
    tree_digest,
)

ROOT = pathlib.Path(__file__).resolve().parents[4]
INPUTS = {"collection": "c1", "plan": "p1", "fleet": "f1", "controller_files": "x1"}

# `systemctl list-units --all --plain --no-legend sglang* ...` and `list-unit-files` as systemd 252 prints them.
LIST_UNITS = """\
sglang-demo_a.service              loaded active   running SGLang demo_a rank 0/2 (emulator)
systemd-journald@sglang.service    loaded active   running Journal Service for Namespace sglang
sglang-old.service                 loaded failed   failed  SGLang old
\u25cf sglang-gone.service          not-found inactive dead  sglang-gone.service
"""
LIST_UNIT_FILES = """\
sglang-demo_a.service                  enabled  enabled
sglang-router.service                  disabled enabled
systemd-journald@.service              static   -
"""
PATTERNS = ["sglang*", "systemd-journald@*"]
# `systemctl show -p Id,ExecMainStartTimestampMonotonic sglang* ...` (systemd 252 prints the properties in its own order).
SHOW = """\
ExecMainStartTimestampMonotonic=26253556297
Id=sglang-demo_a.service

ExecMainStartTimestampMonotonic=0
Id=sglang-old.service
"""


def test_parse_unit_list_records_state_and_enablement():
    units = parse_unit_list(LIST_UNITS, LIST_UNIT_FILES, PATTERNS)
    assert units == {
        "sglang-demo_a.service": "active/running enabled",
        "sglang-gone.service": "inactive/dead -",
        "sglang-old.service": "failed/failed -",
        "sglang-router.service": "-/- disabled",
        "systemd-journald@.service": "-/- static",
        "systemd-journald@sglang.service": "active/running -",
    }


def test_parse_unit_list_records_when_a_service_started():
    units = parse_unit_list(LIST_UNITS, LIST_UNIT_FILES, PATTERNS, SHOW)
    assert units["sglang-demo_a.service"] == "active/running enabled started=26253556297"
    assert units["sglang-old.service"] == "failed/failed - started=0"
    assert units["sglang-router.service"] == "-/- disabled"


def test_a_restarted_service_is_named():
    was = {"files": {}, "units": {"sglang-router.service": "active/running enabled started=1"}}
    stamp = make_stamp(INPUTS, was, 0, [], ["sglang*"])
    now = {"files": {}, "units": {"sglang-router.service": "active/running enabled started=2"}}
    assert compare(stamp, INPUTS, now, 1, 0, [], ["sglang*"]) == [
        "unit sglang-router.service restarted since the last full converge (active/running enabled)"
    ]


def test_parse_unit_list_keeps_only_the_patterns():
    assert list(parse_unit_list(LIST_UNITS, LIST_UNIT_FILES, ["systemd-journald@sglang.service"])) == [
        "systemd-journald@sglang.service"
    ]


def watched(tmp_path):
    etc = tmp_path / "etc" / "sglang"
    etc.mkdir(parents=True)
    (etc / "g.env").write_text("NCCL_DEBUG=WARN\n")
    os.chmod(etc / "g.env", 0o600)
    (etc / "sub").mkdir()
    (etc / "sub" / "x.yaml").write_text("a: 1\n")
    os.symlink("g.env", etc / "link")
    return etc, [str(etc) + "/**"]


def test_fingerprint_covers_content_mode_owner_and_links(tmp_path):
    etc, globs = watched(tmp_path)
    files = fingerprint_files(globs)
    assert sorted(files) == sorted(str(etc / n) for n in ("g.env", "link", "sub/x.yaml"))
    assert files[str(etc / "link")] == "link:g.env"
    content, mode, owner = files[str(etc / "g.env")].split(" ")
    assert len(content) == 64 and mode == "0600" and owner == "%d:%d" % (os.getuid(), os.getgid())


def stamped(tmp_path, now=1000.0):
    etc, globs = watched(tmp_path)
    stamp = make_stamp(INPUTS, observe(globs, [], None), now, globs, [])
    return etc, globs, stamp


def test_an_unchanged_host_is_converged(tmp_path):
    _etc, globs, stamp = stamped(tmp_path)
    assert compare(stamp, INPUTS, observe(globs, [], None), 1001.0, 3600, globs, []) == []


@pytest.mark.parametrize(
    "drift, reason",
    [
        (lambda etc: (etc / "g.env").write_text("NCCL_DEBUG=INFO\n"), "/g.env: its content changed"),
        (lambda etc: os.chmod(etc / "g.env", 0o644), "changed (0644"),
        (lambda etc: (etc / "sub" / "x.yaml").unlink(), "/sub/x.yaml is gone"),
        (lambda etc: (etc / "new.conf").write_text("x"), "/new.conf is new"),
        (lambda etc: (os.unlink(etc / "link"), os.symlink("sub/x.yaml", etc / "link")), "/link changed"),
    ],
    ids=["content", "mode", "removed", "added", "link"],
)
def test_a_changed_file_is_named(tmp_path, drift, reason):
    etc, globs, stamp = stamped(tmp_path)
    drift(etc)
    reasons = compare(stamp, INPUTS, observe(globs, [], None), 1001.0, 3600, globs, [])
    assert len(reasons) == 1 and reason in reasons[0], reasons


def test_a_unit_in_another_state_is_named():
    stamp = make_stamp(
        INPUTS, {"files": {}, "units": {"sglang-a.service": "active/running enabled"}}, 0, [], ["sglang*"]
    )
    now = {"files": {}, "units": {"sglang-a.service": "activating/auto-restart enabled"}}
    assert compare(stamp, INPUTS, now, 1, 0, [], ["sglang*"]) == [
        "unit sglang-a.service is activating/auto-restart enabled (was active/running enabled)"
    ]


def test_reasons_never_show_a_files_content_digest(tmp_path):
    etc, globs, stamp = stamped(tmp_path)
    (etc / "g.env").write_text("KEY=other\n")
    (etc / "new.key").write_text("SECRET\n")
    (etc / "sub" / "x.yaml").unlink()
    said = " ".join(compare(stamp, INPUTS, observe(globs, [], None), 1001.0, 3600, globs, []))
    digests = [
        v.split(" ")[0] for v in list(stamp["files"].values()) + list(observe(globs, [], None)["files"].values())
    ]
    assert "g.env: its content changed" in said and "is new (0644" in said and "is gone (was 0644" in said
    assert not [d for d in digests if not d.startswith("link:") and d in said]


@pytest.mark.parametrize(
    "part, said",
    [
        ("collection", "the collection's content (roles, plugins, playbooks) changed"),
        ("plan", "the plan changed"),
        ("fleet", "the fleet's variables (the collection's, of every host) or its groups changed"),
        ("controller_files", "controller files the roles copy (router wheels, the emulator checkout) changed"),
    ],
)
def test_each_changed_input_is_named(part, said):
    stamp = make_stamp(INPUTS, {"files": {}, "units": {}}, 0, [], [])
    assert compare(stamp, dict(INPUTS, **{part: "other"}), None, 1, 0, [], []) == [said]


def test_no_stamp_an_old_stamp_another_version_and_other_watch_lists():
    stamp = make_stamp(INPUTS, {"files": {}, "units": {}}, 0, ["/etc/a/**"], ["a*"])
    assert compare(None, INPUTS, None, 1, 0, [], [])[0].startswith("no converge stamp")
    assert compare(dict(stamp, version=STAMP_VERSION + 1), INPUTS, None, 1, 0, ["/etc/a/**"], ["a*"])[0].startswith(
        "the converge stamp has version"
    )
    assert compare(stamp, INPUTS, None, 25 * 3600, 24 * 3600, ["/etc/a/**"], ["a*"]) == [
        "the last full converge is 25.0 h old (gpufleet_converge_max_age_h: 24.0)"
    ]
    assert compare(stamp, INPUTS, None, 25 * 3600, 0, ["/etc/a/**"], ["a*"]) == []  # 0 never expires
    assert "the watch lists changed" in compare(stamp, INPUTS, None, 1, 0, ["/etc/b/**"], ["a*"])[0]


def test_same_state_ignores_only_the_time():
    stamp = make_stamp(INPUTS, {"files": {"/a": "x"}, "units": {}}, 0, [], [])
    assert same_state(stamp, dict(stamp, written=99))
    assert not same_state(stamp, dict(stamp, files={"/a": "y"}))
    assert not same_state(None, stamp)


def test_tree_digest_follows_content_not_time(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f").write_text("1")
    (tmp_path / "d" / ".hidden").mkdir()
    first = tree_digest(str(tmp_path / "d"))
    os.utime(tmp_path / "d" / "f", (1, 1))
    (tmp_path / "d" / ".hidden" / "ignored").write_text("x")
    assert tree_digest(str(tmp_path / "d")) == first
    (tmp_path / "d" / "f").write_text("2")
    assert tree_digest(str(tmp_path / "d")) != first
    assert tree_digest(str(tmp_path / "missing")) == "missing"
    assert digest({"b": 1, "a": [1]}) == digest({"a": [1], "b": 1})


def run_module(tmp_path, args):
    """The module as Ansible runs it: its arguments as JSON on a file."""
    argsfile = tmp_path / "args.json"
    argsfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=str(ROOT / "collections"))
    out = subprocess.run(
        [sys.executable, str(ROOT / "plugins" / "modules" / "converge_state.py"), str(argsfile)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return json.loads(out.stdout)


def test_module_stamps_root_only_then_checks(tmp_path):
    etc, globs = watched(tmp_path)
    stamp_file = tmp_path / "state" / "converge.json"
    common = {"inputs": INPUTS, "watch": globs, "units": [], "path": str(stamp_file)}
    first = run_module(tmp_path, dict(common, state="check"))
    assert first["converged"] is False and first["reasons"][0].startswith("no converge stamp")
    written = run_module(tmp_path, dict(common, state="stamp"))
    assert written["changed"] is False and written["recorded"] is True
    assert oct(stamp_file.stat().st_mode & 0o777) == "0o600"
    assert json.loads(stamp_file.read_text())["inputs"] == INPUTS
    assert run_module(tmp_path, dict(common, state="stamp"))["recorded"] is False
    assert run_module(tmp_path, dict(common, state="check"))["converged"] is True
    (etc / "g.env").write_text("changed\n")
    drifted = run_module(tmp_path, dict(common, state="check"))
    assert drifted["converged"] is False and "g.env: its content changed" in drifted["reasons"][0]
    other = run_module(tmp_path, dict(common, state="check", inputs=dict(INPUTS, plan="p2")))
    assert other["reasons"] == ["the plan changed"]


def test_a_commands_output_counts_but_only_as_a_digest():
    outputs = {"nft -s list table inet t": (0, "table inet t { chain input { tcp dport 30000 accept } }")}

    def run_rc(command):
        return outputs[command]

    commands = list(outputs)
    stamp = make_stamp(INPUTS, observe([], [], None, commands, run_rc), 0, [], [], commands)
    assert "tcp dport" not in json.dumps(stamp)
    assert compare(stamp, INPUTS, observe([], [], None, commands, run_rc), 1, 0, [], [], commands) == []
    outputs["nft -s list table inet t"] = (1, "")  # flushed
    assert compare(stamp, INPUTS, observe([], [], None, commands, run_rc), 1, 0, [], [], commands) == [
        "the output of `nft -s list table inet t` changed (live state its files do not show)"
    ]
    assert "watch lists changed" in compare(stamp, INPUTS, None, 1, 0, [], [], [])[0]
