"""Trades of orders the session did not send, booked as exits: a liquidation, an auto-deleveraging, a manual close.

Split from the execution client's reading back. The exchange made or took these trades without us, so the
account holds less than the kernel believes until they are booked: each trade becomes the fill of a
reduce-only market exit under the id ``exchange-<order id>``, and the order is named in one incident, for
what the exchange did (``liquidation``, ``adl``) or as a foreign fill. The order is asked for once (its client
id, and on Binance whether it was a liquidation, which its trades do not say); a failed read still books the
trades, only that detail is lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any

import ccxt

from quantum_trader.domain.trading import Fill, Order, OrderEvent, OrderEventKind, OrderPurpose, OrderSide, OrderType
from quantum_trader.venues.ccxt.forced import ADL, LIQUIDATION, order_forced
from quantum_trader.venues.ccxt.funding_poll import Retried
from quantum_trader.venues.ccxt.incidents import IncidentKind
from quantum_trader.venues.ccxt.orders import by_id_params
from quantum_trader.venues.ccxt.retry import Backoff, read
from quantum_trader.venues.ccxt.tracking import TradeSeen

FORCED_INCIDENTS = {LIQUIDATION: IncidentKind.LIQUIDATION, ADL: IncidentKind.ADL}


@dataclass(frozen=True)
class ForeignFills:
    events: list[OrderEvent]
    """One filled exit per trade, in the order of the trades."""
    kind: IncidentKind
    message: str


async def foreign_fills(exchange: Any, venue_id: str, order_id: str, trades: Sequence[TradeSeen], backoff: Backoff,
                        retried: Retried) -> ForeignFills:
    """The exits booking ``trades`` of exchange order ``order_id``, and the incident naming it."""
    symbol = trades[0].symbol
    client, forced = "", next((t.forced for t in trades if t.forced), "")
    try:
        info = await read(partial(exchange.fetch_order, order_id, symbol, by_id_params(venue_id)), backoff, retried)
        client, forced = str(info.get("clientOrderId") or ""), forced or order_forced(info)
    except ccxt.BaseError:
        pass  # the trades still say what filled; only a Binance liquidation's mark is lost
    events = []
    for trade in trades:
        side = OrderSide(trade.side)
        order = Order(f"exchange-{order_id}", trade.ts, symbol, side, OrderType.MARKET, trade.qty,
                      reduce_only=True, purpose=OrderPurpose.EXIT, tag=forced or "exchange")
        fill = Fill(trade.ts, symbol, side, trade.qty, trade.price, trade.fee, order.client_order_id,
                    is_maker=trade.maker, liquidation=forced == LIQUIDATION)
        events.append(OrderEvent(trade.ts, OrderEventKind.FILLED, order, fill=fill, reason=forced or "exchange"))
    if forced:
        what = "liquidated" if forced == LIQUIDATION else "auto-deleveraged"
        message = (f"{symbol}: the exchange {what} {sum((t.qty for t in trades), Decimal(0))} of the position "
                   f"(order {order_id}, {client or 'no client id'}); booked as an exit")
    else:
        message = (f"{symbol}: the exchange filled order {order_id} ({client or 'no client id'}) that this "
                   "session did not send; booked as an exit")
    return ForeignFills(events, FORCED_INCIDENTS.get(forced, IncidentKind.FOREIGN_FILL), message)
