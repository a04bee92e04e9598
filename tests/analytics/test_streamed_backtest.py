"""A backtest streamed from the catalog writes the run folder a backtest over the market held whole writes.

``backtest`` on 1m bars no longer loads the catalog whole: the kernel reads it a window at a
time, the universe screens read their own windows, the strategy decides on its signal
timeframe resampled window by window, and the run folder's spans, hourly closes and data
notes are gathered from the stretches (``analytics.market_summary``). Every file of the run
folder must equal the one the whole-market path writes, on a market with books, funding, an
asset whose history starts late, a gap, and windows much shorter than the run.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.analytics import backtest as backtest_module
from quantum_trader.analytics.backtest import BacktestRequest, default_settings, run_backtest
from quantum_trader.analytics.market_summary import MarketSummary
from quantum_trader.analytics.run_folder import hourly_closes
from quantum_trader.analytics.streamed_market import streamed_market
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.data.synthetic.writer import write_market
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import MS_PER_DAY
from quantum_trader.engine.grid import build_grid
from quantum_trader.engine.strategies import MultiAssetStrategy, SmaCrossStrategy
from quantum_trader.testkit import policy_with

BTC, ETH, SOL = "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"
POLICY = policy_with({
    "signals.model.volatility_lookback_days": 3,
    "signals.cross_asset.btc_divergence.zscore_window": "3d",
    "universe.rescreen_every": "2d",
})


def _cut(series: BarSeries, keep: np.ndarray) -> BarSeries:
    return BarSeries(series.symbol, series.timeframe, series.ts[keep], series.open[keep], series.high[keep],
                     series.low[keep], series.close[keep], series.volume[keep])


@pytest.fixture(scope="module")
def catalog_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    market = generate_market(SynthConfig(days=14, seed=11, assets=("BTC", "ETH", "SOL")))
    first = int(market.bars[BTC].ts[0])
    sol = market.bars[SOL]
    late_and_gapped = (sol.ts >= first + 4 * MS_PER_DAY) & ~((sol.ts >= first + 9 * MS_PER_DAY)
                                                             & (sol.ts < first + 9 * MS_PER_DAY + 7_200_000))
    market = dataclasses.replace(market, bars={**market.bars, SOL: _cut(sol, late_and_gapped)})
    root = tmp_path_factory.mktemp("streamed") / "catalog"
    write_market(market, Catalog(root))
    return root


def _run(catalog: Path, runs: Path, *, stream: bool, strategy: object, plain: bool = False) -> Path:
    request = BacktestRequest(catalog=catalog, symbols=(BTC, ETH, SOL), strategy=strategy,  # type: ignore[arg-type]
                              policy=POLICY, runs_dir=runs, report=False, stream=stream,
                              settings=default_settings(POLICY, phase=3, plain=plain))
    return run_backtest(request).run.path


def _metrics(run: Path) -> dict[str, object]:
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("run_id", "created", "duration_s"):
        metrics["run"].pop(key)
    return metrics


@pytest.fixture
def three_day_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows of three days, so a fortnight is five stretches (the default is 32 days)."""
    monkeypatch.setattr(backtest_module, "streamed_market", functools.partial(streamed_market, window_days=3))


@pytest.mark.usefixtures("three_day_windows")
@pytest.mark.parametrize(("strategy", "plain"), [(MultiAssetStrategy(), False),
                                                 (SmaCrossStrategy(fast=20, slow=60), True)])
def test_a_streamed_run_folder_equals_the_whole_one(catalog_path: Path, tmp_path: Path, strategy: object,
                                                    plain: bool) -> None:
    whole = _run(catalog_path, tmp_path / "whole", stream=False, strategy=strategy, plain=plain)
    streamed = _run(catalog_path, tmp_path / "streamed", stream=True, strategy=strategy, plain=plain)
    trades = pd.read_parquet(whole / "trades.parquet")
    assert len(trades) > 5, "the run must trade for the comparison to mean anything"
    for name in ("trades", "equity", "events", "correlation", "prices"):
        pd.testing.assert_frame_equal(pd.read_parquet(streamed / f"{name}.parquet"),
                                      pd.read_parquet(whole / f"{name}.parquet"), obj=name)
    assert _metrics(streamed) == _metrics(whole)
    assert any("SOL" in note for note in _metrics(whole)["data_notes"])  # type: ignore[union-attr]


def test_a_1m_backtest_streams_unless_told_otherwise() -> None:
    request = BacktestRequest(catalog=Path("."), symbols=(BTC,), strategy=MultiAssetStrategy(), policy=POLICY)
    assert request.streamed
    assert not BacktestRequest(catalog=Path("."), symbols=(BTC,), strategy=MultiAssetStrategy(), policy=POLICY,
                               timeframe="1h").streamed
    assert not BacktestRequest(catalog=Path("."), symbols=(BTC,), strategy=MultiAssetStrategy(), policy=POLICY,
                               stream=False).streamed


def test_the_summary_of_stretches_equals_the_summary_of_the_whole(catalog_path: Path) -> None:
    """Spans, hourly closes and volume presence, gathered over stretches of any length, are the whole grid's."""
    catalog = Catalog(catalog_path)
    bars = {s: catalog.read_bars(s, "1m") for s in (BTC, ETH, SOL)}
    grid = build_grid(bars)
    whole = MarketSummary.of_grid(grid)
    expected = hourly_closes(grid.ts, grid.close, grid.symbols, 60_000)
    pd.testing.assert_frame_equal(whole.prices(), expected)
    for size in (1, 97, 1_440, 5_000):
        parts = MarketSummary(grid.symbols, "1m")
        for lo in range(0, grid.ts.size, size):
            hi = lo + size
            parts.observe(grid.ts[lo:hi], grid.close[lo:hi], grid.volume[lo:hi], grid.valid[lo:hi])
        pd.testing.assert_frame_equal(parts.prices(), expected)
        assert parts.spans() == whole.spans()
        assert (parts.first_ts, parts.last_ts, parts.rows) == (whole.first_ts, whole.last_ts, whole.rows)
        assert parts.without_volume() == whole.without_volume() == []
