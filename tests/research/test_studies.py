"""Studies in this process (the serial runner): each trial is the backtest the command line would run."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
from tests.research.conftest import SYMBOLS, study_setup

from quantum_trader.analytics.backtest import BacktestRequest, run_backtest
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.research.objective import Objective
from quantum_trader.research.optimize import OptimizeSettings
from quantum_trader.research.results import diagnostics, table, trial_rows
from quantum_trader.research.runner import SerialRunner
from quantum_trader.research.space import Space
from quantum_trader.research.sweep import sweep
from quantum_trader.research.trial import StudySetup, TrialTask, Window, run_trial
from quantum_trader.research.walkforward import splits, walk_forward

DAY = 86_400_000


def no_policy(_values: object) -> None:
    return None


def test_a_trial_is_the_backtest_of_its_window(catalog: Path, tmp_path: Path) -> None:
    """The whole policy and its universe: the market cut from the shared inputs gives the backtest's figures."""
    setup = study_setup(catalog, "multi-asset", plain=False)
    start = setup.market.start_ms + 2 * DAY
    end = setup.market.end_ms - DAY
    outcome = run_trial(setup, TrialTask({}, Window(start, end)))
    request = BacktestRequest(catalog=catalog, symbols=SYMBOLS, strategy=MultiAssetStrategy(), policy=setup.policy,
                              exchange="synthetic", timeframe="1m", start_ms=start, end_ms=end, runs_dir=tmp_path,
                              settings=setup.settings, report=False)
    backtest = run_backtest(request).metrics
    assert outcome.ok, outcome.error
    assert backtest["trades"] > 0
    for key in ("total_return", "sharpe", "max_drawdown", "trades", "fees_paid", "funding_paid"):
        assert outcome.metrics[key] == backtest[key], key


def test_a_refused_parameter_set_is_a_failed_trial_not_a_crash(sma_setup: StudySetup) -> None:
    window = Window(sma_setup.market.start_ms, sma_setup.market.end_ms)
    outcome = run_trial(sma_setup, TrialTask({"fast": "30", "slow": "10"}, window))
    assert not outcome.ok and "need 0 < fast < slow" in (outcome.error or "")


def test_a_sweep_covers_the_grid(sma_setup: StudySetup) -> None:
    space = Space.parse(["fast=5,20", "slow=15,60"])
    window = Window(sma_setup.market.start_ms, sma_setup.market.end_ms)
    records = sweep(space, Objective("sharpe"), window, SerialRunner(), SerialRunner().share(sma_setup), no_policy)
    seen = [(r.params["fast"], r.params["slow"]) for r in records]
    assert seen == list(itertools.product(["5", "20"], ["15", "60"]))
    by_params = {(r.params["fast"], r.params["slow"]): r for r in records}
    assert by_params[("20", "15")].state == "failed"  # fast >= slow: the strategy refuses, the others still ran
    done = [r for r in records if r.state == "complete"]
    assert len(done) == 3 and all(r.outcome is not None and r.outcome.metrics["trades"] for r in done)
    assert len({r.value for r in done}) == 3  # different parameters, different runs
    frame = table(trial_rows(records, window))
    assert list(frame["param.fast"]) == [5, 5, 20, 20] and frame["state"].tolist().count("complete") == 3
    assert diagnostics("sweep", records).trials == 3


def test_warm_up_bars_are_seen_but_not_traded(sma_setup: StudySetup) -> None:
    start = sma_setup.market.start_ms + 4 * DAY
    window = Window(start, sma_setup.market.end_ms, load_from=sma_setup.market.start_ms)
    outcome = run_trial(sma_setup, TrialTask({"fast": "5", "slow": "30"}, window, keep_equity=True))
    assert outcome.ok and outcome.metrics["trades"]
    assert outcome.equity_ts[0] >= start
    assert outcome.equity[0] == float(sma_setup.settings.initial_equity)  # nothing traded in the warm-up


def test_walk_forward_stitches_the_test_windows(sma_setup: StudySetup) -> None:
    space = Space.parse(["fast=3:12", "slow=20:60"])
    settings = OptimizeSettings(Objective("sharpe"), trials=3, seed=5, batch=3, warmup_ms=DAY)
    market = sma_setup.market
    plan = splits(market.start_ms, market.end_ms, 2, anchored=False, warmup_ms=DAY)
    runner = SerialRunner()
    result = walk_forward(space, settings, plan, runner, runner.share(sma_setup), no_policy, market.start_ms)
    stitched = result.stitched
    assert stitched is not None
    for fold in result.folds:
        assert fold.best_params is not None and fold.test is not None and fold.test.ok
        best = fold.study.best()
        assert best is not None and fold.best_params == best.params  # the test trades the train's best
        rows = (stitched.equity_ts >= fold.fold.test.start) & (stitched.equity_ts < fold.fold.test.end)
        assert rows.any()
    # from the first test window's first hour to the close of the last one's last bar
    assert plan[0].test.start <= stitched.equity_ts[0] < plan[0].test.start + 3_600_000
    assert plan[-1].test.end - 3_600_000 < stitched.equity_ts[-1] <= plan[-1].test.end
    assert not np.any(stitched.equity_ts < plan[0].test.start)  # no train bar in the out-of-sample curve
    tests = [f.test for f in result.folds if f.test is not None]
    expected = np.prod([t.equity[-1] / t.equity[0] for t in tests])
    assert stitched.equity[-1] / stitched.equity[0] == pytest.approx(expected)
