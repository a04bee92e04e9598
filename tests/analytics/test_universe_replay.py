"""A backtest trades the universe the policy admits: the journal's phase, the tiers, and screening as it goes.

Before the first bar the run says, one line per requested asset, whether it can trade and why
not (no bars, no tier, not in the phase, removed by screening). Every ``universe.rescreen_every``
the run's own data strictly before that time is screened again; an asset that fails is removed
(a ``tier_change`` event) and takes no new entry until a screen restores it.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from quantum_trader.analytics.backtest import BacktestRequest, default_settings, run_backtest
from quantum_trader.cli.main import app
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.data.synthetic.writer import write_market
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind
from quantum_trader.domain.time import MS_PER_DAY, format_time
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.journal.store import Journal, PhaseChange, PhaseEventKind
from quantum_trader.testkit import policy_with

ENV = {"COLUMNS": "200"}
SOL = "SOL/USDT:USDT"
POLICY = policy_with({"signals.model.volatility_lookback_days": 3,
                      "signals.cross_asset.btc_divergence.zscore_window": "3d"})


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("universe") / "catalog"
    result = CliRunner().invoke(app, ["data", "synth", "--days", "12", "--seed", "3", "--catalog", str(root),
                                      "--assets", "BTC,ETH,SOL,XRP"], env=ENV)
    assert result.exit_code == 0, result.output
    cat = Catalog(root)
    eth = cat.read_bars("ETH/USDT:USDT", "1m", exchange="synthetic")
    untiered = BarSeries("SUI/USDT:USDT", "1m", eth.ts, eth.open, eth.high, eth.low, eth.close, eth.volume)
    early = untiered.slice(end_ms=int(eth.ts[0]) + MS_PER_DAY)
    cat.write_many([(untiered, DataKind.CANDLES)], exchange="synthetic")
    cat.write_many([(BarSeries("DOGE/USDT:USDT", "1m", early.ts, early.open, early.high, early.low, early.close,
                               early.volume), DataKind.CANDLES)], exchange="synthetic")
    return root


def _backtest(catalog: Path, tmp: Path, *extra: str) -> tuple[str, dict[str, object], pd.DataFrame]:
    runs = tmp / "runs"
    result = CliRunner().invoke(app, ["backtest", "--catalog", str(catalog), "--symbols", "BTC,ETH,SOL,XRP,SUI,DOGE",
                                      "--runs", str(runs), "--journal", str(tmp / "journal.sqlite"),
                                      "--start", "2025-01-03", *extra], env=ENV)
    assert result.exit_code == 0, result.output
    (run,) = runs.iterdir()
    return result.output, json.loads((run / "metrics.json").read_text()), pd.read_parquet(run / "trades.parquet")


def test_without_a_journal_the_run_trades_the_policys_start_phase_and_says_why(catalog: Path, tmp_path: Path) -> None:
    output, metrics, trades = _backtest(catalog, tmp_path)
    assert "phase 0 (BTC ONLY, no journal at" in output
    lines = [line for line in output.splitlines() if " trade: " in line]
    assert lines[0] == "BTC can trade: tier 1, admitted in phase 0; screened every 7d"
    assert lines[1].startswith("ETH cannot trade: tier 1, not admitted in phase 0 (BTC ONLY: BTC)")
    assert "SUI cannot trade: in no tier of the policy (asset_tiers)" in output
    assert "DOGE cannot trade: no bars in the requested range" in output
    assert set(trades["symbol"]) <= {"BTC/USDT:USDT"}
    run = metrics["run"]
    assert run["phase"] == 0 and run["phase_source"].startswith("no journal at")  # type: ignore[index]


def test_the_journals_phase_decides_and_phase_overrides_it(catalog: Path, tmp_path: Path) -> None:
    journal = Journal(str(tmp_path / "journal.sqlite"))
    journal.record_phase_change(PhaseChange(0, PhaseEventKind.PROMOTE, 0, 1, "test", True, "ops"))
    output, metrics, _ = _backtest(catalog, tmp_path)
    assert "phase 1 (ADD ETHEREUM, the current phase in journal" in output
    assert "ETH can trade: tier 1, admitted in phase 1" in output
    assert metrics["run"]["phase"] == 1  # type: ignore[index]
    for path in (tmp_path / "runs").iterdir():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    output, metrics, _ = _backtest(catalog, tmp_path, "--phase", "2")
    assert "phase 2 (MAJOR ALTS, --phase)" in output and metrics["run"]["phase_source"] == "--phase"  # type: ignore[index]
    assert "XRP cannot trade: tier 2, not admitted in phase 2" in output


def test_an_asset_the_phase_never_admits_is_counted_not_refused_intent_by_intent(catalog: Path, tmp_path: Path) -> None:
    _, metrics, trades = _backtest(catalog, tmp_path, "--phase", "3",
                                   "--set", "signals.model.volatility_lookback_days=3",
                                   "--set", "signals.cross_asset.btc_divergence.zscore_window=3d")
    universe = metrics["universe"]
    assert universe["intents_outside_universe"].get("XRP/USDT:USDT", 0) > 0  # type: ignore[index, union-attr]
    events = pd.read_parquet(next((tmp_path / "runs").iterdir()) / "events.parquet")
    assert not ((events["symbol"] == "XRP/USDT:USDT") & (events["kind"] == "refused")).any()
    assert "XRP/USDT:USDT" not in set(trades["symbol"])


def test_screening_removes_an_asset_whose_book_thins_and_it_takes_no_entry_after(tmp_path: Path) -> None:
    """SOL's book holds 1% of its depth from day 8: the first weekly screen after removes it."""
    synth = generate_market(SynthConfig(days=16, seed=3, assets=("BTC", "ETH", "SOL")))
    book = synth.books[SOL]
    thin_from = int(book.ts[0]) + 8 * MS_PER_DAY
    scale = np.where(book.ts >= thin_from, 0.01, 1.0)[:, None]
    synth = replace(synth, books={**synth.books, SOL: BookSeries(SOL, book.ts, book.bid_px, book.bid_sz * scale,
                                                                 book.ask_px, book.ask_sz * scale)})
    write_market(synth, Catalog(tmp_path / "catalog"))
    result = run_backtest(BacktestRequest(
        catalog=tmp_path / "catalog", symbols=tuple(synth.bars), strategy=MultiAssetStrategy(), policy=POLICY,
        exchange="synthetic", runs_dir=tmp_path / "runs", settings=default_settings(POLICY, phase=3, plain=False),
        report=False))
    events = pd.read_parquet(result.run.path / "events.parquet")
    changes = events[events["kind"] == "tier_change"]
    removed = changes[(changes["symbol"] == SOL) & (changes["rule"] == "asset_removed")]
    assert len(removed) == 1 and "depth_1pct" in removed.iloc[0]["message"]
    at = int(removed.iloc[0]["ts"])
    assert thin_from < at <= thin_from + 7 * MS_PER_DAY + MS_PER_DAY
    trades = result.run.trades()
    assert not (trades[trades["symbol"] == SOL]["entry_ts"] > at).any(), format_time(at)
    assert (trades[trades["symbol"] == SOL]["entry_ts"] < at).any()  # it traded before
    refused = events[(events["kind"] == "refused") & (events["rule"] == "universe")]
    assert set(refused["symbol"]) <= {SOL}
    assert result.metrics["universe"]["tier_changes"] >= 1  # type: ignore[index]


def test_a_plain_run_trades_every_asset_with_bars_whatever_the_phase(catalog: Path, tmp_path: Path) -> None:
    """``--policy plain`` compares engines: no tiers, no phases, every asset with bars in the range trades (it
    traded BTC only: the universe looked at the request's risk policy, not the fixed-fraction one it runs)."""
    output, _, trades = _backtest(catalog, tmp_path, "--policy", "plain", "--strategy", "sma-cross", "--phase", "0")
    for asset in ("BTC", "ETH", "SOL", "XRP", "SUI"):
        assert f"{asset} can trade: plain policy: no tiers or phases" in output
    assert "DOGE cannot trade: no bars in the requested range" in output
    assert set(trades["symbol"]) == {f"{a}/USDT:USDT" for a in ("BTC", "ETH", "SOL", "XRP", "SUI")}
