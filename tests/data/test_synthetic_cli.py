"""`data synth` and `data calibrate` as an operator runs them (through a local Typer app)."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from quantum_trader.cli.synth_cmd import calibrate, synth
from quantum_trader.data.catalog import Catalog
from quantum_trader.domain.market import DataKind

runner = CliRunner()
app = typer.Typer()
app.command("synth")(synth)
app.command("calibrate")(calibrate)


def test_synth_writes_the_catalog_and_prints_a_summary(tmp_path: Path) -> None:
    root = tmp_path / "cat"
    result = runner.invoke(app, ["synth", "--days", "2", "--seed", "3", "--catalog", str(root),
                                 "--assets", "btc,SOL"], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assets = [line.split()[0] for line in result.output.splitlines() if line.strip()[:1].isalpha() and "%" in line]
    assert assets == ["asset", "BTC", "SOL"]  # the header names "depth 1%"
    assert "2,880 1m bars per asset" in result.output  # 2 days of 1m bars
    info = Catalog(root).dataset("BTC/USDT:USDT", DataKind.BOOK, exchange="synthetic")
    assert info is not None and info.rows == 2 * 288


def test_synth_catalog_defaults_to_the_env_variable(tmp_path: Path) -> None:
    root = tmp_path / "from_env"
    env = {"QT_CATALOG": str(root), "COLUMNS": "220"}
    result = runner.invoke(app, ["synth", "--days", "1", "--assets", "ETH"], env=env)
    assert result.exit_code == 0, result.output
    assert Catalog(root).dataset("ETH/USDT:USDT", DataKind.CANDLES, "1m", exchange="synthetic") is not None


def test_synth_refuses_an_unknown_asset(tmp_path: Path) -> None:
    result = runner.invoke(app, ["synth", "--days", "1", "--catalog", str(tmp_path), "--assets", "BTC,DOGE"],
                           env={"COLUMNS": "220"})
    assert result.exit_code == 2
    assert "DOGE" in result.output
    assert not any(tmp_path.iterdir())


def test_calibrate_explains_a_missing_folder(tmp_path: Path) -> None:
    result = runner.invoke(app, ["calibrate", "--real", str(tmp_path / "missing")], env={"COLUMNS": "220"})
    assert result.exit_code == 2
    assert "real data folder not found" in result.output


@pytest.mark.shared_data
def test_calibrate_passes_on_the_real_hourly_files(shared_data: Path) -> None:
    folder = shared_data / "candles" / "binance_spot_1h"
    result = runner.invoke(app, ["calibrate", "--real", str(folder)], env={"COLUMNS": "220"})
    assert result.exit_code == 0, result.output
    assert "BTC-ETH" in result.output and "FAIL" not in result.output
    assert "all 18 statistics within their bands" in result.output


@pytest.mark.shared_data
def test_calibrate_exits_1_when_a_statistic_is_out_of_band(shared_data: Path, tmp_path: Path) -> None:
    import pandas as pd

    # A "real" market that is ten times calmer than BTC: the synthetic vol is out of band.
    source = shared_data / "candles" / "binance_spot_1h" / "BTCUSDT.csv.gz"
    frame = pd.read_csv(source)
    frame[["open", "high", "low", "close"]] = 1000.0 + frame[["open", "high", "low", "close"]] / 1000.0
    frame.to_csv(tmp_path / "BTCUSDT.csv", index=False)
    result = runner.invoke(app, ["calibrate", "--real", str(tmp_path)], env={"COLUMNS": "220"})
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "out of band" in result.output
