"""Time as the engine reads it: a protocol, and the replay's clock that the replay itself moves.

A replay's "now" is how far the data has been read, never the machine's; the live clock
(``engine.ports.WallClock``) reads the machine. Components stamp what they do with
``clock.now()``, so the same code stamps a backtest's events and a live session's alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


class Clock(Protocol):
    def now(self) -> int:
        """Epoch milliseconds, UTC."""
        ...


@dataclass
class ReplayClock:
    """Replay time: set by the replay as it reaches each bar's open and close; it never goes back."""

    ts: int = 0

    def now(self) -> int:
        return self.ts

    def advance(self, ts: int) -> None:
        if ts > self.ts:
            self.ts = ts
