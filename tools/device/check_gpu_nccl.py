"""On a real GPU host: run the collection's GPU facts and preflight against live nvidia-smi,
and check the NCCL transport detector on a real NCCL_DEBUG=INFO log (torch.distributed
all_reduce over the local GPUs). Prints a summary; writes details under $OUT if set.
    python3 tools/device/check_gpu_nccl.py
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "collections"))

from ansible_collections.gpufleet.sglang.plugins.module_utils import gpu_facts, gpu_preflight, nccl_tests_parse  # noqa: E402


def run(argv):
    proc = subprocess.run(argv, capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def main():
    out = pathlib.Path(os.environ.get("OUT", "/tmp/out"))
    out.mkdir(parents=True, exist_ok=True)
    facts, warnings = gpu_facts.gather("device", None, shutil.which, run)
    gpus = facts["gpufleet_gpus"]
    print(
        "gpus=%d names=%s driver=%s cuda=%s"
        % (
            len(gpus),
            sorted(set(g["name"] for g in gpus)),
            facts["gpufleet_gpu_driver"].get("driver_version"),
            facts["gpufleet_gpu_driver"].get("cuda_version"),
        )
    )
    for g in gpus:
        ecc, pcie, fabric = g.get("ecc") or {}, g.get("pcie") or {}, g.get("fabric") or {}
        print(
            "gpu %s %s %s MiB persistence=%s ecc=%s uncorrectable=%s pcie=gen%s x%s (max gen%s x%s) fabric=%s/%s"
            % (
                g.get("index"),
                g.get("pci_bus_id"),
                g.get("memory_total_mib"),
                g.get("persistence_mode"),
                ecc.get("mode_current"),
                ecc.get("uncorrectable_volatile"),
                pcie.get("gen_current"),
                pcie.get("width_current"),
                pcie.get("gen_max"),
                pcie.get("width_max"),
                fabric.get("state"),
                fabric.get("status"),
            )
        )
    print("warnings:", warnings)
    problems = gpu_preflight.host_problems("device", facts, {"expected_gpu_count": len(gpus)})
    print("preflight problems (%d):" % len(problems))
    for p in problems:
        print("  -", p)
    (out / "gpu_facts.json").write_text(json.dumps(facts, indent=1, default=str))

    n = len(gpus)
    script = (
        "import os, torch, torch.distributed as dist\n"
        "dist.init_process_group('nccl'); r = dist.get_rank(); torch.cuda.set_device(r)\n"
        "x = torch.ones(64 << 20, device='cuda'); dist.all_reduce(x); torch.cuda.synchronize()\n"
        "print('allreduce ok', x[0].item()) if r == 0 else None; dist.destroy_process_group()\n"
    )
    env = dict(os.environ, NCCL_DEBUG="INFO", NCCL_DEBUG_SUBSYS="INIT,NET")
    pathlib.Path("/tmp/ar.py").write_text(script)
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(n), "/tmp/ar.py"],
        env=env,
        capture_output=True,
        text=True,
    )
    log = proc.stdout + proc.stderr
    (out / "nccl_debug.txt").write_text(log)
    lines = [ln for ln in log.splitlines() if "Using network" in ln or "NET/" in ln][:6]
    print("torch all_reduce rc=%d; NCCL net lines:" % proc.returncode)
    for ln in lines:
        print("  ", ln.strip()[:160])
    print("detected transport:", nccl_tests_parse.detected_transport(nccl_tests_parse.parse_text(log)))


if __name__ == "__main__":
    main()
