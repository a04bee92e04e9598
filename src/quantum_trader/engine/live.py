"""The live loop: the replay's kernel driven by an exchange's closed bars and an exchange's execution client.

A replay processes bar t+1 all at once: its open (the decisions due at the close of t), the venue's events
inside it, its close (the loss limits). Live, those happen at different moments, so each closed bar is
taken in two halves:

- the close of bar t: the kernel begins a two-row stretch, bar t and the bar forming now (``live_chunk``:
  its prices not known yet, assumed tradable); the user data is read (what filled or settled during bar t)
  and booked; the kill switch looks at the close; the equity curve records the bar as a replay would
  (a processed bar every row, a quiet one held, ``HeldSpanCurve``);
- the open of bar t+1 (row 1 of that stretch): the UTC day's start, the decisions that became known at the
  close, limit entries past their expiry lapsing; the orders go out and what they did is read back and
  booked (fills at the open, the protective stops they call for) until nothing is pending.

The kernel (``engine.core``) is the backtest's, unchanged; the execution client is any ``LiveExecution``
(the ccxt client; a test's double). A fill the exchange stamps before a time the kernel has already booked
(heard late) is booked at the kernel's time: the ledger never goes back.

Stopping: ``bar(row, decide=False)`` takes a bar's close without opening the next (what a replay ending at
that bar does), then ``finish`` cancels what rests and closes what is held, as at a replay's end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.clock import ReplayClock
from quantum_trader.domain.market import F64
from quantum_trader.domain.trading import FundingEvent, OrderEvent
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.live_decisions import GrowingDecisions
from quantum_trader.engine.paced import HeldSpanCurve, PaceStats
from quantum_trader.engine.ports import ExecutionClient, VenueEvent
from quantum_trader.venues.ccxt.feed import BarRow


class LiveExecution(ExecutionClient, Protocol):
    async def settle(self) -> None:
        """Send what the kernel queued and read back what happened (events then wait in ``drain``)."""
        ...

    def expire(self, now: int) -> None:
        """Let limit orders past their expiry lapse."""
        ...


def live_chunk(row: BarRow, symbols: tuple[str, ...], step: int, carried: F64, first: int) -> MarketChunk:
    """Bar ``row`` and the bar forming after it (unknown prices, assumed tradable), marks carried."""
    n = len(symbols)
    valid = np.isfinite(row.open)
    marks = np.where(np.isfinite(row.mark), row.mark, np.where(np.isfinite(row.close), row.close, carried))
    nan = np.full(n, np.nan)

    def two(values: F64) -> F64:
        return np.vstack([values, nan])

    return MarketChunk(
        symbols=symbols, step=step, ts=np.array([row.ts, row.ts + step], dtype=np.int64), open=two(row.open),
        high=two(row.high), low=two(row.low), close=two(row.close), volume=two(row.volume),
        valid=np.vstack([valid, np.ones(n, dtype=bool)]), mark=np.vstack([marks, marks]), mark_in=carried.copy(),
        first=first,
    )


@dataclass
class LiveDriver:
    kernel: TradingKernel
    execution: LiveExecution
    decisions: GrowingDecisions
    clock: ReplayClock
    """Market time, shared with the execution client: a bar's open, then its close."""
    step: int
    """Milliseconds per bar."""
    stats: PaceStats = field(default_factory=PaceStats)
    settle_rounds: int = 10
    _marks: F64 | None = None
    _last: MarketChunk | None = None
    _open_due: bool = False
    _next: int = 0
    """The first decision not yet taken."""
    _bars: int = 0

    def __post_init__(self) -> None:
        self.curve = HeldSpanCurve.replacing(self.kernel.curve)
        self.kernel.curve = self.curve
        self._next = int(self.decisions.close_ts.size)
        self._marks = np.full(len(self.kernel.symbols), np.nan)

    async def bar(self, row: BarRow, *, decide: bool = True) -> None:
        """One closed bar: its close, then (``decide``) the open of the bar after it."""
        kernel = self.kernel
        step = self.step
        assert self._marks is not None
        chunk = live_chunk(row, kernel.symbols, step, self._marks, self._bars)
        self._marks = chunk.mark[0].copy()
        delivered = time.perf_counter_ns()
        kernel.begin(chunk)
        self._last = chunk
        self.clock.advance(row.ts)
        during = await self._settle(0)
        self.clock.advance(row.ts + step)
        breach, equity = kernel.breach(0, 1)
        processed = self._open_due or bool(during) or breach is not None
        if breach is not None:
            kernel.on_close(0)
            await self._settle(0)
        if processed:
            self.curve.span(0, 1, kernel.ledger, kernel.corr, every_row=True)
        else:
            kernel.seen(equity, 1)
            self.curve.span(0, 1, kernel.ledger, kernel.corr, equity)
        self._bars += 1
        self.stats.bars += 1
        self.stats.last_ts = row.ts
        valid = row.valid
        self.decisions.extend(row.ts, [(float(row.open[j]), float(row.high[j]), float(row.low[j]),
                                        float(row.close[j]), float(row.volume[j])) if valid[j] else None
                                       for j in range(len(kernel.symbols))])
        self._open_due = False
        if decide:
            await self._open(delivered)
        self.stats.bar_ns.append(time.perf_counter_ns() - delivered)

    async def _open(self, delivered: int) -> None:
        kernel = self.kernel
        chunk = kernel.chunk
        assert chunk is not None
        ts = int(chunk.ts[1])
        self.clock.advance(ts)
        due = False
        if kernel.day_starts(1):
            kernel.on_day_start(1)
            due = True
        close_ts, active = self.decisions.close_ts, set(self.decisions.active().tolist())
        sent_before = kernel.desk.sent
        while self._next < close_ts.size and close_ts[self._next] <= ts:
            if self._next in active:
                kernel.on_decision(self._next, 1)
                due = True
            self._next += 1
        self.execution.expire(ts)
        if kernel.desk.sent > sent_before:
            self.stats.first_order_ns.append(time.perf_counter_ns() - delivered)
        events = await self._settle(1)
        if kernel.desk.sent > sent_before:
            self.stats.order_ns.append(time.perf_counter_ns() - delivered)
        if any(e.ts == ts for e in events):
            kernel.curve.at(ts, kernel.valued(), kernel.corr)
        self._open_due = due or bool(events)

    async def _settle(self, row: int) -> list[VenueEvent]:
        """Send, read back and book until nothing is pending; the events booked."""
        booked: list[VenueEvent] = []
        for _ in range(self.settle_rounds):
            await self.execution.settle()
            events = self.execution.drain()
            if not events:
                break
            funded = False
            for event in events:
                event = self._in_time(event)
                funded |= isinstance(event, FundingEvent)
                self.kernel.on_event(event)
            if funded:
                self.kernel.after_funding(row)
            booked.extend(events)
        return booked

    def _in_time(self, event: VenueEvent) -> VenueEvent:
        """A fill heard after the kernel booked a later time is booked at that time (the ledger never goes back)."""
        now = self.kernel.ledger.ts
        if isinstance(event, OrderEvent) and event.fill is not None and event.fill.ts < now:
            return replace(event, ts=now, fill=replace(event.fill, ts=now))
        return event

    async def finish(self) -> None:
        """The session ends after the last bar taken: cancel what rests, close what is held, as a replay ends."""
        kernel = self.kernel
        if self._last is None:
            return
        end_ts = int(self._last.ts[0]) + self._last.step
        self.clock.advance(end_ts)
        kernel.on_end(end_ts)
        await self._settle(0)
        kernel.curve.at(end_ts, kernel.valued(), kernel.corr)
        kernel.rec.orders = kernel.desk.sent
        self.curve.release()
