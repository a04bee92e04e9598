from __future__ import annotations

import numpy as np
import pytest

from quantum_trader.domain.market import BarSeries
from quantum_trader.engine.grid import build_grid


def _series(symbol: str, minutes: list[int], closes: list[float]) -> BarSeries:
    c = np.array(closes)
    return BarSeries(symbol, "1m", np.array(minutes, dtype=np.int64) * 60_000, c, c + 1, c - 1, c, np.ones(len(c)))


def test_union_grid_with_gaps_marked_invalid_and_marks_carried() -> None:
    grid = build_grid({
        "BTC/USDT:USDT": _series("BTC/USDT:USDT", [0, 1, 3], [10.0, 11.0, 13.0]),
        "ETH/USDT:USDT": _series("ETH/USDT:USDT", [1, 2, 3], [1.0, 2.0, 3.0]),
    })
    assert grid.ts.tolist() == [0, 60_000, 120_000, 180_000]
    assert grid.valid[:, 0].tolist() == [True, True, False, True]
    assert np.isnan(grid.close[2, 0])
    assert grid.mark[2, 0] == 11.0
    assert np.isnan(grid.mark[0, 1]) and grid.mark[1, 1] == 1.0
    assert grid.index("ETH/USDT:USDT") == 1


def test_mixed_timeframes_refused() -> None:
    a = _series("BTC/USDT:USDT", [0], [1.0])
    b = BarSeries("ETH/USDT:USDT", "1h", a.ts, a.open, a.high, a.low, a.close, a.volume)
    with pytest.raises(ValueError, match="share one timeframe"):
        build_grid({"BTC/USDT:USDT": a, "ETH/USDT:USDT": b})
