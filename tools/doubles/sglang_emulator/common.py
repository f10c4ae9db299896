# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What every part of the emulator shares: its logger, exit codes and start-up error."""

from __future__ import annotations

import logging

LOG = logging.getLogger("sglang_emulator")

EXIT_OK, EXIT_ERROR, EXIT_ARGV = 0, 1, 2


class StartupError(Exception):
    """A start-up problem: message logged, process exits with ``code``."""

    def __init__(self, message, code=EXIT_ERROR):
        super().__init__(message)
        self.code = code
