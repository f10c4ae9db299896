from __future__ import annotations

import shlex

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_unit import (
    container_argv,
    exec_line,
    image_by_digest,
    parity_problems,
    runtime_argv,
    systemd_quote,
    without_node_rank,
)

NODE = {
    "argv": ["python3", "-m", "sglang.launch_server", "--model-path", "/models/r1", "--node-rank", "1"],
    "launch_args": ["--model-path", "/models/r1", "--node-rank", "1"],
}


@pytest.mark.parametrize(
    "token, quoted",
    [
        ("--tp-size", "--tp-size"),
        ("/models/DeepSeek-R1", "/models/DeepSeek-R1"),
        ("a b", '"a b"'),
        ("50%", '"50%%"'),
        ("$HOME", '"$$HOME"'),
        ('{"a": "b"}', '"{\\"a\\": \\"b\\"}"'),
        ("back\\slash", '"back\\\\slash"'),
        ("", '""'),
    ],
)
def test_systemd_quote(token, quoted):
    assert systemd_quote(token) == quoted


def test_exec_line_round_trips_through_a_posix_split_for_plain_tokens():
    argv = ["/usr/bin/python3", "-m", "sglang.launch_server", "--served-model-name", "r1 fast", "--port", "30000"]
    assert shlex.split(exec_line(argv)) == argv


def test_newline_is_refused():
    with pytest.raises(ValueError):
        systemd_quote("a\nExecStartPre=/bin/sh")


def test_container_argv_has_the_flags_sglang_needs():
    argv = container_argv(
        NODE,
        image="lmsysorg/sglang@sha256:abc",
        container_name="sglang-r1_a",
        model_mount="/models",
        env_file="/etc/sglang/r1_a.env",
        secrets_file="/etc/sglang/r1_a.yaml",
    )
    joined = " ".join(argv)
    for part in (
        "--gpus all",
        "--network host",
        "--ipc host",
        "--shm-size 32g",
        "-v /models:/models:ro",
        "--env-file /etc/sglang/r1_a.env",
        "-v /etc/sglang/r1_a.yaml:/etc/sglang/r1_a.yaml:ro",
        "--ulimit memlock=-1",
    ):
        assert part in joined
    image_at = argv.index("lmsysorg/sglang@sha256:abc")
    assert argv[image_at + 1 :] == NODE["argv"]


def test_native_and_emulator_argv():
    assert (
        runtime_argv(NODE, "native", python="/opt/v/bin/python")
        == ["/opt/v/bin/python", "-m", "sglang.launch_server"] + NODE["launch_args"]
    )
    assert (
        runtime_argv(NODE, "emulator", python="/usr/bin/python3", emulator="/opt/e/sglang_emulator.py")
        == ["/usr/bin/python3", "/opt/e/sglang_emulator.py"] + NODE["launch_args"]
    )
    with pytest.raises(ValueError):
        runtime_argv(NODE, "podman")


def test_without_node_rank():
    assert without_node_rank(["a", "--node-rank", "1", "b", "--node-rank=2"]) == ["a", "b"]


def test_parity_ok_when_only_rank_differs():
    nodes = [
        {"host": "a1", "identity": "sglang 0.5.23", "argv": ["x", "--node-rank", "0"]},
        {"host": "a2", "identity": "sglang 0.5.23", "argv": ["x", "--node-rank", "1"]},
    ]
    assert parity_problems("r1_a", nodes) == []


def test_parity_names_the_host_that_differs():
    nodes = [
        {"host": "a1", "identity": "sglang 0.5.23", "argv": ["x", "--node-rank", "0"]},
        {"host": "a2", "identity": "sglang 0.5.22", "argv": ["x", "--port", "1", "--node-rank", "1"]},
    ]
    probs = parity_problems("r1_a", nodes)
    assert len(probs) == 2
    assert "host a2 runs sglang 0.5.22 but rank 0 host a1 runs sglang 0.5.23" in probs[0]
    assert "host a2 would run a different command" in probs[1] and "--port" in probs[1]


def test_container_runtime_ignores_the_other_runtimes_settings():
    argv = runtime_argv(
        NODE, "container", python="/usr/bin/python3", emulator="/x.py", image="img:1", container_name="sglang-g"
    )
    assert "/usr/bin/python3" not in argv and argv[argv.index("img:1") + 1 :] == NODE["argv"]


def test_redact_masks_every_secret_longest_first():
    from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_secrets import redact

    text = "server_args=ServerArgs(api_key='sk-abc123', admin_api_key='sk-abc123-admin')"
    out = redact(text, ["sk-abc123", "sk-abc123-admin", "", None])
    assert "sk-abc" not in out and out.count("********") == 2
    assert redact("key abc", ["abc"]) == "key abc"  # too short to be a real key: left alone


# -- RDMA in the container: rendered from the fabric facts of the sysfs fixture trees --------------
import pathlib  # noqa: E402

from ansible_collections.gpufleet.sglang.plugins.module_utils.fabric import fabric_facts  # noqa: E402

SYSFS = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "sysfs"


def _container_argv_for(tree, **kwargs):
    fabric = fabric_facts(str(SYSFS / tree))
    argv = container_argv(
        NODE,
        image="lmsysorg/sglang:v0.5.23",
        container_name="sglang-r1_a",
        rdma_devices=fabric["rdma_devices"],
        **kwargs,
    )
    return fabric, argv


def _devices(argv):
    return [argv[i + 1] for i, t in enumerate(argv) if t == "--device"]


@pytest.mark.parametrize("tree", ["ib-ndr-8x400", "roce-8x400"])
def test_container_gets_exactly_the_compute_hcas_rdma_devices(tree):
    fabric, argv = _container_argv_for(tree)
    # The eight compute rails' verbs devices and rdma_cm; never the storage HCA's (mlx5_8),
    # never umad/issm, never the whole /dev/infiniband directory.
    assert _devices(argv) == ["/dev/infiniband/rdma_cm"] + ["/dev/infiniband/uverbs%d" % i for i in range(8)]
    assert argv[argv.index("--cap-add") + 1] == "IPC_LOCK"
    assert "--privileged" not in argv
    assert "--ulimit" in argv and "memlock=-1" in argv
    assert fabric["transport"] in ("infiniband", "roce")
    # The flags sit before the image: docker would otherwise hand them to SGLang.
    image_at = argv.index("lmsysorg/sglang:v0.5.23")
    assert max(i for i, t in enumerate(argv) if t in ("--device", "--cap-add")) < image_at


def test_container_without_hcas_gets_no_rdma_device_and_no_capability():
    fabric, argv = _container_argv_for("no-hca")
    assert fabric["rdma_devices"] == []
    assert _devices(argv) == []
    assert "--cap-add" not in argv and "--privileged" not in argv


def test_privileged_is_an_explicit_opt_in_that_replaces_the_devices():
    argv = _container_argv_for("ib-ndr-8x400", privileged=True)[1]
    assert "--privileged" in argv
    assert _devices(argv) == [] and "--cap-add" not in argv


def test_a_compute_hca_without_a_verbs_device_is_a_fabric_problem(tmp_path):
    import shutil

    shutil.copytree(SYSFS / "ib-ndr-8x400", tmp_path / "t")
    shutil.rmtree(tmp_path / "t" / "class" / "infiniband" / "mlx5_4" / "device" / "infiniband_verbs")
    fabric = fabric_facts(str(tmp_path / "t"))
    assert "/dev/infiniband/uverbs4" not in fabric["rdma_devices"]
    assert any("mlx5_4 has no verbs device" in p and "ib_uverbs" in p for p in fabric["problems"])


def test_container_is_pid1_safe_and_stops_within_the_unit_timeout():
    argv = container_argv(NODE, image="img", container_name="c", stop_timeout=270)
    assert "--init" in argv[: argv.index("img")]
    assert argv[argv.index("--stop-timeout") + 1] == "270"


def test_gpus_can_be_left_out_and_env_files_keep_their_order():
    argv = container_argv(
        NODE,
        image="img",
        container_name="c",
        gpus="",
        env_files=["/etc/gpufleet/nccl.env"],
        env_file="/etc/sglang/g.env",
    )
    assert "--gpus" not in argv
    files = [argv[i + 1] for i, t in enumerate(argv) if t == "--env-file"]
    assert files == ["/etc/gpufleet/nccl.env", "/etc/sglang/g.env"]


def test_a_device_outside_dev_infiniband_is_refused():
    with pytest.raises(ValueError):
        container_argv(NODE, image="img", container_name="c", rdma_devices=["/dev/sda"])


def test_production_container_limits_are_the_default():
    argv = container_argv(NODE, image="img", container_name="c")
    assert [argv[i + 1] for i, t in enumerate(argv) if t == "--ulimit"] == ["memlock=-1", "nofile=1048576:1048576"]
    assert argv[argv.index("--shm-size") + 1] == "32g"


def test_test_hosts_lower_the_limits_and_leave_shm_size_out():
    # Nested containers cannot raise a limit above their host's hard limit, and Podman
    # refuses --shm-size with --ipc host: tests lower/leave them out, nothing else changes.
    argv = container_argv(
        NODE, image="img", container_name="c", shm_size="", ulimits=["nofile=16384:16384", "nproc=65536:65536"]
    )
    assert "--shm-size" not in argv
    assert [argv[i + 1] for i, t in enumerate(argv) if t == "--ulimit"] == ["nofile=16384:16384", "nproc=65536:65536"]
    assert argv[argv.index("img") + 1 :] == NODE["argv"]


@pytest.mark.parametrize("bad", ["nofile", "nofile=lots", "--privileged", "memlock=-1 --privileged"])
def test_a_malformed_ulimit_is_refused(bad):
    with pytest.raises(ValueError, match="ulimit"):
        container_argv(NODE, image="img", container_name="c", ulimits=[bad])


def test_container_mounts_the_nccl_debug_dir_read_write_at_the_same_path():
    # NCCL_DEBUG_FILE=<dir>/nccl.%h.%p is opened inside the container; the readiness gate reads it on the host.
    argv = container_argv(NODE, image="img", container_name="c", nccl_debug_dir="/var/log/sglang/sglang-r1_a")
    i = argv.index("/var/log/sglang/sglang-r1_a:/var/log/sglang/sglang-r1_a")
    assert argv[i - 1] == "-v" and i < argv.index("img")
    assert not any(a.startswith("/var/log/sglang") for a in container_argv(NODE, image="img", container_name="c"))


@pytest.mark.parametrize("bad", ["var/log/x", "/var/log/a:b", "/var/log/a,b", "/var/log/../etc"])
def test_container_refuses_an_nccl_debug_dir_docker_would_misread(bad):
    with pytest.raises(ValueError, match="NCCL debug directory"):
        container_argv(NODE, image="img", container_name="c", nccl_debug_dir=bad)


DIGEST = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    "image, expected",
    [
        ("lmsysorg/sglang:v0.5.23-cu129", "lmsysorg/sglang@" + DIGEST),
        # A registry's port is not a tag (the role used to cut at the first ':').
        ("registry.local:5000/lmsysorg/sglang:v0.5.23", "registry.local:5000/lmsysorg/sglang@" + DIGEST),
        ("registry.local:5000/lmsysorg/sglang", "registry.local:5000/lmsysorg/sglang@" + DIGEST),
        ("[fd00::1]:5000/sglang:v1", "[fd00::1]:5000/sglang@" + DIGEST),
        ("lmsysorg/sglang@sha256:" + "cd" * 32, "lmsysorg/sglang@" + DIGEST),
        ("lmsysorg/sglang:v1@sha256:" + "cd" * 32, "lmsysorg/sglang@" + DIGEST),
    ],
)
def test_image_by_digest_drops_only_the_tag(image, expected):
    assert image_by_digest(image, DIGEST) == expected


def test_image_by_digest_keeps_the_image_without_a_digest_and_refuses_a_bad_one():
    assert image_by_digest("registry:5000/sglang:v1", "") == "registry:5000/sglang:v1"
    with pytest.raises(ValueError, match="sha256:<64 hex digits>"):
        image_by_digest("sglang:v1", "v0.5.23")
