# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SGLang service units: the ExecStart argv per runtime, systemd quoting, and the
group parity check that refuses to start a group whose nodes differ."""

from __future__ import annotations

import os
import re
from typing import Any, Iterable, List, Mapping, Optional, Sequence

RUNTIMES = ("container", "native", "emulator")
# memlock unlimited for RDMA (ibv_reg_mr pins memory); SGLang opens many files.
DEFAULT_ULIMITS = ("memlock=-1", "nofile=1048576:1048576")


def systemd_quote(token: Any) -> str:
    """Quote one argv token for an ExecStart= line.

    systemd splits ExecStart on whitespace, honours double quotes with C-style
    backslash escapes, expands ``$VAR``/``${VAR}`` and ``%`` specifiers; so every
    token is double-quoted with ``\\`` and ``"`` escaped, ``$`` doubled to
    ``$$`` and ``%`` doubled to ``%%``.
    """
    token = str(token)
    if "\n" in token or "\r" in token or "\x00" in token:
        raise ValueError("argv token %r contains a newline or NUL, which a unit file cannot carry" % token)
    escaped = token.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$").replace("%", "%%")
    if escaped == token and token and re.match(r"^[A-Za-z0-9_@%+=:,./-]+$", token):
        return token
    return '"%s"' % escaped


_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]{32,}$")


def image_by_digest(image: str, digest: str) -> str:
    """``image`` pinned to ``digest``: ``registry:5000/ns/name:tag`` + ``sha256:...`` ->
    ``registry:5000/ns/name@sha256:...``.

    The tag is the part after the last ``:`` of the last path component (a registry's
    ``host:port`` is not a tag); an existing ``@digest`` is replaced. An empty digest keeps
    ``image`` as it is. A digest that is not ``algorithm:hex`` (the OCI distribution spec's
    form) raises ValueError.
    """
    if not digest:
        return image
    if not _DIGEST.match(digest):
        raise ValueError("image digest %r is not of the form sha256:<64 hex digits>" % digest)
    name = image.split("@", 1)[0]
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        name = name[:colon]
    return "%s@%s" % (name, digest)


def exec_line(argv: Iterable[Any]) -> str:
    """An argv list -> the value of an ExecStart= line (one line)."""
    return " ".join(systemd_quote(t) for t in argv)


def container_argv(
    node: Mapping[str, Any],
    image: str,
    container_name: str,
    docker: str = "/usr/bin/docker",
    shm_size: Optional[str] = "32g",
    model_mount: Optional[str] = None,
    env_file: Optional[str] = None,
    secrets_file: Optional[str] = None,
    extra_run_args: Optional[Iterable[str]] = None,
    env_files: Optional[Iterable[str]] = None,
    rdma_devices: Optional[Iterable[str]] = None,
    privileged: bool = False,
    gpus: Any = "all",
    stop_timeout: int = 300,
    ulimits: Optional[Iterable[str]] = DEFAULT_ULIMITS,
    nccl_debug_dir: Optional[str] = None,
) -> List[str]:
    """``docker run`` argv for the container runtime: the seeds' flags, made explicit.

    ``--gpus all --network host --ipc host --shm-size`` as SGLang's docs; memlock
    unlimited for RDMA; the model read-only; environment from the env files (``env_files``
    in order, then ``env_file``: a later file wins, as ``docker run`` reads them in order);
    the secrets file (SGLang --config) read-only at the same path.

    RDMA: SGLang's own multi-node manifests run ``privileged`` "to leverage RDMA/InfiniBand";
    without ``/dev/infiniband`` NCCL logs ``NET/IB : No device found`` at INFO and runs over
    TCP sockets. With ``rdma_devices`` (the compute HCAs' ``/dev/infiniband/uverbs*`` and
    ``rdma_cm``, from the fabric facts) the container gets exactly those devices and
    ``IPC_LOCK`` (ibv_reg_mr pins memory); ``privileged`` is the explicit opt-in that
    replaces both. No devices, no privilege: a node without HCAs gets neither.

    PID 1: ``--init`` runs docker's init (tini) as PID 1, which forwards SIGTERM to
    SGLang (a bare PID 1 ignores signals it has no handler for) and reaps the
    scheduler/detokenizer processes SGLang's crash path kills. ``--stop-timeout``
    bounds ``docker stop`` (the unit's ExecStop uses the same value).

    ``nccl_debug_dir``: the host directory of ``NCCL_DEBUG_FILE`` (NCCL's INIT/NET lines, one file
    per process), mounted read-write at the same path so the readiness gate reads on the host
    what NCCL wrote in the container.
    """
    argv = [docker, "run", "--rm", "--init", "--name", container_name]
    if gpus:
        argv += ["--gpus", str(gpus)]
    argv += ["--network", "host", "--ipc", "host"]
    if shm_size:
        argv += ["--shm-size", str(shm_size)]
    for ulimit in ulimits or []:
        if not re.match(r"^[a-z]+=-?[0-9]+(:-?[0-9]+)?$", str(ulimit)):
            raise ValueError("container ulimit %r is not NAME=SOFT[:HARD] (e.g. nofile=1048576:1048576)" % (ulimit,))
        argv += ["--ulimit", str(ulimit)]
    argv += ["--stop-timeout", str(int(stop_timeout))]
    if privileged:
        argv += ["--privileged"]
    elif rdma_devices:
        for device in rdma_devices:
            if not str(device).startswith("/dev/infiniband/"):
                raise ValueError("RDMA device %r is not under /dev/infiniband" % (device,))
            argv += ["--device", str(device)]
        argv += ["--cap-add", "IPC_LOCK"]
    if model_mount:
        argv += ["-v", "%s:%s:ro" % (model_mount, model_mount)]
    for path in list(env_files or []) + ([env_file] if env_file else []):
        argv += ["--env-file", path]
    if secrets_file:
        argv += ["-v", "%s:%s:ro" % (secrets_file, secrets_file)]
    if nccl_debug_dir:
        path = str(nccl_debug_dir)
        if not path.startswith("/") or os.path.normpath(path) != path or ":" in path or "," in path:
            raise ValueError(
                "NCCL debug directory %r must be an absolute, normalised path without ':' or ','" % (path,)
            )
        argv += ["-v", "%s:%s" % (path, path)]
    argv += list(extra_run_args or [])
    argv += [image]
    argv += list(node["argv"])
    return argv


def runtime_argv(
    node: Mapping[str, Any],
    runtime: str,
    python: Optional[str] = None,
    emulator: Optional[str] = None,
    **container: Any,
) -> List[Any]:
    """The ExecStart argv of one node for its runtime (``container`` kwargs go to :func:`container_argv`)."""
    if runtime == "container":
        return container_argv(node, **container)
    if runtime == "native":
        return [python, "-m", "sglang.launch_server"] + list(node["launch_args"])
    if runtime == "emulator":
        return [python, emulator] + list(node["launch_args"])
    raise ValueError("unknown runtime %r; use one of %s" % (runtime, ", ".join(RUNTIMES)))


def without_node_rank(argv: Iterable[str]) -> List[str]:
    out = []
    skip = False
    for token in argv:
        if skip:
            skip = False
            continue
        if token == "--node-rank":
            skip = True
            continue
        if token.startswith("--node-rank="):
            continue
        out.append(token)
    return out


def parity_problems(group: str, nodes: Sequence[Mapping[str, Any]]) -> List[str]:
    """Refuse a group whose nodes would run different software or commands.

    ``nodes``: list (rank order) of ``{"host", "identity", "argv"}`` where identity is
    the image digest / sglang version / emulator version found on that host and argv
    is the launch argv it would run. Rank 0 is the reference; every host that
    differs is named, with what it has and what rank 0 has.
    """
    problems = []
    if not nodes:
        return problems
    ref = nodes[0]
    for node in nodes[1:]:
        if node.get("identity") != ref.get("identity"):
            problems.append(
                "group %s: host %s runs %s but rank 0 host %s runs %s; every node of a group must "
                "run the same SGLang build (mismatched versions hang collectives): align them, "
                "then converge again"
                % (
                    group,
                    node["host"],
                    node.get("identity") or "nothing",
                    ref["host"],
                    ref.get("identity") or "nothing",
                )
            )
        a, b = without_node_rank(ref.get("argv") or []), without_node_rank(node.get("argv") or [])
        if a != b:
            diff = sorted(set(b).symmetric_difference(a))
            problems.append(
                "group %s: host %s would run a different command than rank 0 host %s (differs in: "
                "%s); only --node-rank may differ: converge the whole group, not one host"
                % (group, node["host"], ref["host"], " ".join(diff[:8]))
            )
    return problems
