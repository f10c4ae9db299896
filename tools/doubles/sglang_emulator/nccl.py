# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""NCCL INIT/NET debug lines written to NCCL_DEBUG_FILE at init (for the NCCL transport gate)."""

from __future__ import annotations

import os
import socket
import sys

from .common import EXIT_ARGV, StartupError

# Formats from NVIDIA/nccl (commit 5067397c2676d5aed50042fc39e5c8ee96eb0027): src/debug.cc (the
# "host:pid:tid [dev] NCCL INFO " prefix, NCCL_DEBUG_FILE's %h/%p), src/transport/net_ib/init.cc
# ("NET/IB : No device found.", "NET/IB : Using [0]mlx5_0:1/IB [RO]; OOB if:addr<0>"),
# src/transport/net_socket.cc, src/plugin/net.cc and src/init.cc ("Using network IB|Socket").
NCCL_TRANSPORTS = ("ib", "roce", "socket")


def nccl_debug_path(template, hostname, pid):
    """NCCL_DEBUG_FILE expanded as debug.cc does: %h short host name, %p pid, %% a percent, others echoed."""
    out, i = [], 0
    while i < len(template):
        c = template[i]
        if c != "%" or i + 1 >= len(template):
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        out.append(
            hostname.split(".")[0] if nxt == "h" else str(pid) if nxt == "p" else "%" if nxt == "%" else "%" + nxt
        )
        i += 2
    return "".join(out)


def nccl_debug_lines(env, hostname, pid, local_gpus=1):
    """The INIT/NET lines one process of this rank writes, for SGLANG_EMULATOR_NCCL_TRANSPORT."""
    transport = (env.get("SGLANG_EMULATOR_NCCL_TRANSPORT") or "socket").strip().lower()
    if transport not in NCCL_TRANSPORTS:
        raise StartupError(
            "SGLANG_EMULATOR_NCCL_TRANSPORT=%r: use one of %s"
            % (env.get("SGLANG_EMULATOR_NCCL_TRANSPORT"), ", ".join(NCCL_TRANSPORTS)),
            EXIT_ARGV,
        )
    host = hostname.split(".")[0]
    ifname = (env.get("NCCL_SOCKET_IFNAME") or "eth0").lstrip("=^").split(",")[0] or "eth0"
    try:
        addr = socket.gethostbyname(hostname)
    except OSError:
        addr = "127.0.0.1"
    hca_env = env.get("NCCL_IB_HCA")
    hcas = []
    for item in (hca_env or "mlx5_0:1").lstrip("=^").split(","):
        name, _sep, port = item.strip().partition(":")
        if name:
            hcas.append((name, int(port) if port.isdigit() else 1))
    link = "RoCE" if transport == "roce" else "IB"
    lines = []

    def info(dev, tid, msg):
        lines.append("%s:%d:%d [%d] NCCL INFO %s\n" % (host, pid, tid, dev, msg))

    info(0, pid, "NCCL version 2.28.9+cuda13.0")
    info(0, pid, "NET/Plugin: Could not find: libnccl-net.so")
    if hca_env:
        info(0, pid + 1, "NCCL_IB_HCA set to %s" % hca_env)
    if transport == "socket":
        info(0, pid + 1, "NET/IB : No device found.")
        info(0, pid + 1, "NET/IB : Using [RO]; OOB %s:%s<0>" % (ifname, addr))
        info(0, pid + 1, "Failed to initialize NET plugin IB")
        info(0, pid + 1, "NET/Socket : Using [0]%s:%s<0>" % (ifname, addr))
        net = "Socket"
    else:
        devs = "".join(" [%d]%s:%d/%s" % (i, n, p, link) for i, (n, p) in enumerate(hcas))
        info(0, pid + 1, "NET/IB : Using%s [RO]; OOB %s:%s<0>" % (devs, ifname, addr))
        net = "IB"
    for dev in range(max(1, local_gpus)):
        info(dev, pid + 1 + dev, "Initialized NET plugin %s" % net)
        info(dev, pid + 1 + dev, "Assigned NET plugin %s to comm" % net)
        info(dev, pid + 1 + dev, "Using network %s" % net)
    return lines


def write_nccl_debug(env, local_gpus=1):
    """NCCL_DEBUG=INFO with NCCL_DEBUG_FILE: write this process's INIT/NET lines there; returns the path."""
    template = env.get("NCCL_DEBUG_FILE")
    if not template or (env.get("NCCL_DEBUG") or "").strip().upper() not in ("INFO", "TRACE"):
        return None
    hostname = socket.gethostname()
    path = nccl_debug_path(template, hostname, os.getpid())
    lines = nccl_debug_lines(env, hostname, os.getpid(), local_gpus)
    try:
        with open(path, "w") as handle:  # debug.cc: fopen(name, "w"); stdout when that fails
            handle.writelines(lines)
    except OSError:
        sys.stdout.writelines(lines)
        sys.stdout.flush()
        return None
    return path
