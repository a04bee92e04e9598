"""The kernel's equity curve: a row per visited decision and event, and every UTC hour's close.

Split from the kernel so that the loop module stays about decisions and fills. Between
two events positions and cash are constant, so the hourly rows of a quiet window are one
expression of the carried-forward marks (``recorder.span_figures``), or plain floats for
the common window holding a single hour's close (``recorder.span_row``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from quantum_trader.domain.market import F64, I64
from quantum_trader.domain.symbols import asset_of
from quantum_trader.engine.kernel_state import KernelState
from quantum_trader.engine.recorder import HOUR_MS, SpanBook, extreme_rows, span_figures, span_row
from quantum_trader.engine.window import HeldPosition


class EquityRecording(KernelState):
    """Mixed into ``Kernel``: reads its ledger, held positions and correlation, writes ``rec``."""

    _held: tuple[HeldPosition, ...]
    _corr: F64
    _cadence: I64
    _next_cadence: I64
    _tier_cache: dict[frozenset[str], tuple[int, int, int]]
    _span_book: SpanBook | None
    _span_equity: F64 | None
    _span_equity_start: int
    _sync: Callable[[], None]
    """The kernel's: brings ``_held`` up to date before a row is computed from it."""

    def _init_curve(self) -> None:
        self._cadence = np.flatnonzero((self.grid.ts + self.step) % HOUR_MS == 0).astype(np.int64)
        # First hour-closing row at or after each row: a window with none records nothing, in O(1).
        self._next_cadence = np.searchsorted(self._cadence, np.arange(self.grid.ts.size + 1), side="left")
        self._tier_cache = {}
        self._span_book = None

    def _tiers(self) -> tuple[int, int, int]:
        """Open positions per tier (cached per set of held symbols: the tier table is fixed)."""
        key = frozenset(self.ledger.positions)
        cached = self._tier_cache.get(key)
        if cached is None:
            tiers = [0, 0, 0]
            for symbol in key:
                tier = self.policy.tier_of(asset_of(symbol))
                if tier is not None:
                    tiers[tier - 1] += 1
            cached = self._tier_cache[key] = (tiers[0], tiers[1], tiers[2])
        return cached

    def _record_equity(self, row: int, *, at_close: bool = False) -> None:
        f = self.ledger.figures
        ts = self._ts[row] + (self.step if at_close else 0)
        equity = f.equity
        self.rec.equity_row(ts, equity, float(self.ledger.cash), f.total_exposure if equity > 0 else 0.0,
                            self._largest_correlated(), len(self.ledger.positions), self._tiers())

    def _record_span(self, start: int, stop: int, *, every_row: bool = False) -> None:
        """Equity at the closes of the hour-closing rows in [start, stop) (all rows if ``every_row``),
        and, when the window scan measured the equity at every close, each stretch's highest and
        lowest close between them (``recorder.extreme_rows``).

        Positions and cash are constant inside a quiet window, so the curve there is one
        vectorised expression of the carried-forward marks.
        """
        if stop <= start:
            return
        if every_row:
            rows = np.arange(start, stop, dtype=np.int64)
        else:
            lo, hi = int(self._next_cadence[start]), int(self._next_cadence[stop])
            rows = self._cadence[lo:hi]
            scanned = self._span_equity
            if scanned is not None and self._span_equity_start == start and scanned.size >= stop - start:
                rows = start + extreme_rows(scanned[:stop - start], rows - start, self.rec.peak)
            if rows.size == 0:
                return
        self._sync()
        book = self._span_book
        if book is None:
            threshold = self.policy.correlation.high_correlation_threshold
            cols = tuple(h.column for h in self._held)
            book = SpanBook(
                cash=float(self.ledger.cash), columns=cols, quantity=tuple(h.quantity for h in self._held),
                entry=tuple(h.entry_price for h in self._held),
                groups=((0,),) if len(cols) == 1 else tuple(
                    tuple(b for b, cb in enumerate(cols) if b == a or self._corr[ca, cb] > threshold)
                    for a, ca in enumerate(cols)),
                tiers=self._tiers(),
            )
            self._span_book = book
        if rows.size == 1:
            row = int(rows[0])
            equity1, exposure1, correlated1 = span_row(book, self.grid.mark[row])
            self.rec.equity_row(self._ts[row] + self.step, equity1, book.cash, exposure1, correlated1,
                                len(book.columns), book.tiers)
            return
        equity, exposure, correlated = span_figures(book, self.grid.mark[rows])
        self.rec.equity_span(self.grid.ts[rows] + self.step, equity, book.cash, exposure, correlated,
                             len(book.columns), book.tiers)

    def _largest_correlated(self) -> float:
        """The largest notional of a held position plus those correlated with it above the threshold."""
        f = self.ledger.figures
        if not f.symbols or f.equity <= 0:
            return 0.0
        if len(f.symbols) == 1:
            return f.notional[f.symbols[0]] / f.equity
        threshold = self.policy.correlation.high_correlation_threshold
        cols = [self._column_of(s) for s in f.symbols]
        notional = [f.notional[s] for s in f.symbols]
        largest = 0.0
        for a, ca in enumerate(cols):
            group = sum(n for b, (cb, n) in enumerate(zip(cols, notional, strict=True))
                        if b == a or self._corr[ca, cb] > threshold)
            largest = max(largest, group)
        return largest / f.equity
