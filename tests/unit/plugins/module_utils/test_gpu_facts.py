# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""plugins/module_utils/gpu_facts.py on real nvidia-smi captures (tests/fixtures/gpu) and variants derived
from them, plus the plugins/modules/gpu_facts.py module run end to end with the nvidia-smi test double."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import load_fake_nvidia_smi

from ansible_collections.gpufleet.sglang.plugins.module_utils import gpu_facts
from ansible_collections.gpufleet.sglang.plugins.module_utils.gpu_facts import GpuFactsError

REPO = Path(__file__).resolve().parents[4]
FIXTURES = REPO / "tests" / "fixtures" / "gpu"
FAKE = FIXTURES / "fake_nvidia_smi.py"
MODULE = REPO / "plugins" / "modules" / "gpu_facts.py"


FAKE_SMI = load_fake_nvidia_smi()


def config_for(capture="h200-x2", variant=None):
    """The test double's config for a real capture, or for a derived variant file."""
    if variant is None:
        return {"_base": str(FIXTURES), "capture_dir": capture}
    path = FIXTURES / "variants" / (variant + ".json")
    config = json.loads(path.read_text())
    config["_base"] = str(path.parent)
    return config


def capture(host, name, variant=None):
    """A capture file's text as the test double prints it (variant replacements applied)."""
    return FAKE_SMI.read_capture(config_for(host, variant), name)


def fake_run(config, calls=None):
    """run(argv) -> (rc, stdout, stderr), answered in-process by the test double."""

    def run(argv):
        if calls is not None:
            calls.append(list(argv))
        if config.get("fail"):
            return config["fail"]["rc"], config["fail"]["message"] + "\n", ""
        try:
            return 0, FAKE_SMI.answer(config, list(argv[1:])), ""
        except FAKE_SMI.Refused as exc:
            return exc.rc, "", exc.message

    return run


def facts_of(host="h200-x2", variant=None):
    facts, warnings = gpu_facts.collect(fake_run(config_for(host, variant)), "nvidia-smi")
    assert warnings == []
    return facts


def dig(data, path):
    for key in path.split("."):
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


# ------------------------------------------------------------------ the real captures
REAL = [
    ("h200-x2", 0, "name", "NVIDIA H200"),
    ("h200-x2", 0, "uuid", "GPU-bb9153b8-d465-f22d-797f-793a6ebd872f"),
    ("h200-x2", 1, "uuid", "GPU-5eee0356-ec9b-d39a-6eba-b4fff220a992"),
    ("h200-x2", 1, "pci_bus_id", "00000000:00:07.0"),
    ("h200-x2", 0, "architecture", "Hopper"),
    ("h200-x2", 0, "compute_cap", "9.0"),
    ("h200-x2", 0, "memory_total_mib", 143771),
    ("h200-x2", 0, "driver_version", "580.159.04"),
    ("h200-x2", 0, "cuda_version", "13.0"),
    ("h200-x2", 0, "persistence_mode", True),
    ("h200-x2", 0, "mig_mode", "Disabled"),
    ("h200-x2", 0, "virtualization_mode", "Pass-Through"),
    (
        "h200-x2",
        0,
        "ecc",
        {
            "mode_current": "Enabled",
            "mode_pending": "Enabled",
            "uncorrectable_volatile": 0,
            "uncorrectable_aggregate": 0,
            "correctable_volatile": 0,
            "correctable_aggregate": 0,
        },
    ),
    ("h200-x2", 1, "remapped_rows", {"correctable": 0, "uncorrectable": 0, "pending": False, "failure": False}),
    ("h200-x2", 1, "pcie", {"gen_current": 5, "gen_max": 5, "width_current": 16, "width_max": 16}),
    ("h200-x2", 0, "clocks_event_reasons", ["gpu_idle"]),
    (
        "h200-x2",
        0,
        "fabric",
        {
            "state": "Completed",
            "status": "Success",
            "clique_id": "0",
            "cluster_uuid": "00000000-0000-0000-0000-000000000000",
        },
    ),
    ("h200-x2", 1, "nvlink.total", 18),
    ("h200-x2", 1, "nvlink.active", 18),
    ("h200-x2", 1, "nvlink.inactive_links", []),
    ("h200-x2", 1, "nvlink.speeds_gbps", [26.562]),
    ("h100-x1", 0, "name", "NVIDIA H100 80GB HBM3"),
    ("h100-x1", 0, "memory_total_mib", 81559),
    ("h100-x1", 0, "vbios_version", "96.00.DA.00.0C"),
    ("h100-x1", 0, "fabric", {"state": None, "status": None, "clique_id": None, "cluster_uuid": None}),
    ("h100-x1", 0, "nvlink.total", 0),
    ("h100-x1", 0, "pcie.width_current", 16),
]


@pytest.mark.parametrize("host, index, path, expected", REAL)
def test_real_capture_facts(host, index, path, expected):
    gpu = facts_of(host)["gpus"][index]
    assert gpu["index"] == index
    assert dig(gpu, path) == expected


@pytest.mark.parametrize("host, gpus, fabric", [("h200-x2", 2, True), ("h100-x1", 1, False)])
def test_real_capture_driver(host, gpus, fabric):
    driver = facts_of(host)["driver"]
    assert driver == {
        "driver_version": "580.159.04",
        "cuda_version": "13.0",
        "attached_gpus": gpus,
        "kernel_module": None,
        "fabric_attached": fabric,
        "nvidia_smi": "nvidia-smi",
    }


@pytest.mark.parametrize("host", ["h200-x2", "h100-x1"])
@pytest.mark.parametrize("csv_file", ["query-gpu.csv", "query-gpu-noheader-nounits.csv"])
def test_xml_and_query_csv_agree(host, csv_file):
    """Every value both forms carry is the same: the two parsers read the same GPU the same way."""
    from_xml = gpu_facts.parse_xml(capture(host, "nvidia-smi-q.xml"))["gpus"]
    from_csv = [
        gpu_facts.gpu_from_query_row(row)
        for row in gpu_facts.parse_query_csv(capture(host, csv_file), gpu_facts.QUERY_GPU_FIELDS)
    ]
    assert len(from_xml) == len(from_csv)
    compared = 0
    for xml_gpu, csv_gpu in zip(from_xml, from_csv):
        for key, value in csv_gpu.items():
            pairs = value.items() if isinstance(value, dict) else [(None, value)]
            for sub, csv_value in pairs:
                xml_value = xml_gpu[key] if sub is None else xml_gpu[key][sub]
                if csv_value is not None and xml_value is not None:
                    assert xml_value == csv_value, (key, sub)
                    compared += 1
    assert compared >= 15 * len(from_xml)


@pytest.mark.parametrize(
    "text",
    [
        "00000000:00:06.0, GPU-x, 0, 3, Yes, No\n",
        "gpu_bus_id, gpu_uuid, remapped_rows.correctable, remapped_rows.uncorrectable, remapped_rows.pending, "
        "remapped_rows.failure\n00000000:00:06.0, GPU-x, 0, 3, Yes, No\n",
    ],
)
def test_remapped_rows_csv_with_or_without_header(text):
    rows = gpu_facts.parse_query_csv(text, gpu_facts.REMAPPED_ROWS_FIELDS)
    assert [gpu_facts.remapped_rows_from_row(row) for row in rows] == [
        {"correctable": 0, "uncorrectable": 3, "pending": True, "failure": False}
    ]


def test_real_remapped_rows_capture():
    rows = gpu_facts.parse_query_csv(capture("h200-x2", "remapped-rows.csv"), gpu_facts.REMAPPED_ROWS_FIELDS)
    assert [row["gpu_uuid"] for row in rows] == [
        "GPU-bb9153b8-d465-f22d-797f-793a6ebd872f",
        "GPU-5eee0356-ec9b-d39a-6eba-b4fff220a992",
    ]
    assert gpu_facts.remapped_rows_from_row(rows[1]) == {
        "correctable": 0,
        "uncorrectable": 0,
        "pending": False,
        "failure": False,
    }


def test_query_row_with_wrong_column_count_is_refused():
    with pytest.raises(GpuFactsError, match="row 1 has 2 values for 6 fields"):
        gpu_facts.parse_query_csv("a, b\n", gpu_facts.REMAPPED_ROWS_FIELDS)


@pytest.mark.parametrize(
    "mask, reasons",
    [
        ("0x0000000000000001", ["gpu_idle"]),
        ("0x0000000000000000", []),
        ("0x0000000000000009", ["gpu_idle", "hw_slowdown"]),
        ("0x00000000000000C4", ["sw_power_cap", "hw_thermal_slowdown", "hw_power_brake_slowdown"]),
        ("[N/A]", None),
        ("garbage", None),
    ],
)
def test_clocks_event_reasons_mask(mask, reasons):
    assert gpu_facts.clocks_event_reasons_from_mask(mask) == reasons


# ------------------------------------------------------------------ derived variants
VARIANTS = [
    ("persistence-off", 0, "persistence_mode", False),
    ("persistence-off", 1, "persistence_mode", True),
    ("uncorrectable-ecc", 0, "ecc.uncorrectable_volatile", 2),
    ("uncorrectable-ecc", 0, "ecc.uncorrectable_aggregate", 2),
    ("uncorrectable-ecc", 1, "ecc.uncorrectable_volatile", 0),
    ("ecc-pending-off", 0, "ecc.mode_pending", "Disabled"),
    ("pending-remap", 0, "remapped_rows", {"correctable": 0, "uncorrectable": 1, "pending": True, "failure": False}),
    ("remap-failure", 1, "remapped_rows.failure", True),
    ("pcie-x8", 0, "pcie", {"gen_current": 5, "gen_max": 5, "width_current": 8, "width_max": 16}),
    ("nvlink-down", 0, "nvlink.inactive_links", [3, 7]),
    ("nvlink-down", 0, "nvlink.active", 16),
    ("nvlink-down", 1, "nvlink.inactive_links", []),
    ("fabric-in-progress", 1, "fabric.state", "In Progress"),
    ("fabric-in-progress", 1, "fabric.status", None),
    ("hw-slowdown", 0, "clocks_event_reasons", ["gpu_idle", "hw_slowdown"]),
    ("mig-on", 0, "mig_mode", "Enabled"),
    ("driver-570", 1, "driver_version", "570.195.03"),
    ("driver-570", 1, "cuda_version", "12.8"),
]


@pytest.mark.parametrize("variant, index, path, expected", VARIANTS)
def test_variant_facts(variant, index, path, expected):
    assert dig(facts_of(variant=variant)["gpus"][index], path) == expected


@pytest.mark.parametrize(
    "variant", sorted(p.stem for p in (FIXTURES / "variants").glob("*.json") if "fail" not in json.loads(p.read_text()))
)
def test_every_variant_changes_the_xml_and_csv_alike(variant):
    """A variant that edits both forms must edit them consistently (the CSV is the XML's fallback)."""
    from_xml = gpu_facts.parse_xml(capture("h200-x2", "nvidia-smi-q.xml", variant))["gpus"]
    rows = gpu_facts.parse_query_csv(
        capture("h200-x2", "query-gpu-noheader-nounits.csv", variant), gpu_facts.QUERY_GPU_FIELDS
    )
    merged_xml_first = [gpu_facts.merge_gpu(gpu, gpu_facts.gpu_from_query_row(row)) for gpu, row in zip(from_xml, rows)]
    merged_csv_first = [gpu_facts.merge_gpu(gpu_facts.gpu_from_query_row(row), gpu) for gpu, row in zip(from_xml, rows)]
    for left, right in zip(merged_xml_first, merged_csv_first):
        assert left == right


def test_stale_variant_replacement_is_an_error():
    config = dict(config_for(), replace={"topo.txt": [["NV12", "NV11"]]})
    with pytest.raises(FAKE_SMI.Refused, match="not found"):
        FAKE_SMI.read_capture(config, "topo.txt")


# ------------------------------------------------------------------ nvlink -s
def test_nvlink_status_ignores_the_error_counter_listing():
    """The capture holds `nvlink --status`, '---', `nvlink -e`; the counters must not add links."""
    parsed = gpu_facts.parse_nvlink_status(capture("h200-x2", "nvlink.txt"))
    assert sorted(entry["index"] for entry in parsed.values()) == [0, 1]
    assert all(len(entry["links"]) == 18 for entry in parsed.values())


def test_nvlink_all_inactive_and_unknown_lines():
    text = (
        "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-a)\n\t all links are inactive\n"
        "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-b)\n\t Link 0: 26.562 GB/s\n\t Link 1: <inactive>\n"
        "\t Link 2: something new\n"
    )
    parsed = gpu_facts.parse_nvlink_status(text)
    assert gpu_facts.nvlink_summary(parsed["GPU-a"])["all_inactive"] is True
    summary = gpu_facts.nvlink_summary(parsed["GPU-b"])
    assert (summary["total"], summary["active"], summary["inactive_links"]) == (2, 1, [1])


# ------------------------------------------------------------------ topo -m
def test_topology_h200():
    topo = facts_of("h200-x2")["topology"]
    assert topo["pairs"] == [{"gpus": [0, 1], "connection": "NV18", "nvlinks": 18}]
    assert (topo["gpu_count"], topo["all_pairs_nvlink"], topo["min_pair_nvlinks"]) == (2, True, 18)
    assert topo["gpus"][1] == {
        "index": 1,
        "cpu_affinity": "0-31",
        "numa_affinity": "0",
        "gpu_numa_id": None,
        "nics": [],
        "nearest_nics": [],
    }


def test_topology_single_gpu():
    topo = facts_of("h100-x1")["topology"]
    assert (topo["gpu_count"], topo["pairs"], topo["all_pairs_nvlink"]) == (1, [], False)
    assert topo["gpus"][0]["cpu_affinity"] == "0-15"


@pytest.mark.parametrize("spaces", [False, True])
def test_topology_hgx8_with_nics(spaces):
    text = (FIXTURES / "derived" / "topo-hgx8-nics.txt").read_text()
    if spaces:  # the same matrix as pasted into docs and issues: spaces, no tabs
        text = text.replace("\t", "    ")
    topo = gpu_facts.topology_summary(gpu_facts.parse_topology(text))
    assert topo["gpu_count"] == 8 and len(topo["pairs"]) == 28
    assert topo["pair_types"] == {"NV18": 28} and topo["all_pairs_nvlink"]
    assert topo["gpus"][0]["nearest_nics"] == ["mlx5_0"]
    assert topo["gpus"][5]["nearest_nics"] == ["mlx5_5"]
    assert topo["gpus"][5]["cpu_affinity"] == "56-111,168-223" and topo["gpus"][5]["numa_affinity"] == "1"
    assert {"nic": "mlx5_8", "connection": "NODE"} in topo["gpus"][0]["nics"]
    assert {"nic": "mlx5_8", "connection": "SYS"} in topo["gpus"][7]["nics"]
    assert dict((nic["nic"], nic["nearest_gpus"]) for nic in topo["nics"])["mlx5_3"] == [3]
    assert dict((nic["nic"], nic["nearest_gpus"]) for nic in topo["nics"])["mlx5_9"] == []


def test_topology_mixed_pcie_pair():
    text = "\tGPU0\tGPU1\tCPU Affinity\tNUMA Affinity\nGPU0\t X \tSYS\t0-7\t0\nGPU1\tSYS\t X \t8-15\t1\n"
    topo = gpu_facts.topology_summary(gpu_facts.parse_topology(text))
    assert topo["pairs"] == [{"gpus": [0, 1], "connection": "SYS", "nvlinks": None}]
    assert topo["all_pairs_nvlink"] is False and topo["min_pair_nvlinks"] is None


def test_topology_without_header_is_refused():
    with pytest.raises(GpuFactsError, match="no GPU0 column header"):
        gpu_facts.parse_topology("nothing here\n")


# ------------------------------------------------------------------ other sources and legacy forms
@pytest.mark.parametrize(
    "text, expected",
    [
        (capture("h200-x2", "versions.txt").split("---")[2], {"version": "580.159.04", "flavor": "open"}),
        (
            "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023\n",
            {"version": "535.104.05", "flavor": "proprietary"},
        ),
        ("", None),
        (None, None),
    ],
)
def test_kernel_module(text, expected):
    assert gpu_facts.parse_kernel_module(text) == expected


LEGACY_XML = """<?xml version="1.0" ?>
<nvidia_smi_log>
  <driver_version>470.82.01</driver_version>
  <cuda_version>11.4</cuda_version>
  <attached_gpus>1</attached_gpus>
  <gpu id="00000000:3B:00.0">
    <product_name>Tesla V100-SXM2-32GB</product_name>
    <uuid>GPU-legacy</uuid>
    <persistence_mode>Disabled</persistence_mode>
    <clocks_throttle_reasons>
      <clocks_throttle_reason_gpu_idle>Not Active</clocks_throttle_reason_gpu_idle>
      <clocks_throttle_reason_hw_thermal_slowdown>Active</clocks_throttle_reason_hw_thermal_slowdown>
    </clocks_throttle_reasons>
    <ecc_errors>
      <volatile>
        <single_bit><device_memory>4</device_memory><total>4</total></single_bit>
        <double_bit><device_memory>1</device_memory><total>1</total></double_bit>
      </volatile>
      <aggregate>
        <single_bit><total>N/A</total></single_bit>
        <double_bit><total>N/A</total></double_bit>
      </aggregate>
    </ecc_errors>
    <remapped_rows>N/A</remapped_rows>
  </gpu>
</nvidia_smi_log>
"""


def test_legacy_xml_forms():
    """Drivers before R535 say clocks_throttle_reasons; before R470 ECC counts were single/double bit."""
    gpu = gpu_facts.parse_xml(LEGACY_XML)["gpus"][0]
    assert gpu["clocks_event_reasons"] == ["hw_thermal_slowdown"]
    assert (gpu["ecc"]["uncorrectable_volatile"], gpu["ecc"]["correctable_volatile"]) == (1, 4)
    assert gpu["ecc"]["uncorrectable_aggregate"] is None
    assert gpu["remapped_rows"]["pending"] is None and gpu["persistence_mode"] is False
    assert gpu["pci_bus_id"] == "00000000:3B:00.0" and gpu["memory_total_mib"] is None


@pytest.mark.parametrize(
    "text, message",
    [
        ("NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.", "no valid XML"),
        ("<other/>", "expected <nvidia_smi_log>"),
    ],
)
def test_bad_xml_is_refused(text, message):
    with pytest.raises(GpuFactsError, match=message):
        gpu_facts.parse_xml(text)


# ------------------------------------------------------------------ collect(): commands, failures, warnings
def test_collect_runs_argv_lists():
    calls = []
    gpu_facts.collect(fake_run(config_for(), calls), "/usr/bin/nvidia-smi")
    assert calls == [
        ["/usr/bin/nvidia-smi", "-q", "-x"],
        ["/usr/bin/nvidia-smi", "--query-gpu=" + ",".join(gpu_facts.QUERY_GPU_FIELDS), "--format=csv,noheader,nounits"],
        [
            "/usr/bin/nvidia-smi",
            "--query-remapped-rows=" + ",".join(gpu_facts.REMAPPED_ROWS_FIELDS),
            "--format=csv,noheader,nounits",
        ],
        ["/usr/bin/nvidia-smi", "topo", "-m"],
        ["/usr/bin/nvidia-smi", "nvlink", "-s"],
    ]


@pytest.mark.parametrize(
    "message, rc, expected",
    [
        (
            "Failed to initialize NVML: Driver/library version mismatch\nNVML library version: 580.159",
            18,
            "does not match the installed driver libraries.*reboot",
        ),
        (
            "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver. Make sure that the latest "
            "NVIDIA driver is installed and running.",
            9,
            "kernel module is not loaded",
        ),
        ("No devices were found", 6, "sees no GPU.*Xid 79"),
        ("Segmentation fault", 139, r"failed \(rc 139\): Segmentation fault"),
    ],
)
def test_collect_explains_a_failing_nvidia_smi(message, rc, expected):
    config = dict(config_for(), fail={"rc": rc, "message": message})
    with pytest.raises(GpuFactsError, match=expected):
        gpu_facts.collect(fake_run(config), "nvidia-smi")


def test_optional_command_failure_is_a_warning():
    real = fake_run(config_for())

    def run(argv):
        if argv[1] == "nvlink":
            return 3, "", "Unable to retrieve NVLink information as all links are inActive"
        if argv[1].startswith("--query-gpu"):
            return 2, "", 'Field "fabric.state" is not a valid field to query.'
        return real(argv)

    facts, warnings = gpu_facts.collect(run, "nvidia-smi")
    assert len(warnings) == 2
    assert "nvlink -s failed (rc 3)" in warnings[1] and "NVLink link states left out" in warnings[1]
    assert all(gpu["nvlink"] is None for gpu in facts["gpus"])
    assert [gpu["index"] for gpu in facts["gpus"]] == [0, 1]  # the XML order
    assert facts["gpus"][0]["compute_cap"] is None
    assert facts["gpus"][0]["fabric"]["state"] == "Completed"


@pytest.mark.parametrize(
    "path, which, executable, expected",
    [
        (None, None, False, "gpu-a1: nvidia-smi not found.*Fix: install the driver.*or set nvidia_smi_path"),
        (
            "/opt/nv/nvidia-smi",
            "/usr/bin/nvidia-smi",
            False,
            "gpu-a1: nvidia_smi_path /opt/nv/nvidia-smi does not exist",
        ),
    ],
)
def test_find_nvidia_smi_failures(path, which, executable, expected):
    with pytest.raises(GpuFactsError, match=expected):
        gpu_facts.find_nvidia_smi("gpu-a1", path, lambda name: which, lambda p: executable)


def test_find_nvidia_smi():
    assert gpu_facts.find_nvidia_smi("h", None, lambda name: "/usr/bin/" + name, None) == "/usr/bin/nvidia-smi"
    assert gpu_facts.find_nvidia_smi("h", "/x/nvidia-smi", None, lambda p: True) == "/x/nvidia-smi"


# ------------------------------------------------------------------ the module, end to end
def stand_in(tmp_path, config=None):
    """An executable nvidia-smi in tmp_path that runs the test double (python, no shell features)."""
    if config is not None:
        (tmp_path / "fake_nvidia_smi.json").write_text(json.dumps(config))
    script = tmp_path / "nvidia-smi"
    script.write_text(
        '#!/bin/sh\nFAKE_NVIDIA_SMI_CONFIG="%s" exec "%s" "%s" "$@"\n'
        % (tmp_path / "fake_nvidia_smi.json", sys.executable, FAKE)
    )
    script.chmod(0o755)
    return script


def run_module(module, tmp_path, args, path_env=None):
    """Run a module file the way Ansible's module runner does: a fresh python, args from a JSON file."""
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    env = dict(os.environ, PYTHONPATH=str(REPO / "collections"))
    if path_env is not None:
        env["PATH"] = path_env
    proc = subprocess.run(
        [sys.executable, str(module), str(args_file)], capture_output=True, text=True, env=env, timeout=60, check=False
    )
    return json.loads(proc.stdout)


def test_module_end_to_end(tmp_path):
    config = {"capture_dir": str(FIXTURES / "h200-x2"), "log": str(tmp_path / "calls.log")}
    result = run_module(
        MODULE, tmp_path, {"nvidia_smi_path": str(stand_in(tmp_path, config)), "_ansible_check_mode": True}
    )
    assert result.get("failed") is not True, result
    assert result["changed"] is False
    facts = result["ansible_facts"]
    assert sorted(facts) == ["gpufleet_gpu_driver", "gpufleet_gpu_topology", "gpufleet_gpus"]
    assert [gpu["name"] for gpu in facts["gpufleet_gpus"]] == ["NVIDIA H200", "NVIDIA H200"]
    assert facts["gpufleet_gpus"][1]["nvlink"]["active"] == 18
    assert facts["gpufleet_gpu_topology"]["pair_types"] == {"NV18": 1}
    assert facts["gpufleet_gpu_driver"]["nvidia_smi"].endswith("/nvidia-smi")
    calls = [json.loads(line) for line in (tmp_path / "calls.log").read_text().splitlines()]
    assert [call[:2] for call in calls] == [["-q", "-x"], calls[1][:2], calls[2][:2], ["topo", "-m"], ["nvlink", "-s"]]


def test_module_finds_nvidia_smi_on_path(tmp_path):
    stand_in(tmp_path, {"capture_dir": str(FIXTURES / "h100-x1")})
    result = run_module(MODULE, tmp_path, {}, path_env="%s:/usr/bin:/bin" % tmp_path)
    assert result.get("failed") is not True, result
    assert result["ansible_facts"]["gpufleet_gpus"][0]["name"] == "NVIDIA H100 80GB HBM3"
    assert result["ansible_facts"]["gpufleet_gpu_driver"]["nvidia_smi"] == str(tmp_path / "nvidia-smi")


def test_module_without_nvidia_smi_names_host_and_fix(tmp_path):
    result = run_module(MODULE, tmp_path, {}, path_env=str(tmp_path / "empty"))
    assert result["failed"] is True
    assert "nvidia-smi not found" in result["msg"] and "nvidia_smi_path" in result["msg"]
    assert result["msg"].startswith(os.uname()[1] + ":")
    assert "Traceback" not in json.dumps(result)


def test_module_on_driver_library_mismatch(tmp_path):
    config = config_for(variant="driver-library-mismatch")
    config.pop("_base")
    result = run_module(MODULE, tmp_path, {"nvidia_smi_path": str(stand_in(tmp_path, config))})
    assert result["failed"] is True
    assert "rc 18" in result["msg"] and "Fix: reboot the host" in result["msg"]
