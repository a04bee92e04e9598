"""What a run leaves behind: trades, the equity curve and every event, as plain rows.

Rows are appended to Python lists during the run (fills and events are rare next to
bars) and turned into DataFrames once at the end, in the run folder's schemas. The
equity curve is sampled, not dense: a row at each decision the kernel visits, at each
window event and at every UTC hour's close, plus (under the risk policy, whose window
scan measures equity at every close) the highest and lowest close between those rows,
so drawdowns read from it are those at every bar close. The rows of a quiet window come
in one vectorised batch (``span_figures``), so a year of 1m bars costs a few tens of
thousands of rows, not 525,600 Python appends.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np
import pandas as pd

from quantum_trader.domain.market import F64, I64
from quantum_trader.domain.trading import Side
from quantum_trader.engine.fill_limits import FillLimitCheck
from quantum_trader.engine.schema import EQUITY_COLUMNS, EVENT_COLUMNS, TRADE_COLUMNS
from quantum_trader.risk import EventKind

HOUR_MS = 3_600_000
"""Cadence of the sampled equity curve between decisions and events."""

EQUITY_PACK_ROWS = 4_096
"""Equity rows kept as Python tuples before all but the newest are packed into one float array: a tuple row
costs about 330 bytes, a packed one 80 (every figure of a row, its time and counts included, is exact in a
float64), so five years of five assets' curve (145,000 rows) hold 12 MB instead of 48 through the run."""


EVENT_NAMES = {
    EventKind.TRIP_DAILY: "kill_switch_trip",
    EventKind.TRIP_DRAWDOWN: "kill_switch_trip",
    EventKind.REARM: "kill_switch_rearm",
    EventKind.RESET: "kill_switch_reset",
    EventKind.LOCK: "asset_lock",
    EventKind.UNLOCK: "asset_unlock",
}
"""Run-folder event kinds of the risk engine's events (drift kinds keep their own names)."""


@dataclass(slots=True)
class SpanBook:
    """The account as it stands through a quiet window: constant cash and positions (floats). Never changed once
    made (not frozen: one is made after every fill, and a frozen dataclass costs several times more to make)."""

    cash: float
    columns: tuple[int, ...]
    """Grid column of each held position."""
    quantity: tuple[float, ...]
    """Signed quantity per held position."""
    entry: tuple[float, ...]
    groups: tuple[tuple[int, ...], ...]
    """Per held position a: the positions counted in its correlated group (a itself included)."""
    tiers: tuple[int, int, int]
    _arrays: tuple[list[int], F64, F64, list[list[int]]] | None = field(default=None, init=False, repr=False,
                                                                          compare=False)

    def arrays(self) -> tuple[list[int], F64, F64, list[list[int]]]:
        """Columns, quantities, entries and groups as ``span_figures`` indexes with them, made once a book."""
        found = self._arrays
        if found is None:
            found = (list(self.columns), np.asarray(self.quantity), np.asarray(self.entry),
                     [list(g) for g in self.groups])
            object.__setattr__(self, "_arrays", found)
        return found


def span_figures(book: SpanBook, marks: F64) -> tuple[F64, F64, F64]:
    """Equity, total exposure and largest correlated exposure at each row of ``marks`` (R, N).

    Exposures are notional / equity (0 when equity is not positive, as the per-row record).
    """
    rows = marks.shape[0]
    if not book.columns:
        return np.full(rows, book.cash), np.zeros(rows), np.zeros(rows)
    columns, quantity, entry, group_columns = book.arrays()
    held = marks[:, columns]
    equity = book.cash + (held - entry) @ quantity
    notional = np.abs(held * quantity)
    total = notional.sum(axis=1)
    if len(columns) == 1:  # one group of one: its sum and the largest are the column itself
        largest = notional[:, 0]
    elif all(len(g) == 1 for g in group_columns):  # groups of one: each sum is its column
        largest = notional.max(axis=1)
    else:
        largest = np.stack([notional[:, g].sum(axis=1) for g in group_columns], axis=1).max(axis=1)
    positive = equity > 0
    if positive.all():  # (the common case: the selections below would keep every division)
        return equity, total / equity, largest / equity
    safe = np.where(positive, equity, 1.0)
    return equity, np.where(positive, total / safe, 0.0), np.where(positive, largest / safe, 0.0)


def span_row(book: SpanBook, marks: F64) -> tuple[float, float, float]:
    """``span_figures`` for one row of marks (N,), in plain floats: most quiet windows of a
    1m strategy hold at most one hour's close, where NumPy's per-call cost would dominate."""
    columns = book.columns
    if len(columns) == 1:  # the common book of one position: the general path's sums, spelled out
        q = book.quantity[0]
        price = float(marks[columns[0]])
        equity = book.cash + (0.0 + q * (price - book.entry[0]))
        if equity <= 0:
            return equity, 0.0, 0.0
        alone = 0.0 + abs(q * price)
        return equity, alone / equity, alone / equity
    prices = [float(marks[c]) for c in columns]
    equity = book.cash + sum(q * (p - e) for q, p, e in zip(book.quantity, prices, book.entry, strict=True))
    if equity <= 0 or not prices:
        return equity, 0.0, 0.0
    notional = [abs(q * p) for q, p in zip(book.quantity, prices, strict=True)]
    largest = max(sum(notional[b] for b in group) for group in book.groups)
    return equity, sum(notional) / equity, largest / equity


def extreme_rows(equity: F64, samples: I64, peak_before: float) -> I64:
    """Offsets to record in a quiet span: the samples, and what keeps every drawdown of the span.

    A stretch ends at each sample (the tail after the last one is a stretch too). Of each
    stretch it keeps the highest close (a later drawdown is measured from it), the close
    deepest below its running peak, and that peak's close when it lies in the span. The
    deepest drawdown read from the kept rows is then exactly the one read from every close
    (``peak_before`` is the highest equity recorded before the span), and the curve grows
    by at most three rows per sample.
    """
    n = equity.size
    if n == 0:
        return samples
    if n <= _SMALL and peak_before == peak_before:
        rows = _extremes_in_floats(equity.tolist(), samples.tolist(), peak_before)
        return samples if rows is None else np.array(rows, dtype=np.int64)
    return _extremes_vectorised(equity, samples, peak_before)


def _extremes_vectorised(equity: F64, samples: I64, peak_before: float) -> I64:
    n = equity.size
    if n == 0 or not bool(np.isfinite(equity).all()):
        return samples
    running = np.maximum.accumulate(equity)
    np.maximum(running, peak_before, out=running)
    positive = running > 0
    # (the common case, every peak positive, is the same division without the two selections)
    drawdown = equity / running if positive.all() else np.where(positive, equity / np.where(positive, running, 1.0),
                                                                1.0)
    # Where the running peak was last set in the span (-1: it was carried in from before).
    peak_at = np.maximum.accumulate(np.where(equity >= running, np.arange(n), -1))
    offsets = samples.tolist()
    kept = set(offsets)
    edges = [0, *(s + 1 for s in offsets if s + 1 < n), n]
    for lo, hi in pairwise(edges):  # a few stretches per span: plain argmin/argmax
        if hi <= lo:
            continue
        kept.add(lo + int(equity[lo:hi].argmax()))
        deepest = lo + int(drawdown[lo:hi].argmin())
        kept.add(deepest)
        peak = int(peak_at[deepest])
        if peak >= 0:
            kept.add(peak)
    return np.array(sorted(kept), dtype=np.int64)


_SMALL = 256
"""Spans of at most this many closes are searched in plain floats (a processed bar every hour makes spans of
60 1m closes, where NumPy's cost per call is most of the work); longer ones with NumPy."""


def _extremes_in_floats(equity: list[float], offsets: list[int], peak_before: float) -> list[int] | None:
    """``extreme_rows`` over Python floats (None: a close is not finite, the samples alone are kept): the same
    comparisons and divisions, element by element, so the same rows."""
    if not all(map(math.isfinite, equity)):
        return None
    n = len(equity)
    kept = set(offsets)
    peak, last = peak_before, -1
    for lo, hi in pairwise([0, *(s + 1 for s in offsets if s + 1 < n), n]):
        if hi <= lo:
            continue
        high_at = lo + equity[lo:hi].index(max(equity[lo:hi]))  # the first of equal ones, as argmax
        low, low_at, low_peak_at = math.inf, -1, -1
        for k in range(lo, hi):
            value = equity[k]
            if value > peak:
                peak = value
            if value >= peak:
                last = k  # where the running peak was last set
            drawdown = value / peak if peak > 0 else 1.0
            if low_at < 0 or drawdown < low:  # the first of equal ones, as argmin
                low, low_at, low_peak_at = drawdown, k, last
        kept.add(high_at)
        kept.add(low_at)
        if low_peak_at >= 0:
            kept.add(low_peak_at)
    return sorted(kept)


@dataclass(slots=True)
class OpenTrade:
    symbol: str
    side: Side
    entry_ts: int
    entry_price: float
    quantity: float
    notional_at_entry: float
    equity_at_entry: float
    stop: float
    planned_risk: float
    fees: float
    funding: float = 0.0
    """Funding received so far (the kernel subtracts each payment); rows store its negative, ``funding_paid``."""
    signal: str = ""
    """The source of the intent that opened the trade."""
    entry_slippage: float = 0.0
    """Slippage paid at entry, a fraction of the reference price (positive: paid)."""


EventRow = tuple[int, str, str, str, str, float, float]
"""(ts, kind, symbol, rule, message, value, limit): one row of events.parquet, in EVENT_COLUMNS order."""


@dataclass
class Recorder:
    trades: list[tuple[object, ...]] = field(default_factory=list)
    equity: list[tuple[object, ...]] = field(default_factory=list)
    """The newest equity rows (the last one may still be replaced); the older ones are in ``equity_packed``."""
    equity_packed: list[F64] = field(default_factory=list)
    """Older equity rows, oldest first, in arrays of (rows, ``EQUITY_COLUMNS``) floats (``EQUITY_PACK_ROWS``)."""
    events: list[EventRow] = field(default_factory=list)
    open: dict[str, OpenTrade] = field(default_factory=dict)
    refusals: Counter[str] = field(default_factory=Counter)
    """Per rule, the refused intents it was a reason for (one intent may count under several rules)."""
    refused_intents: int = 0
    kill_switch_trips: int = 0
    limit_entries: Counter[str] = field(default_factory=Counter)
    """Limit entries placed, filled, expired, cancelled, rejected (post-only) and refused at the fill."""
    orders: int = 0
    fills: int = 0
    peak: float = 0.0
    """Highest equity recorded so far: the drawdown column is measured from it."""
    outside_universe: Counter[str] = field(default_factory=Counter)
    """Intents of symbols the run's universe never admits, per symbol (not sent to the risk engine)."""
    fill_limits: FillLimitCheck | None = None
    """The portfolio limits measured at each entry fill (None without a risk policy)."""

    def equity_row(self, ts: int, equity: float, cash: float, exposure: float, correlated: float,
                   positions: int, tiers: tuple[int, int, int]) -> None:
        """One row; a row for a time already recorded replaces it (the later state wins)."""
        self.peak = max(self.peak, equity)
        drawdown = equity / self.peak - 1.0 if self.peak > 0 else 0.0
        row = (ts, equity, cash, exposure, correlated, positions, *tiers, drawdown)
        rows = self.equity
        if rows and rows[-1][0] == ts:
            rows[-1] = row
        else:
            rows.append(row)
            if len(rows) > EQUITY_PACK_ROWS:  # (``_pack``, inline: a row is written per processed bar)
                self._pack()

    def _pack(self) -> None:
        """Past ``EQUITY_PACK_ROWS`` rows, all but the newest (a later row at its time replaces it) into one array."""
        if len(self.equity) > EQUITY_PACK_ROWS:
            self.equity_packed.append(np.array(self.equity[:-1], dtype=np.float64))
            del self.equity[:-1]

    def equity_span(self, ts: I64, equity: F64, cash: float, exposure: F64, correlated: F64,
                    positions: int, tiers: tuple[int, int, int]) -> None:
        """Many rows at once, for ascending ``ts`` (the hourly samples of a quiet window)."""
        if ts.size == 0:
            return
        if ts.size <= _SMALL and self._rows_in_floats(ts, equity, cash, exposure, correlated, positions, tiers):
            return
        self._rows_vectorised(ts, equity, cash, exposure, correlated, positions, tiers)

    def _rows_vectorised(self, ts: I64, equity: F64, cash: float, exposure: F64, correlated: F64, positions: int,
                         tiers: tuple[int, int, int]) -> None:
        peaks = np.maximum(self.peak, np.maximum.accumulate(equity))
        self.peak = float(peaks[-1])
        drawdown = np.where(peaks > 0, equity / np.where(peaks > 0, peaks, 1.0) - 1.0, 0.0)
        rows = zip(ts.tolist(), equity.tolist(), [cash] * ts.size, exposure.tolist(), correlated.tolist(),
                   [positions] * ts.size, [tiers[0]] * ts.size, [tiers[1]] * ts.size, [tiers[2]] * ts.size,
                   drawdown.tolist(), strict=True)
        if self.equity and self.equity[-1][0] == int(ts[0]):
            self.equity.pop()
        self.equity.extend(rows)
        self._pack()

    def _rows_in_floats(self, ts: I64, equity: F64, cash: float, exposure: F64, correlated: F64, positions: int,
                        tiers: tuple[int, int, int]) -> bool:
        """``equity_span``'s rows in plain floats, element by element (False, nothing done: a NaN, which the
        running peak carries as ``np.maximum`` does, is left to it)."""
        return self.equity_rows(ts.tolist(), equity.tolist(), cash, exposure.tolist(), correlated.tolist(), positions,
                                tiers)

    def equity_rows(self, ts: list[int], values: list[float], cash: float, exposure: list[float],
                    correlated: list[float], positions: int, tiers: tuple[int, int, int]) -> bool:
        """``equity_span`` over Python lists, the rows in plain floats (False, nothing done: a NaN is left to
        ``equity_span``, whose running peak carries it as ``np.maximum`` does)."""
        peak = self.peak
        if peak != peak or any(value != value for value in values):
            return False
        rows = []
        for t, value, x, c in zip(ts, values, exposure, correlated, strict=True):
            if value > peak:
                peak = value
            rows.append((t, value, cash, x, c, positions, *tiers, value / peak - 1.0 if peak > 0 else 0.0))
        self.peak = peak
        if self.equity and self.equity[-1][0] == rows[0][0]:
            self.equity.pop()
        self.equity.extend(rows)
        self._pack()
        return True

    def event(self, ts: int, kind: str, message: str, *, symbol: str = "", rule: str = "",
              value: float | None = None, limit: float | None = None) -> None:
        self.events.append((ts, kind, symbol, rule, message, math.nan if value is None else float(value),
                            math.nan if limit is None else float(limit)))
        if kind == "kill_switch_trip":
            self.kill_switch_trips += 1

    def close_trade(self, symbol: str, ts: int, price: float, fee: float, realised: float, reason: str) -> None:
        trade = self.open.pop(symbol)
        fees = trade.fees + fee
        pnl = realised - fees + trade.funding
        self.trades.append((
            symbol, trade.side._value_, trade.entry_ts, ts, trade.entry_price, price, trade.quantity,
            trade.notional_at_entry, trade.equity_at_entry, trade.stop, trade.planned_risk, pnl, fees,
            0.0 - trade.funding, reason, trade.signal, trade.entry_slippage,
        ))

    def reduce_trade(self, symbol: str, ts: int, price: float, quantity: float, fee: float, realised: float,
                     reason: str) -> None:
        """Close part of an open trade: the part becomes a trade row of its own, carrying its share
        of the entry fee and of the funding so far; the rest stays open with the remainder."""
        trade = self.open[symbol]
        part = quantity / trade.quantity
        entry_fee, funding = trade.fees * part, trade.funding * part
        fees = entry_fee + fee
        self.trades.append((
            symbol, trade.side._value_, trade.entry_ts, ts, trade.entry_price, price, quantity,
            trade.notional_at_entry * part, trade.equity_at_entry, trade.stop, trade.planned_risk * part,
            realised - fees + funding, fees, 0.0 - funding, reason, trade.signal, trade.entry_slippage,
        ))
        trade.quantity -= quantity
        trade.notional_at_entry *= 1.0 - part
        trade.planned_risk *= 1.0 - part
        trade.fees -= entry_fee
        trade.funding -= funding

    def trades_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.trades, columns=list(TRADE_COLUMNS)).astype(
            {"entry_ts": "int64", "exit_ts": "int64"}
        )

    def equity_frame(self) -> pd.DataFrame:
        if self.equity_packed:
            newest = np.array(self.equity, dtype=np.float64).reshape(-1, len(EQUITY_COLUMNS))
            frame = pd.DataFrame(np.concatenate([*self.equity_packed, newest]), columns=list(EQUITY_COLUMNS))
        else:
            frame = pd.DataFrame(self.equity, columns=list(EQUITY_COLUMNS))
        return frame.astype({"ts": "int64", "open_positions": "int64", "slots_tier_1": "int64",
                             "slots_tier_2": "int64", "slots_tier_3": "int64"})

    def events_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.events, columns=list(EVENT_COLUMNS)).astype({"ts": "int64"})
