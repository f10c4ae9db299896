# -*- coding: utf-8 -*-
# Copyright: (c) 2026, gpufleet.sglang contributors
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keep secrets out of reports: SGLang logs its server args (keys included), and
reports quote logs."""

from __future__ import annotations

from typing import Any, Iterable, Optional

MASK = "********"


def redact(text: Any, secrets: Optional[Iterable[Any]]) -> str:
    """``text`` with every secret value (4+ characters) replaced by a mask."""
    text = "" if text is None else str(text)
    for secret in sorted((str(s) for s in secrets or [] if s), key=len, reverse=True):
        if len(secret) >= 4:
            text = text.replace(secret, MASK)
    return text
