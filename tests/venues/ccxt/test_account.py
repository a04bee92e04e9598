"""Before the first order: one-way mode, the margin mode and the leverage set explicitly and read back.

An account in hedge mode is switched; a setting the exchange refuses, or one that reads back otherwise than
asked, stops the session with the line naming it; positions or orders already on the symbols stop it too
(this session would not know why they are there); the leverage bracket's cap comes back for the checks.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from tests.fakes.binance_http import Fault
from tests.fakes.binance_state import Holding
from tests.fakes.server import FakeBinance
from tests.venues.ccxt.conftest import BTC, ETH, FAST, exchange_at, run

from quantum_trader.venues.ccxt.account import AccountState, prepare_account
from quantum_trader.venues.ccxt.connect import ExchangeSetupError


def _prepare(url: str, **kwargs: Any) -> AccountState:
    async def go() -> AccountState:
        exchange = exchange_at(url)
        try:
            await exchange.load_markets()
            return await prepare_account(exchange, (BTC, ETH), backoff=FAST, **{"leverage": 5,
                                                                                "margin_mode": "isolated", **kwargs})
        finally:
            await exchange.close()
    return run(go)


def test_a_hedged_cross_account_is_set_to_one_way_isolated_at_the_leverage(url: str, fake: FakeBinance) -> None:
    fake.exchange.hedged = True
    state = _prepare(url)
    ex = fake.exchange
    assert not ex.hedged
    assert (ex.margin_type["BTCUSDT"], ex.margin_type["ETHUSDT"]) == ("ISOLATED", "ISOLATED")
    assert (ex.leverage["BTCUSDT"], ex.leverage["ETHUSDT"]) == (5, 5)
    assert state.equity == Decimal(100_000) and state.max_notional[BTC] == Decimal(70_000_000)


def test_settings_already_in_place_are_fine(url: str, fake: FakeBinance) -> None:
    for bid in ("BTCUSDT", "ETHUSDT"):
        fake.exchange.margin_type[bid], fake.exchange.leverage[bid] = "CROSSED", 5
    assert _prepare(url, margin_mode="cross").margin_mode == "cross"


def test_a_setting_the_exchange_refuses_stops_the_session(url: str, fake: FakeBinance) -> None:
    fake.server.faults.append(Fault("POST", "/fapi/v1/leverage", "reject", code=-4028, msg="Leverage 5 is not valid"))
    with pytest.raises(ExchangeSetupError, match=r"could not set leverage 5 on BTC/USDT:USDT: Leverage 5 is not "
                                                 r"valid \(code -4028\)"):
        _prepare(url)


def test_a_setting_that_does_not_stick_is_caught_by_reading_it_back(url: str, fake: FakeBinance) -> None:
    fake.server.faults.append(Fault("POST", "/fapi/v1/marginType", "ack", times=2))
    with pytest.raises(ExchangeSetupError, match=r"BTC/USDT:USDT reads back cross margin at leverage 5, not "
                                                 r"isolated at 5; refusing"):
        _prepare(url)


def test_an_account_holding_a_position_or_an_order_on_the_symbols_is_refused(url: str, fake: FakeBinance) -> None:
    fake.exchange.positions["ETHUSDT"] = Holding(Decimal("-0.5"), Decimal(3000))
    with fake.exchange.lock:
        fake.exchange.new_order({"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.200",
                                 "price": "1000.0", "timeInForce": "GTC", "newClientOrderId": "manual-1"})
    with pytest.raises(ExchangeSetupError) as caught:
        _prepare(url)
    text = str(caught.value)
    assert "position ETH/USDT:USDT short 0.5" in text and "open order BTC/USDT:USDT buy limit manual-1" in text
    assert fake.exchange.margin_type["BTCUSDT"] == "CROSSED", "nothing was changed on a refused account"


def test_a_hedge_mode_the_exchange_will_not_leave_is_refused(url: str, fake: FakeBinance) -> None:
    fake.exchange.hedged = True
    fake.server.faults.append(Fault("POST", "/fapi/v1/positionSide/dual", "reject", code=-4068,
                                    msg="Position side cannot be changed if there exists position."))
    with pytest.raises(ExchangeSetupError, match="could not set one-way position mode: Position side cannot be "
                                                 "changed"):
        _prepare(url)
