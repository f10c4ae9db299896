# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The parsed argv and the emulator's own environment knobs, validated into one Settings object."""

from __future__ import annotations

import json
import os

from .common import EXIT_ARGV, StartupError


def _installed_version():
    """The version an installer recorded next to this script (VERSION), if any."""
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "VERSION")
    try:
        with open(path) as handle:
            return handle.readline().strip() or None
    except OSError:
        return None


def _env_float(name, default):
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise StartupError("sglang_emulator: error: %s=%r is not a number" % (name, raw), EXIT_ARGV)
    if value < 0:
        raise StartupError("sglang_emulator: error: %s must be >= 0" % name, EXIT_ARGV)
    return value


def split_host_port(addr):
    addr = addr.strip()
    if addr.startswith("["):
        end = addr.index("]")
        host, rest = addr[1:end], addr[end + 1 :]
        if not rest.startswith(":"):
            raise ValueError("a port must be specified in IPv6 address: %s" % addr)
        return host, int(rest[1:])
    host, _sep, port = addr.rpartition(":")
    if not host:
        raise ValueError("expected host:port, got %r" % addr)
    return host, int(port)


class Settings:
    def __init__(self, args, catalog, config_path):
        def g(name, default=None):
            return getattr(args, name, default)

        self.args = args
        self.config_path = config_path
        self.model_path = g("model_path") or "dummy"
        self.tokenizer_path = g("tokenizer_path") or self.model_path
        served = g("served_model_name")
        if isinstance(served, list):
            served = served[0] if served else None
        self.served_model_name = served or self.model_path
        self.tp_size = int(g("tp_size", 1) or 1)
        self.dp_size = int(g("dp_size", 1) or 1)
        self.nnodes = int(g("nnodes", 1) or 1)
        self.node_rank = int(g("node_rank", 0) or 0)
        self.host = g("host") or "127.0.0.1"
        self.port = int(g("port", 30000) or 30000)
        wt = g("watchdog_timeout", 300)
        self.watchdog_timeout = float(wt if wt is not None else 300)
        dt = g("dist_timeout")
        self.dist_timeout = float(dt) if dt not in (None, 0) else None
        self.api_key = g("api_key") or None
        self.admin_api_key = g("admin_api_key") or None
        self.enable_metrics = bool(g("enable_metrics", False))
        self.context_length = int(g("context_length") or 32768)
        mrr = g("max_running_requests")
        self.max_running_requests = int(mrr) if mrr else None
        self.max_total_tokens = int(g("max_total_tokens") or 262144)
        self.catalog_version = getattr(catalog, "SGLANG_VERSION", "unknown")
        self.version = os.environ.get("SGLANG_EMULATOR_VERSION") or _installed_version() or self.catalog_version
        self.start_delay = _env_float("SGLANG_EMULATOR_START_DELAY", 0.0)
        self.token_delay = _env_float("SGLANG_EMULATOR_TOKEN_DELAY", 0.02)
        self.fail_ready = os.environ.get("SGLANG_EMULATOR_FAIL_READY", "").strip().lower() in ("1", "true", "yes", "on")
        if self.nnodes < 1:
            raise StartupError("--nnodes must be >= 1", EXIT_ARGV)
        if not 0 <= self.node_rank < self.nnodes:
            raise StartupError("--node-rank %d out of range for --nnodes %d" % (self.node_rank, self.nnodes), EXIT_ARGV)
        self.dist_host, self.dist_port = None, None
        dia = g("dist_init_addr")
        if self.nnodes > 1:
            if not dia:
                raise StartupError("--dist-init-addr is required when --nnodes > 1", EXIT_ARGV)
            try:
                self.dist_host, self.dist_port = split_host_port(dia)
            except ValueError as exc:
                raise StartupError("invalid --dist-init-addr: %s" % exc, EXIT_ARGV)
        gpus_per_node = max(1, self.tp_size // self.nnodes)
        self.first_tp_rank = self.node_rank * gpus_per_node

    def args_dict(self, redact=True):
        out = {}
        for key, value in sorted(vars(self.args).items()):
            if redact and key in ("api_key", "admin_api_key", "hf_token") and value:
                value = "<redacted>"
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                value = str(value)
            out[key] = value
        return out
