"""Paper trading's driver: the replay's kernel and simulated venue, fed one bar at a time on the asyncio loop.

``PacedReplay`` is not a second engine: it holds the ``ReplayDriver`` a backtest runs
(``Kernel.driver``: the same ``TradingKernel`` and ``SimulatedExchange``), visiting every bar
(``jump=False``), and hands it one-bar stretches as an asynchronous source yields them:
``paced`` releases the bars of a market at a pace (``speed`` bars a second, or as fast as
the loop goes); a live feed will yield closed bars from an exchange in the same way. Between
two bars the loop is free, so a panel can redraw and Ctrl-C can ask for a stop, which is
taken after the current bar: the run then ends there as a replay ends at its last bar.

One thing differs from a stretch of a whole replay, and ``HeldSpanCurve`` makes it not
matter: the equity curve keeps the highest and lowest close of each quiet stretch between
processed bars, and a stretch of one bar would keep every close. The quiet bars are held
until the next processed bar (or the end) and recorded as the replay records them, so a
paper replay writes the backtest's equity curve, row for row (tests/engine/test_paper_parity.py).

``TimedExecution`` stands between the kernel and the venue: it times each bar from its
delivery to the kernel until its orders reach the venue's ``submit`` (the latency the spec's
live trading cares about) and keeps the last orders for the panel.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import F64, FundingSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.engine.equity_curve import EquityCurve
from quantum_trader.engine.feed import funding_by_row
from quantum_trader.engine.grid import MarketGrid
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.paper_watch import Activity, TimedExecution
from quantum_trader.engine.ports import ExecutionClient
from quantum_trader.engine.replay import ReplayDriver
from quantum_trader.engine.strategy import Decisions
from quantum_trader.portfolio import LedgerState

__all__ = ["Activity", "HeldSpanCurve", "OneBarFeed", "PaceStats", "PacedReplay", "TimedExecution", "paced"]


class OneBarFeed:
    """A market grid as one-bar stretches, in time order: the shape of a live feed's closed bars."""

    def __init__(self, grid: MarketGrid, funding: Mapping[str, FundingSeries] | None = None) -> None:
        self.grid = grid
        self.funding = funding_by_row(grid.ts, grid.symbols, funding or {})

    def __len__(self) -> int:
        return int(self.grid.ts.size)

    def chunks(self) -> Iterator[MarketChunk]:
        g = self.grid
        step = timeframe_ms(g.timeframe)
        for row in range(int(g.ts.size)):
            funding = self.funding.get(row)
            nxt = row + 1
            yield MarketChunk(
                symbols=g.symbols, step=step, ts=g.ts[row:nxt], open=g.open[row:nxt], high=g.high[row:nxt],
                low=g.low[row:nxt], close=g.close[row:nxt], volume=g.volume[row:nxt], valid=g.valid[row:nxt],
                mark=g.mark[row:nxt], funding={0: funding} if funding else {},
                mark_in=g.mark[row - 1] if row > 0 else None, first=row,
            )


async def paced(chunks: Iterable[MarketChunk], speed: float | None) -> AsyncGenerator[MarketChunk, None]:
    """Yield ``chunks`` at ``speed`` a second (None: as fast as possible), on a schedule fixed at the start: a
    stretch the kernel was slow on is caught up, not added to every later one. Every yield passes through the
    loop, so other tasks (the panel, a stop) run between bars even at full speed."""
    if speed is not None and not speed > 0:
        raise ValueError(f"speed {speed}: bars a second must be positive")
    loop = asyncio.get_running_loop()
    start = loop.time()
    for i, chunk in enumerate(chunks):
        delay = 0.0 if speed is None else start + i / speed - loop.time()
        await asyncio.sleep(max(delay, 0.0))
        yield chunk


@dataclass
class HeldSpanCurve(EquityCurve):
    """The equity curve of a run fed one bar at a time: quiet bars are held and recorded as one stretch, valued
    with the book they were quiet under, exactly as a replay of the whole market records the stretch between
    two processed bars. They are recorded when the curve next writes a row (a processed bar's, the end) or
    holds a bar under another book; not when the book changes, which is when a bar's decision is being made:
    the bookkeeping waits until its orders are out (the latency a paper run measures)."""

    _held: list[tuple[MarketChunk, int, int, F64 | None]] = field(default_factory=list)
    _book_held: tuple[LedgerState, F64] | None = None
    _changed_since: bool = False
    """The book changed since the held bars were quiet: the next bar is held under another book."""

    @classmethod
    def replacing(cls, curve: EquityCurve) -> HeldSpanCurve:
        return cls(rec=curve.rec, policy=curve.policy, column=curve.column, extremes=curve.extremes)

    def begin(self, chunk: MarketChunk) -> None:
        # A processed bar's row needs only the stretch itself; the hour closes are found when a span is released.
        self._chunk = chunk

    def span(self, start: int, stop: int, ledger: LedgerState, corr: F64, scanned: F64 | None = None,
             *, every_row: bool = False) -> None:
        if every_row:
            self.release()
            super().span(start, stop, ledger, corr, scanned, every_row=True)
            return
        chunk = self._chunk
        if chunk is None or stop <= start:
            return
        if self._changed_since:
            self.release()
        self._held.append((chunk, start, stop, None if scanned is None else scanned[:stop - start].copy()))
        self._book_held = (ledger, corr)

    def at(self, ts: int, ledger: LedgerState, corr: F64) -> None:
        self.release()
        super().at(ts, ledger, corr)

    def changed(self) -> None:
        self._changed_since = bool(self._held)  # they keep their own book (``_book_held``)
        super().changed()

    def release(self) -> None:
        """Record the held quiet bars as one stretch."""
        if not self._held or self._book_held is None:
            return
        held, self._held = self._held, []
        ledger, corr = self._book_held
        self._book_held = None

        def joined(name: str) -> npt.NDArray[Any]:
            parts: list[npt.NDArray[Any]] = [getattr(c, name)[a:b] for c, a, b, _ in held]
            return np.concatenate(parts)

        first = held[0][0]
        stretch = MarketChunk(
            symbols=first.symbols, step=first.step, ts=joined("ts"), open=joined("open"), high=joined("high"),
            low=joined("low"), close=joined("close"), volume=joined("volume"), valid=joined("valid"),
            mark=joined("mark"), first=first.first + held[0][1],
        )
        scans = [s for *_, s in held if s is not None]
        scanned: F64 | None = np.concatenate(scans) if len(scans) == len(held) else None
        current = self._chunk
        super().begin(stretch)
        super().span(0, stretch.size, ledger, corr, scanned)
        self._chunk = current
        if self._changed_since:  # the span's book was the held one's, not the book now
            self._changed_since = False
            super().changed()


def _percentiles(values: list[int]) -> dict[str, float | int | None]:
    """p50 and p99 in milliseconds of nanosecond samples (None without samples)."""
    if not values:
        return {"p50": None, "p99": None, "max": None, "bars": 0}
    ms = np.asarray(values, dtype=np.float64) / 1e6
    return {"p50": round(float(np.percentile(ms, 50)), 4), "p99": round(float(np.percentile(ms, 99)), 4),
            "max": round(float(ms.max()), 4), "bars": int(ms.size)}


@dataclass
class PaceStats:
    """What a paced run measured: bars fed, wall time, and per bar the kernel's time and its orders' latency."""

    bars: int = 0
    seconds: float = 0.0
    stopped: bool = False
    """Stopped before the source ended (Ctrl-C)."""
    last_ts: int | None = None
    """Open time of the last bar fed."""
    bar_ns: list[int] = field(default_factory=list)
    """Per bar: from its delivery to the kernel until the kernel and the venue are done with it."""
    order_ns: list[int] = field(default_factory=list)
    """Per bar that sent orders: from its delivery until its last order reached the venue's submit."""
    first_order_ns: list[int] = field(default_factory=list)
    """Per bar that sent orders: from its delivery until its first order reached the venue's submit."""

    def summary(self) -> dict[str, object]:
        return {"bars_fed": self.bars, "stopped_early": self.stopped, "wall_s": round(self.seconds, 3),
                "bar_to_orders_ms": _percentiles(self.order_ns), "bar_ms": _percentiles(self.bar_ns)}


@dataclass
class PacedReplay:
    """A replay driver fed bar by bar from an asynchronous source (see the module docstring)."""

    driver: ReplayDriver
    execution: TimedExecution
    """The venue as the kernel sees it (``Kernel.driver(execution=...)``): times each bar's orders."""
    activity: Activity = field(default_factory=Activity)
    stats: PaceStats = field(default_factory=PaceStats)
    _stop: bool = False
    _events_seen: int = 0

    @classmethod
    def of(cls, kernel: Kernel, decisions: Decisions, *, inner: ExecutionClient | None = None) -> PacedReplay:
        """The kernel composed for a paced replay (``Kernel(..., jump=False)``), its orders timed on their way
        to the venue (or to ``inner``, a client wrapping the venue, such as the journal's)."""
        execution = TimedExecution(inner or kernel.exchange)
        return cls(kernel.driver(decisions, execution=execution), execution)

    def __post_init__(self) -> None:
        kernel = self.driver.kernel
        if self.driver.jump:
            raise ValueError("a paced replay visits every bar: its driver takes jump=False")
        self.curve = HeldSpanCurve.replacing(kernel.curve)
        kernel.curve = self.curve
        self.execution.activity = self.activity
        kernel.listeners.append(self.activity.fill)

    def stop(self) -> None:
        """Stop after the bar being processed (Ctrl-C): the run ends there, as a replay ends at its last bar."""
        self._stop = True

    async def run(self, bars: AsyncGenerator[MarketChunk, None],
                  on_bar: Callable[[MarketChunk], None] | None = None) -> PaceStats:
        """Feed every bar ``bars`` yields until it ends or ``stop`` is asked, then end the run (what rests is
        cancelled, what is held closed at the last close). A KeyboardInterrupt or a cancellation arriving between
        bars is a stop; one arriving inside a bar propagates (the bar is half done: no run folder can describe
        it), which the command line avoids by taking SIGINT as ``stop``. ``on_bar`` hears each bar after the
        kernel is done with it."""
        self.driver.start()
        started = time.perf_counter()
        feeding = False
        try:
            async for chunk in bars:
                feeding = True
                self._feed(chunk)
                feeding = False
                if on_bar is not None:
                    on_bar(chunk)
                if self._stop:
                    self.stats.stopped = True
                    break
        except (KeyboardInterrupt, asyncio.CancelledError):
            if feeding:
                raise
            self.stats.stopped = True
        finally:
            await bars.aclose()
        self.stats.seconds = time.perf_counter() - started
        self.driver.finish()
        self.curve.release()
        self._absorb_events()
        return self.stats

    def _feed(self, chunk: MarketChunk) -> None:
        stats, execution = self.stats, self.execution
        delivered = time.perf_counter_ns()
        execution.bar_delivered()
        self.driver.feed(chunk)
        done = time.perf_counter_ns()
        stats.bar_ns.append(done - delivered)
        if execution.first_submit_ns:
            stats.first_order_ns.append(execution.first_submit_ns - delivered)
            stats.order_ns.append(execution.last_submit_ns - delivered)
        stats.bars += 1
        stats.last_ts = int(chunk.ts[-1])
        self._absorb_events()

    def _absorb_events(self) -> None:
        events = self.driver.kernel.rec.events
        if len(events) > self._events_seen:
            self.activity.events(events[self._events_seen:])
            self._events_seen = len(events)

