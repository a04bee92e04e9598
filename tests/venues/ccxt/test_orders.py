"""How an order is checked, sent and reported: the exchange's rules, the client order id, the refusal's reason,
and partial fills gathered into the one fill the kernel books (a property over any way of splitting an order)."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import ccxt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.domain.trading import (
    Order,
    OrderEventKind,
    OrderPurpose,
    OrderSide,
    OrderType,
    client_order_id,
)
from quantum_trader.venues.ccxt.connect import venue_info
from quantum_trader.venues.ccxt.ids import exchange_client_id
from quantum_trader.venues.ccxt.orders import check, request
from quantum_trader.venues.ccxt.rejections import rejection_reason
from quantum_trader.venues.ccxt.tracking import Tracked, TradeSeen

MARKET: dict[str, Any] = {"precision": {"amount": 0.001, "price": 0.1},
                          "limits": {"amount": {"min": 0.001}, "cost": {"min": 100.0}}}
BINANCE, BYBIT = venue_info("binanceusdm"), venue_info("bybit")


def _order(kind: OrderType = OrderType.MARKET, qty: str = "0.010", **fields: Any) -> Order:
    return Order(client_order_id("run", 1, "BTC/USDT:USDT", OrderPurpose.ENTRY), 1, "BTC/USDT:USDT", OrderSide.BUY,
                 kind, Decimal(qty), **fields)


@given(st.text(min_size=1, max_size=80))
def test_a_client_id_is_sent_as_it_is_when_it_fits_else_a_stable_stand_in(cid: str) -> None:
    for venue, allowed in ((BINANCE, r"[.A-Z:/a-z0-9_-]{1,36}"), (BYBIT, r"[A-Za-z0-9_-]{1,36}")):
        sent = exchange_client_id(venue, cid)
        assert re.fullmatch(allowed, sent)
        assert sent == exchange_client_id(venue, cid), "the same order always maps to the same id"
        if re.fullmatch(allowed, cid):
            assert sent == cid


def test_the_kernels_ids_fit_both_exchanges_unchanged() -> None:
    cid = client_order_id("live-binanceusdm-mainnet", 1_735_689_600_000, "BTC/USDT:USDT", OrderPurpose.STOP, 3)
    assert exchange_client_id(BINANCE, cid) == cid == exchange_client_id(BYBIT, cid)


@pytest.mark.parametrize(("order", "reference", "expected"), [
    (_order(qty="0.0105"), 90_000.0, "precision: quantity 0.0105 is not a multiple of the exchange's step 0.001"),
    (_order(OrderType.LIMIT, price=Decimal("90000.05")), 0.0, "precision: price 90000.05 is not on the exchange's"),
    (_order(OrderType.STOP_MARKET, stop_price=Decimal("80000.01"), reduce_only=True), 0.0, "precision: stop price"),
    (_order(qty="0.001"), 90_000.0, "min_notional: 90.00 USDT is below the exchange's minimum 100"),
    (_order(qty="0.000"), 90_000.0, "quantity: 0.000 is below the exchange's minimum 0.001"),
])
def test_what_the_exchange_would_refuse_is_named(order: Order, reference: float, expected: str) -> None:
    found = check(order, MARKET, reference)
    assert found is not None and found.startswith(expected)


def test_reduce_only_orders_are_exempt_from_the_minimum_notional_and_the_bracket() -> None:
    order = _order(qty="0.001", reduce_only=True)
    assert check(order, MARKET, 90_000.0, max_notional=Decimal(1)) is None


def test_the_leverage_bracket_counts_the_position_held() -> None:
    order = _order(qty="0.100")
    assert check(order, MARKET, 90_000.0, max_notional=Decimal(20_000)) is None
    found = check(order, MARKET, 90_000.0, max_notional=Decimal(20_000), position=Decimal("0.200"))
    assert found == ("leverage_tier: the position would be 27,000 USDT, above the 20,000 USDT the exchange allows "
                     "at this leverage")
    shorting_back = check(_order(qty="0.100"), MARKET, 90_000.0, max_notional=Decimal(20_000),
                          position=Decimal("-0.200"))
    assert shorting_back is None


def test_each_kind_is_sent_as_the_exchange_spells_it() -> None:
    cid = "qt-entr-0123456789abcdef01234567"
    limit = request("binanceusdm", _order(OrderType.LIMIT, price=Decimal("90000.0"), post_only=True), cid,
                    Decimal("0.010"))
    assert (limit.type, limit.price, limit.params) == ("limit", 90000.0, {"clientOrderId": cid, "timeInForce": "GTX"})
    stop = request("binanceusdm", _order(OrderType.STOP_MARKET, stop_price=Decimal("80000.0"), reduce_only=True),
                   cid, Decimal("0.010"))
    assert (stop.type, stop.params["triggerPrice"], stop.params["reduceOnly"]) == ("STOP_MARKET", 80000.0, True)
    bybit_stop = request("bybit", _order(OrderType.STOP_MARKET, stop_price=Decimal("80000.0"), reduce_only=True),
                         cid, Decimal("0.010"))
    assert (bybit_stop.type, bybit_stop.params["triggerDirection"]) == ("market", 1)
    target = request("binanceusdm", _order(OrderType.TAKE_PROFIT, price=Decimal("99000.0"), reduce_only=True), cid,
                     Decimal("0.010"))
    assert (target.type, target.params["timeInForce"], target.params["reduceOnly"]) == ("limit", "GTC", True)


@pytest.mark.parametrize(("exc", "expected"), [
    (ccxt.InsufficientFunds('binanceusdm {"code":-2019,"msg":"Margin is insufficient."}'),
     "insufficient_margin: Margin is insufficient. (code -2019)"),
    (ccxt.InvalidOrder('binanceusdm {"code":-4164,"msg":"Order\'s notional must be no smaller than 100."}'),
     "min_notional: Order's notional must be no smaller than 100. (code -4164)"),
    (ccxt.InvalidOrder('binanceusdm {"code":-2022,"msg":"ReduceOnly Order is rejected."}'),
     "reduce_only: ReduceOnly Order is rejected. (code -2022)"),
    (ccxt.OrderNotFillable('binanceusdm {"code":-5022,"msg":"Post Only order will be rejected."}'),
     "post_only: Post Only order will be rejected. (code -5022)"),
    (ccxt.BadRequest('binanceusdm {"code":-1111,"msg":"Precision is over the maximum."}'),
     "precision: Precision is over the maximum. (code -1111)"),
    (ccxt.InsufficientFunds('bybit {"retCode":110007,"retMsg":"ab not enough for new order"}'),
     "insufficient_margin: ab not enough for new order (code 110007)"),
    (ccxt.InvalidOrder("binanceusdm amount must be greater than minimum"),
     "invalid_order: amount must be greater than minimum"),
])
def test_a_refusal_reads_as_its_category_and_the_exchanges_words(exc: Exception, expected: str) -> None:
    assert rejection_reason(exc) == expected


def _trade(i: int, qty: Decimal, price: Decimal, ts: int, maker: bool = False) -> TradeSeen:
    return TradeSeen(f"t{i}", "o1", "SOL/USDT:USDT", "buy", ts, price, qty, (qty * price * Decimal("0.0005")), maker)


@given(st.lists(st.tuples(st.integers(1, 50), st.integers(10_000, 20_000)), min_size=1, max_size=8))
def test_any_split_of_an_order_is_one_fill_of_its_whole_quantity(parts: list[tuple[int, int]]) -> None:
    total = sum(q for q, _ in parts)
    t = Tracked(_order(qty=str(total)), "x", conditional=False)
    for i, (qty, cents) in enumerate(parts):
        t.take(_trade(i, Decimal(qty), Decimal(cents) / 100, 1_000 + i))
    assert t.final_event(0) is None, "no event before the exchange says the order is done"
    t.finish("closed", Decimal(total))
    event = t.final_event(0)
    assert event is not None and event.kind is OrderEventKind.FILLED and event.fill is not None
    fill = event.fill
    prices = [Decimal(c) / 100 for _, c in parts]
    assert fill.quantity == total and min(prices) <= fill.price <= max(prices)
    assert fill.fee == sum(Decimal(q) * Decimal(c) / 100 * Decimal("0.0005") for q, c in parts)
    assert fill.ts == 1_000 + len(parts) - 1
    assert abs(fill.price * fill.quantity - sum(Decimal(q) * Decimal(c) / 100 for q, c in parts)) < Decimal("1e-6")


def test_an_order_ended_with_part_filled_books_the_part_and_waits_for_its_trades() -> None:
    t = Tracked(_order(qty="10"), "x", conditional=False)
    t.finish("canceled", Decimal(4))
    assert t.final_event(0) is None, "the exchange counts 4 filled: their trades are awaited"
    t.take(_trade(1, Decimal(4), Decimal("150.00"), 5))
    event = t.final_event(0)
    assert event is not None and event.kind is OrderEventKind.FILLED and event.fill.quantity == 4  # type: ignore


@pytest.mark.parametrize(("expired", "reduce_only", "reason", "kind"), [
    (True, False, None, OrderEventKind.EXPIRED),
    (False, False, "replaced", OrderEventKind.CANCELLED),
    (False, True, None, OrderEventKind.CANCELLED),
])
def test_an_order_ended_with_nothing_filled(expired: bool, reduce_only: bool, reason: str | None,
                                            kind: OrderEventKind) -> None:
    t = Tracked(_order(qty="10", reduce_only=reduce_only), "x", conditional=False)
    t.expired, t.cancel_reason = expired, reason
    t.finish("canceled", Decimal(0))
    event = t.final_event(7)
    assert event is not None and event.kind is kind and event.ts == 7
    if kind is OrderEventKind.CANCELLED:
        assert event.reason == (reason or "nothing to reduce")
