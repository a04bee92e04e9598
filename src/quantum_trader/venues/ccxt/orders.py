"""A kernel ``Order`` as the exchange takes it, checked first against the exchange's own rules.

The checks use the market ccxt loaded from the exchange (``load_markets``): the quantity on the lot
step and at least the minimum, the price on the tick, the notional at least the exchange's minimum
(reduce-only orders are exempt, as on Binance), and the position the order would make within the
leverage bracket of the configured leverage. An order that fails one is rejected here, with the
reason, and never sent: the exchange would refuse it, and rounding it silently would trade another
size than the risk engine approved.

How each kind is sent (ccxt's unified ``create_order``):

- market: ``market``; reduce-only exits and cuts carry ``reduceOnly``;
- limit entry: ``limit``; post-only as the exchange spells it (Binance ``GTX``, Bybit ``PostOnly``);
  its expiry is the client's (``CcxtExecutionClient.expire``), since a post-only order cannot also be
  good-till-date on Binance;
- stop-market: a reduce-only conditional market order triggered at the stop on the last price
  (Binance's algo order endpoint, where ccxt sends it);
- take-profit: a reduce-only limit at the target (maker when it rests).

How an order is found and cancelled by its client order id differs too (``find_order``, ``cancel_params``):
Binance takes ``origClientOrderId`` on its order query; Bybit's v5 takes ``orderLinkId``, and ccxt's
``fetch_order`` for a unified account would send ``orderId=None`` beside it (Bybit reads the order id
first), so on Bybit the open orders are asked by link id, then the recent closed ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from quantum_trader.domain.trading import Order, OrderType


@dataclass(frozen=True)
class Request:
    """The arguments of ``exchange.create_order``."""

    symbol: str
    type: str
    side: str
    amount: float
    price: float | None
    params: dict[str, Any]


def _step(value: Any) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    return number if number.is_finite() and number > 0 else None


def _limit(market: Mapping[str, Any], group: str, bound: str) -> Decimal | None:
    entry = (market.get("limits") or {}).get(group) or {}
    value = entry.get(bound)
    return None if value is None else _step(value)


def check(order: Order, market: Mapping[str, Any], reference: float, *, max_notional: Decimal | None = None,
          position: Decimal = Decimal(0)) -> str | None:
    """Why the exchange would refuse ``order`` (None: it would not). ``reference`` prices a market order;
    ``position`` is the signed quantity held, ``max_notional`` the leverage bracket's cap."""
    precision = market.get("precision") or {}
    step, tick = _step(precision.get("amount")), _step(precision.get("price"))
    qty = order.quantity
    if order.equity_fraction is None or qty > 0:
        if step is not None and qty % step:
            return f"precision: quantity {qty} is not a multiple of the exchange's step {step.normalize():f}"
        minimum = _limit(market, "amount", "min")
        if minimum is not None and qty < minimum:
            return f"quantity: {qty} is below the exchange's minimum {minimum.normalize():f}"
    for name, price in (("price", order.price), ("stop price", order.stop_price)):
        if price is not None and tick is not None and price % tick:
            return f"precision: {name} {price} is not on the exchange's tick {tick.normalize():f}"
    price = order.price if order.price is not None else Decimal(repr(reference)) if reference == reference else None
    if order.reduce_only or price is None or qty <= 0:
        return None
    cost = _limit(market, "cost", "min")
    if cost is not None and qty * price < cost:
        return f"min_notional: {float(qty * price):.2f} USDT is below the exchange's minimum {cost.normalize():f}"
    if max_notional is not None:
        after = abs(position + (qty if order.side == "buy" else -qty)) * price
        if after > max_notional:
            return (f"leverage_tier: the position would be {float(after):,.0f} USDT, above the "
                    f"{float(max_notional):,.0f} USDT the exchange allows at this leverage")
    return None


def request(exchange_id: str, order: Order, client_id: str, amount: Decimal) -> Request:
    """The ccxt call that sends ``order`` under ``client_id`` for ``amount`` (the order's quantity, or the
    size worked out at sending for an order sized at the fill)."""
    side = order.side.value
    params: dict[str, Any] = {"clientOrderId": client_id}
    if order.reduce_only:
        params["reduceOnly"] = True
    qty = float(amount)
    if order.type is OrderType.MARKET:
        return Request(order.symbol, "market", side, qty, None, params)
    if order.type is OrderType.LIMIT or order.type is OrderType.TAKE_PROFIT:
        assert order.price is not None, "a limit order has a price"
        if order.post_only:
            params["timeInForce"] = "GTX" if exchange_id == "binanceusdm" else "PostOnly"
        elif exchange_id == "binanceusdm":
            params["timeInForce"] = "GTC"
        return Request(order.symbol, "limit", side, qty, float(order.price), params)
    if order.type is OrderType.STOP_MARKET:
        assert order.stop_price is not None, "a stop-market order has a stop price"
        if exchange_id == "binanceusdm":
            params.update(triggerPrice=float(order.stop_price), workingType="CONTRACT_PRICE")
            return Request(order.symbol, "STOP_MARKET", side, qty, None, params)
        # Bybit: a conditional market order, triggered when the price falls (a long's stop) or rises to it
        params.update(triggerPrice=float(order.stop_price), triggerDirection=2 if side == "sell" else 1)
        return Request(order.symbol, "market", side, qty, None, params)
    raise ValueError(f"order {order.client_order_id}: type {order.type} is not sent to an exchange")


def cancel_params(exchange_id: str, client_id: str, conditional: bool) -> dict[str, Any]:
    """The ``cancel_order(None, symbol, params)`` params naming an order by its client id."""
    if exchange_id == "bybit":
        return {"orderLinkId": client_id}  # one endpoint cancels both kinds; ccxt passes it through as it is
    params: dict[str, Any] = {"clientOrderId": client_id}
    if conditional:
        params["trigger"] = True
    return params


def by_id_params(exchange_id: str) -> dict[str, Any]:
    """The params of ``fetch_order(id, symbol)``: on a Bybit unified account ccxt asks to be told that the order
    is among the account's last 500 (``acknowledged``), which an order just traded is."""
    return {"acknowledged": True} if exchange_id == "bybit" else {}


async def find_order(exchange: Any, symbol: str, client_id: str, conditional: bool) -> dict[str, Any]:
    """The exchange's order under ``client_id`` (ccxt's order dict); ``ccxt.OrderNotFound`` when it has none."""
    import ccxt

    if exchange.id != "bybit":
        params: dict[str, Any] = {"clientOrderId": client_id}
        if conditional:
            params["trigger"] = True
        found: dict[str, Any] = await exchange.fetch_order(None, symbol, params)
        return found
    query: dict[str, Any] = {"orderLinkId": client_id}
    if conditional:
        query["trigger"] = True
    for call in (exchange.fetch_open_orders, exchange.fetch_canceled_and_closed_orders):
        for order in await call(symbol, None, None, dict(query)):
            if order.get("clientOrderId") == client_id:
                return dict(order)
    raise ccxt.OrderNotFound(f"{exchange.id} has no order {client_id} on {symbol}")


def trades_page(exchange_id: str) -> tuple[int | None, dict[str, Any]]:
    """``fetch_my_trades``'s limit and params for one read of the account's trades. Bybit's execution list pages
    at most 100 rows, newest first, by cursor: ccxt follows the cursor (``paginate``) and one read is whole."""
    if exchange_id == "bybit":
        return None, {"paginate": True}
    return 500, {}
