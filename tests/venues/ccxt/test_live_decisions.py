"""Decisions grown one closed bar at a time take, at every close, the decision a backtest over the same bars
takes there: intents, exits given what is held, and the correlation known (the project's causal strategies)."""

from __future__ import annotations

import numpy as np
import pytest
from tests.venues.ccxt.conftest import hourly

from quantum_trader.cli.bar_timeframes import explicit_keys, fit_policy
from quantum_trader.config import load_policy
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.trading import Side
from quantum_trader.engine.incremental import decisions_for
from quantum_trader.engine.live_decisions import GrowingDecisions
from quantum_trader.engine.strategies import MultiAssetStrategy, SmaCrossStrategy
from quantum_trader.engine.strategy import Held, Strategy


@pytest.mark.parametrize(("strategy", "warmup"), [(MultiAssetStrategy(), 0), (SmaCrossStrategy(5, 12), 20)])
def test_each_close_decides_as_the_backtest_of_the_same_bars(strategy: Strategy, warmup: int) -> None:
    bars = hourly(days=5, seed=11)
    policy = fit_policy(load_policy(env={}), "1h", explicit_keys(None, []))[0]
    whole = decisions_for(strategy, bars, policy)
    symbols = tuple(bars)
    grown = GrowingDecisions(strategy, policy, symbols, "1h")
    grown.seed({s: b.slice(None, int(b.ts[warmup])) for s, b in bars.items()} if warmup else {})
    held = {symbols[0]: Held(Side.LONG, strategy.name, 0)}
    taken: list[int] = []
    for row in range(warmup, len(bars[symbols[0]])):
        ts = int(bars[symbols[0]].ts[row])
        new = grown.extend(ts, [_bar(bars[s], row) for s in symbols])
        for g in new:
            close = int(grown.close_ts[g])
            (k,) = np.flatnonzero(whole.close_ts == close)
            assert grown.intents(g) == whole.intents(int(k))
            assert grown.exits(g, held) == whole.exits(int(k), held)
            a, b = grown.correlation(g), whole.correlation(int(k))
            assert (a is None and b is None) or np.array_equal(a, b, equal_nan=True)  # type: ignore[arg-type]
            taken.append(close)
    first = int(bars[symbols[0]].ts[warmup])
    expected = [int(t) for t in whole.close_ts[whole.active()] if t > first]
    assert taken == expected, "every decision the backtest can act at, and no other, in time"
    assert any(whole.intents(int(k)) for k in whole.active() if whole.close_ts[k] > first)
    with pytest.raises(IndexError, match="is not the newest"):
        grown.intents(0)


def _bar(series: BarSeries, row: int) -> tuple[float, float, float, float, float]:
    return (float(series.open[row]), float(series.high[row]), float(series.low[row]), float(series.close[row]),
            float(series.volume[row]))
