"""The value types refuse malformed data at construction, so every consumer may trust them."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.domain import BarSeries, BookSeries, BookSnapshot, Instrument, Intent, Side
from quantum_trader.domain.symbols import asset_of, is_perpetual, perp_symbol, safe_symbol, symbol_from_safe
from quantum_trader.domain.time import (
    MS_PER_DAY,
    format_time,
    parse_time,
    timeframe_ms,
    utc_day_start,
)
from quantum_trader.domain.trading import OrderIds, OrderPurpose, client_order_id


@pytest.mark.parametrize(("tf", "ms"), [("1m", 60_000), ("5m", 300_000), ("1h", 3_600_000), ("8h", 28_800_000),
                                        ("1d", 86_400_000), ("15m", 900_000)])
def test_timeframes(tf: str, ms: int) -> None:
    assert timeframe_ms(tf) == ms


@pytest.mark.parametrize("bad", ["0m", "1x", "m", "", "1.5h", "-1m"])
def test_bad_timeframe_is_named(bad: str) -> None:
    with pytest.raises(ValueError, match="is not of the form"):
        timeframe_ms(bad)


def test_time_round_trip_and_day_start() -> None:
    ts = parse_time("2024-01-21T07:30:00Z")
    assert ts == parse_time("2024-01-21 07:30:00+00:00") == parse_time("2024-01-21 07:30")
    assert format_time(ts) == "2024-01-21 07:30:00"
    assert utc_day_start(ts) == parse_time("2024-01-21")
    assert utc_day_start(parse_time("2024-01-21")) % MS_PER_DAY == 0


def test_symbols() -> None:
    assert perp_symbol("btc") == "BTC/USDT:USDT"
    assert perp_symbol("ETH/USDT:USDT") == "ETH/USDT:USDT"
    assert asset_of("SOL/USDT:USDT") == "SOL" and asset_of("xrp") == "XRP"
    assert is_perpetual("BTC/USDT:USDT") and not is_perpetual("BTC/USDT")
    assert symbol_from_safe(safe_symbol("BNB/USDT:USDT")) == "BNB/USDT:USDT"
    with pytest.raises(ValueError, match="not a ccxt unified symbol"):
        asset_of("BTC-USDT/")


def _bars(ts: list[int]) -> BarSeries:
    n = len(ts)
    one = np.ones(n)
    return BarSeries("BTC/USDT:USDT", "1m", np.array(ts, dtype=np.int64), one, one * 2, one / 2, one, one)


def test_bar_series_refuses_unordered_time() -> None:
    with pytest.raises(ValueError, match="not strictly increasing at row 2"):
        _bars([0, 60_000, 60_000])


def test_bar_series_refuses_misaligned_columns() -> None:
    ts = np.array([0, 60_000], dtype=np.int64)
    with pytest.raises(ValueError, match="column 'close' must be float64 of length 2"):
        BarSeries("BTC/USDT:USDT", "1m", ts, np.ones(2), np.ones(2), np.ones(2), np.ones(3), np.ones(2))


def test_bar_series_slice_is_half_open() -> None:
    bars = _bars([0, 60_000, 120_000, 180_000])
    assert bars.slice(60_000, 180_000).ts.tolist() == [60_000, 120_000]


def test_book_snapshot_depth_and_spread() -> None:
    book = BookSnapshot("BTC/USDT:USDT", 0, bids=((99.0, 2.0), (98.5, 1.0), (97.0, 5.0)),
                        asks=((101.0, 1.0), (101.5, 3.0), (103.0, 5.0)))
    assert book.mid == 100.0
    assert book.spread == pytest.approx(0.02)
    bid, ask = book.depth_within(0.015)
    assert bid == pytest.approx(99.0 * 2 + 98.5 * 1)
    assert ask == pytest.approx(101.0 * 1 + 101.5 * 3)


def test_book_series_snapshot_drops_empty_levels() -> None:
    px = np.array([[99.0, np.nan]])
    sz = np.array([[1.0, 0.0]])
    series = BookSeries("BTC/USDT:USDT", np.array([5], dtype=np.int64), px, sz, px + 2, sz)
    snap = series.snapshot(0)
    assert snap.bids == ((99.0, 1.0),) and snap.asks == ((101.0, 1.0),)


def test_instrument_quantises_down() -> None:
    inst = Instrument("BTC/USDT:USDT", tick_size=Decimal("0.1"), lot_size=Decimal("0.001"),
                      min_notional=Decimal("100"))
    assert inst.round_qty_down(0.12399) == Decimal("0.123")
    assert inst.round_price(43_210.26) == Decimal("43210.3")
    assert not inst.is_tradable(Decimal("0.001"), Decimal("43210"))
    assert inst.is_tradable(Decimal("0.003"), Decimal("43210"))


def test_intent_validates_edge() -> None:
    with pytest.raises(ValueError, match="edge_score must be in \\[0, 1\\]"):
        Intent(0, "BTC/USDT:USDT", Side.LONG, 1.5, 100.0, 95.0)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=20), st.integers(0, 2**62), st.text(min_size=1, max_size=20), st.sampled_from(OrderPurpose),
       st.integers(0, 50))
def test_a_runs_order_ids_are_client_order_id(run: str, ts: int, symbol: str, purpose: OrderPurpose,
                                               seq: int) -> None:
    """The desk's ids (the run's prefix hashed once) are the ids ``client_order_id`` derives, so a resend is
    still recognisable."""
    ids = OrderIds(run)
    ids(ts + 1, symbol, purpose)  # (an id made before does not change the next)
    assert ids(ts, symbol, purpose, seq) == client_order_id(run, ts, symbol, purpose, seq)
