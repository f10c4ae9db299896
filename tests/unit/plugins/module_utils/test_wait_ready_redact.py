"""The wait_ready module's journal tail never carries a key SGLang logged: not the API key, not
the admin key (passed in ``redact``), also at -v where the result is printed."""

from __future__ import annotations

import json
import os
import pathlib
import socket
import stat
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[4]
ADMIN = "admin-KEY-4f1e9c"
API = "api-KEY-77aa01"


def _free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _tool(bindir, name, text):
    path = bindir / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def run(tmp_path, **extra):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    # A unit that is not active (wait_ready gives up at once) and a journal with SGLang's server_args line.
    _tool(bindir, "systemctl", "#!/bin/sh\necho inactive\nexit 3\n")
    _tool(
        bindir,
        "journalctl",
        "#!/bin/sh\necho \"server_args={'api_key': '%s', 'admin_api_key': '%s'}\"\n" % (API, ADMIN),
    )
    args = {
        "url": "http://127.0.0.1:%d" % _free_port(),
        "is_head": True,
        "served_model_name": "m",
        "unit": "sglang-g",
        "timeout": 1,
        "delay": 1,
        "api_key": API,
    }
    args.update(extra)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=str(REPO / "collections"), PATH="%s:%s" % (bindir, os.environ["PATH"]))
    proc = subprocess.run(
        [sys.executable, str(REPO / "plugins" / "modules" / "sglang_wait_ready.py"), str(args_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    return proc.stdout


def test_journal_tail_masks_the_api_key_and_the_admin_key(tmp_path):
    out = run(tmp_path, redact=[ADMIN])
    result = json.loads(out)
    assert result["ready"] is False
    assert any("server_args" in line for line in result["journal"])
    assert API not in out and ADMIN not in out


def test_without_redact_the_admin_key_would_show(tmp_path):
    # What the role fixed: before it passed `redact`, the admin key came back in clear.
    out = run(tmp_path)
    assert API not in out and ADMIN in out
