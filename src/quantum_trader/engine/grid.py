"""Several assets on one time axis: the arrays the kernel's loop reads.

The union of all bar times becomes the grid; an asset without a bar at a grid time gets
NaN there and ``valid`` False, so nothing trades on a bar that did not exist, while
marks carry the last close forward (a position keeps its value through a data gap).
Built once before the loop; the loop only indexes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantum_trader.domain.market import F64, I64, BarSeries


@dataclass(frozen=True, slots=True)
class MarketGrid:
    """Aligned (T, N) arrays; column j is ``symbols[j]``."""

    symbols: tuple[str, ...]
    timeframe: str
    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume: F64
    valid: npt.NDArray[np.bool_]
    mark: F64
    """Last known close, carried forward through gaps (NaN before an asset's first bar)."""

    def index(self, symbol: str) -> int:
        try:
            return self.symbols.index(symbol)
        except ValueError:
            raise KeyError(f"{symbol} is not on the grid; symbols: {', '.join(self.symbols)}") from None

    @property
    def shape(self) -> tuple[int, int]:
        return int(self.ts.size), len(self.symbols)


def forward_fill(values: F64, carry: F64 | None = None) -> F64:
    """Carry the last finite value down each column (vectorised), starting from ``carry`` when given (the
    previous stretch's last row: a stretch of a longer replay continues its marks)."""
    out = values if carry is None else np.vstack([carry[None, :], values])
    t = np.arange(out.shape[0])[:, None]
    last = np.where(np.isfinite(out), t, -1)
    np.maximum.accumulate(last, axis=0, out=last)
    cols = np.arange(out.shape[1])[None, :]
    filled = np.where(last >= 0, out[np.maximum(last, 0), cols], np.nan)
    return filled if carry is None else filled[1:]


FIELDS = ("open", "high", "low", "close", "volume")


def align(bars: Mapping[str, BarSeries], symbols: tuple[str, ...]) -> tuple[I64, dict[str, F64], npt.NDArray[np.bool_]]:
    """Bars on the union of their times, one column per symbol of ``symbols`` (NaN and not valid where a symbol
    has no bar). When every symbol has the same clock (most stretches), that clock is the union and each column
    a plain copy: no sort of the concatenated times, no row lookup."""
    series = list(bars.values())
    first = series[0].ts
    shared = len(bars) == len(symbols) and all(b.ts.size == first.size and np.array_equal(b.ts, first)
                                               for b in series[1:])
    ts = first if shared else np.unique(np.concatenate([b.ts for b in series]))
    shape = (ts.size, len(symbols))
    cols: dict[str, F64] = {name: np.full(shape, np.nan) for name in FIELDS}
    valid = np.zeros(shape, dtype=bool)
    for j, symbol in enumerate(symbols):
        one = bars.get(symbol)
        if one is None:
            continue
        rows: slice | npt.NDArray[np.intp] = slice(None) if shared else np.searchsorted(ts, one.ts)
        valid[rows, j] = True
        for name in FIELDS:
            cols[name][rows, j] = getattr(one, name)
    return ts, cols, valid


def overlay_marks(ts: I64, mark: F64, symbols: tuple[str, ...], marks: Mapping[str, BarSeries],
                  max_age_ms: int | None = None) -> F64:
    """``mark`` (carried closes) with the exchange's mark-price series put over it where given and fresh.

    Marks value positions, drive the kill switch and settle funding, as on the exchange; each mark is
    taken as of its bar's close and carried forward at most ``max_age_ms`` (never looked ahead); past
    that the bar's own close marks the position again."""
    out = mark.copy()
    for j, symbol in enumerate(symbols):
        series = marks.get(symbol)
        if series is None or len(series) == 0:
            continue
        idx = np.searchsorted(series.ts, ts, side="right") - 1
        fresh = idx >= 0
        if max_age_ms is not None:
            fresh &= ts - series.ts[np.clip(idx, 0, None)] <= max_age_ms
        aligned = np.where(fresh, series.close[np.clip(idx, 0, None)], np.nan)
        out[:, j] = np.where(np.isfinite(aligned), aligned, out[:, j])
    return out


def build_grid(bars: Mapping[str, BarSeries]) -> MarketGrid:
    if not bars:
        raise ValueError("build_grid: no bar series given")
    timeframes = {b.timeframe for b in bars.values()}
    if len(timeframes) != 1:
        raise ValueError(f"build_grid: all series must share one timeframe, got {sorted(timeframes)}")
    symbols = tuple(bars)
    ts, cols, valid = align(bars, symbols)
    return MarketGrid(
        symbols=symbols,
        timeframe=timeframes.pop(),
        ts=ts,
        valid=valid,
        mark=forward_fill(cols["close"]),
        **cols,
    )
