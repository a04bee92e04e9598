"""A backtest run on a strategy's ``on_bar`` gives the run its batch accelerator gives.

The decision-by-decision proof (``test_strategy_batch_equals_incremental.py``) holds the two paths equal where
the strategy answers; this one holds them equal where the user looks, through the whole backtest (the
universe screen's run ahead, the kernel, the venue, the recorder) on the golden replay's market: the
multi-asset strategy with each golden policy, sma-cross with the plain policy (market and limit entries).

The equity curve has a row at the close of every bar the replay processes, and a decision the strategy may
act at is processed. Multi-asset may act at every decision either way, so its runs are equal row for row,
metrics included. sma-cross's accelerator knows in advance the few bars with a cross (``Decisions.active``);
on ``on_bar`` alone every bar is a decision, so its curve is sampled at every close: the same orders, fills,
trades and events, and the same equity wherever both curves have a row, on a finer curve.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from tests.engine.strategy_cases import OnBarOnly
from tests.engine.test_golden_replay import CASES, CONFIG, INITIAL_EQUITY

from quantum_trader.analytics.backtest import BacktestRequest, BacktestResult, default_settings, run_backtest
from quantum_trader.config import Policy
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.synthetic import generate_market
from quantum_trader.data.synthetic.writer import write_market
from quantum_trader.engine.strategies import MultiAssetStrategy, SmaCrossStrategy
from quantum_trader.engine.strategy import Strategy
from quantum_trader.testkit import policy_with

Catalogued = tuple[Path, tuple[str, ...]]


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Catalogued:
    root = tmp_path_factory.mktemp("both_ways")
    market = generate_market(CONFIG)
    write_market(market, Catalog(root / "catalog"))
    return root, tuple(market.bars)


def _run(catalog: Catalogued, strategy: Strategy, policy: Policy, name: str) -> BacktestResult:
    root, symbols = catalog
    request = BacktestRequest(
        catalog=root / "catalog", symbols=symbols, strategy=strategy, policy=policy, exchange="synthetic",
        runs_dir=root / "runs" / name, report=False,
        settings=default_settings(policy, phase=3, plain=policy.fixed_fraction, equity=INITIAL_EQUITY),
    )
    return run_backtest(request)


def assert_same_trading(incremental: BacktestResult, batch: BacktestResult, *, marks: bool = True) -> None:
    """Orders, fills, refusals, trades and events; ``marks=False`` leaves out each trade's ``equity_at_entry``
    (the account as last marked, see ``test_sma_cross_results_do_not_depend_on_the_bars_processed``)."""
    a, b = incremental.recorder, batch.recorder
    assert (a.orders, a.fills, a.kill_switch_trips) == (b.orders, b.fills, b.kill_switch_trips)
    assert a.refusals == b.refusals and a.limit_entries == b.limit_entries
    columns = [c for c in a.trades_frame().columns if marks or c != "equity_at_entry"]
    pd.testing.assert_frame_equal(a.trades_frame()[columns], b.trades_frame()[columns])
    pd.testing.assert_frame_equal(a.events_frame(), b.events_frame())


def assert_same_record(incremental: BacktestResult, batch: BacktestResult) -> None:
    """The equity curve row for row and every metric (the run's id and time aside)."""
    pd.testing.assert_frame_equal(incremental.recorder.equity_frame(), batch.recorder.equity_frame())
    got, want = dict(incremental.metrics), dict(batch.metrics)
    assert got.pop("run")["strategy"] == want.pop("run")["strategy"]
    assert got == want


@pytest.mark.parametrize("case", sorted(CASES))
def test_multi_asset_backtests_the_same_either_way(catalog: Catalogued, case: str) -> None:
    policy = policy_with(CASES[case])
    batch = _run(catalog, MultiAssetStrategy(), policy, f"{case}_batch")
    incremental = _run(catalog, OnBarOnly(MultiAssetStrategy()), policy, f"{case}_on_bar")
    assert len(batch.recorder.trades_frame()) > 0
    assert_same_trading(incremental, batch)
    assert_same_record(incremental, batch)


@pytest.fixture(scope="module", params=["market", "limit"])
def sma_runs(request: pytest.FixtureRequest, catalog: Catalogued) -> tuple[str, BacktestResult, BacktestResult]:
    """sma-cross on two assets, (entry type, on ``on_bar``, on its accelerator)."""
    entry: str = request.param
    two = (catalog[0], catalog[1][:2])
    policy = policy_with({"venue.entry.type": entry}).as_fixed_fraction()  # the risk policy refuses stopless entries
    incremental = _run(two, OnBarOnly(SmaCrossStrategy(12, 40)), policy, f"sma_{entry}_on_bar")
    batch = _run(two, SmaCrossStrategy(12, 40), policy, f"sma_{entry}_batch")
    assert len(batch.recorder.trades_frame()) > 50
    return entry, incremental, batch


def test_sma_cross_backtests_the_same_either_way(sma_runs: tuple[str, BacktestResult, BacktestResult]) -> None:
    """With limit entries a cross also cancels the entry still resting (an exit of a ``resting`` held)."""
    entry, incremental, batch = sma_runs
    assert_same_trading(incremental, batch, marks=entry == "market")
    finer, coarse = incremental.recorder.equity_frame(), batch.recorder.equity_frame()
    assert set(coarse["ts"]) <= set(finer["ts"]) and len(finer) > 2 * len(coarse)
    values = ["cash", "open_positions"]
    if entry == "market":  # a limit fill's row is valued at the marks last taken: see the test below
        values += ["equity", "total_exposure", "correlated_exposure"]
    shared = finer.set_index("ts").loc[coarse["ts"], values].reset_index()
    pd.testing.assert_frame_equal(shared, coarse[["ts", *values]])


@pytest.mark.xfail(strict=True, reason=(
    "the kernel records an equity row, and marks the account, at each bar it processes (engine/replay.py "
    "_process, engine/core.py _mark); a strategy without an active set has every decision processed, so its "
    "curve is finer (max drawdown, Sharpe, start equity move), and a limit fill's equity_at_entry and equity row "
    "are valued at fresher marks"))
def test_sma_cross_results_do_not_depend_on_the_bars_processed(
        sma_runs: tuple[str, BacktestResult, BacktestResult]) -> None:
    _, incremental, batch = sma_runs
    assert_same_trading(incremental, batch)
    assert_same_record(incremental, batch)
