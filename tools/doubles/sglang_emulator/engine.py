# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Engine state shared by the HTTP handlers, the distributed group and the main loop; request admission."""

from __future__ import annotations

import threading
import time
from collections import deque

from .common import LOG
from .crash import scheduler_exception
from .metrics import Series


class NotAdmitted(Exception):
    pass


class Engine:
    """Everything shared between HTTP handlers, dist threads and the main loop."""

    def __init__(self, settings):
        self.s = settings
        self.lock = threading.RLock()
        self.t_start = time.monotonic()
        # group
        self.peers = {}  # node_rank -> Peer (rank 0) ; {0: Peer} on followers
        self.formed_at = None  # all ranks joined ("Init torch distributed ends")
        self.loaded = False  # weights loaded: the HTTP port listens from now on
        self.ready = False  # rank 0: warm-up done (ServerStatus.Up)
        self.crashing = False
        self.dist = None
        self.broken_at = None
        self.broken_reason = None
        self.rank0_shutdown = False
        # lifecycle
        self.draining = False
        self.signals = 0
        # requests
        self.running = 0
        self.queued = 0
        self.running_tokens = 0
        self.slots = threading.Semaphore(settings.max_running_requests) if settings.max_running_requests else None
        # metrics, per is_streaming label value
        self.series = {False: Series(), True: Series()}
        self.token_times = deque()

    # -- state -------------------------------------------------------------
    def serving(self):
        with self.lock:
            return self.ready and self.broken_at is None and not self.draining

    def admitting(self):
        with self.lock:
            return self.loaded and self.broken_at is None and not self.draining

    def follower_ignores_sigterm(self):
        # engine.py installs the follower's "wait for ShutdownReq" SIGTERM handler
        # only after its schedulers are ready (when the dummy health server starts).
        with self.lock:
            return self.loaded and not self.draining

    def mark_broken(self, reason):
        """A peer went silent (no close): health 503 on rank 0, crash after --watchdog-timeout."""
        with self.lock:
            if self.broken_at is not None:
                return
            self.broken_at = time.monotonic()
            self.broken_reason = reason
        LOG.error("%s; distributed group is broken; crashing in %.0fs (watchdog)", reason, self.s.watchdog_timeout)

    def peer_lost(self, reason, silent=False):
        """A peer of a formed group is gone: SGLang's schedulers fail their next collective."""
        if silent:
            self.mark_broken(reason)
            return
        with self.lock:
            self.broken_at = self.broken_at or time.monotonic()
            self.broken_reason = reason
        scheduler_exception(
            "RuntimeError: [../third_party/gloo/gloo/transport/tcp/pair.cc] Connection closed by peer (%s)" % reason
        )

    # -- requests ----------------------------------------------------------
    def admit(self, streaming=False):
        with self.lock:
            if not (self.loaded and self.broken_at is None and not self.draining):
                raise NotAdmitted()
            self.queued += 1
        return _Request(self, bool(streaming))

    def inflight(self):
        with self.lock:
            return self.running + self.queued

    def note_token(self, streaming, n=1):
        now = time.monotonic()
        with self.lock:
            self.series[streaming].generation_tokens += n
            self.running_tokens += n
            self.token_times.append((now, n))

    def gen_throughput(self):
        now = time.monotonic()
        with self.lock:
            while self.token_times and self.token_times[0][0] < now - 5.0:
                self.token_times.popleft()
            return sum(n for _t, n in self.token_times) / 5.0


class _Request:
    def __init__(self, engine, streaming):
        self.e = engine
        self.streaming = streaming
        self.t0 = time.monotonic()
        self.first = None
        self.prompt_tokens = 0
        self.tokens = 0

    def __enter__(self):
        e = self.e
        if e.slots is not None:
            e.slots.acquire()
        with e.lock:
            e.queued -= 1
            e.running += 1
        return self

    def start(self, prompt_tokens):
        self.prompt_tokens = prompt_tokens
        with self.e.lock:
            self.e.series[self.streaming].prompt_tokens += prompt_tokens
            self.e.running_tokens += prompt_tokens

    def token(self):
        if self.first is None:
            self.first = time.monotonic()
        self.tokens += 1
        self.e.note_token(self.streaming)

    def __exit__(self, *exc):
        e = self.e
        with e.lock:
            e.running -= 1
            e.running_tokens -= self.prompt_tokens + self.tokens
            series = e.series[self.streaming]
            series.num_requests += 1
            if self.first is not None:
                series.ttft.observe(self.first - self.t0)
            series.e2e.observe(time.monotonic() - self.t0)
        if e.slots is not None:
            e.slots.release()
        return False
