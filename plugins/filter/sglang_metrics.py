# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus scrape targets from the plan; logic lives in module_utils.sglang_metrics."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.gpufleet.sglang.plugins.module_utils.nccl_tests_parse import (
    normalize_gpu_model,
)
from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_metrics import (
    MetricsError,
    gateway_worker_floor,
    scrape_targets,
)


def _gpu_type(hv):
    """The host's GPU type: sglang_metrics_gpu_type, else the gathered gpufleet_gpus (gpu_facts)."""
    if hv.get("sglang_metrics_gpu_type"):
        return str(hv["sglang_metrics_gpu_type"])
    gpus = hv.get("gpufleet_gpus")
    if isinstance(gpus, list) and gpus and isinstance(gpus[0], dict):
        name = gpus[0].get("name")
        return normalize_gpu_model(name) or (str(name) if name else None)
    return None


def sglang_scrape_targets(
    plan,
    hostvars,
    routers=(),
    dcgm=False,
    node_exporter=True,
    dcgm_port=9400,
    node_port=9100,
):
    if isinstance(routers, (str, bytes)):
        raise AnsibleFilterError("sglang_scrape_targets: routers must be a list of router host names, got a string")
    try:
        members = [n.get("host") for g in (plan or {}).get("groups", {}).values() for n in g.get("nodes", [])]
    except AttributeError:
        members = []
    gpu_types = {h: _gpu_type(hostvars[h]) for h in members if h in hostvars}
    router_info = {}
    for router in routers or ():
        hv = hostvars.get(router, {})
        router_info[router] = {
            "address": hv.get("ansible_host", router),
            "prometheus_host": hv.get("sglang_router_prometheus_host", "0.0.0.0"),
            "prometheus_port": hv.get("sglang_router_prometheus_port", 29000),
        }
    try:
        return scrape_targets(
            plan,
            router_info,
            gpu_types,
            dcgm=bool(dcgm),
            node_exporter=bool(node_exporter),
            dcgm_port=dcgm_port,
            node_port=node_port,
        )
    except MetricsError as exc:
        raise AnsibleFilterError("sglang_scrape_targets: " + " | ".join(exc.problems))


def sglang_gateway_worker_floor(plan, floor=None):
    try:
        return gateway_worker_floor(plan, floor)
    except MetricsError as exc:
        raise AnsibleFilterError(" | ".join(exc.problems))


class FilterModule:
    def filters(self):
        return {
            "sglang_scrape_targets": sglang_scrape_targets,
            "sglang_gateway_worker_floor": sglang_gateway_worker_floor,
        }
