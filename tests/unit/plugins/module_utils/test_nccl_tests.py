from __future__ import annotations

import json
import os
import pathlib
import stat

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import nccl_tests_parse as ntp
from ansible_collections.gpufleet.sglang.plugins.module_utils import nccl_tests_report as ntr
from ansible_collections.gpufleet.sglang.plugins.module_utils import nccl_tests_verdict as ntv

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "nccl-tests"
GIB = 1024**3


def fixture(name):
    return (FIXTURES / name).read_text()


def judge(text, **kwargs):
    kwargs.setdefault("host", "gpu-a1")
    return ntv.evaluate(ntp.parse(text), **kwargs)


# ----------------------------------------------------------------- real outputs


@pytest.mark.parametrize(
    "name, collective, nrows, avg, min_at_1g",
    [
        ("all_reduce_perf_g2.txt", "all_reduce_perf", 30, 104.86, 327.40),
        ("all_gather_perf_g2.txt", "all_gather_perf", 30, 83.6209, 266.73),
        ("reduce_scatter_perf_g2.txt", "reduce_scatter_perf", 30, 81.7925, 275.93),
        ("alltoall_perf_g2.txt", "alltoall_perf", 30, 93.9974, 332.04),
        ("sendrecv_perf_g2.txt", "sendrecv_perf", 30, 109.522, 361.30),
        ("all_reduce_g2_json_run_stdout.txt", "all_reduce_perf", 6, 211.288, 329.13),
        ("all_reduce_nccl_debug_g2.txt", "all_reduce_perf", 4, 157.572, None),
    ],
)
def test_real_text_outputs(name, collective, nrows, avg, min_at_1g):
    parsed = ntp.parse(fixture(name))
    assert parsed["format"] == "text"
    assert parsed["collective"] == collective
    assert len(parsed["rows"]) == nrows
    assert parsed["concluded"] and parsed["out_of_bounds"] == {"count": 0, "ok": True}
    assert parsed["avg_busbw"] == avg and parsed["avg_status"] is None
    assert parsed["nccl_tests_version"] == "2.19.6" and parsed["nccl_version"] == "2.28.9"
    assert [d["hostname"] for d in parsed["devices"]] == ["vm", "vm"]
    assert ntp.detected_gpu_model(parsed) == "H200" and ntp.detected_topology(parsed) == "1x2"
    assert not parsed["errors"] and not parsed["timeouts"] and not parsed["incomplete_rows"]
    verdict = ntv.evaluate(parsed, min_busbw_gbps=0, host="gpu-a1")
    assert verdict["passed"], verdict["failures"]
    assert verdict["min_busbw_gbps"] == min_at_1g


def test_row_columns_and_na_wrong():
    rows = ntp.parse(fixture("alltoall_perf_g2.txt"))["rows"]
    last = rows[-1]
    head = (last["size"], last["count"], last["type"], last["redop"], last["root"])
    assert head == (4294967296, 536870912, "float", "none", -1)
    assert last["out_of_place"] == {"time_us": 6371.79, "algbw": 674.06, "busbw": 337.03, "wrong": 0}
    assert last["in_place"] == {"time_us": 5916.45, "algbw": 725.94, "busbw": 362.97, "wrong": None}  # N/A
    big = ntp.parse(fixture("all_reduce_perf_g2.txt"))["rows"][-1]
    assert big["out_of_place"]["time_us"] == 12487.5  # 7-wide time column drops a decimal


def test_statistic_is_min_out_of_place_over_large_rows_never_the_average():
    parsed = ntp.parse(fixture("all_reduce_perf_g2.txt"))
    verdict = ntv.evaluate(parsed, host="gpu-a1")
    # rows >= 1 GiB: 327.40 (1G), 337.98 (2G), 343.94 (4G); the sweep average is 104.86
    assert [r["size"] for r in verdict["rows"]] == [GIB, 2 * GIB, 4 * GIB]
    assert verdict["min_busbw_gbps"] == 327.40 and verdict["min_busbw_size"] == GIB
    assert verdict["avg_busbw_gbps"] == 104.86
    # judged on the in-place column instead, 1 GiB would read 328.55: out-of-place is what counts
    assert ntv.evaluate(parsed, host="h", min_bytes=4 * GIB)["min_busbw_gbps"] == 343.94
    # a threshold the average would fail but the large rows pass
    assert ntv.evaluate(parsed, host="h", min_busbw_gbps=200)["passed"]


def test_debug_output_interleaved_rows_transport_and_nvls():
    parsed = ntp.parse(fixture("all_reduce_nccl_debug_g2.txt"))
    assert [r["size"] for r in parsed["rows"]] == [1048576, 4194304, 16777216, 67108864]
    assert ntp.detected_transport(parsed) == "socket"
    assert parsed["transport"]["ib_absent"]
    assert any("Using network Socket" in e for e in parsed["transport"]["evidence"])
    assert parsed["nvls"] == {"channels": 0, "env": False} and ntp.detected_nvls(parsed) is False
    assert parsed["log_hosts"] == ["vm"]


def test_real_json_matches_its_stdout_and_keeps_only_nccl_env():
    parsed = ntp.parse(fixture("all_reduce_g2.json"))
    text = ntp.parse(fixture("all_reduce_g2_json_run_stdout.txt"))
    assert parsed["format"] == "json" and parsed["collective"] == "all_reduce_perf"
    assert parsed["concluded"] and parsed["avg_status"] is None and parsed["out_of_bounds"]["ok"]
    assert [r["size"] for r in parsed["rows"]] == [r["size"] for r in text["rows"]]
    for jrow, trow in zip(parsed["rows"], text["rows"]):
        assert jrow["root"] == -1 and jrow["redop"] == "sum"
        for place in ("out_of_place", "in_place"):
            assert abs(jrow[place]["busbw"] - trow[place]["busbw"]) < 0.006
            assert jrow[place]["wrong"] == 0
    assert parsed["env"] == ["NCCL_VERSION=2.28.3-1", "NCCL_NVLS_ENABLE=0"]
    assert ntp.detected_nvls(parsed) is False
    # the JSON lists one device entry per process; -g 2 makes that 2 GPUs on one host
    assert ntp.detected_topology(parsed) == "1x2" and ntp.detected_gpu_model(parsed) == "H200"
    verdict = ntv.evaluate(parsed, host="gpu-a1")
    assert verdict["passed"] and verdict["min_busbw_gbps"] == pytest.approx(329.129262)
    assert verdict["threshold_source"] == "default table: H200 1x2 NVLS off"


# ----------------------------------------------------------------- failure variants


def replace_once(text, old, new):
    assert text.count(old) == 1, old
    return text.replace(old, new)


ALL_REDUCE = "all_reduce_perf_g2.txt"
ROW_1G = "  1073741824     268435456     float     sum      -1  3279.56  327.40  327.40       0  3268.08  328.55  328.55       0"
ROW_2G_PREFIX = "  2147483648     536870912     float     sum      -1"
FOOTER_FROM = "# Out of bounds values"


def variant_wrong(text):
    return replace_once(text, ROW_1G, ROW_1G.replace("327.40       0", "327.40      12"))


def variant_oob(text):
    return replace_once(text, "# Out of bounds values : 0 OK", "# Out of bounds values : 3 FAILED")


def variant_avg_failed(text):
    return replace_once(text, "# Avg bus bandwidth    : 104.86 ", "# Avg bus bandwidth    : 104.86 FAILED")


def variant_timeout(text):
    # nccl-tests prints the row's first columns, then "<host>: Test timeout (Ns) file:line" on the same line
    head = text[: text.index(ROW_2G_PREFIX)]
    return head + ROW_2G_PREFIX + "vm: Test timeout (60s) common.cu:395\n .. vm pid 1327: Test failure common.cu:1160\n"


def variant_nccl_failure(text):
    head = text[: text.index(FOOTER_FROM)]
    return head + (
        "gpu-b2: Test NCCL failure common.cu:1131 'unhandled system error (run with NCCL_DEBUG=INFO for "
        "details) / '\n .. gpu-b2 pid 4242: Test failure common.cu:1160\n"
    )


def variant_cuda_failure(text):
    head = text[: text.index(FOOTER_FROM)]
    return head + "vm: Test CUDA failure common.cu:892 'an illegal memory access was encountered'\n"


def variant_not_concluded(text):
    return text[: text.index("# Collective test concluded")]


@pytest.mark.parametrize(
    "variant, expect",
    [
        (variant_wrong, "12 wrong element(s) out-of-place at 1 GiB"),
        (variant_oob, "'Out of bounds values : 3 FAILED'"),
        (variant_avg_failed, "average bus bandwidth 104.86 GB/s FAILED against NCCL_TESTS_MIN_BW"),
        (variant_timeout, "Test timeout (60s) on vm at 2 GiB"),
        (
            variant_nccl_failure,
            "NCCL failure on gpu-b2: gpu-b2: Test NCCL failure common.cu:1131 'unhandled system error",
        ),
        (variant_cuda_failure, "CUDA failure on vm: vm: Test CUDA failure common.cu:892"),
        (variant_not_concluded, "ended without 'Collective test concluded'"),
    ],
)
def test_failure_variants(variant, expect):
    text = variant(fixture(ALL_REDUCE))
    verdict = judge(text, min_busbw_gbps=100)
    assert not verdict["passed"]
    assert any(expect in f for f in verdict["failures"]), verdict["failures"]
    assert all(f.startswith("host gpu-a1: all_reduce_perf") for f in verdict["failures"])
    assert judge(fixture(ALL_REDUCE), min_busbw_gbps=100)["passed"]  # the unmodified capture passes


def test_timeout_run_details():
    parsed = ntp.parse(variant_timeout(fixture(ALL_REDUCE)))
    assert parsed["timeouts"] == [{"host": "vm", "seconds": 60, "size": 2 * GIB}]
    assert parsed["incomplete_rows"] == [2 * GIB] and parsed["rows"][-1]["size"] == GIB
    assert not parsed["concluded"]
    failures = ntv.evaluate(parsed, host="gpu-a1", min_busbw_gbps=100)["failures"]
    assert any("test failure on vm" in f for f in failures)


def test_timeout_during_in_place_half():
    row = (
        "  2147483648     536870912     float     sum      -1    6353.89  337.98  337.98       0"
        "gpu-a1: Test timeout (30s) common.cu:395"
    )
    text = fixture(ALL_REDUCE)
    parsed = ntp.parse(text[: text.index(ROW_2G_PREFIX)] + row + "\n")
    assert parsed["timeouts"] == [{"host": "gpu-a1", "seconds": 30, "size": 2 * GIB}]


def test_nccl_line_glued_to_a_row_is_reassembled():
    text = fixture("all_reduce_nccl_debug_g2.txt")
    row = "    16777216       4194304     float     sum      -1    81.74  205.26  205.26       0    78.66  213.30  213.30       0"
    glued = (
        "    16777216       4194304     float     sum      -1vm:1463:1486 [0] NCCL INFO Channel 00/0 : 0[0] -> 1[1] "
        "via NET/IB/0/GDRDMA\n    81.74  205.26  205.26       0    78.66  213.30  213.30       0"
    )
    parsed = ntp.parse(replace_once(text, row, glued))
    assert [r["size"] for r in parsed["rows"]] == [1048576, 4194304, 16777216, 67108864]
    assert parsed["rows"][2]["in_place"]["busbw"] == 213.30
    assert parsed["transport"]["connections"] == {"IB": 1}


def test_outer_timeout_and_exit_status():
    assert "killed by the outer timeout" in judge(fixture(ALL_REDUCE), rc=124, min_busbw_gbps=0)["failures"][0]
    assert "exited with status 7" in judge(fixture(ALL_REDUCE), rc=7, min_busbw_gbps=0)["failures"][0]
    assert judge(fixture(ALL_REDUCE), rc=0, min_busbw_gbps=0)["passed"]


def test_usage_output_and_empty_output_fail():
    usage = "invalid option 'J'\nUSAGE: all_reduce_perf \n\t[-t,--nthreads <num threads>] \n"
    failures = judge(usage, min_busbw_gbps=0)["failures"]
    assert any("printed no result rows (invalid option 'J'" in f for f in failures)
    assert any("usage error" in f for f in failures)
    assert not judge("", min_busbw_gbps=0)["passed"]


def test_mpi_launch_error_is_reported_as_its_cause():
    text = (
        "ssh: connect to host gpu-b2 port 22: Connection refused\n"
        "ORTE was unable to reliably start one or more daemons.\n"
    )
    failures = judge(text, group="r1_b", min_busbw_gbps=0, collective="all_reduce_perf")["failures"]
    assert failures[0] == (
        "group r1_b: all_reduce_perf did not run: ssh could not connect to gpu-b2 port 22: "
        "Connection refused. Fix: sshd running and reachable on that port from rank 0 (firewall, "
        "nccl_tests_ssh_port)"
    )
    # The generic "daemons not started" line adds nothing once the specific cause is known.
    assert len(failures) == 1 and not any("printed no result rows" in f for f in failures)
    only_generic = judge("ORTE was unable to reliably start one or more daemons.\n", group="r1_b", min_busbw_gbps=0)[
        "failures"
    ]
    assert only_generic == [
        "group r1_b: nccl-tests did not run: mpirun could not start or keep its daemons on the "
        "nodes (ORTE was unable to reliably start one or more daemons.). Fix: see the ssh and "
        "Open MPI lines of the run's output; Open MPI must be installed at the same path on every "
        "node"
    ]


NO_RSH_AGENT = "mpi1_singleton_no_rsh_agent.txt"  # real: 2 x H200 VM, Open MPI 4.1.6, no ssh


def test_node_run_of_an_mpi_build_without_ssh_names_the_rsh_agent_and_the_fix():
    """Seen on a real H200 host: an MPI=1 binary started without mpirun where no ssh/rsh exists."""
    verdict = judge(fixture(NO_RSH_AGENT), rc=1, collective="all_reduce_perf")
    assert not verdict["passed"]
    first = verdict["failures"][0]
    assert first.startswith(
        "host gpu-a1: all_reduce_perf did not run: Open MPI found no launch agent "
        "(plm_rsh_agent: ssh : rsh; none is in PATH)"
    )
    assert "binary built without MPI (make MPI=0" in first and "OMPI_MCA_ess_singleton_isolated=1" in first
    assert not any("printed no result rows" in f for f in verdict["failures"])
    # MPI_Init's and orte_init's generic lines are consequences, not another cause.
    assert [f for f in verdict["failures"] if "MPI_Init failed" in f] == []
    assert verdict["failures"][1:] == ["host gpu-a1: all_reduce_perf exited with status 1"]


def test_real_isolated_singleton_of_the_same_mpi_build_runs_and_passes():
    """The fix the role applies to prebuilt MPI=1 binaries, on the same real host without ssh."""
    parsed = ntp.parse(fixture("mpi1_isolated_singleton_g2.txt"))
    assert parsed["mpi_causes"] == [] and parsed["concluded"] and len(parsed["rows"]) == 1
    verdict = ntv.evaluate(parsed, host="gpu-a1", collective="all_reduce_perf")
    assert verdict["passed"], verdict["failures"]
    assert verdict["min_busbw_gbps"] == 330.56 and verdict["expected_busbw_gbps"] == 290.0
    assert verdict["gpu_model"] == "H200" and verdict["topology"] == "1x2"


def test_group_run_without_ssh_asks_for_the_ssh_client_on_rank_0():
    first = judge(fixture(NO_RSH_AGENT), group="r1_a", rc=1, min_busbw_gbps=0)["failures"][0]
    assert first.startswith(
        "group r1_a: nccl-tests did not run: mpirun found no remote launch agent "
        "(Open MPI's plm_rsh_agent: ssh : rsh; none is in PATH)"
    )
    assert "install the SSH client on rank 0" in first


@pytest.mark.parametrize(
    "text, group, needle",
    [
        (
            "bash: orted: command not found\n",
            "r1_a",
            "Open MPI's daemon orted was not found (bash: orted: command not found). Fix: install Open MPI at the same path "
            "on every node",
        ),
        ("mpirun has detected an attempt to run as root.\n", "r1_a", "mpirun refuses to run as root"),
        ("There are not enough slots available in the system to satisfy the 16\n", "r1_a", "fewer slots than ranks"),
        (
            "mpirun was unable to find the specified executable file, and therefore\n",
            "r1_a",
            "could not find the nccl-tests binary on a node",
        ),
        ("Host key verification failed.\n", "r1_a", "ssh refused a peer's host key"),
        ("root@10.0.0.2: Permission denied (publickey).\n", "r1_a", "ssh was refused by a peer"),
        (
            "ssh: Could not resolve hostname gpu-zz: Name or service not known\n",
            "r1_a",
            "ssh could not resolve gpu-zz.",
        ),
        (
            "/opt/nccl-tests/build/all_reduce_perf: error while loading shared libraries: libmpi.so.40: cannot open shared "
            "object file: No such file or directory\n",
            None,
            "the binary cannot load libmpi.so.40. Fix:",
        ),
        (
            "env: \u2018/usr/bin/mpirun\u2019: No such file or directory\n",
            "r1_a",
            "/usr/bin/mpirun does not exist. Fix: install it",
        ),
        ("*** An error occurred in MPI_Init\n", None, "MPI_Init failed before the test started"),
    ],
)
def test_mpi_causes_and_fixes(text, group, needle):
    verdict = judge(text, group=group, min_busbw_gbps=0)
    assert not verdict["passed"]
    assert needle in verdict["failures"][0] and " did not run: " in verdict["failures"][0], verdict["failures"]
    assert not any("printed no result rows" in f for f in verdict["failures"])


def test_mpi_failure_after_rows_is_still_reported():
    text = fixture(ALL_REDUCE) + "Host key verification failed.\n"
    failures = judge(text, group="r1_a", min_busbw_gbps=0)["failures"]
    assert failures == [
        "group r1_a: all_reduce_perf MPI failure: ssh refused a peer's host key (Host key verification "
        "failed). Fix: the peer's host key must be in the known_hosts mpirun's ssh uses (the "
        "nccl_tests role scans it at the planned address)"
    ]


def test_run_check_json_mode_reads_the_mpi_cause_from_stdout_and_names_the_collective(tmp_path):
    """The role's -J mode: the JSON file never appears when MPI_Init fails; the cause is in the stdout."""
    (tmp_path / "node_all_reduce_perf.txt").write_text(fixture(NO_RSH_AGENT))
    result = ntr.run_check(
        {
            "src": str(tmp_path / "node_all_reduce_perf.json"),
            "log_src": str(tmp_path / "node_all_reduce_perf.txt"),
            "host": "gpu-a1",
            "rc": 1,
            "collective": "all_reduce_perf",
            "min_busbw_gbps": 0,
            "report_dir": str(tmp_path / "r"),
        }
    )
    assert not result["passed"] and result["collective"] == "all_reduce_perf"
    assert "plm_rsh_agent: ssh : rsh" in result["failures"][0]
    assert [os.path.basename(path) for path in result["reports"]][0].startswith("node_gpu-a1_all_reduce_perf.")


def test_truncated_json_is_a_run_that_did_not_finish():
    text = fixture("all_reduce_g2.json")
    parsed = ntp.parse(text[: text.index('"out_of_bounds"')])
    verdict = ntv.evaluate(parsed, host="gpu-a1", min_busbw_gbps=0)
    assert not verdict["passed"] and "JSON output" in verdict["failures"][-1]


def test_json_failure_fields():
    data = json.loads(fixture("all_reduce_g2.json"))
    data["results"][-1]["out_of_place"]["nwrong"] = 5.0
    data["out_of_bounds"] = {"count": 1, "okay": "false"}
    data["average_bus_bandwidth"]["okay"] = "false"
    data["errors"] = ["remote process exited or there was a network error"]
    failures = judge(json.dumps(data), min_busbw_gbps=0)["failures"]
    assert any("5 wrong element(s) out-of-place at 1 GiB" in f for f in failures)
    assert any("Out of bounds values : 1 FAILED" in f for f in failures)
    assert any("FAILED against NCCL_TESTS_MIN_BW" in f for f in failures)
    assert any("remote process exited" in f for f in failures)


def test_bitwise_header_columns_are_followed():
    # newer nccl-tests print a #bitdiff column per half with --bitwise (util.cu writeResultHeader)
    text = fixture("all_reduce_g2_json_run_stdout.txt")
    text = text.replace("  #wrong     time", "  #wrong  #bitdiff     time").replace("#wrong \n", "#wrong  #bitdiff\n")
    row = "  1073741824     268435456     float     sum      -1  3262.37  329.13  329.13       0  3274.47  327.91  327.91       0"
    text = replace_once(
        text,
        row,
        "  1073741824     268435456     float     sum      -1  3262.37  329.13  329.13       0"
        "         0  3274.47  327.91  327.91       0         4",
    )
    rows = ntp.parse(text)["rows"]
    assert rows[-1]["out_of_place"]["bitdiff"] == 0 and rows[-1]["in_place"]["bitdiff"] == 4
    assert rows[-1]["in_place"]["busbw"] == 327.91


# ----------------------------------------------------------------- transport


def ib_variant(text):
    return text.replace("Using network Socket", "Using network IB").replace(
        "NET/IB : No device found.", "NET/IB : Using [0]mlx5_0:1/IB [1]mlx5_1:1/IB ; OOB eth0:192.0.2.2<0>"
    )


@pytest.mark.parametrize(
    "transform, expect, passed, needle",
    [
        (lambda t: t, "ib", False, "NCCL used its Socket transport where InfiniBand/RoCE was expected"),
        (lambda t: t, "any", True, None),
        (lambda t: t, "socket", True, None),
        (ib_variant, "ib", True, None),
        (ib_variant, "socket", False, "NCCL used ib where Socket was expected"),
    ],
)
def test_transport_expectations(transform, expect, passed, needle):
    verdict = judge(transform(fixture("all_reduce_nccl_debug_g2.txt")), expect_transport=expect, min_busbw_gbps=0)
    assert verdict["passed"] is passed, verdict["failures"]
    if needle:
        assert any(needle in f for f in verdict["failures"])


def test_socket_fallback_names_the_evidence():
    failures = judge(fixture("all_reduce_nccl_debug_g2.txt"), group="r1_a", expect_transport="ib", min_busbw_gbps=0)[
        "failures"
    ]
    assert failures == [f for f in failures if f.startswith("group r1_a: all_reduce_perf")]
    assert "evidence: vm:1463:1478 [0] NCCL INFO Using network Socket" in failures[0]


def test_expected_ib_without_debug_lines_cannot_be_confirmed():
    failures = judge(fixture(ALL_REDUCE), expect_transport="ib", min_busbw_gbps=0)["failures"]
    assert len(failures) == 1 and "NCCL_DEBUG=INFO" in failures[0]


def test_socket_connection_lines_beat_ib_network():
    text = ib_variant(fixture("all_reduce_nccl_debug_g2.txt")).replace("via P2P/direct pointer", "via NET/Socket/0", 1)
    assert ntp.detected_transport(ntp.parse(text)) == "socket"


# ----------------------------------------------------------------- thresholds


@pytest.mark.parametrize(
    "model, topology, nvls, expected",
    [
        ("H100", "1x8", True, 400.0),
        ("H100", "1x8", False, 320.0),
        ("H200", "1x8", False, 320.0),
        ("H200", "1x2", True, 290.0),
        ("A100", "1x8", False, 200.0),
        ("H100", "2x8", True, 300.0),
        ("H200", "2x8", False, 300.0),
        ("H800", "1x8", False, None),
        ("H100-PCIE", "1x8", False, None),
        ("H100", "1x4", False, None),
    ],
)
def test_default_threshold_table(model, topology, nvls, expected):
    assert ntv.lookup_threshold("all_reduce_perf", model, topology, nvls) == expected
    assert ntv.lookup_threshold("all_gather_perf", model, topology, nvls) is None


@pytest.mark.parametrize(
    "name, model",
    [
        ("NVIDIA H100 80GB HBM3", "H100"),
        ("NVIDIA H200", "H200"),
        ("NVIDIA A100-SXM4-80GB", "A100"),
        ("NVIDIA A100-PCIE-40GB", "A100-PCIE"),
        ("NVIDIA H100 PCIe", "H100-PCIE"),
        ("NVIDIA H100 NVL", "H100-NVL"),
        ("NVIDIA GH200 480GB", "GH200"),
        ("Tesla V100-SXM2-32GB", None),
    ],
)
def test_gpu_model_names(name, model):
    assert ntp.normalize_gpu_model(name) == model


def test_below_threshold_names_host_collective_measured_and_expected():
    verdict = judge(fixture(ALL_REDUCE), min_busbw_gbps=350)
    assert not verdict["passed"]
    assert verdict["failures"] == [
        "host gpu-a1: all_reduce_perf busbw 327.40 GB/s (minimum out-of-place over 3 row(s) >= 1 GiB, at 1 GiB) "
        "is below the expected 350.00 GB/s (explicit min_busbw_gbps)"
    ]
    assert verdict["expected_busbw_gbps"] == 350.0 and verdict["min_busbw_gbps"] == 327.40


def test_table_threshold_and_overrides():
    text = fixture(ALL_REDUCE)
    assert judge(text)["expected_busbw_gbps"] == 290.0  # H200 1x2 from the device lines
    verdict = judge(text, topology="1x8")  # 327.40 >= the ring-only 320
    assert verdict["passed"] and verdict["threshold_source"] == "default table: H200 1x8 NVLS off"
    assert "NVLS state not in the output" in verdict["warnings"][0]
    verdict = judge(text, topology="1x8", nvls="on")  # but not NVLS's 400
    assert "expected 400.00 GB/s (default table: H200 1x8 NVLS on)" in verdict["failures"][0]
    verdict = judge(text, gpu_model="NVIDIA H800", topology="1x8")
    assert verdict["failures"] == [
        "host gpu-a1: all_reduce_perf: no default threshold for H800, 1x8, NVLS off; "
        "set min_busbw_gbps (0 checks correctness only)"
    ]
    assert judge(fixture("all_gather_perf_g2.txt"), min_busbw_gbps=0)["passed"]
    assert not judge(fixture("all_gather_perf_g2.txt"))["passed"]  # no table for all_gather


def test_rows_below_min_bytes_cannot_pass_a_bandwidth_check():
    verdict = judge(fixture("all_reduce_nccl_debug_g2.txt"))
    assert verdict["failures"] == [
        "host gpu-a1: all_reduce_perf has no out-of-place row of at least 1 GiB "
        "(largest: 64 MiB); run with -e of at least 1 GiB, or lower min_bytes"
    ]
    assert judge(fixture("all_reduce_nccl_debug_g2.txt"), min_bytes=64 * 1024 * 1024, min_busbw_gbps=250)["passed"]


@pytest.mark.parametrize(
    "kwargs, needle",
    [
        ({"min_busbw_gbps": -1}, "min_busbw_gbps must be a number >= 0"),
        ({"min_bytes": -5}, "min_bytes must be an integer >= 0"),
        ({"expect_transport": "rdma"}, "expect_transport must be ib, socket or any"),
        ({"nvls": "maybe"}, "nvls must be auto, on or off"),
    ],
)
def test_bad_options_are_clear_errors(kwargs, needle):
    with pytest.raises(ntp.NcclTestsError, match=needle):
        judge(fixture(ALL_REDUCE), **kwargs)


# ----------------------------------------------------------------- env scrub

SECRET_ENV = [
    "NCCL_IB_HCA=mlx5_0,mlx5_1",
    "CUDA_VISIBLE_DEVICES=0,1",
    "HF_TOKEN=hf_s3cr3t_value",
    "AWS_SECRET_ACCESS_KEY=aws_s3cr3t_value",
    "NCCL_AUTH_TOKEN=nccl_s3cr3t_value",
    "CUDA_API_KEY=cuda_s3cr3t_value",
    "DB_PASSWORD=pw_s3cr3t_value",
    "PATH=/usr/bin",
    "SGLANG_API_KEY=sk_s3cr3t_value",
    "NCCL_SOCKET_IFNAME=eth0",
]


def test_scrub_env_keeps_only_nccl_cuda_non_secret_names():
    kept, dropped = ntp.scrub_env(SECRET_ENV)
    assert kept == ["NCCL_IB_HCA=mlx5_0,mlx5_1", "CUDA_VISIBLE_DEVICES=0,1", "NCCL_SOCKET_IFNAME=eth0"]
    assert dropped == 7


def test_json_env_never_reaches_a_report(tmp_path):
    data = json.loads(fixture("all_reduce_g2.json"))
    data["env"] = SECRET_ENV
    parsed = ntp.parse(json.dumps(data))
    assert "s3cr3t" not in json.dumps(parsed)
    verdict = ntv.evaluate(parsed, host="gpu-a1")
    paths, changed = ntr.write_reports(str(tmp_path), parsed, verdict)
    assert changed
    for path in paths:
        assert b"s3cr3t" not in pathlib.Path(path).read_bytes()
    doc = json.loads(pathlib.Path(paths[0]).read_text())
    assert doc["run"]["env"] == ["NCCL_IB_HCA=mlx5_0,mlx5_1", "CUDA_VISIBLE_DEVICES=0,1", "NCCL_SOCKET_IFNAME=eth0"]
    assert doc["run"]["env_dropped"] == 7


# ----------------------------------------------------------------- bisection


def node(passed, measured, expected=320.0, host="n"):
    failures = (
        []
        if passed
        else ["host %s: all_reduce_perf busbw %.2f GB/s ... below the expected %.2f GB/s" % (host, measured, expected)]
    )
    return {"passed": passed, "min_busbw_gbps": measured, "expected_busbw_gbps": expected, "failures": failures}


GROUP_FAILED = {"passed": False, "group": "r1_a", "transport": "ib"}


def test_bisect_names_the_node_below_its_own_threshold():
    res = ntv.bisect(GROUP_FAILED, {"gpu-a1": node(True, 355.0), "gpu-a2": node(False, 251.5, host="gpu-a2")})
    assert res["suspects"] == ["gpu-a2"] and not res["fabric_suspect"]
    assert "gpu-a2 (251.50 GB/s < 320.00 GB/s; host gpu-a2: all_reduce_perf busbw 251.50" in res["message"]
    assert res["message"].startswith("group r1_a failed")


def test_bisect_every_node_passes_alone_so_the_fabric_is_the_suspect():
    res = ntv.bisect(dict(GROUP_FAILED, transport="socket"), {"gpu-a1": node(True, 355.0), "gpu-a2": node(True, 349.9)})
    assert res["fabric_suspect"] and res["suspects"] == []
    assert "gpu-a1 355.00 GB/s >= 320.00 GB/s, gpu-a2 349.90 GB/s >= 320.00 GB/s" in res["message"]
    assert "the fabric between them is the suspect" in res["message"]
    assert "NCCL used its Socket transport" in res["message"]


def test_bisect_missing_results_and_passed_group():
    res = ntv.bisect(GROUP_FAILED, {"gpu-a1": node(True, 355.0), "gpu-a2": None})
    assert res["missing"] == ["gpu-a2"] and not res["fabric_suspect"] and "cannot bisect" in res["message"]
    assert ntv.bisect({"passed": True, "group": "r1_a"}, {})["message"] == "group r1_a passed; nothing to bisect"


def test_run_check_bisects_a_failed_group(tmp_path):
    src = tmp_path / "group.txt"
    src.write_text(fixture(ALL_REDUCE))
    result = ntr.run_check(
        {
            "src": str(src),
            "group": "r1_a",
            "min_busbw_gbps": 340.0,
            "node_results": {"gpu-a1": node(True, 345.0), "gpu-a2": node(True, 344.0)},
        }
    )
    assert not result["passed"] and result["bisection"]["fabric_suspect"]
    assert result["failures"][0].startswith("group r1_a: all_reduce_perf busbw 327.40 GB/s")
    assert "fabric between them is the suspect" in result["failures"][-1]


def test_run_check_missing_src_is_a_clear_error(tmp_path):
    with pytest.raises(
        ntp.NcclTestsError, match="src .*nope.txt cannot be read .* run the test first, or fix the path"
    ):
        ntr.run_check({"src": str(tmp_path / "nope.txt")})


def test_run_check_json_with_its_stdout_log(tmp_path):
    (tmp_path / "r.json").write_text(fixture("all_reduce_g2.json"))
    (tmp_path / "r.txt").write_text(ib_variant(fixture("all_reduce_nccl_debug_g2.txt")))
    result = ntr.run_check(
        {
            "src": str(tmp_path / "r.json"),
            "log_src": str(tmp_path / "r.txt"),
            "host": "gpu-a1",
            "expect_transport": "ib",
        }
    )
    assert result["passed"], result["failures"]
    assert result["transport"] == "ib" and result["min_busbw_gbps"] == pytest.approx(329.129262)


# ----------------------------------------------------------------- reports


def test_write_reports_modes_check_mode_and_idempotence(tmp_path):
    parsed = ntp.parse(fixture(ALL_REDUCE))
    verdict = ntv.evaluate(parsed, host="gpu-a1")
    target = tmp_path / "reports"
    paths, changed = ntr.write_reports(str(target), parsed, verdict, check_mode=True)
    assert changed and not target.exists()
    paths, changed = ntr.write_reports(str(target), parsed, verdict)
    assert changed
    assert [os.path.basename(p) for p in paths] == [
        "node_gpu-a1_all_reduce_perf.json",
        "node_gpu-a1_all_reduce_perf.md",
    ]
    for path in paths:
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o644
    assert ntr.write_reports(str(target), parsed, verdict) == (paths, False)
    assert ntr.write_reports(str(target), parsed, verdict, check_mode=True) == (paths, False)
    markdown = pathlib.Path(paths[1]).read_text()
    assert "**PASSED**: minimum out-of-place busbw over rows >= 1 GiB: 327.40 GB/s (at 1 GiB)" in markdown
    assert "| 1 GiB | 327.40 | 328.55 | 0/0 | yes |" in markdown
    assert "![busbw vs message size](node_gpu-a1_all_reduce_perf.png)" in markdown
    doc = json.loads(pathlib.Path(paths[0]).read_text())
    assert doc["verdict"]["passed"] and len(doc["rows"]) == 30 and doc["run"]["env"] == []
    # No PNG on the host: the nccl_tests_plot action draws it on the controller from the fetched JSON.
    assert not (target / "node_gpu-a1_all_reduce_perf.png").exists()


def test_bisect_counts_a_node_whose_check_errored_as_a_suspect():
    res = ntv.bisect(
        GROUP_FAILED, {"gpu-a1": node(True, 355.0), "gpu-a2": {"failed": True, "msg": "src /x cannot be read"}}
    )
    assert res["suspects"] == ["gpu-a2"] and "src /x cannot be read" in res["message"]


def test_run_check_falls_back_to_stdout_when_the_json_file_is_missing(tmp_path):
    (tmp_path / "r.txt").write_text(variant_timeout(fixture(ALL_REDUCE)))
    result = ntr.run_check(
        {"src": str(tmp_path / "r.json"), "log_src": str(tmp_path / "r.txt"), "host": "gpu-a1", "rc": 3}
    )
    assert not result["passed"] and any("Test timeout (60s)" in f for f in result["failures"])
    assert any("r.json does not exist; judged from" in w for w in result["warnings"])
