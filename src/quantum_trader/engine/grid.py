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


def _forward_fill(values: F64) -> F64:
    """Carry the last finite value down each column (vectorised)."""
    out = values.copy()
    t = np.arange(out.shape[0])[:, None]
    last = np.where(np.isfinite(out), t, -1)
    np.maximum.accumulate(last, axis=0, out=last)
    cols = np.arange(out.shape[1])[None, :]
    filled = out[np.maximum(last, 0), cols]
    return np.where(last >= 0, filled, np.nan)


def build_grid(bars: Mapping[str, BarSeries]) -> MarketGrid:
    if not bars:
        raise ValueError("build_grid: no bar series given")
    timeframes = {b.timeframe for b in bars.values()}
    if len(timeframes) != 1:
        raise ValueError(f"build_grid: all series must share one timeframe, got {sorted(timeframes)}")
    symbols = tuple(bars)
    ts = np.unique(np.concatenate([b.ts for b in bars.values()]))
    shape = (ts.size, len(symbols))
    cols: dict[str, F64] = {name: np.full(shape, np.nan) for name in ("open", "high", "low", "close", "volume")}
    valid = np.zeros(shape, dtype=bool)
    for j, symbol in enumerate(symbols):
        series = bars[symbol]
        rows = np.searchsorted(ts, series.ts)
        valid[rows, j] = True
        for name in cols:
            cols[name][rows, j] = getattr(series, name)
    return MarketGrid(
        symbols=symbols,
        timeframe=timeframes.pop(),
        ts=ts,
        valid=valid,
        mark=_forward_fill(cols["close"]),
        **cols,
    )
