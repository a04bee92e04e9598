"""Every spelling a user types for a perpetual lands on one ccxt unified symbol (``BTC/USDT:USDT``)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.domain.symbols import SymbolError, asset_of, unified_perp, unified_perps

ASSETS = st.from_regex(r"[A-Z0-9]{1,10}", fullmatch=True).filter(lambda a: not a.endswith(("USDT", "USDC")))


@pytest.mark.parametrize("text", ["BTC", "btc", " BTC ", "BTCUSDT", "btcusdt", "BTC/USDT", "BTC/USDT:USDT",
                                  "btc/usdt:usdt"])
def test_every_form_of_btc_is_the_usdt_perpetual(text: str) -> None:
    assert unified_perp(text) == "BTC/USDT:USDT"


def test_other_quotes_and_numeric_bases() -> None:
    assert unified_perp("ETHUSDC") == "ETH/USDC:USDC"
    assert unified_perp("ETH/USDC") == "ETH/USDC:USDC"
    assert unified_perp("1000PEPEUSDT") == "1000PEPE/USDT:USDT"
    assert unified_perp("1INCH") == "1INCH/USDT:USDT"


@given(ASSETS, st.sampled_from(["{a}", "{l}", "{a}USDT", "{l}usdt", "{a}/USDT", "{a}/USDT:USDT", " {a} "]))
def test_all_forms_agree_and_parsing_is_idempotent(asset: str, form: str) -> None:
    symbol = unified_perp(form.format(a=asset, l=asset.lower()))
    assert symbol == f"{asset}/USDT:USDT"
    assert unified_perp(symbol) == symbol and asset_of(symbol) == asset


@pytest.mark.parametrize("text", ["", "  ", "BTC/", "/USDT", "BTC/USDT:", "BTC//USDT", "BTC-USDT!", "USDT",
                                  "BTC/USDT:USDT:USDT", "BT C", "ΒTC"])
def test_what_cannot_be_read_is_refused_with_the_accepted_forms(text: str) -> None:
    with pytest.raises(SymbolError, match="BTCUSDT") as info:
        unified_perp(text)
    assert repr(text.strip()) in str(info.value) or not text.strip()


def test_a_list_keeps_order_drops_duplicates_and_refuses_an_empty_list() -> None:
    assert unified_perps("BTC, ethusdt,BTC/USDT:USDT,SOL/USDT") == ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
    with pytest.raises(SymbolError, match="no symbol"):
        unified_perps(" , ")


@given(st.text(max_size=30))
def test_any_text_is_a_symbol_or_a_symbol_error(text: str) -> None:
    try:
        symbol = unified_perp(text)
    except SymbolError:
        return
    assert unified_perp(symbol) == symbol
