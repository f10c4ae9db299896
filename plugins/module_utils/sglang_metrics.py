# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Prometheus ``file_sd`` scrape targets from the plan, one list per job.

A ``file_sd`` file is a list of ``{"targets": ["host:port"], "labels": {...}}``
(Prometheus docs, ``<file_sd_config>``); every target carries the labels the fleet's
alerts and dashboards group by: ``model_group``, ``node_rank``, ``served_model``,
``gpu_type``, ``role`` (plus ``host``, the inventory name).

Which endpoints exist, read from upstream:
- SGLang 0.5.23 serves ``/metrics`` on its HTTP port only with ``--enable-metrics``;
  scheduler series come from attention-TP rank 0 unless
  ``--enable-metrics-for-all-schedulers`` (sglang/srt/observability/metrics_collector.py,
  ``SchedulerMetricsCollectorContext.init_new``: ``is_stats_logging_rank or
  enable_metrics_for_all_schedulers``). Node ranks >= 1 run
  ``launch_dummy_health_check_server`` (sglang/srt/entrypoints/engine.py), which adds
  the Prometheus middleware with ``--enable-metrics`` (sglang/srt/utils/common.py).
  So: rank 0 always, every rank when per-scheduler metrics are on.
- smg (the gateway) serves ``/metrics`` on ``--prometheus-host``/``--prometheus-port``,
  default 0.0.0.0:29000 (lightseekorg/smg model_gateway/src/main.rs,
  observability/metrics_server.rs).
- NVIDIA dcgm-exporter listens on :9400 (github.com/NVIDIA/dcgm-exporter README).
- prometheus-node-exporter listens on :9100.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

JOBS = ("sglang", "gateway", "dcgm", "node")
ALL_SCHEDULERS_FLAG = "--enable-metrics-for-all-schedulers"
METRICS_FLAG = "--enable-metrics"
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class MetricsError(Exception):
    """Every problem found, each naming the host/group/variable and the fix."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def host_port(address: str, port: int) -> str:
    """``addr:port``, IPv6 in brackets (Prometheus parses targets as host:port)."""
    if ":" in address and not address.startswith("["):
        return f"[{address}]:{port}"
    return f"{address}:{port}"


def _flag_on(launch_args: list[Any], flag: str) -> bool:
    """Whether a switch is on in a rendered argv (``--X`` present, ``--no-X`` is off)."""
    return flag in [str(a) for a in launch_args or []]


def _port(value: Any, where: str, var: str, problems: list[str]) -> int | None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, str))
        or not str(value).isdigit()
        or not 1 <= int(value) <= 65535
    ):
        problems.append(f"{where}: {var}={value!r} is not a TCP port (an integer 1-65535)")
        return None
    return int(value)


def _entry(target: str, labels: Mapping[str, Any]) -> dict[str, Any]:
    # Prometheus drops labels with empty values; keep the files free of them.
    return {
        "targets": [target],
        "labels": {k: str(v) for k, v in sorted(labels.items()) if v not in (None, "")},
    }


def scrape_targets(
    plan: Any,
    routers: Mapping[str, Mapping[str, Any]] | None = None,
    gpu_types: Mapping[str, str] | None = None,
    *,
    dcgm: bool = False,
    node_exporter: bool = True,
    dcgm_port: Any = 9400,
    node_port: Any = 9100,
) -> dict[str, list[dict[str, Any]]]:
    """Targets per job (``sglang``, ``gateway``, ``dcgm``, ``node``).

    ``plan``: the ``sglang_plan`` fact. ``routers``: ``{host: {address, prometheus_host,
    prometheus_port}}``. ``gpu_types``: ``{host: "H100"}``, ``unknown`` when absent.
    A job that is off gets an empty list (its file is written empty, so a switched-off
    exporter's old targets go away). Raises :class:`MetricsError`.
    """
    problems: list[str] = []
    if not isinstance(plan, Mapping) or not isinstance(plan.get("groups"), Mapping):
        raise MetricsError(
            [
                (
                    "sglang_plan is not a plan (no 'groups'); run gpufleet.sglang.sglang_plan "
                    "(playbooks/plan.yml) in the same play first"
                )
            ]
        )
    gpu_types = gpu_types or {}
    jobs: dict[str, list[dict[str, Any]]] = {job: [] for job in JOBS}
    dport = _port(dcgm_port, "dcgm exporter", "sglang_metrics_dcgm_exporter_port", problems) if dcgm else None
    nport = _port(node_port, "node exporter", "sglang_metrics_node_exporter_port", problems) if node_exporter else None
    served_all = []
    for group in sorted(plan["groups"]):
        data = plan["groups"][group]
        nodes = data.get("nodes") if isinstance(data, Mapping) else None
        if not isinstance(nodes, list) or not nodes:
            problems.append(f"group {group}: the plan has no nodes for it; re-run the plan")
            continue
        served = data.get("served_model_name") or ""
        served_all.append(str(served))
        for node in sorted(nodes, key=lambda n: int(n.get("node_rank", 0))):
            host = node.get("host")
            rank = int(node.get("node_rank", 0))
            address = str(node.get("address") or host)
            labels = {
                "model_group": group,
                "node_rank": rank,
                "served_model": served,
                "host": host,
                "gpu_type": gpu_types.get(host) or "unknown",
                "role": "head" if rank == 0 else "follower",
            }
            args = node.get("launch_args") or []
            if _flag_on(args, METRICS_FLAG) and (rank == 0 or _flag_on(args, ALL_SCHEDULERS_FLAG)):
                port = _port(
                    node.get("port"),
                    f"group {group} host {host}",
                    "sglang_port",
                    problems,
                )
                if port:
                    jobs["sglang"].append(_entry(host_port(address, port), labels))
            if dport:
                jobs["dcgm"].append(_entry(host_port(address, dport), labels))
            if nport:
                jobs["node"].append(_entry(host_port(address, nport), labels))
    for router in sorted(routers or {}):
        rv = (routers or {})[router] or {}
        where = f"router {router}"
        bind = str(rv.get("prometheus_host") or "0.0.0.0")
        if bind in LOOPBACK:
            problems.append(
                f"{where}: sglang_router_prometheus_host={bind} binds loopback, Prometheus cannot scrape it; set "
                "it to 0.0.0.0 or the router's address"
            )
            continue
        port = _port(
            rv.get("prometheus_port", 29000),
            where,
            "sglang_router_prometheus_port",
            problems,
        )
        address = bind if bind not in ("0.0.0.0", "::", "") else str(rv.get("address") or router)
        labels = {
            "role": "gateway",
            "host": router,
            "served_model": ",".join(sorted(set(served_all))),
        }
        if port:
            jobs["gateway"].append(_entry(host_port(address, port), labels))
        if nport:
            jobs["node"].append(_entry(host_port(str(rv.get("address") or router), nport), labels))
    if problems:
        raise MetricsError(problems)
    return jobs


def gateway_worker_floor(plan: Any, floor: Any = None) -> int:
    """Healthy workers the gateway must keep: ``floor`` if given, else every group but one
    (a rolling restart takes one group out at a time), at least 1."""
    if floor not in (None, ""):
        if isinstance(floor, bool) or not str(floor).isdigit():
            raise MetricsError([f"sglang_metrics_gateway_min_healthy_workers={floor!r} is not a whole number >= 0"])
        return int(floor)
    groups = plan.get("groups") if isinstance(plan, Mapping) else None
    return max(1, len(groups or {}) - 1)
