"""The run's equity curve: a row at every UTC hour's close, every bar where something happened, and
each quiet stretch's highest and lowest close, so drawdowns read from it are those at every bar close.

Between two events positions and cash are constant, so a quiet stretch's rows are one
vectorised expression of the carried marks (``recorder.span_figures``), or plain floats for
the common stretch holding a single hour's close (``recorder.span_row``). The curve reads the
ledger and the correlation matrix the kernel holds; it never changes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import F64, I64
from quantum_trader.domain.symbols import asset_of
from quantum_trader.engine.recorder import HOUR_MS, Recorder, SpanBook, extreme_rows, span_figures, span_row
from quantum_trader.portfolio import LedgerState

_FEW = 64
"""Rows of a span written in plain floats when the book holds at most one position (a quiet stretch between two
decisions keeps a few: its hour closes and its extremes)."""


@dataclass
class EquityCurve:
    rec: Recorder
    policy: Policy
    column: Mapping[str, int]
    extremes: bool = True
    """Keep each quiet stretch's highest and lowest close (off where no loss limit watches equity)."""
    _chunk: MarketChunk | None = None
    _cadence: I64 = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _next_cadence: I64 = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    _tier_cache: dict[frozenset[str], tuple[int, int, int]] = field(default_factory=dict)
    _tiers_last: tuple[object, tuple[int, int, int]] | None = None
    """The positions (a ledger's own frozen map) the tiers were last counted for, and the count."""
    _book: SpanBook | None = None

    def begin(self, chunk: MarketChunk) -> None:
        self._chunk = chunk
        closes_hour = (chunk.ts + chunk.step) % HOUR_MS == 0
        self._cadence = np.flatnonzero(closes_hour).astype(np.int64)
        # First hour-closing row at or after each row (the count of those before it): a stretch with none records
        # nothing, in O(1). A running count, not a search per row: a year of 1m bars is half a million rows.
        self._next_cadence = np.zeros(chunk.size + 1, dtype=np.int64)
        np.cumsum(closes_hour, out=self._next_cadence[1:])

    def changed(self) -> None:
        """Positions or cash changed: the next stretch is priced from the ledger again."""
        self._book = None

    def _tiers(self, ledger: LedgerState) -> tuple[int, int, int]:
        positions = ledger.positions
        last = self._tiers_last
        if last is not None and last[0] is positions:  # (states share their positions until a fill)
            return last[1]
        key = frozenset(positions)
        cached = self._tier_cache.get(key)
        if cached is None:
            tiers = [0, 0, 0]
            for symbol in key:
                tier = self.policy.tier_of(asset_of(symbol))
                if tier is not None:
                    tiers[tier - 1] += 1
            cached = self._tier_cache[key] = (tiers[0], tiers[1], tiers[2])
        self._tiers_last = (positions, cached)
        return cached

    def _span_book(self, ledger: LedgerState, corr: F64) -> SpanBook:
        book = self._book
        if book is None:
            column = self.column
            cols, quantity, entry = [], [], []
            for p in ledger.positions.values():
                cols.append(column[p.symbol])
                quantity.append(float(p.quantity))
                entry.append(float(p.entry_price))
            if len(cols) <= 1:
                groups: tuple[tuple[int, ...], ...] = ((0,),) if cols else ()
            else:  # each position's group, once (two positions may anchor the same group)
                threshold = self.policy.correlation.high_correlation_threshold
                groups = tuple(dict.fromkeys(
                    tuple(b for b, cb in enumerate(cols) if b == a or corr[ca, cb] > threshold)
                    for a, ca in enumerate(cols)))
            book = SpanBook(float(ledger.cash), tuple(cols), tuple(quantity), tuple(entry), groups,
                            self._tiers(ledger))
            self._book = book
        return book

    def span(self, start: int, stop: int, ledger: LedgerState, corr: F64, scanned: F64 | None = None,
             *, every_row: bool = False) -> None:
        """Rows [start, stop) of the stretch (its hour closes, or ``every_row``); ``scanned`` is the equity the
        loss limits' scan measured at each of its closes, from which the stretch's extremes are kept."""
        chunk = self._chunk
        if chunk is None or stop <= start:
            return
        if every_row and stop - start == 1:  # the processed bar: one row, no arrays
            self._row(start, self._span_book(ledger, corr))
            return
        if every_row:
            rows = np.arange(start, stop, dtype=np.int64)
        else:
            lo, hi = int(self._next_cadence[start]), int(self._next_cadence[stop])
            rows = self._cadence[lo:hi]
            if self.extremes and scanned is not None and scanned.size >= stop - start:
                rows = start + extreme_rows(scanned[:stop - start], rows - start, self.rec.peak)
            if rows.size == 0:
                return
        book = self._span_book(ledger, corr)
        if rows.size == 1:
            self._row(int(rows[0]), book)
            return
        if len(book.columns) <= 1 and rows.size <= _FEW and self._rows(rows.tolist(), book):
            return
        equity, exposure, correlated = span_figures(book, chunk.mark[rows])
        self.rec.equity_span(chunk.ts[rows] + chunk.step, equity, book.cash, exposure, correlated,
                             len(book.columns), book.tiers)

    def _rows(self, rows: list[int], book: SpanBook) -> bool:
        """A few rows of a book of at most one position in plain floats (False, nothing done: an equity is NaN).
        ``span_row`` is ``span_figures`` exactly for such a book (one product per row, no sum over positions), so
        the rows are the same; a book of several goes to NumPy, whose matrix product may sum in its own order."""
        chunk = self._chunk
        assert chunk is not None
        mark, ts, step = chunk.mark, chunk.ts, chunk.step
        figures = [span_row(book, mark[r]) for r in rows]
        return self.rec.equity_rows([int(ts[r]) + step for r in rows], [f[0] for f in figures], book.cash,
                                    [f[1] for f in figures], [f[2] for f in figures], len(book.columns), book.tiers)

    def _row(self, row: int, book: SpanBook) -> None:
        chunk = self._chunk
        assert chunk is not None
        equity, exposure, correlated = span_row(book, chunk.mark[row])
        self.rec.equity_row(int(chunk.ts[row]) + chunk.step, equity, book.cash, exposure, correlated,
                            len(book.columns), book.tiers)

    def at(self, ts: int, ledger: LedgerState, corr: F64) -> None:
        """One row at ``ts`` from the ledger as it stands (its own marks)."""
        equity = float(ledger.equity)
        marks = ledger.marks
        notional = {}
        for s, p in ledger.positions.items():
            notional[s] = float(p.size * marks[s])
        exposure = sum(notional.values()) / equity if equity > 0 and notional else 0.0
        self.rec.equity_row(ts, equity, float(ledger.cash), exposure, self.largest_correlated(notional, equity, corr),
                            len(notional), self._tiers(ledger))

    def largest_correlated(self, notional: Mapping[str, float], equity: float, corr: F64) -> float:
        """The largest notional of a held position plus those correlated with it above the threshold, over
        equity (``notional`` per held symbol, as ``Figures.notional``)."""
        if not notional or equity <= 0:
            return 0.0
        if len(notional) == 1:
            return next(iter(notional.values())) / equity
        threshold = self.policy.correlation.high_correlation_threshold
        held = [(self.column[s], n) for s, n in notional.items()]
        largest = 0.0
        for a, (ca, _) in enumerate(held):
            group = sum(n for b, (cb, n) in enumerate(held) if b == a or corr[ca, cb] > threshold)
            largest = max(largest, group)
        return largest / equity
