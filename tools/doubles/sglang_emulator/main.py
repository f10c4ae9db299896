# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The entry point: argv, settings, signal handlers, HTTP port, distributed group, main loop."""

from __future__ import annotations

import signal
import sys
import time

from .argv import find_catalog_path, load_catalog, parse_argv
from .common import LOG, StartupError
from .crash import on_sigquit, on_sigusr1, register_engine
from .engine import Engine
from .http_server import make_http_server
from .lifecycle import drain_signal_handler, run_loop
from .logs import log_tp, setup_logging, setup_tp_logger
from .settings import Settings
from .tp import FollowerDist, Rank0Dist, on_group_formed


def main(argv=None):
    setup_logging()
    argv = sys.argv[1:] if argv is None else argv
    try:
        catalog = load_catalog(find_catalog_path())
        args, config_path = parse_argv(argv, catalog)
        s = Settings(args, catalog, config_path)
    except StartupError as exc:
        sys.stderr.write("%s\n" % exc)
        return exc.code
    setup_tp_logger(s)
    LOG.warning("This is the SGLang EMULATOR (test/demo double, SGLang %s protocol); it serves no model.", s.version)
    # engine.py: logger.info(f"server_args={_server_args_for_logging(server_args)}"), which
    # redacts watermark secrets only: the API keys are logged in clear, as here.
    LOG.info("server_args=%s", s.args_dict(redact=False))
    engine = Engine(s)
    register_engine(engine)
    signal.signal(signal.SIGQUIT, on_sigquit)
    signal.signal(signal.SIGUSR1, on_sigusr1)

    on_signal = drain_signal_handler(engine)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    try:
        httpd = make_http_server(engine)
        log_tp("Init torch distributed begin.", s)
        dist = None
        if s.nnodes > 1:
            dist = Rank0Dist(engine) if s.node_rank == 0 else FollowerDist(engine)
        engine.dist = dist
    except StartupError as exc:
        LOG.error("%s", exc)
        return exc.code

    if s.nnodes == 1:
        engine.formed_at = time.monotonic()
        on_group_formed(engine)

    code = run_loop(engine, dist, httpd)
    LOG.info("Exiting with status %d", code)
    try:
        if engine.loaded:
            httpd.shutdown()
        httpd.server_close()
    except Exception:  # pragma: no cover
        pass
    sys.stderr.flush()
    return code
