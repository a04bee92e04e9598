"""Order and fill updates from the exchange's user data stream, read as the execution client's polls are read.

ccxt.pro's ``watch_orders`` and ``watch_my_trades`` keep the account's recent orders (the latest state of each)
and trades (each by id) as the exchange pushes them: Binance's ``ORDER_TRADE_UPDATE`` / ``ALGO_UPDATE`` on its
listen-key stream, Bybit's ``order`` / ``execution`` topics after its ``auth``. Two watchers keep them coming;
each ``sync`` of the client reads those caches whole (a resolve ccxt drops while nobody waits loses nothing
there) into the same tracking a poll fills (``CcxtExecutionClient.take_order`` / ``take_trade``), and returns the
symbols that must still be polled. Trades are taken once by id, whichever of stream and poll brought them first.

When the stream can be trusted, and what is polled meanwhile:

- ``connecting`` (started, or reconnecting after a failure, nothing heard yet) and ``down``: everything is
  polled, as without a stream. A failure (ccxt raises from a watch: the socket dropped, a keep-alive missed,
  the listen key refused) is an incident (``stream_down``); the watchers reconnect by themselves with backoff.
- ``live``: the stream delivered since it (re)connected, so it is subscribed; the next sync still polls
  everything once, which covers what happened before the subscription took (``reconcile``): then ``trusted``.
  Coming back after a failure is an incident too (``stream_resumed``).
- ``trusted``: nothing is polled unless needed: an order awaiting its outcome (a market order's fill, the trades
  of an order known filled) waits up to ``wait_s`` for the stream, then is polled (a log line; ``misses`` such
  polls in a row take the stream for down); an order whose placement answer was lost is looked up; a trade of
  an order not known to be the session's has its symbol polled (a Binance stop becomes a new order when it
  triggers, which the poll's lookup links back; what stays unknown is a liquidation, an ADL or a manual trade);
  and everything again every ``reconcile_s``.

Binance tells a liquidation or an ADL only in the order update (``"x": "CALCULATED"``, which ccxt does not read
as a trade): its fill is read from the update here (``forced``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from quantum_trader.venues.ccxt.forced import order_forced
from quantum_trader.venues.ccxt.incidents import IncidentKind
from quantum_trader.venues.ccxt.retry import Backoff
from quantum_trader.venues.ccxt.tracking import Phase, Tracked, TradeSeen
from quantum_trader.venues.ccxt.watch_tasks import cancel_tasks

if TYPE_CHECKING:
    from quantum_trader.venues.ccxt.execution import CcxtExecutionClient

State = Literal["connecting", "live", "trusted", "down"]
PASSES = 3
"""Cached order updates offered again within one read: one may name an order another makes known."""
TURNS = 10
"""Event-loop turns given before the caches are read: a message already on the socket (one the exchange sent
before answering the request just read) is handled by ccxt in a few turns, so it is not left to the next sync."""


@dataclass(frozen=True)
class StreamSettings:
    wait_s: float = 2.0
    """How long an order awaiting its outcome may wait for the stream before it is polled."""
    misses: int = 3
    """Outcomes in a row the stream failed to bring in time before it is taken for down (polled until it
    delivers again)."""
    reconcile_s: float = 600.0
    """While trusted, everything is polled again this often."""
    retry: Backoff = field(default_factory=lambda: Backoff(first_s=0.5, max_s=30.0))
    """Waits between reconnection attempts of a failed watch."""


def awaited(t: Tracked) -> bool:
    """An order whose outcome the client is waiting for right now (not a resting one)."""
    if t.phase is not Phase.OPEN or t.triggered_id is not None:
        return False
    if t.status is not None:
        return t.status != "rejected" and t.traded < t.filled
    return not t.resting


def binance_forced_trade(order: Mapping[str, Any]) -> TradeSeen | None:
    """The fill a Binance liquidation or ADL update carries (``"x": "CALCULATED"``), which ccxt does not read as a
    trade; None for any other update."""
    info = order.get("info") or {}
    if info.get("x") != "CALCULATED" or not info.get("t") or not Decimal(str(info.get("l") or 0)):
        return None
    return TradeSeen(id=str(info["t"]), order_id=str(info.get("i")), symbol=str(order.get("symbol")),
                     side=str(info.get("S") or "").lower(), ts=int(info.get("T") or order.get("timestamp") or 0),
                     price=Decimal(str(info.get("L"))), qty=Decimal(str(info.get("l"))),
                     fee=Decimal(str(info.get("n") or 0)), maker=bool(info.get("m")),
                     forced=order_forced(order) or "liquidation")


def stream_trade(raw: Mapping[str, Any]) -> TradeSeen:
    """A trade from ccxt's stream cache, read as a polled one (Binance's update names its price and quantity
    ``L`` and ``l``: read as the exchange wrote them)."""
    from quantum_trader.venues.ccxt.tracking import trade_seen

    info = raw.get("info") or {}
    if "L" in info and "l" in info:
        return trade_seen({**raw, "info": {**info, "price": info["L"], "qty": info["l"]}})
    return trade_seen(dict(raw))


@dataclass
class UserStream:
    exchange: Any
    settings: StreamSettings
    incident: Callable[..., None]
    """``(kind, message, symbol="", *, action="")``: the client's incident path (redacted, timed)."""
    log: Callable[[str], None]
    monotonic: Callable[[], float] = time.monotonic
    state: State = "connecting"
    epoch: int = 0
    """Failures so far (a reconnection starts a new epoch)."""
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _event: asyncio.Event | None = None
    _applied: dict[str, tuple[Any, ...]] = field(default_factory=dict)
    _reconciled_at: float = 0.0
    _misses: int = 0
    _told_down: bool = False

    # ------------------------------------------------------------------ watching
    def start(self) -> None:
        if self._tasks:
            return
        self._event = asyncio.Event()
        self._tasks = [asyncio.ensure_future(self._watch(self.exchange.watch_orders)),
                       asyncio.ensure_future(self._watch(self.exchange.watch_my_trades))]

    async def close(self) -> None:
        await cancel_tasks(self._tasks)
        self._tasks = []

    async def _watch(self, watch: Callable[[], Any]) -> None:
        failures = 0
        while True:
            try:
                await watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure of a watch is the stream being down
                self._lost(exc)
                await asyncio.sleep(self.settings.retry.delay(failures))
                failures += 1
                continue
            failures = 0
            self._delivered()

    def _delivered(self) -> None:
        if self.state in ("connecting", "down"):
            self.state = "live"
            if self._told_down:
                self._told_down = False
                self.incident(IncidentKind.STREAM_RESUMED, f"{self.exchange.id} user data stream delivers again: "
                              "polled once to catch up, then read from the stream", action="alert")
        assert self._event is not None
        self._event.set()

    def _lost(self, exc: BaseException) -> None:
        first = self.state != "down"
        self.state = "down"
        if first:
            self.epoch += 1
        if not self._told_down:
            self._told_down = True
            # the error's type only: its text may hold the stream's URL, and Binance's carries the listen key
            self.incident(IncidentKind.STREAM_DOWN, f"{self.exchange.id} user data stream failed "
                          f"({type(exc).__name__}): orders and fills are polled until it is back",
                          action="polling instead")

    def unsure(self) -> None:
        """The poll that was to reconcile the stream failed: reconcile again at the next sync."""
        if self.state == "trusted":
            self.state = "live"

    # ------------------------------------------------------------------ reading into the client
    async def sync(self, client: CcxtExecutionClient, symbols: list[str]) -> list[str]:
        """What the stream heard, read into ``client``; the symbols that must still be polled."""
        self.start()
        for _ in range(TURNS):
            await asyncio.sleep(0)
        self.apply(client)
        if self.state in ("connecting", "down"):
            return symbols
        if self.state == "live" or self.monotonic() - self._reconciled_at >= self.settings.reconcile_s:
            self.state = "trusted"  # by the poll this sync makes now (``unsure`` if it fails)
            self._reconciled_at = self.monotonic()
            self._misses = 0
            return symbols
        late = await self._outcomes(client)
        need = set(late) | set(client.foreign_symbols())
        need |= {t.order.symbol for t in client.live_orders() if t.phase is Phase.UNKNOWN}
        return sorted(need)

    def apply(self, client: CcxtExecutionClient) -> None:
        """Every cached order update not read yet, then every cached trade (``take_trade`` takes each once). An
        update naming no order the client knows is offered again within this read (another may make it known: a
        Binance stop's update names the order it became); past that it is left, and its trades, if any, have
        their symbol polled (``foreign_symbols``)."""
        fresh: dict[str, tuple[dict[str, Any], tuple[Any, ...]]] = {}
        for order in list(getattr(self.exchange, "orders", None) or []):
            info = order.get("info") or {}
            key = (order.get("status"), order.get("filled"), info.get("X"), info.get("ai"), info.get("x"),
                   info.get("orderStatus"), info.get("cumExecQty"))
            if self._applied.get(str(order.get("id"))) != key:
                fresh[str(order.get("id"))] = (order, key)
        for _ in range(PASSES):
            taken = [oid for oid, (order, _key) in fresh.items() if self._take(client, order)]
            for oid in taken:
                self._applied[oid] = fresh.pop(oid)[1]
            if not taken:
                break
        self._applied.update({oid: key for oid, (_order, key) in fresh.items()})
        for raw in list(getattr(self.exchange, "myTrades", None) or []):
            client.take_trade(stream_trade(raw), polled=False)

    @staticmethod
    def _take(client: CcxtExecutionClient, order: dict[str, Any]) -> bool:
        forced = binance_forced_trade(order)
        if forced is not None:
            client.take_trade(forced, polled=False)
        return client.take_order(order) or forced is not None

    async def _outcomes(self, client: CcxtExecutionClient) -> list[str]:
        """Wait (up to ``wait_s``) for the stream to bring the outcome of the orders awaiting one; the symbols of
        those it did not bring."""
        deadline = self.monotonic() + self.settings.wait_s
        while True:
            waiting = [t for t in client.live_orders() if awaited(t)]
            if not waiting:
                self._misses = 0
                return []
            left = deadline - self.monotonic()
            if left <= 0 or self.state != "trusted":
                if self.state == "trusted":
                    self._missed(waiting)
                return sorted({t.order.symbol for t in waiting})
            assert self._event is not None
            self._event.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._event.wait(), left)
            self.apply(client)

    def _missed(self, waiting: list[Tracked]) -> None:
        self._misses += 1
        ids = ", ".join(t.client_id for t in waiting[:3])
        self.log(f"{self.exchange.id} user data stream did not report {ids} within {self.settings.wait_s:g} s: "
                 "polled")
        if self._misses >= self.settings.misses:
            self.state = "down"
            self.epoch += 1
            self._misses = 0
            if not self._told_down:
                self._told_down = True
                self.incident(IncidentKind.STREAM_DOWN, f"{self.exchange.id} user data stream missed "
                              f"{self.settings.misses} order outcomes in a row: orders and fills are polled until "
                              "it delivers again", action="polling instead")
