"""Bybit's account made ready before the first order: one-way mode per symbol, the unified account's margin mode and
each symbol's leverage set explicitly, then read back through Bybit's own calls (position list, account info)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.fakes.binance_http import Fault
from tests.fakes.binance_state import Holding
from tests.fakes.server import FakeBybit
from tests.venues.ccxt.conftest import BTC, ETH, FAST, exchange_at, run

from quantum_trader.venues.ccxt.account import AccountState, prepare_account
from quantum_trader.venues.ccxt.connect import ExchangeSetupError


def _prepare(bybit_url: str, **kwargs: Any) -> AccountState:
    async def go() -> AccountState:
        exchange = exchange_at(bybit_url, exchange="bybit")
        try:
            await exchange.load_markets()
            return await prepare_account(exchange, (BTC, ETH), backoff=FAST,
                                         **{"leverage": 5, "margin_mode": "isolated", **kwargs})
        finally:
            await exchange.close()
    return run(go)


def _sent(bybit: FakeBybit, path: str) -> list[dict[str, Any]]:
    return [q for m, p, q in bybit.server.log if (m, p) == ("POST", path)]


def test_a_hedged_cross_account_is_set_to_one_way_isolated_at_the_leverage(bybit_url: str, bybit: FakeBybit) -> None:
    bybit.exchange.hedged = True
    state = _prepare(bybit_url)
    assert not bybit.exchange.hedged and bybit.account.margin_mode == "ISOLATED_MARGIN"
    assert (bybit.exchange.leverage["BTCUSDT"], bybit.exchange.leverage["ETHUSDT"]) == (5, 5)
    assert state == AccountState(Decimal(100_000), {BTC: Decimal(70_000_000), ETH: Decimal(70_000_000)}, 5,
                                 "isolated")
    assert [q["symbol"] for q in _sent(bybit, "/v5/position/switch-mode")] == ["BTCUSDT", "ETHUSDT"], \
        "one-way mode set explicitly on each symbol (the second answers 'not modified')"
    assert {q["setMarginMode"] for q in _sent(bybit, "/v5/account/set-margin-mode")} == {"ISOLATED_MARGIN"}


def test_settings_already_in_place_are_fine(bybit_url: str, bybit: FakeBybit) -> None:
    bybit.exchange.leverage.update(BTCUSDT=5, ETHUSDT=5)  # set-leverage answers 110043 "not modified"
    assert _prepare(bybit_url, margin_mode="cross").margin_mode == "cross"
    assert bybit.account.margin_mode == "REGULAR_MARGIN"


def test_a_setting_the_exchange_refuses_stops_the_session(bybit_url: str, bybit: FakeBybit) -> None:
    bybit.server.faults.append(Fault("POST", "/v5/position/set-leverage", "reject", code=110013,
                                    msg="Due to risk limit, cannot set leverage"))
    with pytest.raises(ExchangeSetupError, match=r"could not set leverage 5 on BTC/USDT:USDT: Due to risk limit, "
                                                 r"cannot set leverage \(code 110013\)"):
        _prepare(bybit_url)


def test_a_margin_mode_that_does_not_stick_is_caught_by_reading_it_back(bybit_url: str, bybit: FakeBybit) -> None:
    bybit.server.faults.append(Fault("POST", "/v5/account/set-margin-mode", "ack", times=2))
    with pytest.raises(ExchangeSetupError, match=r"BTC/USDT:USDT reads back cross margin at leverage 5, not "
                                                 r"isolated at 5; refusing"):
        _prepare(bybit_url)


def test_a_hedge_mode_that_does_not_stick_is_refused(bybit_url: str, bybit: FakeBybit) -> None:
    bybit.exchange.hedged = True
    bybit.server.faults.append(Fault("POST", "/v5/position/switch-mode", "ack", times=2))
    with pytest.raises(ExchangeSetupError, match=r"the account stays in hedge mode \(BTC/USDT:USDT, ETH/USDT:USDT\)"):
        _prepare(bybit_url)


def test_an_account_holding_a_position_or_an_order_on_the_symbols_is_refused(bybit_url: str, bybit: FakeBybit) -> None:
    bybit.exchange.positions["ETHUSDT"] = Holding(Decimal("-0.5"), Decimal(3000))
    with bybit.exchange.lock:
        bybit.account.create({"symbol": "BTCUSDT", "side": "Buy", "orderType": "Limit", "qty": "0.200",
                             "price": "1000.0", "timeInForce": "GTC", "orderLinkId": "manual-1"})
    with pytest.raises(ExchangeSetupError) as caught:
        _prepare(bybit_url)
    text = str(caught.value)
    assert "position ETH/USDT:USDT short 0.5" in text and "open order BTC/USDT:USDT buy limit manual-1" in text
    assert bybit.account.margin_mode == "REGULAR_MARGIN" and not _sent(bybit, "/v5/position/switch-mode"), \
        "nothing was changed on a refused account"


def test_every_bybit_rest_host_is_pointed_at_the_fake() -> None:
    """``QT_EXCHANGE_API_URL`` replaces the host of each of ccxt's Bybit API URLs (paths kept): nothing of a test
    session can reach bybit.com."""
    from quantum_trader.venues.ccxt.connect import open_exchange

    exchange = open_exchange("bybit", api_url="http://127.0.0.1:9")
    try:
        urls = exchange.urls["api"]
        assert urls and set(urls.values()) == {"http://127.0.0.1:9"}
        assert exchange.has["fetchCurrencies"] is False and exchange.options["fetchMarkets"]["types"] == ["linear"]
    finally:
        run(exchange.close)
