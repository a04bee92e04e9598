"""The replay: a feed's stretches of bars driven through the venue and the kernel, in time order.

A bar is *processed* when anything can happen in it: a UTC day starts at its open, a
decision falls due, the venue has an order arriving, a funding settlement on a position, a
stop, target, liquidation or limit touched, or a loss limit is reached at its close. A
processed bar goes: the day's start, the decisions due, the venue's events inside the bar
(the kernel reacting to each), the kill switch at the close. Other bars are quiet: positions
and cash do not move, and only the equity curve samples them.

``jump=True`` finds the next processed bar for a whole stretch at once (the venue's and the
loss limits' vectorised scans) and skips the quiet bars between; ``jump=False`` asks the
same questions bar by bar. The two take the same decisions, fills and events (tested): the
jump is an accelerator of this one loop, not a second engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.clock import ReplayClock
from quantum_trader.domain.market import I64
from quantum_trader.domain.time import MS_PER_DAY
from quantum_trader.domain.trading import FundingEvent
from quantum_trader.engine.core import TradingKernel
from quantum_trader.venues.simulated.exchange import SimulatedExchange


@dataclass
class ReplayDriver:
    kernel: TradingKernel
    venue: SimulatedExchange
    decision_ts: I64
    """Close time of each decision the strategy can act at, ascending."""
    decision_index: I64
    """The decision index (``k``) of each of them."""
    jump: bool = True
    clock: ReplayClock = field(default_factory=ReplayClock)
    """Replay time, shared with the venue: the open of a processed bar, then its close."""
    progress: Callable[[int, int], None] | None = None
    total_rows: int = 0
    _next_decision: int = 0

    def run(self, chunks: Iterable[MarketChunk]) -> None:
        self.start()
        for chunk in chunks:
            self.feed(chunk)
        self.finish()

    # A source that hands stretches as they come (paper trading's paced loop, ``engine.paced``) calls the
    # three steps of ``run`` itself: ``start``, ``feed`` per stretch, ``finish`` when it ends or is stopped.
    def start(self) -> None:
        self._last: MarketChunk | None = None
        self._due: list[int] = []
        """``decision_ts`` as Python ints: compared at every processed bar."""
        self._due_of: I64 | None = None
        self._every = max(1, self.total_rows // 200)
        self._next_report = self._every

    def feed(self, chunk: MarketChunk) -> None:
        """Drive one stretch through the venue and the kernel (the next in time)."""
        if self._due_of is not self.decision_ts:  # (a paced source may hand a longer one before a stretch)
            self._due, self._due_of = self.decision_ts.tolist(), self.decision_ts
        self.kernel.begin(chunk)
        self.venue.begin(chunk)
        self._first = chunk.first
        self._chunk(chunk)
        self._last = chunk

    def finish(self) -> None:
        """The data ends after the last stretch fed: what rests is cancelled, what is held closed at its close."""
        if self._last is not None:
            self._end(self._last)
        if self.progress is not None:
            self.progress(self.total_rows, self.total_rows)

    # ------------------------------------------------------------------ one stretch
    def _open_rows(self, chunk: MarketChunk) -> I64:
        """Rows with something at their open: a new UTC day, or a decision falling due."""
        day = chunk.ts // MS_PER_DAY
        first_day = np.r_[self.kernel.ledger.day_start // MS_PER_DAY != day[0], day[1:] != day[:-1]]
        due = np.searchsorted(chunk.ts, self.decision_ts[self._next_decision:], side="left")
        rows = np.union1d(np.flatnonzero(first_day), due[due < chunk.size])
        return rows.astype(np.int64)

    def _tick(self, row: int) -> None:
        """About 200 progress reports a run, never one per bar."""
        done = self._first + row
        if self.progress is not None and done >= self._next_report:
            self.progress(done, self.total_rows)
            self._next_report = done + self._every

    def _chunk(self, chunk: MarketChunk) -> None:
        n = chunk.size
        open_rows = self._open_rows(chunk)
        if self.jump:
            self._jumping(n, open_rows)
        else:
            self._stepping(n, open_rows)

    def _jumping(self, n: int, open_rows: I64) -> None:
        """From each processed bar, straight to the next: the venue's and the loss limits' scans find it."""
        kernel = self.kernel
        opens = open_rows.tolist()
        i = 0
        a = 0
        while a < n:
            self._tick(a)
            while i < len(opens) and opens[i] < a:  # (rows only grow: the next open row is found by walking)
                i += 1
            next_open = opens[i] if i < len(opens) else n
            b = min(next_open, self.venue.next_event_row(a, next_open))
            breach, equity = kernel.breach(a, b)
            stop = b if breach is None else breach.row
            kernel.curve.span(a, stop, kernel.ledger, kernel.corr, equity)
            kernel.seen(equity, stop - a)
            if breach is not None:
                self._close(stop)
            elif b < n:
                self._process(b)
            a = stop + 1

    def _stepping(self, n: int, open_rows: I64) -> None:
        """Bar by bar: each asks whether its open, the venue or its close has anything; quiet bars are
        recorded as one stretch between processed bars, as the jump records them."""
        kernel = self.kernel
        due = set(open_rows.tolist())
        quiet_from = 0
        for a in range(n):
            self._tick(a)
            breach = None
            if a not in due and self.venue.next_event_row(a, a + 1) > a:
                breach, equity = kernel.breach(a, a + 1)
                if breach is None:
                    kernel.seen(equity, 1)
                    continue
            self._flush(quiet_from, a)
            if breach is not None:
                self._close(a)
            else:
                self._process(a)
            quiet_from = a + 1
        self._flush(quiet_from, n)

    def _flush(self, start: int, stop: int) -> None:
        if stop > start:
            _, equity = self.kernel.breach(start, stop)
            self.kernel.curve.span(start, stop, self.kernel.ledger, self.kernel.corr, equity)

    # ------------------------------------------------------------------ one processed bar
    def _process(self, row: int) -> None:
        kernel = self.kernel
        chunk = kernel._chunk()
        ts = int(chunk.ts[row])
        self.clock.advance(ts)
        self.venue.opening(row, ts)
        if kernel.day_starts(row):
            kernel.on_day_start(row)
        due = self._due
        while self._next_decision < len(due) and due[self._next_decision] <= ts:
            kernel.on_decision(int(self.decision_index[self._next_decision]), row)
            self._next_decision += 1
        self._deliver()
        first = True
        execution = kernel.execution
        venue = self.venue
        while venue.step(row):
            events = execution.drain()
            # fills at the open: the curve shows the book they made at that instant (later state wins)
            pending_open = False
            funded = False
            for event in events:
                pending_open |= first and event.ts == ts
                funded |= isinstance(event, FundingEvent)
            first = False
            for event in events:
                kernel.on_event(event)
            if funded:
                kernel.after_funding(row)
            self._deliver()
            if pending_open:
                kernel.curve.at(ts, kernel.valued(), kernel.corr)
        self.clock.advance(ts + chunk.step)
        breach, _ = kernel.breach(row, row + 1)
        if breach is not None:
            kernel.on_close(row)
            self._deliver()
        kernel.curve.span(row, row + 1, kernel.ledger, kernel.corr, every_row=True)

    def _close(self, row: int) -> None:
        chunk = self.kernel._chunk()
        self.clock.advance(int(chunk.ts[row]) + chunk.step)
        self.kernel.on_close(row)
        self._deliver()
        self.kernel.curve.span(row, row + 1, self.kernel.ledger, self.kernel.corr, every_row=True)

    def _deliver(self) -> None:
        """Events the kernel's own requests produced at once (cancellations): booked before going on. The venue's
        events reach the kernel through its execution client, as they would from an exchange (a wrapper such as
        the journal's sees each of them)."""
        for event in self.kernel.execution.drain():
            self.kernel.on_event(event)

    def _end(self, chunk: MarketChunk) -> None:
        last = chunk.size - 1
        end_ts = int(chunk.ts[last]) + chunk.step
        self.clock.advance(end_ts)
        self.kernel.on_end(end_ts)
        self._deliver()
        self.venue.settle_at_close(last)
        self._deliver()
        self.kernel.curve.at(end_ts, self.kernel.valued(), self.kernel.corr)
        self.kernel.rec.orders = self.kernel.desk.sent
