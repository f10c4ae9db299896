#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: fabric_facts
short_description: InfiniBand / RoCE fabric facts for NCCL, with a host preflight
version_added: 0.1.0
description:
  - Reads C(class/infiniband) and C(class/net) under O(sysfs_root) (the kernel's documented layout) and returns,
    per HCA and port, the state, physical state, rate, link layer (InfiniBand, or Ethernet for RoCE), the
    non-empty GID table entries with their type (V(IB/RoCE v1) or V(RoCE v2)) and netdev, and the HCA's network
    interfaces.
  - Chooses the compute HCAs. Software RDMA devices (no C(device/), e.g. rxe, siw) and non-CA nodes never are.
    O(hca_include) names them exactly when given; O(hca_exclude) removes some; otherwise the largest class of
    identical HCAs (same C(hca_type), link layer and port count) is compute, ties going to the faster class, so
    an 8-rail host keeps its 8 rails and leaves a storage or management HCA out, also while a rail is down.
  - On RoCE finds the RoCE v2 IPv4 GID index (the value of C(NCCL_IB_GID_INDEX)).
  - Finds the interface that carries O(dist_init_address), or the host's own address on the same network.
  - Reports preflight problems (a compute port not ACTIVE/LinkUp or not at the expected rate, a wrong count, no or
    disagreeing RoCE GIDs, no interface on the dist-init network) in RV(ansible_facts.gpufleet_fabric_facts.problems)
    without failing; the C(gpufleet.sglang.nccl_fabric) role fails on them. Warns loudly when a host of a
    multi-node group has no HCA (NCCL falls back to TCP sockets).
author:
  - gpufleet.sglang contributors (@gpufleet)
options:
  sysfs_root:
    description: Root of sysfs; a copy of it (a fixture tree) for tests.
    type: path
    default: /sys
  dist_init_address:
    description:
      - The group's dist-init address (C(ADDRESS) or C(ADDRESS:PORT); a host name is resolved on the host).
      - Omit on single-node groups, which have no rendezvous.
    type: str
  addresses:
    description:
      - "This host's addresses as C({ifname: [ADDRESS/PREFIX, ...]})."
      - Omitted, they are read with C(ip -j addr show) (iproute2) when O(dist_init_address) is set.
    type: dict
  hca_include:
    description: fnmatch patterns naming the compute HCAs exactly (e.g. V(mlx5_[0-7])); empty chooses automatically.
    type: list
    elements: str
    default: []
  hca_exclude:
    description: fnmatch patterns of HCAs never used for compute.
    type: list
    elements: str
    default: []
  ib_gid_index:
    description: GID index to use on RoCE instead of the detected one; checked to be a RoCE v2 GID on every port.
    type: int
  expected_rate_gbps:
    description: Rate every compute port must run at, in Gb/sec; omitted, the most common active rate (the higher on a tie).
    type: float
  expected_hca_count:
    description: Number of compute ports expected on the host; omitted, not checked here (the group check still compares nodes).
    type: int
  nnodes:
    description: Nodes in the host's model group; above 1, a host without compute HCA is warned about.
    type: int
    default: 1
extends_documentation_fragment:
  - gpufleet.sglang.attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  idempotent:
    support: full
"""

EXAMPLES = r"""
- name: Read the fabric
  gpufleet.sglang.fabric_facts:
    dist_init_address: "{{ sglang_plan.hosts[inventory_hostname].dist_init_addr }}"
    nnodes: "{{ sglang_plan.hosts[inventory_hostname].nnodes }}"

- name: Only the eight rails, all at 400G NDR
  gpufleet.sglang.fabric_facts:
    hca_include: ["mlx5_[0-7]"]
    expected_rate_gbps: 400
    expected_hca_count: 8

- name: Read a fixture tree
  gpufleet.sglang.fabric_facts:
    sysfs_root: /opt/sysfs-fixture/roce-8x400
    dist_init_address: 10.20.0.11:20000
    addresses: {eno1: [10.20.0.12/24]}
"""

RETURN = r"""
ansible_facts:
  description: Facts set on the host.
  returned: always
  type: dict
  contains:
    gpufleet_fabric_facts:
      description: The fabric of the host.
      returned: always
      type: dict
      contains:
        hcas:
          description:
            - Every RDMA device, in name order, with C(name), C(node_type), C(hca_type), C(board_id), C(fw_ver),
              C(physical), C(netdevs), C(compute) and C(ports).
            - Each port has C(port), C(state), C(phys_state), C(active), C(rate), C(rate_gbps), C(link_layer),
              C(gids) (non-empty entries with C(index), C(gid), C(ipv4), C(type), C(ndev)) and
              C(roce_v2_ipv4_gid_index).
          type: list
          elements: dict
          sample:
            - name: mlx5_0
              hca_type: MT4129
              compute: true
              netdevs: [ibp24s0]
              ports:
                - {port: 1, state: ACTIVE, phys_state: LinkUp, active: true, rate: 400 Gb/sec (4X NDR),
                   rate_gbps: 400, link_layer: InfiniBand, roce_v2_ipv4_gid_index: null}
        interfaces:
          description: Network interfaces of C(class/net) (C(operstate), C(address), C(type), C(hca)).
          type: dict
        compute_hcas:
          description: Names of the compute HCAs.
          type: list
          elements: str
          sample: [mlx5_0, mlx5_1]
        other_hcas:
          description: HCAs left out (storage, management, software RDMA, excluded).
          type: list
          elements: str
          sample: [mlx5_8]
        compute_ports:
          description: Compute ports as C(hca:port).
          type: list
          elements: str
        active_compute_ports:
          description: Compute ports that are ACTIVE/LinkUp, as C(hca:port) (what C(NCCL_IB_HCA) lists).
          type: list
          elements: str
          sample: ["mlx5_0:1", "mlx5_1:1"]
        transport:
          description: V(infiniband), V(roce), V(mixed) or V(socket) (no compute HCA).
          type: str
          sample: infiniband
        rate_gbps:
          description: The rate every compute port must run at (Gb/sec).
          type: float
          sample: 400
        roce_gid_index:
          description: On RoCE, the GID index for C(NCCL_IB_GID_INDEX); null otherwise.
          type: int
          sample: 3
        dist_init:
          description: C(address), C(resolved), C(interface) and C(how) (V(local) or V(subnet)) of the dist-init address.
          type: dict
        socket_ifname:
          description: The interface for C(NCCL_SOCKET_IFNAME) / C(GLOO_SOCKET_IFNAME); null when unknown.
          type: str
          sample: eno1
        problems:
          description: Preflight problems, each naming the HCA or address and the fix; empty when fine.
          type: list
          elements: str
        warnings:
          description: Warnings (also emitted as Ansible warnings).
          type: list
          elements: str
"""

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.gpufleet.sglang.plugins.module_utils.fabric import (
    FabricError,
    fabric_facts,
    parse_ip_addr_json,
)


def _resolve(name):
    found = []
    try:
        infos = socket.getaddrinfo(name, None, 0, socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return found
    for info in sorted(infos, key=lambda i: i[0] != socket.AF_INET):
        if info[4][0] not in found:
            found.append(info[4][0])
    return found


def main():
    module = AnsibleModule(
        argument_spec=dict(
            sysfs_root=dict(type="path", default="/sys"),
            dist_init_address=dict(type="str"),
            addresses=dict(type="dict"),
            hca_include=dict(type="list", elements="str", default=[]),
            hca_exclude=dict(type="list", elements="str", default=[]),
            ib_gid_index=dict(type="int"),
            expected_rate_gbps=dict(type="float"),
            expected_hca_count=dict(type="int"),
            nnodes=dict(type="int", default=1),
        ),
        supports_check_mode=True,
    )
    p = module.params
    addresses = p["addresses"]
    try:
        if addresses is None and p["dist_init_address"]:
            ip_cmd = module.get_bin_path("ip")
            if ip_cmd:
                rc, out, err = module.run_command([ip_cmd, "-j", "addr", "show"])
                if rc != 0:
                    module.fail_json(msg="`ip -j addr show` failed (rc %d): %s" % (rc, err.strip()))
                addresses = parse_ip_addr_json(out)
        facts = fabric_facts(
            sysfs_root=p["sysfs_root"],
            dist_init_address=p["dist_init_address"],
            addresses=addresses,
            include=p["hca_include"],
            exclude=p["hca_exclude"],
            gid_index=p["ib_gid_index"],
            expected_rate=p["expected_rate_gbps"],
            expected_count=p["expected_hca_count"],
            nnodes=p["nnodes"],
            resolver=_resolve,
        )
    except FabricError as exc:
        module.fail_json(msg=str(exc))
    for warning in facts["warnings"]:
        module.warn(warning)
    module.exit_json(changed=False, ansible_facts={"gpufleet_fabric_facts": facts})


if __name__ == "__main__":
    main()
