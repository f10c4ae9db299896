# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Logging: the main log and the scheduler's TP-prefixed log lines."""

from __future__ import annotations

import logging
import os
import sys

from .common import LOG


def setup_logging():
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%Y-%m-%d %H:%M:%S"))
    LOG.handlers[:] = [handler]
    LOG.setLevel(logging.DEBUG if os.environ.get("SGLANG_EMULATOR_DEBUG") else logging.INFO)
    LOG.propagate = False


# The scheduler's logger once main() set it up; its lines go to LOG before that.
TP_LOG = None


def setup_tp_logger(s):
    global TP_LOG
    # SGLang scheduler lines look like "[2025-01-01 12:00:00 TP0] message"
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%%(asctime)s TP%d] %%(message)s" % s.first_tp_rank, "%Y-%m-%d %H:%M:%S"))
    lg = logging.getLogger("sglang_emulator.tp")
    lg.handlers[:] = [handler]
    lg.setLevel(logging.INFO)
    lg.propagate = False
    TP_LOG = lg
    return lg


def tp_logger():
    """The scheduler's logger (LOG until setup_tp_logger ran)."""
    return TP_LOG or LOG


def log_tp(msg, s):  # noqa: ARG001 - s kept for call-site clarity
    tp_logger().info("%s", msg)
