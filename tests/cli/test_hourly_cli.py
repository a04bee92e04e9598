"""Hourly data works without environment variables: backtest and signals on a catalog of 1h bars only."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.resample import resample_bars
from quantum_trader.data.synthetic import SynthConfig, generate_market

runner = CliRunner()
ENV = {"COLUMNS": "200", "QT__CORRELATION__RETURNS_TIMEFRAME": "", "QT_DEBUG": ""}
ASSETS = ("BTC", "ETH", "SOL")


def _env() -> dict[str, str | None]:
    """No QT__ variables of the caller's shell: the policy is the default unless a test says otherwise."""
    return {**ENV, "QT__CORRELATION__RETURNS_TIMEFRAME": None}


def _catalog(root: Path, timeframe: str) -> Path:
    market = generate_market(SynthConfig(days=40, seed=5, assets=ASSETS))
    cat = Catalog(root)
    for bars in market.bars.values():
        cat.write(resample_bars(bars, timeframe), exchange="binance")
    return root


@pytest.fixture(scope="module")
def hourly(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A catalog holding 1h candles only, as after ingesting Binance's hourly files."""
    return _catalog(tmp_path_factory.mktemp("hourly"), "1h")


@pytest.fixture(scope="module")
def coarse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _catalog(tmp_path_factory.mktemp("coarse"), "4h")


def invoke(*args: str, env: dict[str, str | None] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={**_env(), **(env or {})})
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_backtest_on_hourly_bars_just_works_and_says_what_it_changed(hourly: Path, tmp_path: Path) -> None:
    code, output = invoke("backtest", "--catalog", str(hourly), "--symbols", "BTC,ETH,SOL",
                          "--runs", str(tmp_path))
    assert code == 0, output
    notes = [line for line in output.splitlines() if line.startswith("policy ")]
    assert notes == ["policy correlation.returns_timeframe 5m is finer than the 1h bars: correlations use 1h "
                     "returns (choose another with --set correlation.returns_timeframe=...)"]
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "metrics.json").read_text())["run"]["bars"] > 0
    assert "returns_timeframe: 1h" in (run / "policy.yaml").read_text()


def test_a_returns_timeframe_the_user_chose_is_not_overridden(hourly: Path, tmp_path: Path) -> None:
    code, output = invoke("backtest", "--catalog", str(hourly), "--symbols", "BTC,ETH",
                          "--set", "correlation.returns_timeframe=5m", "--runs", str(tmp_path / "r"))
    assert code == 2
    assert "--set correlation.returns_timeframe=1h" in output
    assert "QT__CORRELATION__RETURNS_TIMEFRAME=1h" in output
    assert not (tmp_path / "r").exists()


def test_the_same_choice_in_the_environment_or_a_policy_file_is_respected(hourly: Path, tmp_path: Path) -> None:
    code, output = invoke("backtest", "--catalog", str(hourly), "--symbols", "BTC,ETH",
                          "--runs", str(tmp_path / "r"), env={"QT__CORRELATION__RETURNS_TIMEFRAME": "5m"})
    assert code == 2 and "--set correlation.returns_timeframe=1h" in output
    mine = tmp_path / "mine.yaml"
    mine.write_text("correlation:\n  returns_timeframe: 5m\n")
    code, output = invoke("backtest", "--catalog", str(hourly), "--symbols", "BTC,ETH",
                          "--policy", str(mine), "--runs", str(tmp_path / "r"))
    assert code == 2 and "--set correlation.returns_timeframe=1h" in output


def test_the_set_option_makes_the_run_with_the_offered_flag(hourly: Path, tmp_path: Path) -> None:
    code, output = invoke("backtest", "--catalog", str(hourly), "--symbols", "BTC,ETH",
                          "--set", "correlation.returns_timeframe=1h", "--runs", str(tmp_path))
    assert code == 0, output
    assert "policy " not in output


def test_bars_coarser_than_the_model_timeframe_are_refused_before_loading_with_the_flag(
        coarse: Path, tmp_path: Path) -> None:
    code, output = invoke("backtest", "--catalog", str(coarse), "--symbols", "BTC,ETH",
                          "--runs", str(tmp_path / "r"))
    assert code == 2
    assert "signals.model.timeframe (1h) cannot be built from 4h bars" in output
    assert "--set signals.model.timeframe=4h" in output
    assert not (tmp_path / "r").exists()


def test_an_unknown_set_key_names_the_option(hourly: Path, tmp_path: Path) -> None:
    code, output = invoke("backtest", "--catalog", str(hourly), "--set", "correlation.nope=1h",
                          "--runs", str(tmp_path / "r"))
    assert code == 2 and "--set correlation.nope=1h: no policy key correlation.nope" in output
    code, output = invoke("backtest", "--catalog", str(hourly), "--set", "nonsense", "--runs", str(tmp_path / "r"))
    assert code == 2 and "--set 'nonsense': expected KEY=VALUE" in output


def test_symbols_without_a_common_timeframe_are_named(hourly: Path, tmp_path: Path) -> None:
    code, output = invoke("backtest", "--catalog", str(hourly), "--symbols", "BTC,XRP",
                          "--runs", str(tmp_path / "r"))
    assert code == 2 and "no candles for XRP/USDT:USDT" in output


def test_signals_on_hourly_bars(hourly: Path) -> None:
    code, output = invoke("signals", "--symbols", "BTC,ETH,SOL", "--at", "2025-02-09T00:00", "--catalog", str(hourly))
    assert code == 0, output
    assert "correlations use 1h returns" in output
    assert output.count("regime:") == 3
