"""`quantum-trader data markets` as an operator types it: from a saved payload, live (faked), and refused."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ccxt
import pytest
from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.data.markets import markets_path, read_markets

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "fixtures"
BINANCE = FIXTURES / "binanceusdm_exchangeInfo.json"
BYBIT = FIXTURES / "bybit_instruments_linear.json"
runner = CliRunner()


def run(*args: str, env: dict[str, str] | None = None, width: int = 200) -> Any:
    return runner.invoke(app, ["data", "markets", *args], env={"COLUMNS": str(width), **(env or {})},
                         terminal_width=width)


def test_from_a_payload_file_prints_a_table_and_stores(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    result = run("--exchange", "binanceusdm", "--from", str(BINANCE), "--catalog", str(cat), width=80)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    btc = next(line for line in lines if line.startswith("BTC/USDT:USDT"))
    assert btc.split() == ["BTC/USDT:USDT", "swap", "yes", "0.1", "0.001", "100", "1", "-"]
    assert next(line for line in lines if line.startswith("BLZ/USDT:USDT")).split()[2] == "no"
    assert all(len(line) <= 80 for line in lines[:-1]) and "…" not in result.output  # the table fits 80 columns
    assert (f"stored 6 markets of binanceusdm (the linear USDT perpetuals of 8 listed) in "
            f"{markets_path(cat, 'binanceusdm')}") in result.output
    assert "max leverage not published for 6 of them" in result.output
    assert read_markets(cat, "binanceusdm").markets["BTC/USDT:USDT"].min_notional == 100
    again = run("--exchange", "binanceusdm", "--from", str(BINANCE), "--catalog", str(cat), "--all")
    assert again.exit_code == 0 and "stored 8 markets of binanceusdm (every market listed)" in again.output
    assert "replacing 6 stored before" in again.output


def test_json_output(tmp_path: Path) -> None:
    result = run("--exchange", "bybit", "--from", str(BYBIT), "--catalog", str(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    doc = json.loads(result.output)
    assert doc["exchange"] == "bybit" and doc["listed"] == 6 and doc["stored"] == 4
    assert doc["path"] == str(markets_path(tmp_path, "bybit"))
    btc = next(m for m in doc["markets"] if m["symbol"] == "BTC/USDT:USDT")
    assert (btc["tick_size"], btc["lot_size"], btc["min_notional"], btc["max_leverage"]) == ("0.1", "0.001", "5",
                                                                                               "100")


def test_catalog_from_env(tmp_path: Path) -> None:
    result = run("--exchange", "bybit", "--from", str(BYBIT), env={"QT_CATALOG": str(tmp_path / "envcat")})
    assert result.exit_code == 0, result.output
    assert markets_path(tmp_path / "envcat", "bybit").is_file()


def test_a_bad_file_is_one_line_and_keeps_the_stored_listing(tmp_path: Path) -> None:
    cat = tmp_path / "cat"
    assert run("--from", str(BINANCE), "--catalog", str(cat)).exit_code == 0  # default exchange: binanceusdm
    stored = markets_path(cat, "binanceusdm").read_bytes()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([{"symbol": "BTCUSDT", "positionAmt": "0.001", "leverage": "20"}]))
    for args in (["--from", str(bad)], ["--from", str(BYBIT)], ["--from", str(tmp_path / "missing.json")]):
        result = run(*args, "--catalog", str(cat))
        assert result.exit_code == 2, result.output
        assert result.output.strip().count("\n") == 0 and result.output.startswith("error: ")
        assert args[1] in result.output
    assert markets_path(cat, "binanceusdm").read_bytes() == stored


def test_a_file_without_any_usdt_perpetual_stores_nothing(tmp_path: Path) -> None:
    payload = json.loads(BINANCE.read_text())
    payload["symbols"] = [s for s in payload["symbols"] if s["symbol"] in ("BTCUSDC", "BTCUSDT_260626")]
    path = tmp_path / "usdc_only.json"
    path.write_text(json.dumps(payload))
    result = run("--from", str(path), "--catalog", str(tmp_path / "cat"))
    assert result.exit_code == 2 and "none of its 2 markets is a linear USDT perpetual; --all" in result.output
    assert not markets_path(tmp_path / "cat", "binanceusdm").exists()


def _fake_exchange_info(self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
    assert url.endswith("/fapi/v1/exchangeInfo"), url
    return json.loads(BINANCE.read_text())


def test_live_load_markets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ccxt.binanceusdm, "fetch", _fake_exchange_info)
    result = run("--exchange", "binanceusdm", "--catalog", str(tmp_path))
    assert result.exit_code == 0, result.output
    stored = read_markets(tmp_path, "binanceusdm")
    assert "load_markets()" in stored.source and len(stored.markets) == 6


def test_live_failure_and_unknown_exchange_are_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def down(self: Any, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        raise ccxt.NetworkError("binanceusdm GET https://fapi.binance.com/fapi/v1/exchangeInfo 503")

    monkeypatch.setattr(ccxt.binanceusdm, "fetch", down)
    result = run("--catalog", str(tmp_path))
    assert result.exit_code == 2 and result.output.strip().count("\n") == 0
    assert "could not load the markets (NetworkError" in result.output
    unknown = run("--exchange", "nope", "--catalog", str(tmp_path))
    assert unknown.exit_code == 2 and "unknown ccxt exchange id 'nope'" in unknown.output
    assert not any(tmp_path.iterdir())
