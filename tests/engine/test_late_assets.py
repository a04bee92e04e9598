"""An asset whose history starts later joins when its data begins; it does not hold the others back.

Decisions run on the union of the assets' bar times: before SOL's first bar, BTC and ETH trade
as if SOL were not requested (SOL cannot be entered and blocks nothing); from its first bar SOL's
own models warm up on its own history. The run's data notes give each asset's first and last bar.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from quantum_trader.analytics.backtest import BacktestRequest, default_settings, run_backtest
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import BarSeries, DataKind
from quantum_trader.domain.time import MS_PER_DAY, format_time
from quantum_trader.domain.trading import Side
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.engine.strategy import Held
from quantum_trader.testkit import policy_with

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
POLICY = policy_with({
    "signals.model.volatility_lookback_days": 3,
    "signals.cross_asset.btc_divergence.zscore_window": "3d",
})
LATE_DAYS = 8


def _late(series: BarSeries, start: int) -> BarSeries:
    keep = series.ts >= start
    return BarSeries(series.symbol, series.timeframe, series.ts[keep], series.open[keep], series.high[keep],
                     series.low[keep], series.close[keep], series.volume[keep])


@pytest.fixture(scope="module")
def market() -> tuple[dict[str, BarSeries], int]:
    synth = generate_market(SynthConfig(days=16, seed=3, assets=("BTC", "ETH", "SOL")))
    start = int(synth.bars[BTC].ts[0]) + LATE_DAYS * MS_PER_DAY
    bars = dict(synth.bars)
    bars[SOL] = _late(bars[SOL], start)
    return bars, start


def test_decisions_start_with_the_first_assets_not_the_last(market: tuple[dict[str, BarSeries], int]) -> None:
    bars, sol_start = market
    decisions = MultiAssetStrategy().prepare(bars, POLICY)
    assert decisions.close_ts[0] < int(bars[BTC].ts[0]) + MS_PER_DAY
    before = [k for k in range(decisions.close_ts.size) if decisions.close_ts[k] <= sol_start]
    intents = [i for k in before for i in decisions.intents(k)]
    assert {i.symbol for i in intents} & {BTC, ETH}, "BTC and ETH trade before SOL's data begins"
    assert SOL not in {i.symbol for i in intents}
    after = [i for k in range(len(before), decisions.close_ts.size) for i in decisions.intents(k)]
    assert SOL in {i.symbol for i in after}, "SOL trades once its own history has warmed up"


def test_a_run_trades_from_the_first_bar_and_names_each_assets_span(
        market: tuple[dict[str, BarSeries], int], tmp_path: Path) -> None:
    bars, sol_start = market
    catalog = Catalog(tmp_path / "catalog")
    for series in bars.values():
        catalog.write_many([(series, DataKind.CANDLES)], exchange="synthetic")
    result = run_backtest(BacktestRequest(
        catalog=tmp_path / "catalog", symbols=(BTC, ETH, SOL), strategy=MultiAssetStrategy(), policy=POLICY,
        exchange="synthetic", runs_dir=tmp_path / "runs",
        settings=default_settings(POLICY, phase=3, plain=False), report=False))
    trades = result.run.trades()
    early = trades[trades["entry_ts"] < sol_start]
    assert not early.empty and set(early["symbol"]) <= {BTC, ETH}
    assert (trades["symbol"] == SOL).any()
    run = result.metrics["run"]
    assert run["start"] == format_time(int(bars[BTC].ts[0]))
    notes = result.metrics["data_notes"]
    assert any(f"SOL from {format_time(sol_start)[:16]}" in note for note in notes), notes
    assert np.isfinite(result.metrics["total_return"])


def test_no_exit_is_reopened_on_the_same_side_at_the_same_decision(market: tuple[dict[str, BarSeries], int]) -> None:
    """An exit and a same-side entry of one decision would close and reopen at one open: held instead."""
    bars, _ = market
    decisions = MultiAssetStrategy().prepare(bars, POLICY)
    held_checked = 0
    for k in range(decisions.close_ts.size):
        intents = {(i.symbol, i.side) for i in decisions.intents(k)}
        for symbol in (BTC, ETH, SOL):
            for side in (Side.LONG, Side.SHORT):
                for source in ("trend", "btc_divergence", "sector_momentum"):
                    exits = decisions.exits(k, {symbol: Held(side, source, max(k - 100, 0))})
                    held_checked += 1
                    assert not (exits and (symbol, side) in intents), (k, symbol, side, source)
    assert held_checked > 1000
