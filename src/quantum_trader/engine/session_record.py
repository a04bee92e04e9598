"""A running session's journal of what it saw: every risk decision, and at every bar close the account's equity,
exposure against the limits, the correlation matrix when the monitor updated it, each symbol's regime when one
changed (``engine.regime_watch``), and the feed cursor.

The dashboard draws its history from these rows and the gates judge operation on them
(profitable months, correlation monitoring at its cadence, limits held at fill prices), so a
paper or live session writes them and nothing else has to be kept in memory to answer the
operator. ``SessionRecorder`` only reads the kernel: it values the book at the bar's marks on
a copy of the ledger (the kernel marks when a decision or a limit needs it, and a recorder
that marked for it would change what a backtest of the same bars does). A bar's rows are
written after the kernel is done with it, a second's bars at most in one transaction with the
feed cursor (``flush``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal

import numpy as np

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import F64, BarSeries
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.crash_points import crash_point
from quantum_trader.engine.regime_watch import RegimeWatch
from quantum_trader.journal import EquitySnapshot, RiskSnapshot, TradingJournal
from quantum_trader.portfolio import LedgerState
from quantum_trader.portfolio.ledger import mark
from quantum_trader.risk.batch import BatchResult


def largest_correlated_group(ledger: LedgerState, corr: F64, column: dict[str, int], threshold: float,
                             measure_is_risk: bool) -> float:
    """The largest sum, over held positions correlated above ``threshold`` with one of them, of their measure
    (notional, or risk to the stop under the policy's ``risk`` measure), over equity: what the correlated
    exposure limit caps."""
    figures = ledger.figures
    if figures.equity <= 0 or not figures.symbols:
        return 0.0
    values = figures.risk if measure_is_risk else figures.notional
    largest = 0.0
    for s in figures.symbols:
        total = 0.0
        for t in figures.symbols:
            c = 1.0 if s == t else float(corr[column[s], column[t]])
            if c > threshold:
                total += values[t]
        largest = max(largest, total)
    return largest / figures.equity


def mean_pairwise(corr: F64) -> float | None:
    n = corr.shape[0]
    if n < 2:
        return None
    upper = corr[np.triu_indices(n, k=1)]
    finite = upper[np.isfinite(upper)]
    return float(finite.mean()) if finite.size else None


class SessionRecorder:
    """Journals a session bar by bar (module docstring). ``on_decision`` is a kernel decision listener;
    ``on_bar`` is told each bar once the kernel is done with it."""

    def __init__(self, journal: TradingJournal, feed: str,
                 watchers: list[Callable[[TradingKernel, MarketChunk, RiskSnapshot], None]] | None = None,
                 *, resume_after: int | None = None, flush_seconds: float = 1.0,
                 warmup: Mapping[str, BarSeries] | None = None) -> None:
        self.journal = journal
        self.feed = feed
        self.resume_after = resume_after
        """A resumed session's feed cursor: the bars up to it were journalled whole before the process died, and
        are taken again without writing (the decisions and bar snapshots are there already)."""
        self.watchers = list(watchers or [])
        """Told of each bar's snapshot as it is taken (the alert rules watch there)."""
        self.flush_seconds = flush_seconds
        self.warmup = warmup
        """Bars before the session's first (a live session's warm-up): the regimes start from them."""
        self.regimes: RegimeWatch | None = None
        """Each symbol's regime (None when the session's bars cannot make the model's: no regime journalled)."""
        self._regimes_open = False
        self._corr: F64 | None = None
        self._pending: list[tuple[RiskSnapshot, EquitySnapshot, int]] = []
        self._flushed = time.monotonic()
        self.rows = 0

    def on_decision(self, kernel: TradingKernel, ts: int, result: BatchResult) -> None:
        """Every verdict of one decision's batch, before any of its orders leaves."""
        if self.resume_after is not None and ts <= self.resume_after:
            return
        with self.journal.transaction():
            for index in result.ranking:
                decision = result.decisions[index]
                self.journal.record_decision(decision, ts=ts)

    def on_bar(self, kernel: TradingKernel, chunk: MarketChunk) -> None:
        catching_up = self.resume_after is not None and int(chunk.ts[-1]) <= self.resume_after
        ts = int(chunk.ts[-1]) + chunk.step
        marks = chunk.mark[-1]
        ledger = kernel.ledger
        prices = {s: float(marks[kernel.column[s]]) for s in ledger.positions}
        valued = mark(ledger, {s: p for s, p in prices.items() if p == p and p > 0}, max(ts, ledger.ts))
        figures = valued.figures
        equity = figures.equity
        corr = kernel.corr
        updated = corr is not self._corr
        self._corr = corr
        limits = kernel.limits
        snapshot = RiskSnapshot(
            ts, valued.equity, figures.total_notional / equity if equity > 0 else 0.0, len(valued.positions),
            correlated_exposure=largest_correlated_group(valued, corr, kernel.column, limits.corr_threshold,
                                                         limits.measure_is_risk),
            daily_loss=_fraction(ledger.day_start_equity - valued.equity, ledger.day_start_equity),
            drawdown=_fraction(max(ledger.peak_equity, valued.equity) - valued.equity,
                               max(ledger.peak_equity, valued.equity)),
            symbols=tuple(kernel.symbols) if updated else (),
            correlation=_rows(corr) if updated else None,
            mean_correlation=mean_pairwise(corr) if updated else None, regimes=self._regimes(kernel, chunk))
        if not catching_up:  # bars a resumed session had journalled are watched again, not written again
            self._pending.append((snapshot, EquitySnapshot.of_ledger(valued), int(chunk.ts[-1])))
            self.rows += 1
            if time.monotonic() - self._flushed >= self.flush_seconds:
                self.flush()
        for watcher in self.watchers:
            watcher(kernel, chunk, snapshot)

    def _regimes(self, kernel: TradingKernel, chunk: MarketChunk) -> tuple[tuple[str, str, int | None], ...]:
        """Every symbol's regime when one changed with this bar, else nothing (the newest row that has them says
        them all). Built at the first bar: its length is the session's timeframe."""
        if not self._regimes_open:
            self._regimes_open = True
            self.regimes = RegimeWatch.of(kernel.policy, tuple(kernel.symbols), chunk.step)
            if self.regimes is not None and self.warmup:
                self.regimes.seed(self.warmup)
        if self.regimes is None or not self.regimes.update(chunk):
            return ()
        return self.regimes.current

    def flush(self) -> None:
        """Write the bars taken since the last flush, and the cursor after them, as one transaction.

        A bar's rows wait at most ``flush_seconds`` (a live bar, a minute long, is written as it closes; a replay
        at full speed writes a second's bars at a time instead of paying a synchronous commit per bar). Orders,
        fills and decisions never wait: they are written before what they record is sent. Rows lost with the
        process are taken again by the resumed session, which starts writing after the cursor."""
        pending, self._pending = self._pending, []
        self._flushed = time.monotonic()
        if not pending:
            return
        with self.journal.transaction():
            self.journal.record_bars([p[0] for p in pending], [p[1] for p in pending])
            last = pending[-1]
            self.journal.set_feed_cursor(self.feed, last[2], ts=last[0].ts)
        crash_point("bar-journalled")


def _fraction(part: Decimal, whole: Decimal) -> float | None:
    return float(part / whole) if whole > 0 else None


def _rows(corr: F64) -> tuple[tuple[float, ...], ...]:
    """The kernel's matrix as stored (``clean_correlation`` left nothing unknown in it)."""
    rows: Sequence[Sequence[float]] = corr.tolist()
    return tuple(tuple(float(x) for x in row) for row in rows)
