"""The fake Bybit v5 exchange's websockets: public klines and the private order and execution topics.

As ccxt.pro's ``bybit`` reaches them once its ``wss://stream.{hostname}`` is pointed at the fake, worded as
Bybit's v5 websocket documentation words them (there are no Bybit payloads in ``../shared/data``):

- ``/v5/public/linear``: ``{"op": "subscribe", "req_id": "1", "args": ["kline.60.BTCUSDT"]}`` answered
  ``{"success": true, "ret_msg": "", "conn_id": ..., "req_id": "1", "op": "subscribe"}`` and the candle
  forming now; then
  ``{"topic": "kline.60.BTCUSDT", "type": "snapshot", "ts": ..., "data": [{"start", "end", "interval", "open",
  "close", "high", "low", "volume", "turnover", "confirm", "timestamp"}]}`` for each candle as it closes
  (``confirm`` true) and the next as it opens; ``{"op": "ping"}`` answered with a pong;
- ``/v5/private``: ``{"op": "auth", "args": [api_key, expires, signature]}`` first (the key is checked, the
  signature is not, as on the REST side; a subscription before it is refused), then the ``order`` topic (each
  order as ``/v5/order/realtime`` lists it, when it changes; a conditional order keeps its id when it triggers)
  and the ``execution`` topic (each trade as ``/v5/execution/list`` lists it, ``execType`` ``Trade``, or
  ``BustTrade`` / ``AdlTrade`` for the exchange's own closes, ``stream_hub.force_close``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from tests.fakes.binance_state import FakeAlgo, FakeOrder
from tests.fakes.stream_hub import Changes, Message, StreamHub

INTERVALS = {"1m": "1", "3m": "3", "5m": "5", "15m": "15", "30m": "30", "1h": "60", "2h": "120", "4h": "240",
             "6h": "360", "12h": "720", "1d": "D", "1w": "W", "1M": "M"}


@dataclass
class BybitStreams(StreamHub):
    server: Any = None
    """The REST server (``bybit_http.FakeBybitServer``): orders and executions are worded as its lists word them."""

    def routes(self) -> list[tuple[str, Any]]:
        return [("/v5/public/linear", self._public), ("/v5/private", self._private)]

    # ------------------------------------------------------------------ sockets
    async def _public(self, request: web.Request) -> web.StreamResponse:
        ws = await self.accept(request, "market")
        if not isinstance(ws, web.WebSocketResponse):
            return ws
        conn = str(uuid.uuid4())

        async def answer(sock: web.WebSocketResponse, msg: dict[str, Any]) -> None:
            op = msg.get("op")
            if op == "subscribe":
                self.subscribe(sock, [str(a) for a in msg.get("args") or []])
            if op == "ping":
                await sock.send_json({"success": True, "ret_msg": "pong", "conn_id": conn, "req_id": msg.get("req_id"),
                                      "op": "ping"})
                return
            await sock.send_json({"success": True, "ret_msg": "", "conn_id": conn, "req_id": msg.get("req_id"),
                                  "op": op})
            if op == "subscribe":
                await self.greet(sock, [str(a) for a in msg.get("args") or []])

        return await self.serve(ws, answer)

    async def _private(self, request: web.Request) -> web.StreamResponse:
        ws = await self.accept(request, "user")
        if not isinstance(ws, web.WebSocketResponse):
            return ws
        conn = str(uuid.uuid4())
        authed = {"ok": False}
        key = self.server.api_key if self.server is not None else None

        async def answer(sock: web.WebSocketResponse, msg: dict[str, Any]) -> None:
            op = msg.get("op")
            if op == "ping":
                await sock.send_json({"req_id": msg.get("req_id"), "op": "pong",
                                      "args": [str(self.engine.market.now())], "conn_id": conn})
            elif op == "auth":
                args = msg.get("args") or []
                authed["ok"] = bool(args) and (key is None or args[0] == key)
                await sock.send_json({"success": authed["ok"], "ret_msg": "" if authed["ok"] else "Params Error",
                                      "op": "auth", "conn_id": conn})
            elif op == "subscribe":
                if authed["ok"]:
                    self.subscribe(sock, [str(a) for a in msg.get("args") or []])
                await sock.send_json({"success": authed["ok"], "ret_msg": "" if authed["ok"] else
                                      "Request not authorized", "conn_id": conn, "req_id": msg.get("req_id"),
                                      "op": "subscribe"})

        return await self.serve(ws, answer)

    # ------------------------------------------------------------------ public klines
    def market_messages(self, changes: Changes) -> list[Message]:
        out: list[Message] = []
        rows = [(row, True) for row in changes.closed_rows]
        if changes.forming_row is not None:
            rows.append((changes.forming_row, False))
        market = self.engine.market
        interval = INTERVALS.get(market.timeframe, market.timeframe)
        for row, closed in rows:
            for spec in self.engine.specs.values():
                if spec.symbol not in market.open or market.bar(spec.symbol, row) is None:
                    continue
                t, o, h, lo, c, v = market.candle(spec.symbol, row)
                if not closed:
                    h = lo = c = o
                    v = 0.0
                stamp = t + market.step if closed else t
                key = f"kline.{interval}.{spec.id}"
                out.append((key, {"topic": key, "type": "snapshot", "ts": stamp, "data": [{
                    "start": t, "end": t + market.step - 1, "interval": interval, "open": repr(o), "close": repr(c),
                    "high": repr(h), "low": repr(lo), "volume": repr(v), "turnover": repr(v * c), "confirm": closed,
                    "timestamp": stamp}]}))
        return out

    # ------------------------------------------------------------------ private topics
    def user_messages(self, changes: Changes) -> list[Message]:
        account = self.server.account
        now = self.engine.market.now()
        reported: dict[tuple[str, int], FakeOrder | FakeAlgo] = {}
        for item in changes.changed_orders:
            if isinstance(item, FakeOrder):
                item = account._triggered(item) or item  # a triggered stop is told under its own id
            number = item.algo_id if isinstance(item, FakeAlgo) else item.order_id
            reported[(type(item).__name__, number)] = item
        out: list[Message] = []
        if reported:
            out.append(("order", {"id": str(uuid.uuid4()), "topic": "order", "creationTime": now, "data": [
                {"category": "linear", **self.server._order(item)} for item in reported.values()]}))
        executions = []
        for trade in changes.trades:
            order = self.engine.orders[trade.order_id]
            executions.append({"category": "linear", **self.server._execution(trade, account._triggered(order)
                                                                               or order)})
        if executions:
            out.append(("execution", {"id": str(uuid.uuid4()), "topic": "execution", "creationTime": now,
                                      "data": executions}))
        return out
