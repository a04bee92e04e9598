"""The fake Binance USD-M exchange's websockets: market streams (klines) and the user data stream.

As ccxt.pro's ``binanceusdm`` reaches them once its ``wss://fstream.binance.com/ws`` is pointed at the fake:

- market streams on ``/market/ws/<n>``: ``{"method": "SUBSCRIBE", "params": ["btcusdt@kline_1h"], "id": 1}``
  answered ``{"result": null, "id": 1}`` and the candle forming now; then each candle as it closes
  (``"x": true``) and the next one as it opens (``"x": false``, its open as high, low and close), shaped as
  ``../shared/data/exchange_payloads/binance_futures/market_data_json/kline_stream_*.json``;
- the user data stream on ``/private/ws?listenKey=KEY``, the key from ``POST /fapi/v1/listenKey`` (kept alive
  with ``PUT``, closed with ``DELETE``): ``ORDER_TRADE_UPDATE`` for every order created (``NEW``), traded
  (``TRADE``, with the trade's id, price, quantity and commission as ``userTrades`` has them), cancelled or
  expired, and ``ALGO_UPDATE`` for conditional orders (``NEW``, ``TRIGGERED`` with the order it became in
  ``ai``, ``FINISHED``, ``CANCELED``, ``EXPIRED``), shaped as the ``user_data_json`` payloads there. An order the
  exchange sent itself (``stream_hub.force_close``) is told as Binance tells a liquidation (client id
  ``autoclose-N``, type ``LIQUIDATION``, ``"x": "CALCULATED"``, ``"X": "FILLED"``) or an auto-deleveraging
  (``adl_autoclose_N``, ``"X": "NEW_ADL"``), as ``order_update_calculated.json`` and ``order_update_adl.json``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web
from tests.fakes.binance_state import FakeAlgo, FakeOrder, Trade
from tests.fakes.stream_hub import Changes, Message, StreamHub, forced_kind

ZERO = Decimal(0)


def s(value: Decimal | float | int) -> str:
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


@dataclass
class BinanceStreams(StreamHub):
    listen_keys: set[str] = field(default_factory=set)

    def routes(self) -> list[tuple[str, Any]]:
        return [("/market/ws/{stream}", self._market), ("/private/ws", self._user)]

    def rest_routes(self) -> dict[tuple[str, str], Any]:
        """The listen key endpoints (API key checked as every private endpoint is)."""
        return {("POST", "/fapi/v1/listenKey"): self._new_key, ("PUT", "/fapi/v1/listenKey"): self._keep_key,
                ("DELETE", "/fapi/v1/listenKey"): lambda _p: {}}

    def _new_key(self, _p: dict[str, Any]) -> dict[str, str]:
        key = secrets.token_hex(32)
        self.listen_keys.add(key)
        return {"listenKey": key}

    def _keep_key(self, _p: dict[str, Any]) -> dict[str, str]:
        return {"listenKey": next(iter(self.listen_keys), "")}

    # ------------------------------------------------------------------ sockets
    async def _market(self, request: web.Request) -> web.StreamResponse:
        ws = await self.accept(request, "market")
        if not isinstance(ws, web.WebSocketResponse):
            return ws
        return await self.serve(ws, self._market_request)

    async def _market_request(self, ws: web.WebSocketResponse, request: dict[str, Any]) -> None:
        method, params = request.get("method"), [str(p).lower() for p in request.get("params") or []]
        if method == "SUBSCRIBE":
            self.subscribe(ws, params)
        elif method == "UNSUBSCRIBE" and ws in self.sockets:
            self.sockets[ws][1].difference_update(params)
        await ws.send_json({"result": None, "id": request.get("id")})
        if method == "SUBSCRIBE":
            await self.greet(ws, params)

    async def _user(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("listenKey") not in self.listen_keys:
            return web.json_response({"code": -1125, "msg": "This listenKey does not exist."}, status=400)
        ws = await self.accept(request, "user")
        if not isinstance(ws, web.WebSocketResponse):
            return ws
        self.subscribe(ws, ["*"])
        return await self.serve(ws, self._ignore)

    async def _ignore(self, _ws: web.WebSocketResponse, _request: dict[str, Any]) -> None:
        return None

    # ------------------------------------------------------------------ market streams
    def market_messages(self, changes: Changes) -> list[Message]:
        out: list[Message] = []
        rows = [(row, True) for row in changes.closed_rows]
        if changes.forming_row is not None:
            rows.append((changes.forming_row, False))
        market = self.engine.market
        for row, closed in rows:
            for spec in self.engine.specs.values():
                if spec.symbol not in market.open or market.bar(spec.symbol, row) is None:
                    continue
                t, o, h, lo, c, v = market.candle(spec.symbol, row)
                if not closed:
                    h = lo = c = o
                    v = 0.0
                key = f"{spec.id.lower()}@kline_{market.timeframe}"
                out.append((key, {"e": "kline", "E": t + market.step if closed else t, "s": spec.id, "k": {
                    "t": t, "T": t + market.step - 1, "s": spec.id, "i": market.timeframe, "f": 100, "L": 200,
                    "o": repr(o), "c": repr(c), "h": repr(h), "l": repr(lo), "v": repr(v), "n": 100, "x": closed,
                    "q": repr(v * c), "V": repr(v / 2), "Q": repr(v * c / 2), "B": "0"}}))
        return out

    # ------------------------------------------------------------------ the user data stream
    def user_messages(self, changes: Changes) -> list[Message]:
        now = self.engine.market.now()
        out: list[dict[str, Any]] = []
        for algo, before in changes.algos:
            if before is None:
                out.append(self._algo(algo, "NEW", now))
            if algo.status == "FINISHED":
                out += [self._algo(algo, "TRIGGERED", algo.trigger_time), self._algo(algo, "FINISHED",
                                                                                     algo.trigger_time)]
            elif algo.status in ("CANCELED", "EXPIRED"):
                out.append(self._algo(algo, algo.status, algo.update_time))
        out += [self._order(o, "NEW", "NEW", o.time, filled=(ZERO, ZERO)) for o in changes.new_orders
                if not forced_kind(o)]
        for trade in changes.trades:
            order = self.engine.orders[trade.order_id]
            out.append(self._traded(order, trade))
        out += [self._order(o, o.status, o.status, o.update_time) for o in changes.ended_orders]
        return [("*", message) for message in out]

    def _traded(self, order: FakeOrder, trade: Trade) -> dict[str, Any]:
        kind = forced_kind(order)
        filled, quote = self.cumulative(trade)
        if kind:
            status = "FILLED" if kind == "liquidation" else "NEW_ADL"
            return self._order(order, "CALCULATED", status, trade.time, trade=trade, filled=(filled, quote))
        status = "FILLED" if filled >= order.qty else "PARTIALLY_FILLED"
        return self._order(order, "TRADE", status, trade.time, trade=trade, filled=(filled, quote))

    def _order(self, o: FakeOrder, execution: str, status: str, ts: int, *, trade: Trade | None = None,
               filled: tuple[Decimal, Decimal] | None = None) -> dict[str, Any]:
        qty, quote = filled if filled is not None else (o.executed, o.cum_quote)
        return {"e": "ORDER_TRADE_UPDATE", "T": ts, "E": ts, "o": {
            "s": o.symbol, "c": o.client_id, "S": o.side, "o": o.type, "f": o.tif, "q": s(o.qty), "p": s(o.price),
            "ap": s(quote / qty if qty else ZERO), "sp": "0", "x": execution, "X": status, "i": o.order_id,
            "l": s(trade.qty) if trade else "0", "z": s(qty), "L": s(trade.price) if trade else "0", "N": "USDT",
            "n": s(trade.commission) if trade else "0", "T": ts, "t": trade.id if trade else 0, "b": "0", "a": "0",
            "m": trade.maker if trade else False, "R": o.reduce_only, "wt": "CONTRACT_PRICE", "ot": o.type,
            "ps": "BOTH", "cp": False, "AP": "0", "cr": "0", "pP": False, "si": 0, "ss": 0,
            "rp": s(trade.realized) if trade else "0", "V": "NONE", "pm": "NONE", "gtd": 0}}

    def _algo(self, a: FakeAlgo, status: str, ts: int) -> dict[str, Any]:
        actual = self.engine.orders.get(a.actual_order_id) if a.actual_order_id is not None else None
        triggered = status in ("TRIGGERED", "FINISHED") and actual is not None
        return {"e": "ALGO_UPDATE", "T": ts, "E": ts, "o": {
            "caid": a.client_id, "aid": a.algo_id, "at": "CONDITIONAL", "o": a.order_type, "s": a.symbol,
            "S": a.side, "ps": "BOTH", "f": "GTC", "q": s(a.qty), "X": status,
            "ai": str(a.actual_order_id) if triggered else "",
            "ap": s(actual.cum_quote / actual.executed) if triggered and actual and actual.executed else "0.00000",
            "aq": s(actual.executed) if triggered and actual else "0.00000", "act": "MARKET" if triggered else "0",
            "tp": s(a.trigger), "p": "0", "V": "NONE", "wt": "CONTRACT_PRICE", "pm": "NONE", "cp": False,
            "pP": False, "R": a.reduce_only, "tt": a.trigger_time, "gtd": 0, "rm": ""}}
