"""Trades of orders the session did not send, booked as exits: a liquidation, an auto-deleveraging, a manual close.

Split from the execution client's reading back. The exchange made or took these trades without us, so the account
holds less than the kernel believes until they are booked: the trades of one order heard at one sync become one
reduce-only market exit, filled at their summed quantity and fees and volume-weighted price (the kernel books whole
orders, as it does the session's own), under the id ``exchange-<order id>-<its first trade's id>``: trades of the
same order heard at a later sync are another exit under another id, and nothing names two orders, before a restart
or after. The order is named in one incident, for what the exchange did
(``liquidation``, ``adl``) or as a foreign fill. The order is asked for once (its client id, and on Binance whether
it was a liquidation, which its trades do not say); a failed read still books the trades, only that detail is lost.
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
from quantum_trader.venues.ccxt.tracking import PRICE_QUANTUM, TradeSeen

FOREIGN_PREFIX = "exchange-"
"""Starts the id of every exit the exchange made for us (``engine.catch_up`` and the journal tell them by it)."""
FORCED_INCIDENTS = {LIQUIDATION: IncidentKind.LIQUIDATION, ADL: IncidentKind.ADL}


@dataclass(frozen=True)
class ForeignFills:
    events: list[OrderEvent]
    """The filled exit of the trades (one)."""
    kind: IncidentKind
    message: str


async def foreign_fills(exchange: Any, venue_id: str, order_id: str, trades: Sequence[TradeSeen], backoff: Backoff,
                        retried: Retried) -> ForeignFills:
    """The exit booking ``trades`` of exchange order ``order_id``, and the incident naming it."""
    symbol = trades[0].symbol
    client, forced = "", next((t.forced for t in trades if t.forced), "")
    try:
        info = await read(partial(exchange.fetch_order, order_id, symbol, by_id_params(venue_id)), backoff, retried)
        client, forced = str(info.get("clientOrderId") or ""), forced or order_forced(info)
    except ccxt.BaseError:
        pass  # the trades still say what filled; only a Binance liquidation's mark is lost
    side = OrderSide(trades[0].side)
    qty = sum((t.qty for t in trades), Decimal(0))
    notional = sum((t.price * t.qty for t in trades), Decimal(0))
    price = trades[0].price if len({t.price for t in trades}) == 1 else (notional / qty).quantize(PRICE_QUANTUM)
    ts = max(t.ts for t in trades)
    cid = f"{FOREIGN_PREFIX}{order_id}-{trades[0].id}"
    order = Order(cid, ts, symbol, side, OrderType.MARKET, qty, reduce_only=True, purpose=OrderPurpose.EXIT,
                  tag=forced or "exchange")
    fill = Fill(ts, symbol, side, qty, price, sum((t.fee for t in trades), Decimal(0)), cid,
                is_maker=all(t.maker for t in trades), liquidation=forced == LIQUIDATION)
    events = [OrderEvent(ts, OrderEventKind.FILLED, order, fill=fill, reason=forced or "exchange")]
    if forced:
        what = "liquidated" if forced == LIQUIDATION else "auto-deleveraged"
        message = (f"{symbol}: the exchange {what} {sum((t.qty for t in trades), Decimal(0))} of the position "
                   f"(order {order_id}, {client or 'no client id'}); booked as an exit")
    else:
        message = (f"{symbol}: the exchange filled order {order_id} ({client or 'no client id'}) that this "
                   "session did not send; booked as an exit")
    return ForeignFills(events, FORCED_INCIDENTS.get(forced, IncidentKind.FOREIGN_FILL), message)
