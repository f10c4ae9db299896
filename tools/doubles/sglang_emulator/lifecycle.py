# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Load and drain: weights loaded, rank 0's warm-up, the graceful-exit signal, the main loop."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
import urllib.request

from .common import EXIT_ERROR, EXIT_OK, LOG
from .crash import kill_process_tree, scheduler_exception
from .http_server import start_http
from .logs import log_tp
from .tp import HEARTBEAT_INTERVAL


def _local_url(s):
    host = s.host
    if host in ("0.0.0.0", ""):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = "[%s]" % host
    return "http://%s:%d" % (host, s.port)


def warmup(engine):
    """http_server.py _execute_server_warmup: GET /model_info, then POST /generate, Bearer key."""
    s = engine.s
    headers = {"Content-Type": "application/json"}
    if s.api_key:
        headers["Authorization"] = "Bearer %s" % s.api_key
    url = _local_url(s)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback: never a proxy
    last = None
    try:
        for _attempt in range(120):
            time.sleep(1)
            try:
                req = urllib.request.Request(url + "/model_info", headers=headers)
                with opener.open(req, timeout=5) as resp:
                    if resp.status == 200:
                        last = None
                        break
            except (OSError, ValueError) as exc:
                last = exc
        if last is not None:
            raise RuntimeError("GET /model_info failed: %s" % last)
        body = json.dumps(
            {"sampling_params": {"temperature": 0, "max_new_tokens": 8}, "text": "The capital city of France is"}
        ).encode()
        req = urllib.request.Request(url + "/generate", data=body, headers=headers, method="POST")
        with opener.open(req, timeout=600) as resp:
            if resp.status != 200:
                raise RuntimeError("POST /generate -> %s" % resp.status)
    except Exception as exc:  # SGLang: any warm-up error kills the process tree
        with engine.lock:
            if engine.draining:
                return
        LOG.error("Initialization failed. warmup error: %s", exc)
        kill_process_tree()
        return
    with engine.lock:
        if engine.draining or engine.broken_at is not None:
            return
        engine.ready = True
    LOG.info("The server is fired up and ready to roll!")
    if engine.dist is not None:
        engine.dist.broadcast({"op": "ready"})


def on_loaded(engine, httpd):
    """Weights loaded on this rank: start serving HTTP (rank 0: warm up first)."""
    s = engine.s
    log_tp(
        "Load weight end. type=EmulatedForCausalLM, dtype=torch.bfloat16, avail mem=41.20 GB, mem usage=37.30 GB.", s
    )
    log_tp(
        "max_total_num_tokens=%d, chunked_prefill_size=8192, max_prefill_tokens=16384, "
        "max_running_requests=%s, context_len=%d"
        % (s.max_total_tokens, s.max_running_requests or 4096, s.context_length),
        s,
    )
    start_http(httpd)
    with engine.lock:
        engine.loaded = True
    if s.node_rank == 0:
        LOG.info("Uvicorn running on http://%s:%d (Press CTRL+C to quit)", s.host, s.port)
        threading.Thread(target=warmup, args=(engine,), name="warmup", daemon=True).start()
    else:
        LOG.info("Dummy health check server started in background thread at %s:%d", s.host, s.port)


def drain_signal_handler(engine):
    """The SIGTERM/SIGINT handler: drain and exit 0 (see the package docstring's Signals)."""
    s = engine.s

    def on_signal(signum, _frame):
        if s.node_rank != 0 and signum == signal.SIGTERM and engine.follower_ignores_sigterm():
            # engine.py, node_rank >= 1: "Non-zero ranks cannot drain on their own: rank 0 stops every TP
            # rank via the ShutdownReq broadcast, and the orchestrator's kill timeout is the backstop."
            LOG.warning(
                "SIGTERM received on node_rank %d; waiting for the rank-0 ShutdownReq broadcast to "
                "stop the schedulers.",
                s.node_rank,
            )
            return
        engine.signals += 1
        if engine.signals > 1:
            LOG.error("Received signal %d again; exiting immediately", signum)
            sys.stderr.flush()
            os._exit(EXIT_ERROR)
        with engine.lock:
            engine.draining = True
        LOG.info(
            "Received %s; stop admitting requests. Gracefully exiting... Remaining number of requests %d",
            signal.Signals(signum).name,
            engine.inflight(),
        )

    return on_signal


def run_loop(engine, dist, httpd):
    s = engine.s
    last_tick = 0.0
    last_drain_log = 0.0
    while True:
        time.sleep(0.05)
        now = time.monotonic()
        if dist is not None and now - last_tick >= HEARTBEAT_INTERVAL:
            last_tick = now
            dist.tick()
        # weights loaded: every rank joined, start delay elapsed
        if (
            not engine.loaded
            and not engine.draining
            and engine.formed_at is not None
            and not s.fail_ready
            and engine.broken_at is None
            and now - engine.formed_at >= s.start_delay
        ):
            on_loaded(engine, httpd)
        # graceful exit
        if engine.draining:
            remaining = engine.inflight()
            if remaining == 0:
                if dist is not None:
                    if s.node_rank == 0:
                        dist.broadcast({"op": "shutdown"})
                    dist.close()
                return EXIT_OK
            if now - last_drain_log >= 5.0:
                last_drain_log = now
                LOG.info("Gracefully exiting... Remaining number of requests %d", remaining)
            continue
        # follower-specific endings
        if s.node_rank != 0 and dist is not None:
            if dist.rejected is not None:
                return EXIT_ERROR
            if dist.gave_up:
                LOG.error(
                    "Could not join node rank 0 at %s:%d within --dist-timeout %.0fs",
                    s.dist_host,
                    s.dist_port,
                    s.dist_timeout,
                )
                return EXIT_ERROR
            if engine.rank0_shutdown and 0 not in engine.peers:
                LOG.info("Received ShutdownReq from node rank 0; schedulers exited.")
                return EXIT_OK
        # rank 0 waiting for the group
        if (
            s.node_rank == 0
            and engine.formed_at is None
            and s.dist_timeout is not None
            and now - engine.t_start > s.dist_timeout
        ):
            LOG.error(
                "Not all %d nodes joined within --dist-timeout %.0fs (joined: %s)",
                s.nnodes,
                s.dist_timeout,
                sorted([0] + list(engine.peers)),
            )
            return EXIT_ERROR
        # watchdog (a peer went silent): utils/watchdog.py ends in SIGQUIT as well
        if engine.broken_at is not None and not engine.crashing and now - engine.broken_at >= s.watchdog_timeout:
            scheduler_exception(
                "Scheduler watchdog timeout (self.watchdog_timeout=%s, self.soft=False): %s"
                % (s.watchdog_timeout, engine.broken_reason)
            )
