"""Golden replay: a fixed synthetic market through the whole backtest gives fixed figures.

A 20-day, five-asset synthetic market (seed 3) is written to a temporary catalog and run
with the default policy (and once more with short signal lookbacks, so that every asset
trades), the multi-asset strategy, phase 3, through ``analytics.backtest.run_backtest`` (no
HTML report). Counts of orders, fills, trades,
refusals by rule and kill-switch trips must equal the checked-in figures exactly, and
final equity must agree to 1e-6 relative: any change to the kernel, the venue models,
the risk engine or the strategy that moves a single decision shows up here.

When a change is *meant* to move the figures, regenerate the file deliberately and
review its diff in the commit::

    QT_UPDATE_GOLDEN=1 .venv/bin/pytest tests/engine/test_golden_replay.py

(the test then rewrites tests/engine/golden/<case>.json and is skipped).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from quantum_trader.analytics.backtest import BacktestRequest, BacktestResult, default_settings, run_backtest
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.data.synthetic.writer import write_market
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.testkit import policy_with

GOLDEN_DIR = Path(__file__).parent / "golden"
CONFIG = SynthConfig(days=20, seed=3, assets=("BTC", "ETH", "SOL", "BNB", "XRP"))
INITIAL_EQUITY = 100_000.0
UPDATE = os.environ.get("QT_UPDATE_GOLDEN") == "1"

CASES = {
    # The brief's replay: the default policy. Twenty days are shorter than the trend models'
    # 30-day volatility lookback, so only the cross-asset sector-momentum signal trades.
    "multi_asset_20d_seed3": {},
    # The same market with 5-day lookbacks, so every asset's trend model trades and the
    # portfolio limits (slots, exposure, correlation) bind: the replay that guards the risk engine.
    "multi_asset_20d_seed3_short_lookback": {
        "signals.model.volatility_lookback_days": 5,
        "signals.cross_asset.btc_divergence.zscore_window": "5d",
    },
    # The same with resting limit entries (maker fee, expiry, re-check at the fill).
    "multi_asset_20d_seed3_short_lookback_limit_entries": {
        "signals.model.volatility_lookback_days": 5,
        "signals.cross_asset.btc_divergence.zscore_window": "5d",
        "venue.entry.type": "limit",
    },
}


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, tuple[str, ...]]:
    root = tmp_path_factory.mktemp("golden")
    market = generate_market(CONFIG)
    write_market(market, Catalog(root / "catalog"))
    return root, tuple(market.bars)


@pytest.fixture(scope="module", params=sorted(CASES))
def replay(request: pytest.FixtureRequest, catalog: tuple[Path, tuple[str, ...]]) -> tuple[str, BacktestResult]:
    root, symbols = catalog
    name: str = request.param
    # policy_with ignores QT__ variables: a developer's shell must not move the golden figures.
    policy = policy_with(CASES[name])
    run = BacktestRequest(
        catalog=root / "catalog", symbols=symbols, strategy=MultiAssetStrategy(), policy=policy,
        exchange="synthetic", runs_dir=root / "runs" / name,
        settings=default_settings(policy, phase=3, plain=False, equity=INITIAL_EQUITY), report=False,
    )
    return name, run_backtest(run)


def figures(result: BacktestResult) -> dict[str, Any]:
    rec = result.recorder
    trades = rec.trades_frame()
    equity = rec.equity_frame()
    return {
        "market": {"days": CONFIG.days, "seed": CONFIG.seed, "assets": list(CONFIG.assets)},
        "orders": rec.orders,
        "fills": rec.fills,
        "trades": len(trades),
        "trades_by_symbol": {str(k): int(v) for k, v in sorted(trades["symbol"].value_counts().items())},
        "exits_by_reason": {str(k): int(v) for k, v in sorted(trades["exit_reason"].value_counts().items())},
        "refusals_by_rule": {str(k): int(v) for k, v in sorted(rec.refusals.items())},
        "kill_switch_trips": rec.kill_switch_trips,
        "limit_entries": dict(sorted(rec.limit_entries.items())),
        "final_equity": float(equity["equity"].iloc[-1]),
    }


def test_golden_figures(replay: tuple[str, BacktestResult]) -> None:
    name, result = replay
    golden = GOLDEN_DIR / f"{name}.json"
    got = figures(result)
    got["policy_overrides"] = CASES[name]
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(got, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip(f"golden file rewritten: {golden} (review its diff before committing)")
    assert golden.is_file(), f"{golden} is missing; create it with QT_UPDATE_GOLDEN=1"
    expected = json.loads(golden.read_text(encoding="utf-8"))
    assert got["trades"] > 0, "the replay should trade"
    assert got["final_equity"] == pytest.approx(expected.pop("final_equity"), rel=1e-6)
    got.pop("final_equity")
    assert got == expected


def test_golden_run_reconciles_and_matches_its_metrics(replay: tuple[str, BacktestResult]) -> None:
    _, result = replay
    rec = result.recorder
    trades = rec.trades_frame()
    final = rec.equity_frame().iloc[-1]
    assert final["open_positions"] == 0
    assert final["cash"] == pytest.approx(INITIAL_EQUITY + trades["pnl"].sum(), abs=1e-6)
    assert rec.fills == 2 * len(trades)
    assert result.metrics["orders"] == rec.orders and result.metrics["fills"] == rec.fills
    assert result.metrics["kill_switch_trips"] == rec.kill_switch_trips
    assert result.metrics["refusals_by_rule"] == dict(sorted(rec.refusals.items()))
