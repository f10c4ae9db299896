"""gpufleet.sglang.sglang_node_files and sglang_node_read as modules (issue 19): one call for a node's
directories, files and removals; contents, secrets included, never come back - not even in the
invocation the module returns."""

from __future__ import annotations

import base64
import hashlib
import json
import os

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpufleet.sglang.plugins.modules import sglang_node_files, sglang_node_read

SECRET = "sk-secret-7c1f0a"


def run(module, args, capsys):
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            module.main()
    return capsys.readouterr().out


def files_args(tmp_path, secret=SECRET):
    conf = str(tmp_path / "etc" / "sglang")
    return {
        "directories": [{"path": conf, "mode": "0750"}],
        "files": [
            {"path": conf + "/g.env", "content": "A=1\n", "mode": "0600"},
            {"path": conf + "/g-secrets.yaml", "content": "api-key: %s\n" % secret, "mode": "0600"},
            {
                "path": conf + "/g.identity",
                "content_base64": base64.b64encode(b"sglang 0.5.23\n").decode(),
                "mode": "0644",
            },
        ],
        "absent": [str(tmp_path / "gate.prom")],
    }


def test_writes_then_reports_no_change(tmp_path, capsys):
    (tmp_path / "gate.prom").write_text("stale")
    out = run(sglang_node_files, files_args(tmp_path), capsys)
    result = json.loads(out)
    conf = tmp_path / "etc" / "sglang"
    assert result["changed"] is True
    assert result["directories"][str(conf)]["changed"] is True
    assert (conf / "g.env").read_text() == "A=1\n"
    assert (conf / "g.identity").read_bytes() == b"sglang 0.5.23\n"
    assert os.stat(conf).st_mode & 0o7777 == 0o750
    assert os.stat(conf / "g-secrets.yaml").st_mode & 0o7777 == 0o600
    assert result["files"][str(conf / "g.identity")]["checksum"] == hashlib.sha1(b"sglang 0.5.23\n").hexdigest()
    assert result["absent"][str(tmp_path / "gate.prom")]["changed"] is True
    assert not (tmp_path / "gate.prom").exists()

    again = json.loads(run(sglang_node_files, files_args(tmp_path), capsys))
    assert again["changed"] is False
    assert not any(entry["changed"] for entry in again["files"].values())


def test_a_mode_change_alone_is_a_change(tmp_path, capsys):
    run(sglang_node_files, files_args(tmp_path), capsys)
    env = tmp_path / "etc" / "sglang" / "g.env"
    env.chmod(0o644)
    result = json.loads(run(sglang_node_files, files_args(tmp_path), capsys))
    assert result["files"][str(env)]["changed"] is True
    assert env.stat().st_mode & 0o7777 == 0o600


def test_contents_never_come_back(tmp_path, capsys):
    out = run(sglang_node_files, files_args(tmp_path), capsys)
    assert SECRET not in out
    invocation = json.loads(out)["invocation"]["module_args"]["files"]
    assert all(entry.get("content") in (None, "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER") for entry in invocation)


def test_check_mode_writes_nothing(tmp_path, capsys):
    args = dict(files_args(tmp_path), _ansible_check_mode=True)
    result = json.loads(run(sglang_node_files, args, capsys))
    assert result["changed"] is True
    assert not (tmp_path / "etc").exists()


def test_bad_input_names_the_path(tmp_path, capsys):
    args = {"files": [{"path": str(tmp_path / "missing" / "f"), "content": "x"}]}
    result = json.loads(run(sglang_node_files, args, capsys))
    assert result["failed"] and "missing does not exist" in result["msg"]
    args = {"files": [{"path": str(tmp_path / "f"), "template": "x.j2"}]}
    result = json.loads(run(sglang_node_files, args, capsys))
    assert result["failed"] and "action plugin" in result["msg"]


def test_read(tmp_path, capsys):
    facts = tmp_path / "fabric.json"
    facts.write_text('{"transport": "roce"}')
    env = tmp_path / "nccl.env"
    args = {"content": [str(facts)], "paths": [str(env)]}
    result = json.loads(run(sglang_node_read, args, capsys))
    assert result["changed"] is False
    assert result["files"][str(env)] == {"exists": False}
    assert base64.b64decode(result["files"][str(facts)]["content"]) == b'{"transport": "roce"}'
    env.write_text("NCCL_IB_HCA=mlx5_0\n")
    result = json.loads(run(sglang_node_read, args, capsys))
    assert result["files"][str(env)]["checksum"] == hashlib.sha1(b"NCCL_IB_HCA=mlx5_0\n").hexdigest()
    assert "content" not in result["files"][str(env)]


def test_a_short_content_garbles_no_path(tmp_path, capsys):
    # no_log would mask every occurrence of the value "etc" in the return (paths included): it is unmasked there.
    path = str(tmp_path / "etc")
    result = json.loads(run(sglang_node_files, {"files": [{"path": path, "content": "etc"}]}, capsys))
    assert list(result["files"]) == [path]
    assert result["invocation"]["module_args"]["files"][0]["content"] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
