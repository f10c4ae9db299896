# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""TEST DOUBLE of NVIDIA's `nvidia-ctk` (container toolkit CLI), packaged by the molecule scenario
`nvidia` into its stand-in nvidia-container-toolkit-base .deb. Not NVIDIA's tool.

Implements the commands gpufleet.sglang.nvidia_host uses, with the real tool's observable behaviour:

  nvidia-ctk runtime configure --runtime=docker [--config=/etc/docker/daemon.json] [--dry-run] [--set-as-default]
      Loads the JSON config (missing file = {}), adds runtimes.nvidia = {"args": [], "path":
      "nvidia-container-runtime"} keeping every other key, sets "default-runtime": "nvidia" with
      --set-as-default, and writes it (4-space indented) to the file, or to stdout with --dry-run.
  nvidia-ctk runtime configure --runtime=containerd [--config=/etc/containerd/config.toml] [--dry-run] [--set-as-default]
      Keeps the existing TOML text and adds the nvidia runtime tables of the CRI plugin when absent
      (the real tool re-serialises the whole file; the merge result is the same).
  nvidia-ctk cdi generate [--output=FILE] [--format=yaml]
      A CDI spec (kind nvidia.com/gpu) with one device per GPU that `nvidia-smi -L` lists, plus "all".
  nvidia-ctk --version
Python 3 standard library only; no shebang (the package's wrapper runs it with python3).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

VERSION = "@VERSION@"

CONTAINERD_TABLES = """
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia]
  privileged_without_host_devices = false
  runtime_engine = ""
  runtime_root = ""
  runtime_type = "io.containerd.runc.v2"

[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.nvidia.options]
  BinaryName = "/usr/bin/nvidia-container-runtime"
"""


def die(msg, rc=1):
    sys.stderr.write("nvidia-ctk (test double): %s\n" % msg)
    sys.exit(rc)


def options(argv):
    opts, rest = {}, []
    for arg in argv:
        if arg.startswith("--"):
            key, sep, value = arg[2:].partition("=")
            opts[key] = value if sep else True
        else:
            rest.append(arg)
    return opts, rest


def emit(text, path, dry_run):
    if dry_run:
        sys.stdout.write(text)
        return
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)
    sys.stderr.write("INFO Wrote updated config to %s\n" % path)


def configure_docker(path, dry_run, set_default):
    config = {}
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
        if text.strip():
            try:
                config = json.loads(text)
            except ValueError as exc:
                die("unable to load config %s: %s" % (path, exc))
    runtimes = config.setdefault("runtimes", {})
    runtimes["nvidia"] = {"args": [], "path": "nvidia-container-runtime"}
    if set_default:
        config["default-runtime"] = "nvidia"
    emit(json.dumps(config, indent=4), path, dry_run)


def configure_containerd(path, dry_run, set_default):
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if "containerd.runtimes.nvidia]" not in text:
        text = text.rstrip("\n") + ("\n" if text.strip() else "") + CONTAINERD_TABLES
    if set_default and 'default_runtime_name = "nvidia"' not in text:
        text += '\n[plugins."io.containerd.grpc.v1.cri".containerd]\n  default_runtime_name = "nvidia"\n'
    emit(text, path, dry_run)


def cdi_generate(opts):
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        die("failed to initialize NVML: %s" % exc)
    gpus = re.findall(r"^GPU (\d+): .*\(UUID: (GPU-[0-9a-f-]+)\)", out, re.M)
    lines = ['cdiVersion: 0.5.0', 'kind: nvidia.com/gpu', 'devices:']
    for index, uuid in gpus:
        for name in (index, uuid):
            lines += ['- name: "%s"' % name, '  containerEdits:', '    deviceNodes:',
                      '    - path: /dev/nvidia%s' % index]
    lines += ['- name: all', '  containerEdits:', '    deviceNodes:']
    lines += ['    - path: /dev/nvidia%s' % index for index, _uuid in gpus]
    lines += ['containerEdits:', '  deviceNodes:', '  - path: /dev/nvidiactl', '  - path: /dev/nvidia-uvm']
    text = "\n".join(lines) + "\n"
    if opts.get("output"):
        emit(text, opts["output"], False)
    else:
        sys.stdout.write(text)


def main(argv):
    opts, rest = options(argv)
    if opts.get("version"):
        sys.stdout.write("NVIDIA Container Toolkit CLI version %s (test double)\n" % VERSION)
        return 0
    if rest[:2] == ["runtime", "configure"]:
        runtime = opts.get("runtime", "docker")
        defaults = {"docker": "/etc/docker/daemon.json", "containerd": "/etc/containerd/config.toml"}
        if runtime not in defaults:
            die("unrecognized runtime '%s'" % runtime)
        path = opts.get("config") or defaults[runtime]
        handler = configure_docker if runtime == "docker" else configure_containerd
        handler(path, bool(opts.get("dry-run")), bool(opts.get("set-as-default")))
        return 0
    if rest[:2] == ["cdi", "generate"]:
        cdi_generate(opts)
        return 0
    die("unsupported command: %s" % " ".join(argv), 2)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
