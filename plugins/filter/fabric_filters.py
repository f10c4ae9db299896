# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NCCL environment and group fabric parity; logic lives in module_utils.fabric."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.module_utils.fabric import FabricError, group_problems, nccl_env


def nccl_fabric_env(
    fabric,
    ib_hca=None,
    socket_ifname=None,
    net_gdr_level=None,
    ib_qps_per_connection=None,
    cross_nic=None,
    topo_file=None,
    debug=None,
    extra=None,
):
    if not isinstance(fabric, dict):
        raise AnsibleFilterError(
            "nccl_fabric_env expects the gpufleet_fabric_facts facts (a dict, from "
            "gpufleet.sglang.fabric_facts), got %s" % type(fabric).__name__
        )
    if extra is not None and not isinstance(extra, dict):
        raise AnsibleFilterError(
            "nccl_fabric_env_extra must be a mapping {NAME: value or null}, got %s" % type(extra).__name__
        )
    try:
        return nccl_env(
            fabric,
            ib_hca=ib_hca,
            socket_ifname=socket_ifname,
            net_gdr_level=net_gdr_level,
            ib_qps_per_connection=ib_qps_per_connection,
            cross_nic=cross_nic,
            topo_file=topo_file,
            debug=debug,
            extra=extra,
        )
    except FabricError as exc:
        raise AnsibleFilterError(str(exc))


def nccl_fabric_group_problems(hosts, group, fabrics):
    hosts = list(hosts or [])
    fabrics = list(fabrics or [])
    if len(hosts) != len(fabrics):
        raise AnsibleFilterError(
            "nccl_fabric_group_problems: %d hosts but %d fabric facts" % (len(hosts), len(fabrics))
        )
    return group_problems(group, list(zip(hosts, fabrics)))


class FilterModule(object):
    def filters(self):
        return {
            "nccl_fabric_env": nccl_fabric_env,
            "nccl_fabric_group_problems": nccl_fabric_group_problems,
        }
