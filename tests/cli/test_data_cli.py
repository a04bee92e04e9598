"""`quantum-trader data ...` as an operator types it: ingest, list, check, resample, download."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from quantum_trader.cli import data_cmd
from quantum_trader.data.catalog import Catalog
from quantum_trader.domain.market import BarSeries

root = typer.Typer()
root.add_typer(data_cmd.app, name="data")
runner = CliRunner()
BTC = "BTC/USDT:USDT"


def run(*args: str, env: dict[str, str] | None = None) -> Any:
    return runner.invoke(root, ["data", *args], env={"COLUMNS": "200", **(env or {})}, terminal_width=200)


@pytest.fixture
def spot_file(shared_data: Path) -> Path:
    return shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz"


def test_ingest_list_and_reingest(spot_file: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    result = run("ingest", str(spot_file), "--symbol", BTC, "--timeframe", "1h", "--catalog", cat)
    assert result.exit_code == 0, result.output
    assert "17521 added, 0 replaced, 0 unchanged" in result.output
    listed = run("list", "--json", "--catalog", cat)
    assert listed.exit_code == 0
    [entry] = json.loads(listed.output)
    assert entry["symbol"] == BTC and entry["rows"] == 17_521 and entry["timeframe"] == "1h"
    assert entry["first"] == "2024-01-21T07:00:00+00:00" and entry["last"] == "2026-01-20T07:00:00+00:00"
    again = run("ingest", str(spot_file), "--symbol", BTC, "--timeframe", "1h", "--catalog", cat)
    assert "0 added, 0 replaced, 17521 unchanged" in again.output
    table = run("list", "--catalog", cat)
    assert "BTC/USDT:USDT" in table.output and "17,521" in table.output


def test_catalog_from_env(spot_file: Path, tmp_path: Path) -> None:
    env = {"QT_CATALOG": str(tmp_path / "envcat")}
    assert run("ingest", str(spot_file), "--symbol", BTC, env=env).exit_code == 0
    assert (tmp_path / "envcat").is_dir()
    assert json.loads(run("list", "--json", env=env).output)[0]["rows"] == 17_521


def test_refused_file_is_one_red_line_exit_2(shared_data: Path, tmp_path: Path) -> None:
    with gzip.open(shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz", "rt") as fh:
        lines = [next(fh) for _ in range(20)]
    lines[5] = lines[5].rsplit(",", 1)[0] + ",-3\n"  # negative volume on file line 6
    bad = tmp_path / "BTCUSDT.csv"
    bad.write_text("".join(lines))
    result = run("ingest", str(bad), "--symbol", BTC, "--timeframe", "1h", "--catalog", str(tmp_path / "cat"))
    assert result.exit_code == 2
    assert result.output.strip().count("\n") == 0
    assert "error" in result.output and "BTCUSDT.csv" in result.output and "row 6" in result.output
    assert not (tmp_path / "cat").exists()


def test_check_reports_stored_datasets(spot_file: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    run("ingest", str(spot_file), "--symbol", BTC, "--catalog", cat)
    result = run("check", "--json", "--catalog", cat)
    assert result.exit_code == 0, result.output
    [report] = json.loads(result.output)
    assert report["ok"] is True and report["rows"] == 17_521
    assert {i["code"] for i in report["issues"]} <= {"gap", "zero_volume_run", "outlier_return"}
    missing = run("check", "--symbol", "ETH/USDT:USDT", "--catalog", cat)
    assert missing.exit_code == 2 and "no datasets for ETH/USDT:USDT" in missing.output


def test_resample_stores_each_target(shared_data: Path, tmp_path: Path) -> None:
    cat = str(tmp_path / "cat")
    path = shared_data / "candles/binance_perp_1m/BTCUSDT-PERP_2022-01.csv.gz"
    assert run("ingest", str(path), "--catalog", cat).exit_code == 0
    result = run("resample", "--symbol", BTC, "--from", "1m", "--to", "5m,1h", "--catalog", cat)
    assert result.exit_code == 0, result.output
    catalog = Catalog(cat)
    assert len(catalog.read_bars(BTC, "5m")) == 9_006 and len(catalog.read_bars(BTC, "1h")) == 750
    bad = run("resample", "--symbol", BTC, "--from", "1m", "--to", "7s", "--catalog", cat)
    assert bad.exit_code == 2 and "timeframe '7s'" in bad.output


def _fake_binance(self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
    """Just enough of Binance USD-M for ccxt: one market and 1m klines from 2024-01-01."""
    parsed = urlparse(url)
    query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
    if parsed.path.endswith("/exchangeInfo"):
        return {"symbols": [{"symbol": "BTCUSDT", "pair": "BTCUSDT", "contractType": "PERPETUAL",
                             "status": "TRADING", "baseAsset": "BTC", "quoteAsset": "USDT", "marginAsset": "USDT",
                             "pricePrecision": 2, "quantityPrecision": 3, "filters": []}]}
    start, limit = int(query["startTime"]), int(query["limit"])
    t0 = 1_704_067_200_000
    bars = [[t0 + i * 60_000, "100", "101", "99", "100.5", "2", 0, "0", 1, "1", "0", "0"] for i in range(1_500)]
    return [b for b in bars if b[0] >= start][:limit]


def test_download_with_progress(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ccxt.binanceusdm, "fetch", _fake_binance)
    cat = str(tmp_path / "cat")
    args = ["download", "--exchange", "binanceusdm", "--symbols", BTC, "--timeframe", "1m", "--since", "2024-01-01",
            "--catalog", cat]
    result = run(*args)
    assert result.exit_code == 0, result.output
    assert "1500 rows in 3 requests, 1500 new" in result.output
    assert "0 rows in 1 requests, 0 new" in run(*args).output
    unknown = run("download", "--symbols", "DOGE/USDT:USDT", "--since", "2024-01-01", "--catalog", cat)
    assert unknown.exit_code == 2 and "no market 'DOGE/USDT:USDT'" in unknown.output


def test_every_command_documents_an_example() -> None:
    for command in data_cmd.app.registered_commands:
        assert command.callback is not None and command.callback.__doc__ is not None
        assert command.callback.__doc__.strip().splitlines()[-1].strip().startswith("Example: quantum-trader data ")
    helptext = run("ingest", "--help").output
    assert "./catalog" in helptext and "QT_CATALOG" in helptext


def _store_bars(cat: Catalog, symbol: str, exchange: str, n: int = 120) -> None:
    ts = np.arange(n, dtype=np.int64) * 60_000 + 1_735_689_600_000  # 2025-01-01 00:00 UTC
    close = 100.0 + np.arange(n, dtype=np.float64)
    cat.write(BarSeries(symbol, "1m", ts, close, close + 1, close - 1, close, np.full(n, 2.0)), exchange=exchange)


def test_list_fits_80_columns_one_table_per_exchange(tmp_path: Path) -> None:
    cat = Catalog(tmp_path / "cat")
    for symbol in ("MATIC/USDT:USDT", BTC):
        _store_bars(cat, symbol, "binanceusdm", n=120_000)
    narrow = runner.invoke(root, ["data", "list", "--catalog", str(tmp_path / "cat")], env={"COLUMNS": "80"},
                           terminal_width=80)
    assert narrow.exit_code == 0, narrow.output
    lines = narrow.output.splitlines()
    assert all(len(line) <= 80 for line in lines)
    assert "…" not in narrow.output  # nothing truncated
    assert "binanceusdm" in narrow.output
    row = next(line for line in lines if "MATIC/USDT:USDT" in line)
    assert "120,000" in row and "2025-01-01 00:00" in row and "2025-03-25 07:59" in row  # 120,000 minutes later

    _store_bars(cat, BTC, "bybit")
    both = runner.invoke(root, ["data", "list", "--catalog", str(tmp_path / "cat")], env={"COLUMNS": "80"},
                         terminal_width=80)
    assert "bybit" in both.output and "…" not in both.output
    assert both.output.index("binanceusdm") < both.output.index("bybit")  # one table per exchange
