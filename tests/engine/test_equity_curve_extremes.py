"""The equity curve keeps every peak and trough at bar closes, though it is sampled hourly.

A 1m run records a row per UTC hour plus events; a dip inside an hour that recovers by
its close would vanish from such a curve, and the run's drawdown would look better than
it was. The window scan measures equity at every close anyway, so the curve also keeps
each stretch's highest and lowest close: the drawdown read from it must equal the one
computed bar by bar.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.analytics.metrics import drawdown_stats
from quantum_trader.engine.recorder import extreme_rows
from quantum_trader.testkit import MarketBuilder, ScriptedDecisions, long, run_kernel


def _walk(seed: int, n: int) -> list[float]:
    rng = np.random.default_rng(seed)
    return [round(float(p), 2) for p in 100.0 * np.cumprod(1.0 + rng.normal(0.0, 0.002, n))]


@pytest.mark.parametrize("seed", range(4))
def test_drawdown_from_the_recorded_curve_equals_the_bar_by_bar_drawdown(seed: int) -> None:
    closes = _walk(seed, 300)
    b = MarketBuilder(timeframe="1m")
    data = b.bars("BTC", closes).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=closes[1], stop=1.0)]})
    rec = run_kernel(data, script)
    trades = rec.trades_frame()
    assert len(trades) == 1 and trades.iloc[0]["exit_reason"] == "end_of_data"
    q, entry = float(trades.iloc[0]["quantity"]), float(trades.iloc[0]["entry_price"])
    curve = rec.equity_frame()
    cash = float(curve["cash"].iloc[1])            # after the entry's fee
    # Bar by bar: the start, then the marks at every close while the position is held, then the end.
    dense = np.r_[100_000.0, cash, cash + q * (np.asarray(closes[2:]) - entry), curve["equity"].iloc[-1]]
    expected = float((dense / np.maximum.accumulate(dense) - 1.0).min())
    got, _ = drawdown_stats(curve["ts"].to_numpy(np.int64), curve["equity"].to_numpy(float))
    assert got == pytest.approx(expected, abs=1e-12)
    assert len(curve) < 60                          # still a sampled curve, not one row per bar


def test_a_dip_inside_an_hour_that_recovers_by_its_close_is_kept() -> None:
    closes = [100.0] * 20 + [96.0] + [100.0] * 100
    b = MarketBuilder(timeframe="1m")
    data = b.bars("BTC", closes).build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long("BTC", entry=100, stop=90)]})
    rec = run_kernel(data, script)
    curve = rec.equity_frame()
    q = float(rec.trades_frame().iloc[0]["quantity"])
    low = curve.loc[curve["equity"].idxmin()]
    assert low["ts"] == b.ts(21)                  # the close of the 96 bar
    assert low["equity"] == pytest.approx(float(curve["cash"].iloc[1]) - 4 * q)
    assert low["drawdown"] < -0.0035


@given(st.lists(st.floats(50.0, 150.0), min_size=1, max_size=200), st.data())
def test_the_kept_rows_have_the_drawdown_of_every_row(values: list[float], data: st.DataObject) -> None:
    equity = np.asarray(values)
    samples = np.asarray(sorted(data.draw(st.sets(st.integers(0, equity.size - 1)))), dtype=np.int64)
    before = data.draw(st.floats(50.0, 150.0))  # the peak carried in from earlier rows
    kept = extreme_rows(equity, samples, before)
    assert set(samples.tolist()) <= set(kept.tolist())
    assert kept.size <= samples.size + 3 * (samples.size + 1)

    def worst(series: np.ndarray) -> float:
        series = np.r_[before, series]
        return float((series / np.maximum.accumulate(series) - 1.0).min())

    assert worst(equity[kept]) == worst(equity)
    assert np.r_[before, equity[kept]].max() == np.r_[before, equity].max()
