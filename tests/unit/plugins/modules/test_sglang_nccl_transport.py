"""sglang_nccl_transport: this start's debug files judged, earlier ones pruned, the textfile written (issue 15).

Runs the module's main() on real files in a temporary directory (the engine's start time given, so no
systemd is needed).
"""

from __future__ import annotations

import json
import os
import pathlib
import time

import pytest
from ansible.module_utils.testing import patch_module_args

from ansible_collections.gpufleet.sglang.plugins.modules import sglang_nccl_transport

FIX = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "nccl-debug"
IB = (FIX / "ib-ndr-8x400-rank0.txt").read_text()
SOCKET = (FIX / "h200-x2-no-hca-socket.txt").read_text()
RAILS = ["mlx5_%d:1" % i for i in range(8)]


def run(args, capsys, check_mode=False):
    if check_mode:
        args = dict(args, _ansible_check_mode=True)
    with patch_module_args(args):
        with pytest.raises(SystemExit):
            sglang_nccl_transport.main()
    return json.loads(capsys.readouterr().out)


def write(path, text, age_s=0.0):
    path.write_text(text)
    t = time.time() - age_s
    os.utime(path, (t, t))


def args(tmp_path, **kw):
    base = {
        "unit": "sglang-r1_a",
        "debug_dir": str(tmp_path / "logs"),
        "expected": "ib",
        "expected_hcas": RAILS,
        "group": "r1_a",
        "node_rank": "1",
        "host": "gpu-a2",
        "timeout": 0,
        "textfile": str(tmp_path / "textfile" / "gpufleet_nccl_transport.prom"),
        "started_at": time.time() - 60,
    }
    base.update(kw)
    return base


def test_ib_since_the_start_is_ok_the_old_socket_file_is_pruned_and_the_textfile_says_1(tmp_path, capsys):
    (tmp_path / "logs").mkdir()
    write(tmp_path / "logs" / "nccl.gpu-a2.100", SOCKET, age_s=3600)  # an earlier start's process
    write(tmp_path / "logs" / "nccl.gpu-a2.200", IB)
    out = run(args(tmp_path), capsys)
    assert out["ok"] and out["observed"] == "ib" and out["detail"] == "ok" and out["changed"]
    assert out["files"] == [str(tmp_path / "logs" / "nccl.gpu-a2.200")]
    assert out["pruned"] == [str(tmp_path / "logs" / "nccl.gpu-a2.100")]
    assert not (tmp_path / "logs" / "nccl.gpu-a2.100").exists()
    prom = (tmp_path / "textfile" / "gpufleet_nccl_transport.prom").read_text()
    assert 'gpufleet_nccl_transport_ok{model_group="r1_a",node_rank="1",expected="ib",observed="ib"} 1' in prom
    again = run(args(tmp_path), capsys)
    assert again["ok"] and not again["changed"]


def test_a_socket_fallback_is_a_finding_naming_the_rank_and_the_textfile_says_0(tmp_path, capsys):
    (tmp_path / "logs").mkdir()
    write(tmp_path / "logs" / "nccl.gpu-a2.300", SOCKET)
    out = run(args(tmp_path), capsys)
    assert not out.get("failed") and not out["ok"] and out["observed"] == "socket"
    assert out["detail"].startswith(
        "group r1_a rank 1 gpu-a2 (%s): NCCL uses its Socket transport" % (tmp_path / "logs" / "nccl.gpu-a2.300")
    )
    assert "likely causes" in out["detail"]
    prom = (tmp_path / "textfile" / "gpufleet_nccl_transport.prom").read_text()
    assert 'expected="ib",observed="socket"} 0' in prom


def test_no_file_of_this_start_is_a_finding(tmp_path, capsys):
    (tmp_path / "logs").mkdir()
    write(tmp_path / "logs" / "nccl.gpu-a2.100", IB, age_s=3600)
    out = run(args(tmp_path), capsys)
    assert not out["ok"] and "no NCCL debug file was written since the unit started" in out["detail"]


def test_check_mode_writes_and_removes_nothing(tmp_path, capsys):
    (tmp_path / "logs").mkdir()
    write(tmp_path / "logs" / "nccl.gpu-a2.100", SOCKET, age_s=3600)
    write(tmp_path / "logs" / "nccl.gpu-a2.200", IB)
    out = run(args(tmp_path), capsys, check_mode=True)
    assert out["ok"] and out["changed"] and out["pruned"]
    assert (tmp_path / "logs" / "nccl.gpu-a2.100").exists()
    assert not (tmp_path / "textfile").exists()
