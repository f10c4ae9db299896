# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The crash path, as SGLang 0.5.23's: a scheduler exception, SIGQUIT, kill_process_tree (SIGKILL)."""

from __future__ import annotations

import os
import signal
import sys
import threading

from .common import LOG
from .logs import tp_logger

# The running engine, once main() registered it (the signal handlers read its state).
ENGINE = None


def register_engine(engine):
    global ENGINE
    ENGINE = engine


def kill_process_tree():
    """utils/common.py kill_process_tree(os.getpid()): SIGKILL the children, then itself.

    The emulator has no children; it dies of SIGKILL (exit status 137 in a shell,
    ``code=killed, status=9/KILL`` in systemd).
    """
    LOG.info("kill_process_tree called: parent_pid=%d, include_parent=True, pid=%d", os.getpid(), os.getpid())
    tp_log = tp_logger()
    for handler in LOG.handlers + ([] if tp_log is LOG else tp_log.handlers):
        handler.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def scheduler_exception(message):
    """managers/scheduler.py run_scheduler_process: log the traceback, SIGQUIT the main process."""
    if ENGINE is not None:
        with ENGINE.lock:
            if ENGINE.crashing:
                return
            ENGINE.crashing = True
    tp_logger().error(
        "Scheduler hit an exception: Traceback (most recent call last):\n"
        '  File "sglang/srt/managers/scheduler.py", in run_scheduler_process\n%s',
        message,
    )
    os.kill(os.getpid(), signal.SIGQUIT)


def on_sigquit(_signum, _frame):
    """The main process's SIGQUIT handler: launch phase (engine.py) or running phase (tokenizer_manager.py)."""
    if ENGINE is not None and ENGINE.ready:
        LOG.error("SIGQUIT received. signum=%d, frame=None. It usually means one child failed.", signal.SIGQUIT)
    else:
        LOG.error("Received sigquit from a child process. It usually means the child failed.")
    kill_process_tree()


def on_sigusr1(_signum, _frame):
    """Emulator only (tests): an exception in the emulated scheduler."""
    threading.Thread(
        target=scheduler_exception,
        name="scheduler",
        args=("RuntimeError: emulated scheduler failure (SIGUSR1 sent to the emulator)",),
        daemon=True,
    ).start()
