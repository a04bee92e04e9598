"""Fault injection for the crash test: the process kills itself (SIGKILL, as ``kill -9`` or a power cut would) at
the Nth pass through a named point, so a test can land a crash exactly between an order's journal row and its
send, or between a fill and its journal row, moments a timer alone hits by luck.

``QT_CRASH_AT=order-journalled:3,fill-heard:7`` arms two points; unset (always, outside the crash test), a
point costs one dictionary lookup. Nothing is cleaned up, flushed or logged on the way down: that is the point.
"""

from __future__ import annotations

import os
import signal
from collections import Counter

CRASH_ENV = "QT_CRASH_AT"
POINTS = ("order-journalled", "fill-heard", "bar-journalled")


def _armed(text: str) -> dict[str, int]:
    armed: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        name, _, count = part.partition(":")
        if name not in POINTS or not count.isdigit() or int(count) < 1:
            raise ValueError(f"${CRASH_ENV}: {part!r} is not POINT:N with POINT one of {', '.join(POINTS)} and N >= 1")
        armed[name] = int(count)
    return armed


_ARMED = _armed(os.environ.get(CRASH_ENV, ""))
_passes: Counter[str] = Counter()


def crash_point(name: str) -> None:
    """Die here on the armed pass (see the module docstring)."""
    if not _ARMED:
        return
    _passes[name] += 1
    if _ARMED.get(name) == _passes[name]:
        os.kill(os.getpid(), signal.SIGKILL)
