"""Plan a generated fleet and print figures (make bench-plan).

Times the planning code itself (module_utils.sglang_plan.plan_fleet), not
Ansible's inventory loading. Last line: key=value pairs.
    python benchmarks/bench_plan.py [--hosts 1000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent / "collections"))

from ansible_collections.gpufleet.sglang.plugins.module_utils.sglang_plan import plan_fleet  # noqa: E402


def generate(hosts, nodes_per_group=2):
    """A fleet like inventories/prod, scaled: groups of 2 x 8 GPUs, mixed presets."""
    model_groups, hostvars = {}, {}
    presets = ["deepseek-r1-fp8-2x8", "deepseek-r1-fp8-2x8-mtp"]
    for g in range(hosts // nodes_per_group):
        name = "r1_%04d" % g
        members = ["gpu-%04d-%d" % (g, n) for n in range(nodes_per_group)]
        model_groups[name] = members
        for n, host in enumerate(members):
            hostvars[host] = {
                "ansible_host": "10.%d.%d.%d" % (g // 250, g % 250, n + 1),
                "sglang_preset": presets[g % 2],
                "sglang_model_path": "/models/deepseek-ai/DeepSeek-R1",
                "sglang_mem_fraction_static": 0.85,
                "sglang_args": {"log-level": "info"},
            }
    return model_groups, hostvars


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--hosts", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=5)
    opts = ap.parse_args()
    groups, hostvars = generate(opts.hosts)
    targets = list(hostvars)
    times = []
    plan = None
    for _run in range(opts.repeat):
        start = time.perf_counter()
        plan = plan_fleet(groups, hostvars, targets)
        times.append(time.perf_counter() - start)
    size = len(json.dumps(plan))
    print(
        "planned %d hosts in %d groups, %d runs: min %.3fs median %.3fs max %.3fs; plan JSON %d KiB"
        % (
            len(plan["hosts"]),
            len(plan["groups"]),
            opts.repeat,
            min(times),
            statistics.median(times),
            max(times),
            size // 1024,
        )
    )
    print(
        "hosts=%d groups=%d plan_s=%.3f plan_s_max=%.3f plan_json_kib=%d target_s=1.0"
        % (len(plan["hosts"]), len(plan["groups"]), statistics.median(times), max(times), size // 1024)
    )


if __name__ == "__main__":
    main()
