# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""SGLang engine EMULATOR -- a TEST / DEMO DOUBLE.  NOT A SERVING ENGINE.

This file never loads a model, never touches a GPU and never produces a
meaningful completion.  It is a protocol double of a (multi-node)
``python3 -m sglang.launch_server`` process so that readiness gates, a real
``sglang-router``, rolling restarts and failure handling can be exercised for
real on machines without GPUs (CI, molecule, demos).

Run it with exactly the argv you would give SGLang::

    python3 sglang_emulator.py --model-path /models/x --served-model-name r1 \\
        --tp-size 16 --nnodes 2 --node-rank 0 --dist-init-addr 10.0.0.1:20000 \\
        --host 0.0.0.0 --port 30000 --watchdog-timeout 300 --enable-metrics

Python standard library only, python3 >= 3.9, one file: tools/doubles/sglang_emulator.py is
assembled from the package tools/doubles/sglang_emulator/ by tools/doubles/assemble_emulator.py
(edit the package, then run that).  The package's modules, one job each: common (logger, exit
codes, start-up error), config (``--config`` YAML), argv (flag catalog, parser), settings, logs,
nccl (NCCL debug lines), crash (SIGQUIT path), metrics, engine (state, admission), generate
(deterministic text, generation endpoints), http_server (API, dummy health server), tp (the
multi-node group), lifecycle (load, warm-up, drain, main loop), main (entry point).

Argv
----
The flag catalog (plain data generated from SGLang's own parser) is loaded from
``$SGLANG_EMULATOR_CATALOG`` if set, else from ``sglang_catalog.py`` next to
this file.  An ``argparse`` parser with ``allow_abbrev=False`` is built from it,
so unknown flags and abbreviations exit 2 with argparse's usual error (SGLang
itself keeps argparse's allow_abbrev=True; the emulator is deliberately stricter
because rendered argv must use full names).  If the catalog knows ``--config``,
``--config FILE.yaml`` is merged the way SGLang 0.5.23's ConfigArgumentMerger
does it: each top-level key ``k`` is passed on verbatim as ``--k`` (so use the
dashed flag names, e.g. ``api-key: xyz``; ``api_key:`` becomes the unknown
``--api_key`` and exits 2, as in SGLang); a boolean for a store_true flag
becomes the bare flag (``true``) or nothing (``false``), other booleans
``--k true|false``; lists become ``--k a b``; keys of multi-value switches
(store_false, BooleanOptional, count ...) are refused; the config args go first
and the command line wins.  Only a small YAML subset is read (scalars, inline
``[a, b]`` and block ``- item`` lists, comments); the file must end in
``.yaml``/``.yml``.

Emulator-only knobs (environment, never argv)
---------------------------------------------
SGLANG_EMULATOR_CATALOG      path of sglang_catalog.py (default: next to this file)
SGLANG_EMULATOR_START_DELAY  seconds of "weight loading" after the distributed
                             group formed, before ready (default 0)
SGLANG_EMULATOR_VERSION      version reported (default: the first line of a VERSION file
                             next to this script, else the catalog's SGLANG_VERSION)
SGLANG_EMULATOR_FAIL_READY=1 never become ready (stuck in weight loading)
SGLANG_EMULATOR_TOKEN_DELAY  seconds per generated token (default 0.02)
SGLANG_EMULATOR_NCCL_TRANSPORT=ib|roce|socket  the network the emulated NCCL reports in
                             NCCL_DEBUG_FILE at init (default socket: a double has no RDMA
                             device); HCAs from NCCL_IB_HCA. Written only with NCCL_DEBUG=INFO
                             (or TRACE) and NCCL_DEBUG_FILE set, in NCCL's own line formats.

Multi-node (dist-init) protocol
-------------------------------
Rank 0 listens on the ``--dist-init-addr`` port (on that host's address, or on
all interfaces if that address is not local).  It is newline-delimited JSON;
every line is an object with an ``op``:

* follower -> rank 0: ``{"op":"hello","node_rank":r,"nnodes":n,"tp_size":t,...}``
* rank 0 -> follower: ``{"op":"welcome",...}`` or ``{"op":"reject","reason":...}``
  (wrong nnodes/tp_size, rank out of range, duplicate rank, group broken)
* rank 0 -> followers: ``{"op":"formed"}`` once every rank joined ("Init torch
  distributed ends"), ``{"op":"ready"}`` once serving, ``{"op":"shutdown"}`` on a
  graceful exit (SGLang's ShutdownReq broadcast)
* both ways every 0.5 s: ``{"op":"ping"}``; follower -> rank 0 ``{"op":"bye"}`` on a
  graceful exit.

Start-up, as SGLang 0.5.23 (sglang/srt/entrypoints/engine.py
``Engine._launch_subprocesses``, http_server.py ``launch_server`` /
``_wait_and_warmup``): every rank "loads weights" for SGLANG_EMULATOR_START_DELAY
seconds once all ``--nnodes`` ranks joined.  Until then NO rank listens on its
HTTP port: a probe gets "connection refused", not 503 (the port is bound without
``listen()``, so a port already in use still fails the start at once).  Then:

* rank 0 listens (uvicorn starts after ``scheduler_init_result.wait_for_ready()``),
  answers /health, /health_generate and /ready with 503 while it warms up
  (``ServerStatus.Starting``) but already serves /model_info, /v1/models and
  generation; the warm-up is SGLang's ``_execute_server_warmup``: GET /model_info,
  then POST /generate (8 tokens) to itself, with ``Authorization: Bearer`` when an
  API key is set.  Then "The server is fired up and ready to roll!" and 200.
* followers start SGLang's dummy health server (utils/common.py
  ``launch_dummy_health_check_server``): /health, /health_generate and /ping
  answer 200 from then on, whatever happens to the group, until the process dies.

A follower retries connecting forever (or until ``--dist-timeout``, then exits 1).
A rank that drops out before the group formed may rejoin; once the group formed,
a rank that loses a peer crashes at once, as SGLang's schedulers do: their
per-iteration ``broadcast_pyobj`` over the TP group's gloo group
(managers/scheduler_components/request_receiver.py) raises when the peer's
connection closes, ``run_scheduler_process`` (managers/scheduler.py) logs
"Scheduler hit an exception" and sends SIGQUIT to the main process, whose handler
kills the process tree, itself last (see Crash below).  A peer that goes silent
without closing (missed heartbeats) turns rank 0's health 503 and crashes the rank
after ``--watchdog-timeout`` (SGLang's watchdog, utils/watchdog.py, also ends in
SIGQUIT).  So when any rank crashes, every rank of the group exits "killed", and
systemd's ``Restart=on-failure`` brings the whole group back.

Crash (mirroring SGLang 0.5.23)
-------------------------------
SIGQUIT to the main process is SGLang's crash path (entrypoints/engine.py
``launch_phase_sigquit_handler``, managers/tokenizer_manager.py
``SignalHandler.running_phase_sigquit_handler``): it logs the error and calls
``kill_process_tree(os.getpid())`` (utils/common.py), which SIGKILLs the children
and then the process itself.  The process therefore dies of SIGKILL: systemd logs
``code=killed, status=9/KILL``, a shell or ``docker run`` reports exit status 137.
SIGUSR1 (emulator only, for tests) raises an exception in the emulated scheduler,
which takes the same path (log, SIGQUIT, SIGKILL).  Sending SIGQUIT directly works
on the emulator and on real SGLang alike.

Signals (mirroring SGLang 0.5.23)
---------------------------------
Rank 0, SIGTERM or SIGINT: /health, /ready and /health_generate turn 503, new
requests get 503 (stricter than SGLang, which only fails health and relies on
the router to stop sending), in-flight requests and streams finish, then rank 0
sends ``shutdown`` (SGLang's ShutdownReq broadcast) to the followers and exits 0.
A second signal exits 1 at once.
Follower, SIGTERM once its dummy health server runs: IGNORED with SGLang's
warning ("waiting for the rank-0 ShutdownReq broadcast"; engine.py installs that
handler after ``wait_for_ready``); it exits 0 when rank 0 shuts down (or is killed
by the service manager's stop timeout).  SIGTERM before that, and SIGINT: exits 0
at once.

HTTP
----
Followers (node rank >= 1) serve only ``/health``, ``/health_generate`` and
``/ping`` (always 200 once listening) -- and ``/metrics`` with
``--enable-metrics`` -- like SGLang's dummy health server; everything else is
404.  Rank 0 serves /health, /health_generate, /ready, /v1/models,
/v1/models/<id>, /model_info, /get_model_info, /server_info,
/get_server_info, /version, POST /generate, /v1/completions,
/v1/chat/completions, /flush_cache and -- only with ``--enable-metrics``, as in
SGLang -- /metrics.  While warming up, health answers 503; while draining or
broken, everything but /metrics answers 503.  Generation is deterministic (words
picked from a hash of the prompt); without max_tokens / max_new_tokens 16 tokens
are produced (finish_reason "stop"), with one exactly that many ("length"), one
every SGLANG_EMULATOR_TOKEN_DELAY seconds.  /health_generate is not counted in
the metrics (the warm-up request is, as in SGLang).

``--api-key`` (or ``api-key:`` in ``--config``) is enforced as SGLang 0.5.23's
``decide_request_auth`` (utils/auth.py) does: only ``Authorization: Bearer <key>``
(no ``x-api-key``), on every endpoint except OPTIONS and paths starting with
/health, /ready or /metrics; /flush_cache (ADMIN_OPTIONAL) needs
``--admin-api-key`` when one is set.  Failures get 401 ``{"error": "Unauthorized"}``.
Followers never check it.

Logging: like SGLang (engine.py ``_server_args_for_logging``, which redacts only
watermark secrets), the emulator logs ``server_args={...}`` at start WITH the API
keys in clear: whoever reads the unit's journal reads the keys.  /server_info
redacts them (SGLang returns them to any caller holding the API key).

Exit codes
----------
0 graceful exit; 1 start-up error (bad catalog/config, port in use, rejected
by rank 0, ``--dist-timeout`` elapsed) or a second signal; 2 argv rejected;
killed by SIGKILL (137 in a shell) on a crash.
"""
