"""The engine's three seams: the clock, the market data feed and the execution client.

Backtest, paper and live differ only in what is plugged in here (DESIGN.md): a replay
clock or the wall clock; the catalog streamed in stretches or an exchange's closed bars;
the simulated exchange or a real one. The kernel sees these protocols and nothing else of
the mode it runs in, and sends a venue nothing but ``Order``s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Protocol

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.clock import Clock, ReplayClock
from quantum_trader.domain.trading import FundingEvent, Order, OrderEvent

VenueEvent = OrderEvent | FundingEvent
__all__ = ["Clock", "ExecutionClient", "MarketDataFeed", "ReplayClock", "VenueEvent", "WallClock"]


class WallClock:
    """Live time: the machine's clock (the live feed measures its offset from the exchange's and halts entries
    past the policy's bound: ``venues.ccxt.clock``)."""

    def now(self) -> int:
        return int(time.time() * 1000)


class MarketDataFeed(Protocol):
    """Yields the market in time order, a stretch at a time: bar closes, marks, funding settlements."""

    @property
    def symbols(self) -> tuple[str, ...]:
        """The columns of every stretch, fixed for the run."""
        ...

    @property
    def start_ts(self) -> int:
        """Open time of the first bar: the kernel's ledger and the venue's account open then."""
        ...

    @property
    def total_rows(self) -> int:
        """Rows the feed will hand over (0 when unknown, as live); for progress only."""
        ...

    def chunks(self) -> Iterator[MarketChunk]: ...


class ExecutionClient(Protocol):
    """A venue as the kernel uses it: send an order, cancel one, and hear what happened."""

    def submit(self, order: Order) -> None: ...

    def cancel(self, client_order_id: str, reason: str = "cancelled") -> None: ...

    def drain(self) -> list[VenueEvent]:
        """Order events, fills and funding payments since the last call, in the order they happened."""
        ...

    def quote(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
              bar_volume: float) -> float:
        """The average price a taker order of ``quantity`` would get now: what entries are sized against."""
        ...
