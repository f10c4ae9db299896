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
  nvidia-ctk runtime configure --runtime=containerd [--config=/etc/containerd/config.toml]
                               [--drop-in-config=PATH] [--dry-run] [--set-as-default]
      As NVIDIA/nvidia-container-toolkit does it (cmd/nvidia-ctk/runtime/configure/configure.go,
      pkg/config/engine/containerd/{containerd.go,config_drop_in.go}):
      - version >= 1.18.0 (the --drop-in-config flag exists): the nvidia runtime goes to a DROP-IN,
        by default /etc/containerd/conf.d/99-nvidia.toml (/etc/containerd/config.d/ in 1.18.0). The
        drop-in starts from the source config's whole plugins."io.containerd.grpc.v1.cri" section, then
        the runtime tables; config.toml keeps its settings and gets `imports = ["<drop-in dir>/*.toml"]`
        (plus `version = 2` when it was empty). With --dry-run the drop-in, THEN the top-level config,
        go to stdout (the log lines "Drop-in config:" / "Top-level config:" to stderr).
      - version < 1.18.0: no --drop-in-config flag; the runtime tables are merged into config.toml.
      Keeps the existing TOML text where the real tool re-serialises it (go-toml); the content is the
      same. Only the version 2 config layout (containerd 1.x) is emulated.
  nvidia-ctk runtime configure --help
      Usage text; it names --drop-in-config from version 1.18.0.
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
CRI = 'plugins."io.containerd.grpc.v1.cri"'

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


def version_tuple(version):
    return tuple(int(p) for p in version.split(".")[:3] if p.isdigit())


def supports_drop_in():
    return version_tuple(VERSION) >= (1, 18, 0)


def default_drop_in():
    # 1.18.0: /etc/containerd/config.d/99-nvidia.toml; from 1.18.1: /etc/containerd/conf.d/99-nvidia.toml
    directory = "config.d" if version_tuple(VERSION) < (1, 18, 1) else "conf.d"
    return "/etc/containerd/%s/99-nvidia.toml" % directory


def add_runtime(text, set_default):
    if "containerd.runtimes.nvidia]" not in text:
        text = text.rstrip("\n") + ("\n" if text.strip() else "") + CONTAINERD_TABLES
    if set_default and 'default_runtime_name = "nvidia"' not in text:
        text += '\n[%s.containerd]\n  default_runtime_name = "nvidia"\n' % CRI
    return text


def cri_section(text):
    """The source config's tables under plugins."io.containerd.grpc.v1.cri" (their text)."""
    keep, lines = False, []
    for line in text.splitlines():
        if line.strip().startswith("["):
            keep = line.strip().startswith("[" + CRI)
        if keep:
            lines.append(line)
    return "\n".join(lines) + ("\n" if lines else "")


def configure_containerd(path, dry_run, set_default, drop_in):
    text = ""
    if os.path.exists(path):
        with open(path) as f:
            text = f.read()
    if not drop_in:
        emit(add_runtime(text, set_default), path, dry_run)
        return
    drop_in_text = add_runtime("version = 2\n\n" + cri_section(text), set_default)
    wanted = '"%s/*.toml"' % os.path.dirname(drop_in)
    top = text
    if wanted not in top:
        match = re.search(r"^imports\s*=\s*\[(.*)\]\s*$", top, re.M)
        if match:
            items = [i for i in (x.strip() for x in match.group(1).split(",")) if i] + [wanted]
            top = top[: match.start()] + "imports = [%s]" % ", ".join(items) + top[match.end() :]
        else:
            top = ("" if top.strip() else "version = 2\n") + "imports = [%s]\n" % wanted + top
    if dry_run:
        sys.stderr.write("INFO Drop-in config:\n")
        sys.stdout.write(drop_in_text)
        sys.stderr.write("INFO Top-level config:\n")
        sys.stdout.write(top)
        return
    emit(drop_in_text, drop_in, False)
    emit(top, path, False)


def usage():
    flags = ["--dry-run", "--runtime value", "--config value"]
    if supports_drop_in():
        flags.append("--drop-in-config value")
    flags += ["--nvidia-set-as-default, --set-as-default", "--help, -h"]
    return (
        "NAME:\n   nvidia-ctk runtime configure - Add a runtime to the specified container engine\n\n"
        "OPTIONS:\n" + "".join("   %s\n" % f for f in flags)
    )


def cdi_generate(opts):
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        die("failed to initialize NVML: %s" % exc)
    gpus = re.findall(r"^GPU (\d+): .*\(UUID: (GPU-[0-9a-f-]+)\)", out, re.M)
    lines = ["cdiVersion: 0.5.0", "kind: nvidia.com/gpu", "devices:"]
    for index, uuid in gpus:
        for name in (index, uuid):
            lines += [
                '- name: "%s"' % name,
                "  containerEdits:",
                "    deviceNodes:",
                "    - path: /dev/nvidia%s" % index,
            ]
    lines += ["- name: all", "  containerEdits:", "    deviceNodes:"]
    lines += ["    - path: /dev/nvidia%s" % index for index, _uuid in gpus]
    lines += ["containerEdits:", "  deviceNodes:", "  - path: /dev/nvidiactl", "  - path: /dev/nvidia-uvm"]
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
        if opts.get("help") or opts.get("h"):
            sys.stdout.write(usage())
            return 0
        if "drop-in-config" in opts and not supports_drop_in():
            die("flag provided but not defined: -drop-in-config")
        runtime = opts.get("runtime", "docker")
        defaults = {"docker": "/etc/docker/daemon.json", "containerd": "/etc/containerd/config.toml"}
        if runtime not in defaults:
            die("unrecognized runtime '%s'" % runtime)
        path = opts.get("config") or defaults[runtime]
        if runtime == "docker":
            if opts.get("drop-in-config"):
                die("runtime docker does not support drop-in configs")
            configure_docker(path, bool(opts.get("dry-run")), bool(opts.get("set-as-default")))
            return 0
        drop_in = opts.get("drop-in-config", default_drop_in() if supports_drop_in() else "")
        if drop_in and not os.path.isabs(drop_in):
            die('the drop-in-config path "%s" is not an absolute path' % drop_in)
        configure_containerd(path, bool(opts.get("dry-run")), bool(opts.get("set-as-default")), drop_in)
        return 0
    if rest[:2] == ["cdi", "generate"]:
        cdi_generate(opts)
        return 0
    die("unsupported command: %s" % " ".join(argv), 2)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
