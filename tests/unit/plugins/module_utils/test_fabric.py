from __future__ import annotations

import os
import pathlib
import re
import shutil

import pytest

from ansible_collections.gpufleet.sglang.plugins.module_utils import fabric
from ansible_collections.gpufleet.sglang.plugins.module_utils.fabric import (
    FabricError,
    fabric_facts,
    find_interface,
    group_problems,
    nccl_env,
    parse_ip_addr_json,
    parse_rate,
    render_env_file,
    split_host_port,
)

FIXTURES = pathlib.Path(__file__).resolve().parents[3] / "fixtures" / "sysfs"
TREES = ("ib-ndr-8x400", "roce-8x400", "ib-port-down", "no-hca")
RAILS = ["mlx5_%d" % i for i in range(8)]
ALL_PORTS = ["%s:1" % n for n in RAILS]
ADDRS = {"lo": ["127.0.0.1/8"], "eno1": ["10.20.0.12/24"], "docker0": ["172.17.0.1/16"]}


def tree(name):
    return str(FIXTURES / name)


def facts(name, **kwargs):
    return fabric_facts(tree(name), **kwargs)


@pytest.fixture
def copy_of(tmp_path):
    def make(name):
        dest = tmp_path / name
        shutil.copytree(tree(name), str(dest))
        return dest

    return make


# --------------------------------------------------------------- fixtures follow the kernel's formats

KERNEL_FORMATS = {
    "state": r"^\d+: (NOP|DOWN|INIT|ARMED|ACTIVE|ACTIVE_DEFER)$",
    "phys_state": r"^\d+: (Sleep|Polling|Disabled|PortConfigurationTraining|LinkUp|LinkErrorRecovery|Phy Test)$",
    "rate": r"^\d+(\.5)? Gb/sec \(\d+X( [A-Z0-9]+)?\)$",
    "link_layer": r"^(InfiniBand|Ethernet)$",
    "node_type": r"^\d+: (CA|RNIC|usNIC|usNIC UDP|switch|router)$",
}


@pytest.mark.parametrize("name", TREES)
def test_fixture_files_use_the_kernel_formats(name):
    seen = 0
    for path in pathlib.Path(tree(name)).rglob("*"):
        if path.is_symlink():
            pytest.fail("fixtures hold no symlinks: %s" % path)
        if not path.is_file():
            continue
        text = path.read_text()
        assert text.endswith("\n") and text.count("\n") == 1, path
        value = text.strip()
        if path.name in KERNEL_FORMATS and "infiniband" in path.parts:
            assert re.match(KERNEL_FORMATS[path.name], value), (path, value)
            seen += 1
        if path.parent.name == "gids":
            assert re.match(r"^([0-9a-f]{4}:){7}[0-9a-f]{4}$", value), (path, value)
        if path.parent.name == "types":
            assert value in ("IB/RoCE v1", "RoCE v2"), (path, value)
    assert seen or name == "no-hca"


# --------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    "text, expected",
    [
        ("400 Gb/sec (4X NDR)", 400),
        ("200 Gb/sec (4X HDR)", 200),
        ("2.5 Gb/sec (1X)", 2.5),
        ("10 Gb/sec (4X)", 10),
        ("", None),
        (None, None),
        ("garbage", None),
    ],
)
def test_parse_rate(text, expected):
    assert parse_rate(text) == expected


@pytest.mark.parametrize(
    "value, expected",
    [
        ("10.20.0.11:20000", "10.20.0.11"),
        ("10.20.0.11", "10.20.0.11"),
        ("gpu-a1:20000", "gpu-a1"),
        ("gpu-a1", "gpu-a1"),
        ("[fd00::1]:20000", "fd00::1"),
        ("fd00::1", "fd00::1"),
    ],
)
def test_split_host_port(value, expected):
    assert split_host_port(value) == expected


def test_parse_ip_addr_json_capture_shape():
    addrs = parse_ip_addr_json((FIXTURES / "ip-j-addr.json").read_text())
    assert addrs["eno1"] == ["10.20.0.12/24", "fe80::3eec:efff:fe00:1/64"]
    assert addrs["ibp24s0"] == ["10.30.0.12/16"]
    assert addrs["lo"] == ["127.0.0.1/8", "::1/128"]
    with pytest.raises(FabricError, match="ip -j addr"):
        parse_ip_addr_json("not json")


@pytest.mark.parametrize(
    "address, expected",
    [
        ("10.20.0.12", ("eno1", "local")),  # rank 0: the dist-init address is its own
        ("10.20.0.11", ("eno1", "subnet")),  # rank 1: its own address on the same network
        ("10.30.7.1", ("ibp24s0", "subnet")),  # over IPoIB
        ("10.40.1.200", ("enp41s0f0np0", "subnet")),
        ("192.168.1.1", (None, None)),
        ("not-an-ip", (None, None)),
    ],
)
def test_find_interface(address, expected):
    addrs = parse_ip_addr_json((FIXTURES / "ip-j-addr.json").read_text())
    assert find_interface(address, addrs) == expected


def test_find_interface_longest_prefix_wins():
    addrs = {"bond0": ["10.0.0.5/8"], "eth1": ["10.20.0.5/24"]}
    assert find_interface("10.20.0.9", addrs) == ("eth1", "subnet")
    with pytest.raises(FabricError, match="eth9"):
        find_interface("10.0.0.1", {"eth9": ["10.0.0.300/24"]})


# --------------------------------------------------------------- facts per fixture


@pytest.mark.parametrize(
    "name, compute, other, transport, rate, gid, active",
    [
        ("ib-ndr-8x400", RAILS, ["mlx5_8"], "infiniband", 400, None, ALL_PORTS),
        ("roce-8x400", RAILS, [], "roce", 400, 3, ALL_PORTS),
        ("ib-port-down", RAILS, ["mlx5_8"], "infiniband", 400, None, [p for p in ALL_PORTS if p != "mlx5_3:1"]),
        ("no-hca", [], [], "socket", None, None, []),
    ],
)
def test_facts(name, compute, other, transport, rate, gid, active):
    result = facts(name)
    assert result["compute_hcas"] == compute
    assert result["other_hcas"] == other
    assert result["transport"] == transport
    assert result["rate_gbps"] == rate
    assert result["roce_gid_index"] == gid
    assert result["active_compute_ports"] == active
    assert result["compute_ports"] == ["%s:1" % n for n in compute]
    assert [h["name"] for h in result["hcas"] if h["compute"]] == compute


def test_ib_host_details():
    result = facts("ib-ndr-8x400")
    hca = result["hcas"][0]
    assert (hca["name"], hca["hca_type"], hca["node_type"], hca["netdevs"]) == ("mlx5_0", "MT4129", "CA", ["ibp24s0"])
    port = hca["ports"][0]
    assert (port["state"], port["phys_state"], port["link_layer"], port["rate"]) == (
        "ACTIVE",
        "LinkUp",
        "InfiniBand",
        "400 Gb/sec (4X NDR)",
    )
    # Only the port GID; empty slots are skipped, an IB GID has no netdev.
    assert port["gids"] == [
        {"gid": "fe80:0000:0000:0000:0c42:a103:00d2:7e10", "ipv4": None, "index": 0, "type": "IB/RoCE v1", "ndev": None}
    ]
    assert result["interfaces"]["ibp24s0"]["hca"] == "mlx5_0"
    assert result["interfaces"]["ibp24s0"]["type"] == 32
    assert result["interfaces"]["eno1"]["hca"] is None
    assert result["problems"] == [] and result["warnings"] == []
    # The storage BlueField-3 is RoCE and active, yet not compute.
    storage = result["hcas"][8]
    assert storage["hca_type"] == "MT41692" and storage["ports"][0]["roce_v2_ipv4_gid_index"] == 3


def test_roce_gid_table():
    port = facts("roce-8x400")["hcas"][2]["ports"][0]
    assert [(g["index"], g["type"], g["ipv4"], g["ndev"]) for g in port["gids"]] == [
        (0, "IB/RoCE v1", None, "rdma2"),
        (1, "RoCE v2", None, "rdma2"),
        (2, "IB/RoCE v1", "10.224.2.11", "rdma2"),
        (3, "RoCE v2", "10.224.2.11", "rdma2"),
    ]
    assert port["roce_v2_ipv4_gid_index"] == 3


def test_port_down_is_a_problem_naming_the_hca():
    result = facts("ib-port-down")
    assert len(result["problems"]) == 1
    assert "mlx5_3 port 1 is DOWN/Polling, expected ACTIVE/LinkUp" in result["problems"][0]
    # The storage ConnectX-7 (same model, Ethernet) is neither compute nor checked.
    assert "mlx5_8" not in " ".join(result["problems"])


def test_real_sysfs_symlinks_read_the_same(copy_of, tmp_path):
    # Real sysfs: class/infiniband/<hca> and <hca>/device are symlinks into /sys/devices.
    root = copy_of("ib-ndr-8x400")
    devices = tmp_path / "ib-ndr-8x400" / "devices" / "pci0000:00"
    devices.mkdir(parents=True)
    for hca in sorted(os.listdir(str(root / "class" / "infiniband"))):
        link = root / "class" / "infiniband" / hca
        real = devices / hca
        shutil.move(str(link), str(real))
        os.symlink(str(real), str(link))
        pci = devices / ("pci-" + hca)
        shutil.move(str(real / "device"), str(pci))
        os.symlink(str(pci), str(real / "device"))
    plain = facts("ib-ndr-8x400")
    linked = fabric_facts(str(root))
    for result in (plain, linked):
        result.pop("sysfs_root")
    assert linked == plain


def test_software_rdma_device_is_never_compute(copy_of):
    root = copy_of("roce-8x400")
    rxe = root / "class" / "infiniband" / "rxe0"
    shutil.copytree(str(root / "class" / "infiniband" / "mlx5_0"), str(rxe))
    shutil.rmtree(str(rxe / "device"))  # same model as the rails: only the software rule leaves it out
    result = fabric_facts(str(root))
    assert result["compute_hcas"] == RAILS and result["other_hcas"] == ["rxe0"]


@pytest.mark.parametrize(
    "include, exclude, compute, problem",
    [
        (["mlx5_[0-3]"], [], ["mlx5_0", "mlx5_1", "mlx5_2", "mlx5_3"], None),
        ([], ["mlx5_7"], RAILS[:7], None),
        (["mlx5_*"], ["mlx5_8"], RAILS, None),
        (["mlx5_0", "mlx5_12"], [], ["mlx5_0"], "nccl_fabric_hca_include names mlx5_12"),
        (["mlx5_*"], [], RAILS + ["mlx5_8"], "compute HCAs mix link layers (Ethernet, InfiniBand)"),
    ],
)
def test_include_exclude(include, exclude, compute, problem):
    result = facts("ib-ndr-8x400", include=include, exclude=exclude)
    assert result["compute_hcas"] == compute
    if problem:
        assert any(problem in p for p in result["problems"]), result["problems"]
    else:
        assert result["problems"] == []


def test_exclude_can_leave_the_down_rail_out():
    result = facts("ib-port-down", exclude=["mlx5_3"])
    assert result["problems"] == [] and len(result["active_compute_ports"]) == 7


@pytest.mark.parametrize(
    "kwargs, fragment, count",
    [
        ({"expected_rate": 200}, "runs at 400 Gb/sec (4X NDR), expected 200 Gb/sec", 8),
        ({"expected_rate": 400}, None, 0),
        ({"expected_count": 9}, "found 8 compute port(s)", 1),
        ({"expected_count": 8}, None, 0),
    ],
)
def test_expected_rate_and_count(kwargs, fragment, count):
    problems = facts("ib-ndr-8x400", **kwargs)["problems"]
    assert len(problems) == count
    if fragment:
        assert fragment in problems[0]


def test_slower_rail_is_found_without_an_expected_rate(copy_of):
    root = copy_of("ib-ndr-8x400")
    (root / "class/infiniband/mlx5_6/ports/1/rate").write_text("200 Gb/sec (4X HDR)\n")
    result = fabric_facts(str(root))
    assert result["rate_gbps"] == 400
    assert result["problems"] == [
        "mlx5_6 port 1 runs at 200 Gb/sec (4X HDR), expected 400 Gb/sec; reseat or replace "
        "the cable/transceiver, or set nccl_fabric_expected_rate_gbps"
    ]


# --------------------------------------------------------------- RoCE GID index


def test_roce_gid_override_checked():
    assert facts("roce-8x400", gid_index=3)["problems"] == []
    result = facts("roce-8x400", gid_index=2)
    assert len(result["problems"]) == 8
    assert (
        "mlx5_0:1 has no RoCE v2 GID at index 2 (nccl_fabric_ib_gid_index); its RoCE v2 GIDs: 1, 3"
        in result["problems"][0]
    )


def test_roce_port_without_ipv4(copy_of):
    root = copy_of("roce-8x400")
    port = root / "class/infiniband/mlx5_5/ports/1"
    for index in ("2", "3"):
        (port / "gids" / index).write_text("0000:0000:0000:0000:0000:0000:0000:0000\n")
        (port / "gid_attrs/types" / index).unlink()
        (port / "gid_attrs/ndevs" / index).unlink()
    result = fabric_facts(str(root))
    assert result["roce_gid_index"] == 3
    assert result["problems"] == [
        "mlx5_5:1 has no RoCE v2 IPv4 GID (is an IPv4 address on rdma5?); give the "
        "interface its address or set nccl_fabric_ib_gid_index"
    ]


def test_roce_gid_indices_disagree(copy_of):
    root = copy_of("roce-8x400")
    port = root / "class/infiniband/mlx5_1/ports/1"
    # A VLAN address first: the untagged IPv4 GID moves to index 5.
    for index, source in (("4", "2"), ("5", "3")):
        for sub in ("gids", "gid_attrs/types", "gid_attrs/ndevs"):
            shutil.copy(str(port / sub / source), str(port / sub / index))
    (port / "gid_attrs/types/3").write_text("IB/RoCE v1\n")
    result = fabric_facts(str(root))
    assert result["roce_gid_index"] is None
    assert len(result["problems"]) == 1
    assert "different indices (3: mlx5_0:1, mlx5_2:1" in result["problems"][0]
    assert "5: mlx5_1:1)" in result["problems"][0]


# --------------------------------------------------------------- dist-init interface


def test_dist_init_interface_on_rank0_and_rank1():
    rank0 = facts("ib-ndr-8x400", dist_init_address="10.20.0.12:20000", addresses=ADDRS)
    assert rank0["dist_init"] == {
        "address": "10.20.0.12",
        "resolved": "10.20.0.12",
        "interface": "eno1",
        "how": "local",
    }
    rank1 = facts("ib-ndr-8x400", dist_init_address="10.20.0.11:20000", addresses=ADDRS)
    assert rank1["socket_ifname"] == "eno1" and rank1["dist_init"]["how"] == "subnet"


def test_dist_init_host_name_resolved():
    result = facts(
        "roce-8x400",
        dist_init_address="gpu-a1:20000",
        addresses=ADDRS,
        resolver=lambda name: ["192.0.2.1", "10.20.0.11"] if name == "gpu-a1" else [],
    )
    assert result["dist_init"]["resolved"] == "10.20.0.11" and result["socket_ifname"] == "eno1"
    missing = facts("roce-8x400", dist_init_address="nowhere:20000", addresses=ADDRS, resolver=lambda name: [])
    assert missing["problems"] == [
        "dist-init address nowhere does not resolve on this host; use an IP address or "
        "fix DNS (or set nccl_fabric_socket_ifname)"
    ]


@pytest.mark.parametrize(
    "addresses, fragment",
    [
        (
            {"eno1": ["192.168.9.2/24"]},
            "no interface of this host is on the network of the dist-init address 10.20.0.11",
        ),
        (None, "no address list"),
    ],
)
def test_dist_init_interface_problems(addresses, fragment):
    result = facts("ib-ndr-8x400", dist_init_address="10.20.0.11", addresses=addresses)
    assert result["socket_ifname"] is None
    assert len(result["problems"]) == 1 and fragment in result["problems"][0]


def test_addresses_must_be_a_mapping():
    with pytest.raises(FabricError, match="addresses must be a mapping"):
        facts("no-hca", dist_init_address="10.20.0.11", addresses=["10.20.0.12/24"])
    # A single string per interface is accepted.
    assert (
        facts("no-hca", dist_init_address="10.20.0.11", addresses={"eno1": "10.20.0.12/24"})["socket_ifname"] == "eno1"
    )


def test_missing_sysfs_root_is_a_clear_error(tmp_path):
    with pytest.raises(FabricError, match="sysfs_root .*nope is not a directory"):
        fabric_facts(str(tmp_path / "nope"))


@pytest.mark.parametrize("nnodes, warned", [(1, False), (2, True)])
def test_no_hca_host_is_valid_but_warned_in_multi_node_groups(nnodes, warned):
    result = facts("no-hca", nnodes=nnodes)
    assert result["problems"] == []
    assert bool(result["warnings"]) is warned
    if warned:
        assert result["warnings"][0].startswith("NO RDMA HCA") and "TCP sockets" in result["warnings"][0]


def test_hca_hosts_are_not_warned():
    assert facts("ib-ndr-8x400", nnodes=2)["warnings"] == []


# --------------------------------------------------------------- NCCL env

IB_HCA = "=" + ",".join(ALL_PORTS)


@pytest.mark.parametrize(
    "name, expected",
    [
        (
            "ib-ndr-8x400",
            {
                "NCCL_IB_HCA": IB_HCA,
                "NCCL_NET_GDR_LEVEL": "PXB",
                "NCCL_SOCKET_IFNAME": "=eno1",
                "GLOO_SOCKET_IFNAME": "eno1",
            },
        ),
        (
            "roce-8x400",
            {
                "NCCL_IB_HCA": IB_HCA,
                "NCCL_NET_GDR_LEVEL": "PXB",
                "NCCL_IB_GID_INDEX": "3",
                "NCCL_SOCKET_IFNAME": "=eno1",
                "GLOO_SOCKET_IFNAME": "eno1",
            },
        ),
        (
            "ib-port-down",
            {
                "NCCL_IB_HCA": "=" + ",".join(p for p in ALL_PORTS if p != "mlx5_3:1"),
                "NCCL_NET_GDR_LEVEL": "PXB",
                "NCCL_SOCKET_IFNAME": "=eno1",
                "GLOO_SOCKET_IFNAME": "eno1",
            },
        ),
        ("no-hca", {"NCCL_SOCKET_IFNAME": "=eno1", "GLOO_SOCKET_IFNAME": "eno1"}),
    ],
)
def test_env_per_fixture(name, expected):
    fab = facts(name, dist_init_address="10.20.0.11:20000", addresses=ADDRS)
    assert nccl_env(fab, net_gdr_level="PXB") == expected


def test_env_overrides_and_optional_values():
    fab = facts("roce-8x400", dist_init_address="10.20.0.11", addresses=ADDRS)
    env = nccl_env(
        fab,
        ib_hca="^mlx5_7",
        socket_ifname="bond0",
        net_gdr_level="SYS",
        ib_qps_per_connection=4,
        cross_nic=1,
        topo_file="/etc/nccl/topo.xml",
        debug="WARN",
        extra={"NCCL_IB_GID_INDEX": None, "NCCL_IB_TIMEOUT": 22},
    )
    assert env == {
        "NCCL_IB_HCA": "^mlx5_7",
        "NCCL_SOCKET_IFNAME": "=bond0",
        "GLOO_SOCKET_IFNAME": "bond0",
        "NCCL_NET_GDR_LEVEL": "SYS",
        "NCCL_IB_QPS_PER_CONNECTION": "4",
        "NCCL_CROSS_NIC": "1",
        "NCCL_TOPO_FILE": "/etc/nccl/topo.xml",
        "NCCL_DEBUG": "WARN",
        "NCCL_IB_TIMEOUT": "22",
    }
    assert list(env) == sorted(env)
    # No GDR level: none written; no dist-init address: no socket interface.
    assert nccl_env(facts("ib-ndr-8x400")) == {"NCCL_IB_HCA": IB_HCA}


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"extra": {"NCCL_IB_HCA": "mlx5_0 mlx5_1"}}, "without spaces, quotes or backslashes"),
        ({"extra": {"NCCL_X": 'a"b'}}, "without spaces"),
        ({"extra": {"NCCL_X": ""}}, "must be non-empty"),
        ({"extra": {"BAD-KEY": "1"}}, "not an environment variable name"),
        ({"extra": {"A": "1\nB=2"}}, "without spaces"),
        ({"cross_nic": 3}, "nccl_fabric_cross_nic must be 0, 1 or 2"),
        ({"debug": "LOUD"}, "nccl_fabric_debug must be one of"),
        ({"net_gdr_level": "FAR"}, "nccl_fabric_net_gdr_level must be one of"),
    ],
)
def test_env_bad_values_are_refused(kwargs, fragment):
    with pytest.raises(FabricError, match=re.escape(fragment)):
        nccl_env(facts("ib-ndr-8x400"), **kwargs)


def test_render_env_file():
    assert render_env_file({"B": "2", "A": "=x"}) == "A==x\nB=2\n"


# --------------------------------------------------------------- group parity


@pytest.mark.parametrize(
    "trees, fragments",
    [
        (("ib-ndr-8x400", "ib-ndr-8x400"), []),
        (("roce-8x400", "roce-8x400"), []),
        (("no-hca", "no-hca"), []),  # valid (sockets); the module warns per host
        (("ib-ndr-8x400", "roce-8x400"), ["a1 8 x 400 Gb/sec infiniband; a2 8 x 400 Gb/sec roce"]),
        (("ib-ndr-8x400", "no-hca"), ["a2 no RDMA HCA (sockets)"]),
        (
            ("ib-ndr-8x400", "ib-port-down"),
            [
                "a2 failed its own fabric preflight (1 problem(s)",
                "a1 8 x 400 Gb/sec infiniband; a2 7 x 400 Gb/sec infiniband",
            ],
        ),
    ],
)
def test_group_parity(trees, fragments):
    problems = group_problems("r1_a", [("a1", facts(trees[0])), ("a2", facts(trees[1]))])
    assert len(problems) == len(fragments)
    for problem, fragment in zip(problems, fragments):
        assert problem.startswith("group r1_a: ") and fragment in problem


def test_group_rate_difference(copy_of):
    root = copy_of("ib-ndr-8x400")
    for hca in RAILS:
        (root / "class/infiniband" / hca / "ports/1/rate").write_text("200 Gb/sec (4X HDR)\n")
    problems = group_problems("r1_a", [("a1", facts("ib-ndr-8x400")), ("a2", fabric_facts(str(root)))])
    assert problems == [
        "group r1_a: nodes differ in their compute fabric (a1 8 x 400 Gb/sec infiniband; a2 8 x 200 "
        "Gb/sec infiniband); NCCL pairs rails across nodes, so every node needs the same HCA count, "
        "rate and link layer: fix the hardware/links or nccl_fabric_hca_include/_exclude"
    ]


def test_group_member_without_facts():
    problems = group_problems("r1_a", [("a1", facts("ib-ndr-8x400")), ("a2", None)])
    assert problems == [
        "group r1_a: a2 has no fabric facts (not in this play, or it failed earlier); run nccl_fabric "
        "on every host of the group"
    ]


def test_module_utils_has_no_ansible_imports():
    source = pathlib.Path(fabric.__file__).read_text()
    assert "import ansible" not in source and "from ansible" not in source
