"""Exchange market metadata: parsed by ccxt from the exchanges' payloads, stored, read back, used.

The payload fixtures are written from the exchanges' documentation (tests/data/fixtures/
README.md); the expected figures below are read from the raw filters of those payloads,
so a ccxt parse that rounded or dropped a value would fail here.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.data.catalog import Catalog
from quantum_trader.data.market_payloads import PayloadKind, detect_payload, markets_from_exchange, markets_from_file
from quantum_trader.data.markets import (
    MarketsError,
    MarketSpec,
    markets_path,
    read_markets,
    select_markets,
    store_markets,
    stored_instruments,
)
from quantum_trader.domain.instrument import Instrument
from quantum_trader.universe.screening import perpetual_listed
from quantum_trader.venues.simulated.instruments import guessed_note, instrument_for, instruments_with_fallback

FIXTURES = Path(__file__).parent / "fixtures"
BINANCE = FIXTURES / "binanceusdm_exchangeInfo.json"
BYBIT = FIXTURES / "bybit_instruments_linear.json"
BTC, ETH, SOL, XRP, BNB = (f"{a}/USDT:USDT" for a in ("BTC", "ETH", "SOL", "XRP", "BNB"))
PERPS = [BTC, ETH, SOL, XRP, BNB]


def _by_symbol(specs: list[MarketSpec]) -> dict[str, MarketSpec]:
    return {s.symbol: s for s in specs}


def _binance_filters() -> dict[str, dict[str, dict[str, str]]]:
    raw = json.loads(BINANCE.read_text())
    return {s["symbol"]: {f["filterType"]: f for f in s["filters"]} for s in raw["symbols"]}


# ------------------------------------------------------------------- parsing
def test_binance_exchange_info_gives_the_exchange_filters_exactly() -> None:
    fetched = markets_from_file(BINANCE, "binanceusdm")
    specs = {s.id: s for s in fetched.specs}
    filters = _binance_filters()
    assert set(specs) == set(filters)
    for market_id, spec in specs.items():
        f = filters[market_id]
        assert spec.tick_size == Decimal(f["PRICE_FILTER"]["tickSize"]), market_id
        assert spec.lot_size == Decimal(f["LOT_SIZE"]["stepSize"]), market_id
        assert spec.min_qty == Decimal(f["LOT_SIZE"]["minQty"]), market_id
        assert spec.min_notional == Decimal(f["MIN_NOTIONAL"]["notional"]), market_id
        assert spec.contract_size == 1 and spec.max_leverage is None  # exchangeInfo carries no leverage
    btc = _by_symbol(fetched.specs)[BTC]
    assert (btc.tick_size, btc.lot_size, btc.min_notional) == (Decimal("0.1"), Decimal("0.001"), Decimal(100))
    eth = _by_symbol(fetched.specs)[ETH]
    assert (eth.tick_size, eth.lot_size, eth.min_notional) == (Decimal("0.01"), Decimal("0.001"), Decimal(20))
    assert fetched.as_of_ms == 1_768_896_000_000 and "exchangeInfo" in fetched.source


def test_binance_listing_is_filtered_to_linear_usdt_perpetuals() -> None:
    specs = markets_from_file(BINANCE, "binanceusdm").specs
    kinds = {s.symbol: (s.type, s.active) for s in specs}
    assert kinds["BTC/USDT:USDT-260626"] == ("future", True)
    assert kinds["BTC/USDC:USDC"] == ("swap", True)
    assert kinds["BLZ/USDT:USDT"] == ("swap", False)  # SETTLING: delisted, kept for backtests of its past
    chosen = [s.symbol for s in select_markets(specs, all_markets=False)]
    assert sorted(chosen) == sorted([*PERPS, "BLZ/USDT:USDT"])
    assert len(select_markets(specs, all_markets=True)) == len(specs) == 8


def test_bybit_instruments_info_gives_tick_step_notional_and_leverage() -> None:
    raw = {r["symbol"]: r for r in json.loads(BYBIT.read_text())["result"]["list"]}
    fetched = markets_from_file(BYBIT, "bybit")
    assert {s.id for s in fetched.specs} == set(raw)
    for spec in fetched.specs:
        r = raw[spec.id]
        assert spec.tick_size == Decimal(r["priceFilter"]["tickSize"]), spec.id
        assert spec.lot_size == Decimal(r["lotSizeFilter"]["qtyStep"]), spec.id
        assert spec.min_notional == Decimal(r["lotSizeFilter"]["minNotionalValue"]), spec.id
        assert spec.max_leverage == Decimal(r["leverageFilter"]["maxLeverage"]), spec.id
    by = _by_symbol(fetched.specs)
    assert by[BTC].max_leverage == 100 and by[XRP].max_leverage == 75 and by[XRP].lot_size == 1
    assert by["BTC/USDT:USDT-260626"].type == "future"
    assert sorted(s.symbol for s in select_markets(fetched.specs, all_markets=False)) == sorted([BTC, ETH, SOL, XRP])


def test_a_saved_ccxt_markets_dump_reads_the_same_as_the_raw_payload(tmp_path: Path) -> None:
    ex = ccxt.binanceusdm()
    ex.fetch = lambda url, method="GET", headers=None, body=None: json.loads(BINANCE.read_text())
    dump = tmp_path / "markets.json"
    dump.write_text(json.dumps(ex.load_markets()))  # what a user saves with json.dump
    as_list = tmp_path / "markets_list.json"
    as_list.write_text(json.dumps(ex.fetch_markets()))
    raw = markets_from_file(BINANCE, "binanceusdm").specs
    assert markets_from_file(dump, "binanceusdm").specs == raw
    assert markets_from_file(as_list, "binanceusdm").specs == raw


# ----------------------------------------------------------------- live path
class FakeBybit:
    """Bybit's HTTP API as ccxt's default load_markets() calls it: every category, pre-launch listings too."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        self.urls.append(url)
        query = {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}
        assert urlparse(url).path.endswith("/v5/market/instruments-info"), url
        if query.get("category") == "linear" and "status" not in query:
            return json.loads(BYBIT.read_text())
        return {"retCode": 0, "retMsg": "OK", "result": {"category": query.get("category"), "list": [],
                                                         "nextPageCursor": ""}, "retExtInfo": {}, "time": 1}


def test_live_load_markets_parses_like_the_file() -> None:
    binance = ccxt.binanceusdm()
    binance.fetch = lambda url, method="GET", headers=None, body=None: json.loads(BINANCE.read_text())
    live = markets_from_exchange("binanceusdm", exchange=binance)
    assert live.specs == markets_from_file(BINANCE, "binanceusdm").specs
    assert "load_markets()" in live.source
    fake = FakeBybit()
    bybit = ccxt.bybit()
    bybit.fetch = fake
    assert markets_from_exchange("bybit", exchange=bybit).specs == markets_from_file(BYBIT, "bybit").specs
    assert any("category=spot" in u for u in fake.urls)  # the default live call asks for every category


def test_live_network_failure_is_one_error() -> None:
    ex = ccxt.binanceusdm()

    def down(url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        raise ccxt.NetworkError("binanceusdm GET https://fapi.binance.com/fapi/v1/exchangeInfo timed out")

    ex.fetch = down
    with pytest.raises(MarketsError, match="could not load the markets .*NetworkError.*timed out"):
        markets_from_exchange("binanceusdm", exchange=ex)


# ----------------------------------------------------------------- bad input
def _error(path: Path, exchange: str = "binanceusdm") -> str:
    with pytest.raises(MarketsError) as info:
        markets_from_file(path, exchange)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_bad_files_give_one_error_naming_the_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.json"
    broken.write_text('{"symbols": [')
    assert "not a JSON file" in _error(broken)
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"hello": "world"}))
    assert "not market metadata; expected a Binance USD-M exchangeInfo" in _error(other)
    spot = tmp_path / "spot.json"
    spot.write_text(json.dumps({"symbols": [{"symbol": "BTCUSDT", "filters": []}]}))
    assert "Binance spot exchangeInfo" in _error(spot)
    refused = tmp_path / "refused.json"
    refused.write_text(json.dumps({"retCode": 10001, "retMsg": "params error", "result": {}}))
    assert "retCode 10001: params error" in _error(refused, "bybit")
    assert "file not found" in _error(tmp_path / "absent.json")


def test_a_payload_must_be_stored_under_its_exchange() -> None:
    assert "store it with --exchange binanceusdm (got --exchange bybit)" in _error(BINANCE, "bybit")
    assert "store it with --exchange bybit" in _error(BYBIT, "binanceusdm")
    with pytest.raises(MarketsError, match="unknown ccxt exchange id 'nope'"):
        markets_from_file(BINANCE, "nope")


def test_position_risk_payload_is_not_market_metadata(shared_data: Path) -> None:
    """position_risk's ``leverage`` is the account's chosen leverage, not the symbol's maximum: not used."""
    path = shared_data / "exchange_payloads/binance_futures/http_json/position_risk.json"
    payload = json.loads(path.read_text())
    assert payload[0]["symbol"] == "BTCUSDT" and payload[0]["leverage"] == "20"
    with pytest.raises(MarketsError, match="not market metadata"):
        detect_payload(payload, str(path))
    assert "not market metadata" in _error(path)


def test_payload_kinds_are_told_apart_by_content() -> None:
    assert detect_payload(json.loads(BINANCE.read_text()), "b") is PayloadKind.BINANCE_USDM
    assert detect_payload(json.loads(BYBIT.read_text()), "y") is PayloadKind.BYBIT_V5
    assert detect_payload({"BTC/USDT:USDT": {"symbol": BTC, "precision": {}}}, "c") is PayloadKind.CCXT


# ------------------------------------------------------------------- storage
def test_store_and_read_back(tmp_path: Path) -> None:
    specs = markets_from_file(BYBIT, "bybit").specs
    result = store_markets(Catalog(tmp_path), "bybit", specs, source="fixture", as_of_ms=1_768_896_000_000)
    assert result.path == tmp_path / "exchange=bybit" / "markets.json" and result.previous is None
    stored = read_markets(tmp_path, "bybit")
    assert list(stored.markets.values()) == sorted(specs, key=lambda s: s.symbol)
    assert stored.source == "fixture" and stored.as_of_ms == 1_768_896_000_000
    assert json.loads(result.path.read_text())["markets"][1]["tick_size"] == "0.1"  # exact decimal text
    again = store_markets(tmp_path, "bybit", specs[:2], source="fixture")
    assert again.previous == len(specs) and len(read_markets(tmp_path, "bybit").markets) == 2
    assert Catalog(tmp_path).datasets() == []  # the listing is no dataset


def test_a_failed_store_leaves_the_old_listing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    specs = markets_from_file(BINANCE, "binanceusdm").specs
    store_markets(tmp_path, "binanceusdm", specs, source="first")
    path = markets_path(tmp_path, "binanceusdm")
    before = path.read_bytes()

    def crash(src: Any, dst: Any) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        store_markets(tmp_path, "binanceusdm", specs[:1], source="second")
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["markets.json"]  # no temp file left behind
    with pytest.raises(MarketsError, match="no markets to store .* left as it was"):
        store_markets(tmp_path, "binanceusdm", [], source="empty")
    assert path.read_bytes() == before


def test_a_damaged_listing_is_an_error_not_a_silent_guess(tmp_path: Path) -> None:
    path = markets_path(tmp_path, "binanceusdm")
    path.parent.mkdir(parents=True)
    path.write_text('{"format": 1, "markets": [{"symbol": "BTC/USDT:USDT", "id": "BTCUSDT", "type": "swap", '
                    '"base": "BTC", "quote": "USDT", "tick_size": "abc"}]}')
    with pytest.raises(MarketsError, match=r"markets.json: market BTC/USDT:USDT: tick_size is not a number"):
        stored_instruments(tmp_path, "binanceusdm", [BTC])
    path.write_text(path.read_text().replace('"abc"', '"0"'))
    with pytest.raises(MarketsError, match=r"market BTC/USDT:USDT: tick_size must be a number > 0, got '0'"):
        stored_instruments(tmp_path, "binanceusdm", [BTC])
    path.write_text("[]")
    with pytest.raises(MarketsError, match="not a markets file of format 1"):
        read_markets(tmp_path, "binanceusdm")
    with pytest.raises(MarketsError, match="exchange name 'Binance/USDM'"):
        markets_path(tmp_path, "Binance/USDM")


def _decimals(low: str) -> st.SearchStrategy[Decimal | None]:
    return st.one_of(st.none(), st.decimals(min_value=Decimal(low), max_value=10**9, places=8, allow_nan=False))


positive, non_negative, leverage = _decimals("0.00000001"), _decimals("0"), _decimals("1")


@settings(max_examples=200, deadline=None)
@given(tick=positive, lot=positive, min_qty=positive, notional=non_negative, size=positive, lev=leverage,
       linear=st.sampled_from([True, False, None]), active=st.sampled_from([True, False, None]))
def test_records_round_trip_exactly(tick: Decimal | None, lot: Decimal | None, min_qty: Decimal | None,
                                    notional: Decimal | None, size: Decimal | None, lev: Decimal | None,
                                    linear: bool | None, active: bool | None) -> None:
    spec = MarketSpec(BTC, "BTCUSDT", "swap", "BTC", "USDT", "USDT", linear, active, tick, lot, min_qty, notional,
                      size, lev)
    back = MarketSpec.from_record(json.loads(json.dumps(spec.to_record())), "t")
    assert back == spec  # Decimal equality: the value, not just its text, survives


# ------------------------------------------------- instruments for the venue
def test_instruments_come_from_the_exchange_and_unknown_ones_are_guessed(tmp_path: Path) -> None:
    store_markets(tmp_path, "binanceusdm", markets_from_file(BINANCE, "binanceusdm").specs, source="fixture")
    first_close = {BTC: 104_000.0, SOL: 98.5, "DOGE/USDT:USDT": 0.08}
    known = stored_instruments(Catalog(tmp_path), "binanceusdm", first_close)
    instruments, guessed = instruments_with_fallback(first_close, known)
    guess = instrument_for(BTC, 104_000.0)  # what backtests used: BTC to 1 USDT, lots of 1e-6, 5 USDT minimum
    assert (guess.tick_size, guess.lot_size, guess.min_notional) == (1, Decimal("0.000001"), 5)
    btc = instruments[BTC]
    assert (btc.tick_size, btc.lot_size, btc.min_notional, btc.min_qty) == (
        Decimal("0.1"), Decimal("0.001"), Decimal(100), Decimal("0.001"))
    assert btc.round_price(43_210.26) == Decimal("43210.3")
    assert instruments[SOL].lot_size == 1 and instruments[SOL].tick_size == Decimal("0.01")
    assert guessed == ["DOGE/USDT:USDT"]
    assert instruments["DOGE/USDT:USDT"] == instrument_for("DOGE/USDT:USDT", 0.08)
    note = guessed_note(guessed, "binanceusdm")
    assert note is not None and "no binanceusdm market metadata for DOGE" in note and "guessed" in note
    assert guessed_note([], "binanceusdm") is None


def test_without_a_stored_listing_every_instrument_is_a_guess(tmp_path: Path) -> None:
    assert stored_instruments(tmp_path, "synthetic", [BTC]) == {}
    instruments, guessed = instruments_with_fallback({BTC: 104_000.0}, {})
    assert guessed == [BTC] and instruments[BTC].tick_size == 1
    eth = instrument_for(ETH, 3_000.0)
    with pytest.raises(ValueError, match="the exchange instrument given is for ETH/USDT:USDT"):
        instruments_with_fallback({BTC: 104_000.0}, {BTC: eth})


def test_bybit_instruments_carry_max_leverage(tmp_path: Path) -> None:
    store_markets(tmp_path, "bybit", markets_from_file(BYBIT, "bybit").specs, source="fixture")
    known = stored_instruments(tmp_path, "bybit", [BTC, XRP, "BTC/USDT:USDT-260626", "BTC/USDC:USDC"])
    assert known[BTC].max_leverage == 100 and known[XRP].max_leverage == 75
    assert "BTC/USDT:USDT-260626" not in known  # a dated future is no perpetual instrument
    assert known["BTC/USDC:USDC"].min_notional == 5


def test_contract_size_turns_lots_into_base_units() -> None:
    """An exchange whose contract holds 0.01 BTC: the venue sizes in BTC, so lot 1 contract is 0.01 BTC."""
    spec = MarketSpec(BTC, "BTC-USDT-SWAP", "swap", "BTC", "USDT", "USDT", True, True, Decimal("0.1"), Decimal(1),
                      Decimal(1), None, Decimal("0.01"), Decimal(125))
    inst = spec.instrument()
    assert inst is not None
    assert (inst.lot_size, inst.min_qty, inst.contract_size, inst.min_notional) == (
        Decimal("0.01"), Decimal("0.01"), Decimal("0.01"), Decimal(0))
    inverse = MarketSpec("BTC/USD:BTC", "BTCUSD", "swap", "BTC", "USD", "BTC", False, True, Decimal("0.5"),
                         Decimal(1), Decimal(1), None, Decimal(1), None)
    assert inverse.instrument() is None  # sized in USD contracts: not a linear instrument


def test_instrument_validates_the_new_fields() -> None:
    with pytest.raises(ValueError, match="contract_size must be > 0"):
        Instrument(BTC, Decimal("0.1"), Decimal("0.001"), Decimal(5), contract_size=Decimal(0))
    with pytest.raises(ValueError, match="max_leverage must be >= 1"):
        Instrument(BTC, Decimal("0.1"), Decimal("0.001"), Decimal(5), max_leverage=Decimal("0.5"))


def test_screening_reads_the_stored_listing(tmp_path: Path) -> None:
    store_markets(tmp_path, "binanceusdm", markets_from_file(BINANCE, "binanceusdm").specs, source="fixture")
    records = read_markets(tmp_path, "binanceusdm").records()
    assert perpetual_listed(records, BTC)
    assert not perpetual_listed(records, "BLZ/USDT:USDT")  # delisted: inactive
    assert not perpetual_listed(records, "DOGE/USDT:USDT")
