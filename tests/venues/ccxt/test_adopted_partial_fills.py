"""An order a crashed run left resting, partly filled before the crash, is booked whole after the restart: the
client reads the trades of an adopted order from the order's own time, not from the session's last journalled
fill (an earlier partial fill would otherwise never be read, and the order, whose exchange status counts it,
would wait for it forever: never booked, the position wrong)."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from quantum_trader.domain.clock import ReplayClock
from quantum_trader.domain.trading import (
    Order,
    OrderEventKind,
    OrderPurpose,
    OrderSide,
    OrderType,
    client_order_id,
)
from quantum_trader.venues.ccxt.connect import venue_info
from quantum_trader.venues.ccxt.execution import CcxtExecutionClient
from quantum_trader.venues.ccxt.ids import exchange_client_id

BTC = "BTC/USDT:USDT"
MARKET = {"precision": {"amount": 0.001, "price": 0.1}, "limits": {}}
HOUR = 3_600_000


def test_an_adopted_orders_fill_before_the_restart_is_read_back() -> None:
    venue = venue_info("binanceusdm")
    order = Order(client_order_id("run", 2 * HOUR, BTC, OrderPurpose.ENTRY, 1), 2 * HOUR, BTC, OrderSide.BUY,
                  OrderType.LIMIT, Decimal("1"), price=Decimal("100"))
    cid = exchange_client_id(venue, order.client_order_id)
    trades = [  # half before the crash (before another order's fill, the journal's last), half after it
        {"id": "t1", "order": "77", "symbol": BTC, "side": "buy", "timestamp": 3 * HOUR, "price": 100.0,
         "amount": 0.5, "fee": {"cost": 0.01}, "takerOrMaker": "maker", "info": {}},
        {"id": "t2", "order": "77", "symbol": BTC, "side": "buy", "timestamp": 6 * HOUR, "price": 100.0,
         "amount": 0.5, "fee": {"cost": 0.01}, "takerOrMaker": "maker", "info": {}},
    ]

    async def fetch_my_trades(symbol: str, since: int, limit: Any, params: dict[str, Any]) -> list[dict[str, Any]]:
        return [t for t in trades if t["symbol"] == symbol and t["timestamp"] >= since]

    async def fetch_open_orders(*_a: Any) -> list[dict[str, Any]]:
        return []

    async def fetch_order(_id: Any, symbol: str, params: dict[str, Any]) -> dict[str, Any]:
        return {"id": "77", "clientOrderId": cid, "symbol": symbol, "status": "closed", "filled": 1.0,
                "amount": 1.0, "timestamp": 2 * HOUR}

    async def fetch_funding_history(*_a: Any) -> list[dict[str, Any]]:
        return []

    exchange = SimpleNamespace(id="binanceusdm", markets={BTC: MARKET}, fetch_my_trades=fetch_my_trades,
                               fetch_open_orders=fetch_open_orders, fetch_order=fetch_order,
                               fetch_funding_history=fetch_funding_history)
    client = CcxtExecutionClient(exchange, venue, lambda *_a, **_k: 0.0, ReplayClock(7 * HOUR), lambda _s: 100.0)
    client.adopt(order, exchange_id="77", accepted=True)
    client.resume(positions={}, trades_from=4 * HOUR, funding_from=None)  # the journal's last fill: 4h
    asyncio.run(client.sync())
    filled = [e for e in client.drain() if getattr(e, "kind", None) is OrderEventKind.FILLED]
    assert len(filled) == 1 and filled[0].fill is not None, "the order is booked"
    assert filled[0].fill.quantity == Decimal("1.0"), "both its trades, the one before the restart included"
    assert client.positions[BTC] == Decimal("1.0")
