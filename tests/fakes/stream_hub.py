"""What both fake exchanges' websockets do the same way: who is subscribed to what, what changed, faults.

A venue's streams (``binance_ws.BinanceStreams``, ``bybit_ws.BybitStreams``) only word messages. The hub
watches the one matching engine both fakes share and, whenever something changed (``publish``), tells each
subscribed socket: candles that closed and the one forming (market sockets), orders created, traded,
cancelled or expired and algo orders that triggered (user sockets). ``publish`` runs before each REST answer
leaves (``http_base``), so a fill an order request or a candles request made is on the user socket before the
answer is on its way, as an exchange's user stream is usually ahead of the request's answer; and every few
milliseconds, for changes a test makes itself (``exchange.advance()`` under the lock).

The market moves as it does for REST (a request for a bar that has not closed moves it one bar); the sockets
only tell what happened. Nothing is replayed to a socket that connects later: what happened while no socket
was there (or while one was dropped) is lost to the stream, as on an exchange, and only REST has it.

Faults, from the test's thread: ``drop(kind)`` closes the open sockets of a kind (``market``, ``user``,
``all``); ``refuse`` holds kinds whose new connections are refused (HTTP 503) until taken out; ``silent`` holds
kinds that stay connected but are told nothing (a stream gone quiet).
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import WSCloseCode, web
from tests.fakes.binance_state import FakeAlgo, FakeExchange, FakeOrder, Spec, Trade

Message = tuple[str, dict[str, Any]]
"""(the subscription key that receives it, the JSON payload)."""
KINDS = ("market", "user")
TICK_S = 0.005
FORCED_PREFIXES = {"autoclose-": "liquidation", "adl_autoclose": "adl"}
"""Client order ids the engine gives the orders an exchange sends itself (``force_close``), as Binance names them."""


def forced_kind(order: FakeOrder) -> str:
    """``liquidation``, ``adl`` or "" for an order of the session's own."""
    return next((kind for prefix, kind in FORCED_PREFIXES.items() if order.client_id.startswith(prefix)), "")


def force_close(engine: FakeExchange, binance_id: str, kind: str = "liquidation", fraction: Decimal = Decimal(1),
                price: Decimal | None = None) -> Trade:
    """The exchange closes (part of) a position itself at the mark (or ``price``): a liquidation or an
    auto-deleveraging. Its order is one the session never sent (client id ``autoclose-N`` / ``adl_autoclose_N``),
    filled at once as a taker. Call under ``engine.lock``."""
    held = engine.holding(binance_id).qty
    if not held:
        raise ValueError(f"{binance_id}: no position to close")
    spec = engine.specs[binance_id]
    qty = (abs(held) * fraction / spec.step).to_integral_value() * spec.step or spec.step
    number = engine._next_id()
    client_id = f"autoclose-{number}" if kind == "liquidation" else f"adl_autoclose_{number}"
    now = engine.market.now()
    order = FakeOrder(number, client_id, binance_id, "SELL" if held > 0 else "BUY",
                      "LIQUIDATION" if kind == "liquidation" else "LIMIT", qty, price or engine.mark(binance_id), "IOC",
                      True, now, update_time=now)
    engine.orders[order.order_id] = order
    return engine._fill(order, qty, price or engine.mark(binance_id), maker=False, ts=now)


@dataclass
class Changes:
    """What the engine did since the last ``publish``."""

    closed_rows: list[int] = field(default_factory=list)
    forming_row: int | None = None
    new_orders: list[FakeOrder] = field(default_factory=list)
    trades: list[Trade] = field(default_factory=list)
    ended_orders: list[FakeOrder] = field(default_factory=list)
    """Cancelled or expired (with what filled)."""
    changed_orders: list[FakeOrder | FakeAlgo] = field(default_factory=list)
    """Every order or algo order whose state changed (Bybit words each once, as it is now)."""
    algos: list[tuple[FakeAlgo, str | None]] = field(default_factory=list)
    """Algo orders whose status changed, with the status they had (None: new)."""


@dataclass
class StreamHub:
    engine: FakeExchange
    refuse: set[str] = field(default_factory=set)
    silent: set[str] = field(default_factory=set)
    sockets: dict[web.WebSocketResponse, tuple[str, set[str]]] = field(default_factory=dict)
    """Each open socket: its kind and the subscription keys it holds."""
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    """(kind, payload) of every message pushed, for tests to read."""
    connections: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    """Connections accepted per kind (a reconnection counts again)."""
    loop: asyncio.AbstractEventLoop | None = None
    _send_lock: asyncio.Lock | None = None
    _ticker: asyncio.Task[None] | None = None
    _cursor: int = -1
    _trades: int = 0
    _orders: dict[int, tuple[str, Decimal]] = field(default_factory=dict)
    _algos: dict[int, str] = field(default_factory=dict)
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    # ------------------------------------------------------------------ what a venue says
    def routes(self) -> list[tuple[str, Callable[[web.Request], Awaitable[web.StreamResponse]]]]:
        raise NotImplementedError

    def market_messages(self, changes: Changes) -> list[Message]:
        raise NotImplementedError

    def user_messages(self, changes: Changes) -> list[Message]:
        raise NotImplementedError

    # ------------------------------------------------------------------ the server's side
    def mount(self, app: web.Application) -> None:
        for path, handler in self.routes():
            app.router.add_get(path, handler)
        app.on_startup.append(self._started)
        app.on_shutdown.append(self._closing)

    async def _started(self, _app: web.Application) -> None:
        self.loop = asyncio.get_running_loop()
        self._send_lock = asyncio.Lock()
        with self.engine.lock:
            self._remember(self._look())
        self._ticker = asyncio.ensure_future(self._tick())

    async def _closing(self, _app: web.Application) -> None:
        if self._ticker is not None:
            self._ticker.cancel()
        for ws in list(self.sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            await self.publish()

    async def accept(self, request: web.Request, kind: str) -> web.WebSocketResponse | web.Response:
        """The handshake (refused while ``kind`` is in ``refuse``); the socket, registered under ``kind``."""
        if kind in self.refuse:
            return web.Response(status=503, text="Service Unavailable")
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets[ws] = (kind, set())
        self.connections[kind] += 1
        return ws

    async def serve(self, ws: web.WebSocketResponse, answer: Callable[[web.WebSocketResponse, dict[str, Any]],
                                                                      Awaitable[None]]) -> web.WebSocketResponse:
        """Read the socket's requests until it closes; ``answer`` each (subscribe, auth, ping)."""
        try:
            async for msg in ws:
                if msg.type.name != "TEXT":
                    continue
                try:
                    request = json.loads(msg.data)
                except json.JSONDecodeError:
                    continue
                if isinstance(request, dict):
                    await answer(ws, request)
        finally:
            self.sockets.pop(ws, None)
        return ws

    def subscribe(self, ws: web.WebSocketResponse, keys: list[str]) -> None:
        if ws in self.sockets:
            self.sockets[ws][1].update(keys)

    async def greet(self, ws: web.WebSocketResponse, keys: list[str]) -> None:
        """A new market subscription hears the candle forming now at once, as an exchange's stream pushes its
        state within a moment of subscribing (Binance every 250 ms, Bybit every few seconds)."""
        if "market" in self.silent:
            return
        with self.engine.lock:
            market = self.engine.market
            messages = [] if market.ended else self.market_messages(Changes(forming_row=market.cursor))
        for key, payload in messages:
            if key in keys and not ws.closed:
                self.sent.append(("market", payload))
                await ws.send_str(json.dumps(payload))

    def next_id(self) -> int:
        return int(next(self._ids))

    # ------------------------------------------------------------------ what changed, told
    async def publish(self) -> None:
        """Tell every subscribed socket what the engine did since the last call (in the order it happened)."""
        if self._send_lock is None:
            return
        async with self._send_lock:
            with self.engine.lock:
                changes = self._look()
                self._remember(changes)
                batches = {"market": self.market_messages(changes), "user": self.user_messages(changes)}
            for kind, messages in batches.items():
                if kind in self.silent:
                    continue
                for key, payload in messages:
                    for ws, (ws_kind, keys) in list(self.sockets.items()):
                        if ws_kind == kind and (key in keys or "*" in keys) and not ws.closed:
                            self.sent.append((kind, payload))
                            await ws.send_str(json.dumps(payload))

    def _look(self) -> Changes:
        engine = self.engine
        market = engine.market
        changes = Changes()
        if self._cursor >= 0 and market.cursor != self._cursor:
            changes.closed_rows = list(range(self._cursor, market.cursor))
            changes.forming_row = market.cursor if not market.ended else None
        for algo in sorted(engine.algos.values(), key=lambda a: a.algo_id):
            before = self._algos.get(algo.algo_id)
            if before != algo.status:
                changes.algos.append((algo, before))
                changes.changed_orders.append(algo)
        for order in sorted(engine.orders.values(), key=lambda o: o.order_id):
            before_order = self._orders.get(order.order_id)
            if before_order is None:
                changes.new_orders.append(order)
            if before_order != (order.status, order.executed):
                changes.changed_orders.append(order)
                if order.status in ("CANCELED", "EXPIRED"):
                    changes.ended_orders.append(order)
        changes.trades = engine.trades[self._trades:]
        return changes

    def _remember(self, changes: Changes) -> None:
        engine = self.engine
        self._cursor = engine.market.cursor
        self._trades = len(engine.trades)
        self._orders = {o.order_id: (o.status, o.executed) for o in engine.orders.values()}
        self._algos = {a.algo_id: a.status for a in engine.algos.values()}

    # ------------------------------------------------------------------ faults (from the test's thread)
    def drop(self, kind: str = "all") -> int:
        """Close the open sockets of ``kind`` (``market``, ``user`` or ``all``); how many were closed."""
        async def close() -> int:
            closing = [ws for ws, (k, _keys) in self.sockets.items() if kind in ("all", k)]
            for ws in closing:
                await ws.close(code=WSCloseCode.GOING_AWAY, message=b"dropped by the test")
            return len(closing)

        return self._on_loop(close())

    def open_sockets(self, kind: str) -> int:
        return sum(1 for k, _keys in self.sockets.values() if k == kind)

    def subscribed(self, kind: str) -> bool:
        """A socket of ``kind`` holds a subscription (Bybit's private socket once authenticated and subscribed)."""
        return any(k == kind and keys for k, keys in list(self.sockets.values()))

    def _on_loop(self, work: Awaitable[int]) -> int:
        assert self.loop is not None, "the fake exchange is not running"
        return asyncio.run_coroutine_threadsafe(work, self.loop).result(10)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ shared wording helpers
    def spec_of(self, binance_id: str) -> Spec:
        return self.engine.specs[binance_id]

    def cumulative(self, trade: Trade) -> tuple[Decimal, Decimal]:
        """(quantity, quote) the trade's order had filled once this trade was done."""
        qty = quote = Decimal(0)
        for t in self.engine.trades:
            if t.order_id == trade.order_id and t.id <= trade.id:
                qty += t.qty
                quote += t.qty * t.price
        return qty, quote
