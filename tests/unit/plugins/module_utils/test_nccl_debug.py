"""NCCL's own INIT/NET lines decide whether a serving group is on the fabric it should be on (issue 15).

Fixtures: tests/fixtures/nccl-debug/h200-x2-no-hca-socket.txt is a real NCCL 2.28.9 capture on a host
without HCAs; ib-ndr-8x400-rank0.txt is synthesized from NCCL's source strings (see its header).
"""

from __future__ import annotations

import pathlib

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.nccl_debug import (
    judge,
    judge_rank,
    parse,
    prom_text,
    select_current,
)

FIX = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "nccl-debug"
SOCKET = (FIX / "h200-x2-no-hca-socket.txt").read_text()
IB = (FIX / "ib-ndr-8x400-rank0.txt").read_text()
RAILS = ["mlx5_%d:1" % i for i in range(8)]


def test_real_no_hca_capture_reads_as_socket_with_no_ib_device():
    report = parse(SOCKET)
    assert report.networks == ["Socket"]
    assert report.ib_no_device and report.ib_devices == []
    assert report.failed_plugins == ["IB"]
    assert report.observed == "socket"
    assert "vm:1463:1478 [0] NCCL INFO Using network Socket" in report.evidence


def test_ib_fixture_reads_the_eight_rails_and_the_ib_network():
    report = parse(IB)
    assert report.networks == ["IB"]
    assert [(d["name"], d["port"], d["link"]) for d in report.ib_devices] == [
        ("mlx5_%d" % i, 1, "IB") for i in range(8)
    ]
    assert report.ib_hca_env.startswith("=mlx5_0:1,")
    assert report.observed == "ib"


def test_ib_run_with_the_expected_hcas_passes():
    verdict = judge(parse(IB), "ib", RAILS, "rank 0 gpu-a1")
    assert verdict.ok and verdict.observed == "ib" and verdict.problem == ""


def test_socket_fallback_fails_naming_rank_lines_and_causes():
    verdict = judge(parse(SOCKET), "ib", RAILS, "group r1_a rank 1 gpu-a2")
    assert not verdict.ok and verdict.observed == "socket"
    msg = verdict.problem
    assert msg.startswith("group r1_a rank 1 gpu-a2: NCCL uses its Socket transport")
    assert "vm:1463:1478 [0] NCCL INFO NET/IB : No device found." in msg
    assert "vm:1463:1478 [0] NCCL INFO NET/Socket : Using [0]eth0:192.0.2.2<0>" in msg
    assert "vm:1463:1478 [0] NCCL INFO Using network Socket" in msg
    # "No device found" puts the missing RDMA devices first
    assert "(1) no RDMA device inside the engine" in msg
    assert "NCCL_IB_HCA" in msg and "firewall" in msg
    assert "GID" not in msg  # GID index is a RoCE cause


def test_socket_fallback_on_roce_names_the_gid_index():
    verdict = judge(parse(SOCKET), "roce", RAILS, "rank 1")
    assert not verdict.ok and "NCCL_IB_GID_INDEX" in verdict.problem


def test_devices_found_but_socket_used_puts_gid_and_firewall_first():
    text = IB.replace("Using network IB", "Using network Socket")
    verdict = judge(parse(text), "roce", RAILS, "rank 0")
    assert not verdict.ok
    assert "(1) on RoCE, NCCL_IB_GID_INDEX" in verdict.problem and "(2) a host firewall" in verdict.problem


def test_one_communicator_on_sockets_fails_the_process():
    text = IB + "gpu-a1:4211:4299 [0] NCCL INFO Using network Socket\n"
    assert judge(parse(text), "ib", RAILS).observed == "socket"
    assert not judge(parse(text), "ib", RAILS).ok


def test_roce_link_layer_passes_roce_and_fails_ib():
    text = IB.replace(":1/IB", ":1/RoCE")
    assert judge(parse(text), "roce", RAILS).ok
    verdict = judge(parse(text), "ib", RAILS, "rank 0")
    assert not verdict.ok and verdict.observed == "roce"
    assert "NCCL uses roce where InfiniBand (IB) was expected" in verdict.problem


def test_a_missing_rail_and_a_storage_hca_are_named():
    text = IB.replace(" [7]mlx5_7:1/IB", " [7]mlx5_8:1/IB")
    verdict = judge(parse(text), "ib", RAILS, "rank 0")
    assert not verdict.ok
    assert "does not use mlx5_7:1 and uses mlx5_8:1, not a compute HCA" in verdict.problem
    assert "(1) NCCL_IB_HCA" in verdict.problem


def test_hca_names_without_port_match_any_port():
    assert judge(parse(IB), "ib", ["mlx5_%d" % i for i in range(8)]).ok


def test_timestamped_lines_and_warn_lines_are_read():
    text = (
        "[2026-11-30 19:00:00] gpu-a1:1:2 [3] NCCL INFO Using network IB\n"
        "gpu-a1:1:2 [3] transport/net_ib/init.cc:307 NCCL WARN NET/IB : No IP interface found.\n"
    )
    report = parse(text)
    assert report.networks == ["IB"] and report.warnings == ["NET/IB : No IP interface found."]
    assert len(report.evidence) == 2


def test_socket_is_not_held():
    verdict = judge(parse(SOCKET), "socket", [])
    assert verdict.ok and verdict.observed == "socket"


@pytest.mark.parametrize(
    "text, needle",
    [
        ("", "no NCCL debug lines at all"),
        ("garbage\n\x00\xff not nccl\n", "no NCCL debug lines at all"),
        (b"\xff\xfe\x00binary", "no NCCL debug lines at all"),
        (None, "no NCCL debug lines at all"),
        (12, "no NCCL debug lines at all"),
        ("h:1:2 [0] NCCL INFO NET/IB : Using [0]mlx5_0:1/IB [RO]; OOB ib0:1.2.3.4<0>\n", "no 'Using network' line"),
        (
            "h:1:2 [0] NCCL INFO Using network IB\nh:1:2 [0] NCCL INFO NET/IB : Using [x]??; OOB\n",
            "does not use mlx5_0:1",
        ),
    ],
)
def test_malformed_input_gives_a_clear_message_never_an_exception(text, needle):
    verdict = judge(parse(text), "ib", RAILS, "group g rank 1 h")
    assert not verdict.ok and needle in verdict.problem
    assert verdict.problem.startswith("group g rank 1 h: ")


def test_unknown_expected_transport_is_a_message():
    verdict = judge(parse(IB), "rdma", RAILS, "rank 0")
    assert not verdict.ok and "expected transport 'rdma' is not one of ib, roce, socket" in verdict.problem


def test_every_process_of_a_rank_must_pass_and_the_failing_file_is_named():
    ok = judge_rank([("/var/log/sglang/u/nccl.a.1", IB)], "ib", RAILS, "rank 0 a")
    assert ok.ok and ok.observed == "ib"
    bad = judge_rank(
        [("/var/log/sglang/u/nccl.a.1", IB), ("/var/log/sglang/u/nccl.a.2", SOCKET)], "ib", RAILS, "rank 0 a"
    )
    assert not bad.ok and bad.problem.startswith("rank 0 a (/var/log/sglang/u/nccl.a.2): NCCL uses its Socket")


def test_no_file_since_the_start_says_the_debug_file_did_not_reach_the_engine():
    verdict = judge_rank([], "ib", RAILS, "group g rank 1 h")
    assert not verdict.ok and "no NCCL debug file was written since the unit started" in verdict.problem
    assert "must be mounted" in verdict.problem


def test_select_current_keeps_the_files_of_this_start_newest_first():
    current, stale = select_current([("old", 90.0), ("a", 101.0), ("b", 105.0), ("edge", 99.5)], 100.0)
    assert current == ["b", "a", "edge"] and stale == ["old"]


def test_prom_text_has_the_metric_and_labels_the_alert_rule_reads():
    text = prom_text("r1_a", 1, "ib", "socket", False)
    assert 'gpufleet_nccl_transport_ok{model_group="r1_a",node_rank="1",expected="ib",observed="socket"} 0\n' in text
    assert "# TYPE gpufleet_nccl_transport_ok gauge" in text
    escaped = prom_text('a"b', 0, "ib", "ib", True)
    assert escaped.endswith('model_group="a\\"b",node_rank="0",expected="ib",observed="ib"} 1\n')
