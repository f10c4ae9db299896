# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Weights distribution benchmark: peer fan-out against "every node pulls from the source".

A source container and N node containers on a Docker network of their own, the
source's uplink shaped with tc (tbf, inside its network namespace: NET_ADMIN),
the nodes' uplinks shaped to a faster fabric rate. A synthetic model (random,
incompressible) is distributed with rsync over SSH, as the model_sync role does:

* single: one node pulls from the source (the time of one copy over one link);
* naive:  all N nodes pull from the source at once;
* waves:  the seed pulls from the source, then the nodes copy from nodes that
  hold a verified copy, in the waves planned by the collection's own
  plugins/module_utils/model_fanout.py; every copy is verified against the
  manifest (plugins/module_utils/model_manifest.py, run inside the node) before
  it serves (whole-model waves, the role's behaviour before the pipeline);
* pipeline: the same tree as one pipeline (model_fanout.pipeline): every node
  runs the collection's follower (plugins/module_utils/model_fanout_fetch.py,
  inside the node) behind its parent, fetching each file once the parent holds
  it verified (cut_through off);
* fanout: the same pipeline with cut-through (what the role does by default): a
  node takes a file while its parent still receives it (rsync --append passes
  over the growing file) and publishes it once it verified it itself.

Both naive and fanout end with every node verified. Prints wall times and their
ratio to the single copy (1.0 is the physical limit); the last line is
``nodes=… size_mb=… (MiB) single_s=… naive_s=… waves_s=… pipeline_s=… fanout_s=… fanout_ratio=…
pipeline_ratio=… waves_ratio=… naive_ratio=… source_copies=…``.
Ansible's own task overhead is not included (see the README for the role's).

Needs Docker and the test image (tools/build-test-image.sh); builds a derived
image with rsync and sshd once (gpufleet/bench-weights, kept as a cache; --rm-image
removes it). Containers and the network (prefix bw-) are always removed.

    python benchmarks/bench_weights.py [--nodes 8] [--size-mb 256] [--files 4] [--rate 200mbit] [--peer-rate 2gbit]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "collections"))

from ansible_collections.gpufleet.sglang.plugins.module_utils.model_fanout import SOURCE, pipeline, plan  # noqa: E402

BASE_IMAGE = os.environ.get("GPUFLEET_TEST_IMAGE", "gpufleet/debian12-systemd:latest")
PACKAGES = "rsync openssh-server openssh-client"
IMAGE = "gpufleet/bench-weights:" + hashlib.sha256((BASE_IMAGE + PACKAGES + "v1").encode()).hexdigest()[:12]
PREFIX = "bw-"
MODEL = "/models/m"
SSH = "ssh -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR"
RSYNC = ["rsync", "--archive", "--partial", "--delete", "--no-compress", "-e", SSH]
MM_IN_CONTAINER = "/opt/model_manifest.py"
# The followers' poll of their parent's ready file (--poll-interval).
POLL_S = 0.25
# The collection's module_utils inside the nodes, importable as the collection names them.
MU_IN_CONTAINER = "/opt/ansible_collections/gpufleet/sglang/plugins/module_utils"


def log(msg):
    sys.stderr.write("[bench-weights] %s\n" % msg)
    sys.stderr.flush()


def run(argv, check=True, capture=False):
    res = subprocess.run(
        argv,
        check=False,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        universal_newlines=True,
    )
    if check and res.returncode != 0:
        raise RuntimeError("%s: exit %d: %s" % (" ".join(argv[:6]), res.returncode, (res.stderr or "")[-800:]))
    return res


def dexec(container, *argv, **kwargs):
    return run(["docker", "exec", container] + list(argv), **kwargs)


def parallel(jobs):
    """Run argv lists at once; raise if any fails."""
    procs = [
        (argv, subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, universal_newlines=True))
        for argv in jobs
    ]
    errors = []
    for argv, proc in procs:
        _out, err = proc.communicate()
        if proc.returncode != 0:
            errors.append("%s: exit %d: %s" % (" ".join(argv[:4]), proc.returncode, err[-400:]))
    if errors:
        raise RuntimeError("; ".join(errors))


def ensure_image():
    if run(["docker", "image", "inspect", IMAGE], check=False).returncode == 0:
        return
    if run(["docker", "image", "inspect", BASE_IMAGE], check=False).returncode != 0:
        raise RuntimeError("test image %s missing: run tools/build-test-image.sh (make test-image)" % BASE_IMAGE)
    log("building %s (rsync, sshd) once" % IMAGE)
    builder = PREFIX + "build-%d" % os.getpid()
    try:
        run(["docker", "run", "-d", "--name", builder, BASE_IMAGE, "sleep", "infinity"])
        dexec(
            builder,
            "sh",
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "
            + PACKAGES
            + " >/dev/null && mkdir -p /run/sshd /root/.ssh && ssh-keygen -A >/dev/null"
            " && ssh-keygen -q -t ed25519 -N '' -f /root/.ssh/id_ed25519"
            " && cp /root/.ssh/id_ed25519.pub /root/.ssh/authorized_keys && chmod 600 /root/.ssh/authorized_keys",
        )
        run(["docker", "commit", "-c", 'CMD ["/usr/sbin/sshd", "-D", "-e"]', builder, IMAGE])
    finally:
        run(["docker", "rm", "-f", builder], check=False)


class Fleet(object):
    def __init__(self, nodes, rate, peer_rate):
        tag = "%d" % os.getpid()
        self.net = PREFIX + "net-" + tag
        self.src = PREFIX + "src-" + tag
        self.nodes = [PREFIX + "n%d-%s" % (i, tag) for i in range(1, nodes + 1)]
        self.rate = rate
        self.peer_rate = peer_rate

    def up(self):
        run(["docker", "network", "create", self.net])
        for name in [self.src] + self.nodes:
            run(
                [
                    "docker",
                    "run",
                    "-d",
                    "--name",
                    name,
                    "--hostname",
                    name,
                    "--network",
                    self.net,
                    "--cap-add",
                    "NET_ADMIN",
                    IMAGE,
                ]
            )
        for name in [self.src] + self.nodes:
            run(
                [
                    "docker",
                    "cp",
                    os.path.join(ROOT, "plugins", "module_utils", "model_manifest.py"),
                    "%s:%s" % (name, MM_IN_CONTAINER),
                ]
            )
            dexec(name, "mkdir", "-p", MU_IN_CONTAINER)
            for util in ("model_manifest.py", "model_fanout_fetch.py"):
                run(
                    [
                        "docker",
                        "cp",
                        os.path.join(ROOT, "plugins", "module_utils", util),
                        "%s:%s/%s" % (name, MU_IN_CONTAINER, util),
                    ]
                )
        self.shape(self.src, self.rate)
        if self.peer_rate:
            for node in self.nodes:
                self.shape(node, self.peer_rate)
        for node in self.nodes:  # sshd up and reachable
            for _attempt in range(50):
                if dexec(node, "sh", "-c", SSH + " " + self.src + " true", check=False).returncode == 0:
                    break
                time.sleep(0.2)

    @staticmethod
    def shape(container, rate):
        # tbf on the container's egress (its uplink): burst large enough for the rate at HZ=1000+
        dexec(
            container,
            "tc",
            "qdisc",
            "replace",
            "dev",
            "eth0",
            "root",
            "tbf",
            "rate",
            rate,
            "burst",
            "1mb",
            "latency",
            "200ms",
        )

    def down(self):
        run(["docker", "rm", "-f", self.src] + self.nodes, check=False)
        run(["docker", "network", "rm", self.net], check=False)


def make_model(fleet, size_mb, files):
    per = max(1, size_mb // files)
    script = ["set -e", "mkdir -p %s/revisions/r1" % MODEL]
    for i in range(1, files + 1):
        script.append(
            "head -c %dM /dev/urandom > %s/revisions/r1/model-%05d-of-%05d.safetensors" % (per, MODEL, i, files)
        )
    script.append('echo \'{"architectures": ["DeepseekV3ForCausalLM"]}\' > %s/revisions/r1/config.json' % MODEL)
    script.append(
        "python3 -c \"import sys; sys.path.insert(0, '/opt'); import model_manifest as mm; "
        "m = mm.scan('%s/revisions/r1')[0]; open('/models/r1.json', 'w').write(mm.dumps(m)); print(m['bytes'])\""
        % MODEL
    )
    out = dexec(fleet.src, "sh", "-c", "\n".join(script), capture=True).stdout.strip()
    manifest = dexec(fleet.src, "cat", "/models/r1.json", capture=True).stdout
    return int(out.splitlines()[-1]), manifest


def reset_nodes(fleet, manifest):
    jobs = []
    for node in fleet.nodes:
        jobs.append(
            [
                "docker",
                "exec",
                "-i",
                node,
                "sh",
                "-c",
                "rm -rf /models && mkdir -p %s/staging %s/revisions && cat > /models/r1.json" % (MODEL, MODEL),
            ]
        )
    procs = [subprocess.Popen(j, stdin=subprocess.PIPE, universal_newlines=True) for j in jobs]
    for proc in procs:
        proc.communicate(manifest)
        if proc.returncode != 0:
            raise RuntimeError("reset failed")


def pull_argv(node, src_container):
    return ["docker", "exec", node] + RSYNC + ["%s:%s/revisions/r1/" % (src_container, MODEL), "%s/staging/r1/" % MODEL]


def verify_and_promote_argv(node):
    code = (
        "import sys, os; sys.path.insert(0, '/opt'); import model_manifest as mm; "
        "r = mm.verify('%s/staging/r1', mm.load_file('/models/r1.json'), full=True); "
        "sys.exit(mm.summarize(r['problems'])) if not r['ok'] else os.rename('%s/staging/r1', '%s/revisions/r1')"
        % (MODEL, MODEL, MODEL)
    )
    return ["docker", "exec", node, "python3", "-c", code]


def single_copy(fleet):
    node = fleet.nodes[0]
    start = time.monotonic()
    run(pull_argv(node, fleet.src))
    return time.monotonic() - start


def naive(fleet):
    start = time.monotonic()
    parallel([pull_argv(n, fleet.src) for n in fleet.nodes])
    parallel([verify_and_promote_argv(n) for n in fleet.nodes])
    return time.monotonic() - start


def waves(fleet, seeds, peer_fanout, max_parallel):
    the_plan = plan(fleet.nodes, [], seed_count=seeds, peer_fanout=peer_fanout, max_parallel=max_parallel)
    start = time.monotonic()
    for index, wave in enumerate(the_plan["waves"]):
        t0 = time.monotonic()
        parallel([pull_argv(c["dest"], fleet.src if c["src"] == SOURCE else c["src"]) for c in wave])
        parallel([verify_and_promote_argv(c["dest"]) for c in wave])
        log(
            "  wave %d: %d cop%s in %.1f s"
            % (index, len(wave), "y" if len(wave) == 1 else "ies", time.monotonic() - t0)
        )
    return time.monotonic() - start, the_plan


def follow_argv(node, fleet, copy, token, cut_through=True):
    """The collection's follower in ``node``, behind its parent (the source or a node)."""
    import json

    if copy["src"] == SOURCE:
        src, ready = "%s:%s/revisions/r1/" % (fleet.src, MODEL), ""
    else:
        src, ready = "%s:%s/staging/r1/" % (copy["src"], MODEL), "%s:%s/staging/r1.ready" % (copy["src"], MODEL)
    params = {
        "dest": "%s/staging/r1" % MODEL,
        "manifest": "/models/r1.json",
        "cache": "/models/r1.cache.json",
        "src": src,
        "src_ready": ready,
        "src_complete": copy["src_complete"],
        "ssh": SSH,
        "token": token,
        "poll_interval": POLL_S,
        "stall_timeout": 900,
        "cut_through": cut_through,
    }
    code = (
        "import json, sys; sys.path.insert(0, '/opt'); "
        "from ansible_collections.gpufleet.sglang.plugins.module_utils.model_fanout_fetch import run; "
        "print(json.dumps(run(json.loads(sys.argv[1]))))"
    )
    return ["docker", "exec", node, "python3", "-c", code, json.dumps(params)]


def promote_argv(node):
    return ["docker", "exec", node, "mv", "-T", "%s/staging/r1" % MODEL, "%s/revisions/r1" % MODEL]


def fanout(fleet, seeds, peer_fanout, max_parallel, cut_through=True):
    """One pipeline: every node follows its parent file by file; then each verified copy becomes the revision."""
    the_plan = pipeline(fleet.nodes, [], seed_count=seeds, peer_fanout=peer_fanout, max_parallel=max_parallel)
    token = "bench-%d" % time.time_ns()
    start = time.monotonic()
    parallel([follow_argv(dest, fleet, copy, token, cut_through) for dest, copy in sorted(the_plan["copies"].items())])
    t_follow = time.monotonic() - start
    parallel([promote_argv(n) for n in fleet.nodes])
    log(
        "  pipeline%s: %d copies, %d level(s), followed in %.1f s"
        % (" with cut-through" if cut_through else "", len(the_plan["copies"]), the_plan["depth"], t_follow)
    )
    return time.monotonic() - start, the_plan


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=int(os.environ.get("BENCH_NODES", 8)))
    parser.add_argument("--size-mb", type=int, default=int(os.environ.get("BENCH_SIZE_MB", 256)))
    parser.add_argument(
        "--files",
        type=int,
        default=int(os.environ.get("BENCH_FILES", 4)),
        help="files of the model (DeepSeek-R1: 163 safetensors shards)",
    )
    parser.add_argument("--rate", default=os.environ.get("BENCH_RATE", "200mbit"), help="source uplink (tc rate)")
    parser.add_argument(
        "--peer-rate",
        default=os.environ.get("BENCH_PEER_RATE", "2gbit"),
        help="each node's uplink (tc rate; '' leaves them unshaped)",
    )
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--peer-fanout", type=int, default=1)
    parser.add_argument("--max-parallel", type=int, default=8)
    parser.add_argument("--rm-image", action="store_true", help="remove the derived image afterwards")
    parser.add_argument(
        "--poll-interval",
        type=float,
        default=float(os.environ.get("BENCH_POLL_S", 0.25)),
        help="seconds between a follower's looks at its parent's ready file and between cut-through passes (the module's default)",
    )
    parser.add_argument(
        "--skip",
        default=os.environ.get("BENCH_SKIP", ""),
        help="comma-separated runs to leave out (naive, waves, pipeline): quicker iterations on the fan-out",
    )
    args = parser.parse_args(argv)
    global POLL_S
    POLL_S = args.poll_interval
    skip = set(x.strip() for x in args.skip.split(",") if x.strip())
    naive_s = waves_s = pipe_s = float("nan")
    wave_plan = {"waves": [], "source_copies": 0}

    ensure_image()
    fleet = Fleet(args.nodes, args.rate, args.peer_rate)
    try:
        log(
            "fleet: 1 source + %d nodes on %s; source uplink %s, node uplinks %s"
            % (args.nodes, fleet.net, args.rate, args.peer_rate or "unshaped")
        )
        fleet.up()
        size, manifest = make_model(fleet, args.size_mb, args.files)
        log("model: %.1f MiB, random (incompressible)" % (size / 1048576.0))

        reset_nodes(fleet, manifest)
        single = single_copy(fleet)
        log("single copy over one link: %.1f s (%.1f MB/s)" % (single, size / 1e6 / single))

        if "naive" not in skip:
            reset_nodes(fleet, manifest)
            naive_s = naive(fleet)
            log("naive, every node pulls from the source: %.1f s" % naive_s)

        if "waves" not in skip:
            reset_nodes(fleet, manifest)
            waves_s, wave_plan = waves(fleet, args.seeds, args.peer_fanout, args.max_parallel)
            log(
                "waves, %d seed(s) then peers in %d wave(s): %.1f s"
                % (args.seeds, len(wave_plan["waves"]) - 1, waves_s)
            )

        if "pipeline" not in skip:
            reset_nodes(fleet, manifest)
            pipe_s, _plan = fanout(fleet, args.seeds, args.peer_fanout, args.max_parallel, cut_through=False)
            log("pipeline, each file once the parent verified it: %.1f s" % pipe_s)

        reset_nodes(fleet, manifest)
        fan_s, the_plan = fanout(fleet, args.seeds, args.peer_fanout, args.max_parallel)
        log("fan-out, one pipeline with cut-through (%d level(s)): %.1f s" % (the_plan["depth"], fan_s))
    finally:
        fleet.down()
        if args.rm_image:
            run(["docker", "rmi", IMAGE], check=False)

    print("single copy over one link : %7.1f s   ratio 1.00 (the physical limit)" % single)
    print(
        "naive (all pull source)   : %7.1f s   ratio %.2f   source uplink carried %d copies"
        % (naive_s, naive_s / single, args.nodes)
    )
    print(
        "waves (whole-model waves) : %7.1f s   ratio %.2f   source uplink carried %d cop%s"
        % (waves_s, waves_s / single, wave_plan["source_copies"], "y" if wave_plan["source_copies"] == 1 else "ies")
    )
    print("pipeline (verified files) : %7.1f s   ratio %.2f" % (pipe_s, pipe_s / single))
    print(
        "fan-out (cut-through)     : %7.1f s   ratio %.2f   source uplink carried %d cop%s"
        % (fan_s, fan_s / single, the_plan["source_copies"], "y" if the_plan["source_copies"] == 1 else "ies")
    )
    print(
        "nodes=%d size_mb=%d files=%d rate=%s peer_rate=%s single_s=%.1f naive_s=%.1f waves_s=%.1f pipeline_s=%.1f "
        "fanout_s=%.1f fanout_ratio=%.2f pipeline_ratio=%.2f waves_ratio=%.2f naive_ratio=%.2f source_copies=%d"
        % (
            args.nodes,
            round(size / 1048576.0),
            args.files,
            args.rate,
            args.peer_rate or "none",
            single,
            naive_s,
            waves_s,
            pipe_s,
            fan_s,
            fan_s / single,
            pipe_s / single,
            waves_s / single,
            naive_s / single,
            the_plan["source_copies"],
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
