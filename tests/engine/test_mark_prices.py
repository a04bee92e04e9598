"""With a mark-price series in the catalog, marks come from it, as of each bar's close."""

from __future__ import annotations

import numpy as np

from quantum_trader.analytics.backtest import with_mark_prices
from quantum_trader.domain.market import BarSeries
from quantum_trader.engine.grid import build_grid


def _bars(closes: list[float], start: int = 0) -> BarSeries:
    c = np.array(closes)
    ts = (np.arange(len(c), dtype=np.int64) + start) * 60_000
    return BarSeries("BTC/USDT:USDT", "1m", ts, c, c, c, c, np.ones(len(c)))


def test_marks_replace_closes_and_are_carried_never_looked_ahead() -> None:
    grid = build_grid({"BTC/USDT:USDT": _bars([100.0, 101.0, 102.0, 103.0])})
    mark = _bars([100.5, 101.5], start=1)  # mark bars exist only for minutes 1 and 2
    out = with_mark_prices(grid, {"BTC/USDT:USDT": mark})
    assert out.mark[:, 0].tolist() == [100.0, 100.5, 101.5, 101.5]
    assert out.close[:, 0].tolist() == [100.0, 101.0, 102.0, 103.0]
