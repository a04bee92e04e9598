"""Every command that takes symbols accepts ``BTC``, ``BTCUSDT`` and ``BTC/USDT:USDT`` (in any case) alike."""

from __future__ import annotations

import json
from pathlib import Path

import ccxt
import numpy as np
import pytest
from tests.cli.test_data_cli import _fake_binance
from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.data.catalog import Catalog

runner = CliRunner()
ENV = {"COLUMNS": "200", "QT_DEBUG": ""}
FORMS = ("BTC", "btcusdt", "BTC/USDT:USDT", "BTC/USDT")


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("catalog")
    result = runner.invoke(app, ["data", "synth", "--days", "8", "--seed", "4", "--catalog", str(root),
                                 "--assets", "btcusdt,ETH/USDT:USDT,sol"], env=ENV)
    assert result.exit_code == 0, result.output
    return root


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env=ENV)
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_synth_stores_the_unified_symbols(catalog: Path) -> None:
    assert {i.symbol for i in Catalog(catalog).datasets()} == {"BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"}


@pytest.mark.parametrize("form", FORMS)
def test_data_ingest_check_and_resample(tmp_path: Path, form: str) -> None:
    csv = tmp_path / "candles.csv"
    ts = 1_735_689_600_000 + np.arange(180) * 60_000
    csv.write_text("timestamp,open,high,low,close,volume\n"
                   + "".join(f"{t},100,101,99,100.5,3\n" for t in ts))
    cat = str(tmp_path / "cat")
    code, output = invoke("data", "ingest", str(csv), "--symbol", form, "--timeframe", "1m", "--catalog", cat)
    assert code == 0, output
    assert "stored binanceusdm BTC/USDT:USDT candles 1m: 180 added" in output
    code, output = invoke("data", "check", "--symbol", form, "--catalog", cat, "--json")
    assert code == 0, output
    assert [r["source"].split()[1] for r in json.loads(output)] == ["BTC/USDT:USDT"]
    code, output = invoke("data", "resample", "--symbol", form, "--to", "1h", "--catalog", cat)
    assert code == 0 and "stored binanceusdm BTC/USDT:USDT candles 1h" in output, output


@pytest.mark.parametrize("form", FORMS)
def test_data_download(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, form: str) -> None:
    monkeypatch.setattr(ccxt.binanceusdm, "fetch", _fake_binance)
    code, output = invoke("data", "download", "--symbols", form, "--since", "2024-01-01", "--until", "2024-01-01T01:00",
                          "--catalog", str(tmp_path / "cat"))
    assert code == 0, output
    assert "downloaded BTC/USDT:USDT candles 1m: 60 rows" in output


@pytest.mark.parametrize("form", FORMS)
def test_backtest(catalog: Path, tmp_path: Path, form: str) -> None:
    code, output = invoke("backtest", "--symbols", f"{form},ETHUSDT,sol/usdt:usdt", "--catalog", str(catalog),
                          "--runs", str(tmp_path))
    assert code == 0, output
    (run,) = tmp_path.iterdir()
    assert json.loads((run / "metrics.json").read_text())["run"]["symbols"] == [
        "BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"]


@pytest.mark.parametrize("form", FORMS)
def test_signals_and_lookahead(catalog: Path, form: str) -> None:
    code, output = invoke("signals", "--symbols", f"{form},ETH", "--at", "2025-01-08T00:00", "--catalog", str(catalog))
    assert code == 0, output
    assert "BTC/USDT:USDT  2025-01-07 23:00:00 UTC" in output
    code, output = invoke("check", "lookahead", "--signal", "trend_z", "--symbol", form, "--catalog", str(catalog),
                          "--bars", "200", "--cuts", "3", "--timeframe", "1h")
    assert code == 0, output
    assert "BTC/USDT:USDT 1h" in output


@pytest.mark.parametrize("form", FORMS)
def test_screen_and_killswitch_drill(catalog: Path, tmp_path: Path, form: str) -> None:
    code, output = invoke("screen", form, "--catalog", str(catalog), "--json")
    assert code == 0, output
    assert {row["asset"] for row in json.loads(output)} == {"BTC"}
    code, output = invoke("killswitch", "drill", "--price", f"{form}=60000", "--journal", str(tmp_path / "j.sqlite"))
    assert code == 0, output
    assert "passed: 1 positions open, 0 left" in output
