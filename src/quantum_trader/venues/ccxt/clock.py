"""The exchange's clock as this machine sees it: the offset measured; a skew past the policy's bound halts entries.

``measure`` asks the exchange for its time (``fetch_time``) and takes the offset against the midpoint of
the request, so the round trip does not count as skew. The offset is what the feed adds to the machine's
clock to tell whether a bar has closed; past ``max_skew_ms`` (``venue.live.max_clock_skew_ms``) the
machine's clock cannot be trusted with timestamps and signatures, and entries halt until a later
measurement is back within bounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quantum_trader.venues.ccxt.retry import Backoff, read


@dataclass
class ExchangeClock:
    exchange: Any
    max_skew_ms: int
    backoff: Backoff = field(default_factory=Backoff)
    wall: Callable[[], float] = time.time
    offset_ms: int = 0
    """Exchange time minus this machine's, at the last measurement."""
    round_trip_ms: int = 0
    measured: bool = False

    def now(self) -> int:
        """The exchange's time now, by this machine's clock and the last offset."""
        return int(self.wall() * 1000) + self.offset_ms

    async def measure(self) -> int:
        before = self.wall()
        server = int(await read(lambda: self.exchange.fetch_time(), self.backoff))
        after = self.wall()
        self.round_trip_ms = int((after - before) * 1000)
        self.offset_ms = server - int((before + after) * 500)
        self.measured = True
        return self.offset_ms

    @property
    def skewed(self) -> bool:
        return self.measured and abs(self.offset_ms) > self.max_skew_ms

    def describe(self) -> str:
        ahead = "ahead of" if self.offset_ms < 0 else "behind"
        return (f"this machine's clock is {abs(self.offset_ms):,} ms {ahead} the exchange's (bound "
                f"{self.max_skew_ms:,} ms, round trip {self.round_trip_ms} ms)")
