"""A stress run is the backtest itself: unstressed, it trades exactly as ``run_backtest`` over the same market
written to a catalog, whether the market is held in memory or read back from that catalog."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from quantum_trader.analytics.backtest import BacktestRequest, default_settings, run_backtest
from quantum_trader.analytics.stress.compose import run_engine
from quantum_trader.analytics.stress.market import from_synthetic, load_catalog_market
from quantum_trader.config import load_policy
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.synthetic import SynthConfig, SyntheticMarket, generate_market
from quantum_trader.data.synthetic.writer import write_market
from quantum_trader.engine.strategies import MultiAssetStrategy

POLICY = load_policy(None, env={})


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SyntheticMarket]:
    market = generate_market(SynthConfig(days=14, seed=3, assets=("BTC", "ETH", "SOL")))
    root = tmp_path_factory.mktemp("stress-catalog")
    write_market(market, Catalog(root / "catalog"))
    return root, market


def test_the_unstressed_run_is_the_backtest(written: tuple[Path, SyntheticMarket]) -> None:
    root, market = written
    request = BacktestRequest(catalog=root / "catalog", symbols=tuple(market.bars), strategy=MultiAssetStrategy(),
                              policy=POLICY, exchange="synthetic", runs_dir=root / "runs", report=False,
                              settings=default_settings(POLICY, phase=3, plain=False))
    backtest = run_backtest(request).run
    assert len(backtest.trades()) > 3  # a book to compare
    in_memory = run_engine(from_synthetic(market), POLICY, MultiAssetStrategy(), phase=3)
    from_catalog = run_engine(load_catalog_market(root / "catalog", tuple(market.bars), timeframe="1m",
                                                  exchange="synthetic", start_ms=None, end_ms=None),
                              POLICY, MultiAssetStrategy(), phase=3)
    for run in (in_memory, from_catalog):
        pd.testing.assert_frame_equal(run.trades, backtest.trades(), check_dtype=False)
        pd.testing.assert_frame_equal(run.equity, backtest.equity(), check_dtype=False)
    exits = in_memory.exits
    assert len(exits) == len(in_memory.trades)  # every trade's exit is kept, with its reason
    assert [e.reason for e in exits] == in_memory.trades["exit_reason"].tolist()
    assert [e.price for e in exits] == pytest.approx(in_memory.trades["exit_price"].tolist())
