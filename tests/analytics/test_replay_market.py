"""A catalog replay takes the exchange's contracts from the stored markets, and says when it guessed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from quantum_trader.analytics.data_notes import data_notes
from quantum_trader.analytics.replay_market import load_market
from quantum_trader.cli.main import app
from quantum_trader.data.catalog import Catalog
from quantum_trader.data.ingest import ingest_file
from quantum_trader.domain.instrument import guess_instrument

FIXTURE = Path(__file__).parents[1] / "data" / "fixtures" / "binanceusdm_exchangeInfo.json"
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def test_instruments_come_from_the_stored_markets_and_only_missing_ones_are_guessed(
        shared_data: Path, tmp_path: Path) -> None:
    catalog = Catalog(tmp_path / "cat")
    for asset in ("BTC", "ETH", "SOL"):
        ingest_file(catalog, shared_data / f"candles/binance_spot_1h/{asset}USDT.csv.gz", symbol=f"{asset}/USDT:USDT",
                    timeframe="1h", exchange="binanceusdm")
    before = load_market(catalog, [BTC, ETH], timeframe="1h", exchange="binanceusdm", start_ms=None, end_ms=None)[1]
    assert before.instruments[BTC] == guess_instrument(BTC, float(before.grid.close[0, 0]))
    assert any(n.startswith("no binanceusdm market metadata for BTC, ETH") for n in data_notes(before, "1h"))

    stored = CliRunner().invoke(app, ["data", "markets", "--from", str(FIXTURE), "--catalog", str(tmp_path / "cat")])
    assert stored.exit_code == 0, stored.output
    after = load_market(catalog, [BTC, ETH], timeframe="1h", exchange="binanceusdm", start_ms=None, end_ms=None)[1]
    btc = after.instruments[BTC]
    assert (btc.tick_size, btc.lot_size, btc.min_notional) == (Decimal("0.1"), Decimal("0.001"), Decimal("100"))
    assert not any("market metadata" in n for n in data_notes(after, "1h"))
