"""The execution client on a real exchange through ccxt: the simulated exchange's seat, filled by Binance or Bybit.

The kernel calls ``submit``, ``cancel``, ``drain`` and ``quote`` synchronously, inside a bar, exactly as it
calls the simulated exchange; nothing goes out then. The session's driver awaits ``settle`` right after the
kernel is done with a bar: queued placements and cancels go out (one symbol's in the order sent, symbols
side by side), then the user data is read back (``sync``: trades, order states, funding), and the events
are waiting in ``drain``. With ``ClientSettings.streams`` the user data stream (``stream_user``: ccxt.pro's
``watch_orders`` / ``watch_my_trades``) is read first and only what it cannot vouch for is polled; without it,
or while it is down, user data is polled (``fetch_my_trades``, ``fetch_open_orders``, ``fetch_order``,
``fetch_funding_history``). Funding is always polled. Trades are taken once by their id, from either.

Faults:

- reads are retried with backoff on a lost answer, longer after a 429 (``retry``);
- a placement whose answer is lost is looked up by its client order id before anything else: found, it is
  adopted as the exchange has it; not found, it is sent again under the same id only after the exchange's
  receive window has passed (``resend_wait_s``: a late copy of the first request is then refused by the
  exchange itself, so the exchange never takes the same decision twice); unknown after every try, it is an
  incident that halts entries until a later sync finds or rules it out;
- a refusal (margin, precision, minimum notional, reduce-only, post-only) is a ``REJECTED`` event with the
  exchange's reason, never retried (``rejections``); the exchange's rules are checked before sending
  (``orders.check``) so most never leave;
- partial fills are gathered into the order's one filled event (``tracking``);
- a position that went flat has its remaining reduce-only orders cancelled by the client (the simulated
  venue lapses them itself; an exchange may leave them resting for the next position to hit);
- a fill of an order the session did not send (a liquidation, an auto-deleveraging, a manual trade) is booked
  as an exit and raises an incident named for it (``forced``).

While ``halts`` hold (a stale feed, clock skew, an unknown order), entries are refused here with the halt's
reason; exits, stops and cancels still go out.

This module holds the kernel's side and the sending (placing, cancelling); the reading back (``sync``, the
order states, trades and funding it reads, and the events and positions that come of them) is ``readback``,
functions of this client kept apart so each half reads on its own.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from typing import Any

import ccxt

from quantum_trader.domain.clock import Clock
from quantum_trader.domain.trading import (
    FundingEvent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderPurpose,
    OrderType,
)
from quantum_trader.venues.ccxt import readback
from quantum_trader.venues.ccxt.connect import VenueInfo
from quantum_trader.venues.ccxt.funding_poll import FundingPoll
from quantum_trader.venues.ccxt.ids import exchange_client_id
from quantum_trader.venues.ccxt.incidents import Halts, Incident, IncidentKind, Listener
from quantum_trader.venues.ccxt.orders import (
    Request,
    cancel_params,
    check,
    find_order,
    request,
)
from quantum_trader.venues.ccxt.rejections import rejection_reason
from quantum_trader.venues.ccxt.retry import Backoff, answer_lost, read
from quantum_trader.venues.ccxt.stream_user import StreamSettings, UserStream
from quantum_trader.venues.ccxt.tracking import Phase, Tracked, TradeSeen

VenueEvent = OrderEvent | FundingEvent
Quoter = Callable[..., float]
"""``(symbol, reference, quantity, *, buy, ts, bar_volume) -> price``: the slippage model entries are sized on."""


@dataclass(frozen=True)
class ClientSettings:
    backoff: Backoff = field(default_factory=Backoff)
    place_attempts: int = 3
    resend_wait_s: float = 6.0
    """After a lost placement the exchange did not have: wait this long past the send before sending again
    (longer than the receive window, so a late copy of the first request is refused by the exchange)."""
    lookup_wait_s: float = 0.5
    """Before asking for an order whose answer was lost: the exchange may still be processing it."""
    lookup_before_send: bool = True
    """Ask for an order's client id before its first send: after a restart the same decision carries the same id,
    and an order the exchange already has (filled ones included, which an exchange may let an id be reused after)
    is adopted, never sent twice. A lookup that fails on the network does not block the send."""
    trades_window_ms: int = 6 * 86_400_000
    taker_fee: float = 0.0005
    funding_hours_utc: tuple[int, ...] = (0, 8, 16)
    funding_window_ms: int = 2 * 3_600_000
    """How long after a settlement its payment is looked for."""
    settle_rounds: int = 8
    streams: bool = False
    """Read the user data stream first (``stream_user``); polling stays the fallback."""
    stream: StreamSettings = field(default_factory=StreamSettings)


_LOOKUP_FAILED = object()


@dataclass
class CcxtExecutionClient:
    exchange: Any
    venue: VenueInfo
    quoter: Quoter
    clock: Clock
    prices: Callable[[str], float]
    """The last price the session knows of a symbol (a bar's close): prices local checks and sizing."""
    settings: ClientSettings = field(default_factory=ClientSettings)
    max_notional: dict[str, Decimal] = field(default_factory=dict)
    """Per symbol, the largest position the exchange allows at the leverage set (its leverage bracket)."""
    on_incident: Listener | None = None
    before_send: Callable[[Order, str], None] | None = None
    """Told of each order, with the client id the exchange will get, just before it is first sent (the journal
    writes its row here, before the order leaves)."""
    log: Callable[[str], None] = lambda _line: None
    redact: Callable[[str], str] = lambda text: text
    """Applied to every text that leaves the client (reasons, incidents, log lines): an exchange's message could
    echo a key."""
    halts: Halts = field(default_factory=Halts)
    tracked: dict[str, Tracked] = field(default_factory=dict)
    positions: dict[str, Decimal] = field(default_factory=dict)
    """Signed quantity per symbol as the fills the client reported make it."""
    sent: list[str] = field(default_factory=list)
    """Client order ids in the order their placement first left (each once: never resent on a guess)."""
    trades_from: int = 0
    """Where the reading of trades starts: the account's earlier trades are an earlier session's (its last closes
    fill as this one starts)."""
    booked_until: int = -1
    """A trade at or before this time of an order the client does not follow is booked already (a resumed session
    booked it from its journal), not a foreign fill."""
    _queue: list[tuple[str, Tracked]] = field(default_factory=list)
    _events: list[tuple[int, int, VenueEvent]] = field(default_factory=list)
    _by_exchange_id: dict[str, Tracked] = field(default_factory=dict)
    _seen_trades: set[str] = field(default_factory=set)
    _foreign: dict[str, list[TradeSeen]] = field(default_factory=dict)
    _trade_cursor: dict[str, int] = field(default_factory=dict)
    _forced_at: dict[str, int] = field(default_factory=dict)
    """When each symbol's forced executions were last asked for (once per tick of the bar clock is enough)."""
    _equity: Decimal = Decimal(0)
    _seq: int = 0
    _stream: UserStream | None = None
    funding: FundingPoll = field(init=False)

    def __post_init__(self) -> None:
        self.funding = FundingPoll(self.settings.funding_hours_utc, self.settings.funding_window_ms)

    def __repr__(self) -> str:
        return f"CcxtExecutionClient({self.venue.id}, {len(self.tracked)} orders)"

    # ------------------------------------------------------------------ the kernel's side (synchronous)
    def submit(self, order: Order) -> None:
        if order.client_order_id in self.tracked:
            self._emit(OrderEvent(self.clock.now(), OrderEventKind.REJECTED, order,
                                  reason="duplicate_client_order_id: this session sent the id already"))
            return
        t = Tracked(order, exchange_client_id(self.venue, order.client_order_id),
                    conditional=order.type is OrderType.STOP_MARKET)
        self.tracked[order.client_order_id] = t
        if self.halts and order.purpose is OrderPurpose.ENTRY and not order.reduce_only:
            self._reject(t, f"halted: {self.halts.why()}")
            return
        market = self.exchange.markets.get(order.symbol)
        if market is None:
            self._reject(t, f"unknown_symbol: {self.venue.id} lists no {order.symbol}")
            return
        problem = check(order, market, self.prices(order.symbol), max_notional=self.max_notional.get(order.symbol),
                        position=self._exposure(order.symbol))
        if problem is not None:
            self._reject(t, problem)
            return
        self._queue.append(("place", t))

    def cancel(self, client_order_id: str, reason: str = "cancelled") -> None:
        """Cancel an order of ours; unknown or finished ids are not an error (it filled or lapsed)."""
        t = self.tracked.get(client_order_id)
        if t is None or t.phase is Phase.DONE or t.status is not None:
            return
        t.cancel_reason = t.cancel_reason or reason
        if t.phase is Phase.QUEUED:
            self._queue.remove(("place", t))
            t.finish("canceled", Decimal(0))
            readback.final(self, t)
            return
        if ("cancel", t) not in self._queue:
            self._queue.append(("cancel", t))

    def drain(self) -> list[VenueEvent]:
        """Events since the last call, in the order they happened (funding before a fill at the same time)."""
        events = [e for _ts, _seq, e in sorted(self._events, key=lambda x: (x[0], x[1]))]
        self._events.clear()
        return events

    def quote(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
              bar_volume: float) -> float:
        return self.quoter(symbol, reference, quantity, buy=buy, ts=ts, bar_volume=bar_volume)

    def adopt(self, order: Order, *, exchange_id: str | None, accepted: bool) -> None:
        """Follow an order a crashed run of this session placed, as if this client had (``engine.catch_up``): its
        fills and its end are read back at each sync. Without its exchange id it is looked up by client id."""
        t = Tracked(order, exchange_client_id(self.venue, order.client_order_id),
                    conditional=order.type is OrderType.STOP_MARKET, phase=Phase.OPEN if exchange_id else Phase.UNKNOWN,
                    amount=order.quantity, accepted=accepted)
        if exchange_id:
            t.exchange_id = exchange_id
            self._by_exchange_id[exchange_id] = t
        self.tracked[order.client_order_id] = t
        self._read_trades_from(order)

    def _read_trades_from(self, order: Order) -> None:
        """An adopted order's trades are read from its own time: one may have filled part of it before the crash,
        earlier than the last fill the journal holds, and the exchange's status counts it."""
        self.trades_from = min(self.trades_from, order.ts)
        if order.symbol in self._trade_cursor:
            self._trade_cursor[order.symbol] = min(self._trade_cursor[order.symbol], order.ts)

    def resume(self, *, positions: Mapping[str, Decimal], trades_from: int, funding_from: int | None) -> None:
        """A resumed session's account as its journal holds it: the positions, and where the trades and funding
        not yet booked start."""
        self.positions = {s: q for s, q in positions.items() if q}
        self.trades_from = max(self.trades_from, trades_from)
        self.booked_until = max(self.booked_until, trades_from)
        for t in self.live_orders():
            self._read_trades_from(t.order)
        if funding_from is not None:
            self.funding.cursor = funding_from

    # ------------------------------------------------------------------ the driver's side (asynchronous)
    @property
    def pending(self) -> bool:
        """Requests queued, or orders whose outcome is still to be read."""
        return bool(self._queue) or any(t.phase is not Phase.DONE and (t.status is not None or not t.resting)
                                        for t in self.tracked.values())

    def live_orders(self, symbol: str | None = None) -> list[Tracked]:
        return [t for t in self.tracked.values() if t.phase is not Phase.DONE
                and (symbol is None or t.order.symbol == symbol)]

    def expire(self, now: int) -> None:
        """Let limit entries past their expiry lapse (the exchange is not told to expire a post-only order)."""
        for t in self.live_orders():
            o = t.order
            if o.type is OrderType.LIMIT and o.expire_ts is not None and now >= o.expire_ts and t.status is None:
                t.expired = True
                self.cancel(o.client_order_id, "expired")

    async def settle(self) -> None:
        """Send what is queued, then read back what happened, until nothing is queued or waiting to be read."""
        for _ in range(self.settings.settle_rounds):
            await self.flush()
            await self.sync()
            if not self._queue and not any(t.status is not None and t.phase is not Phase.DONE
                                           for t in self.tracked.values()):
                return

    async def flush(self) -> None:
        queue, self._queue = self._queue, []
        by_symbol: dict[str, list[tuple[str, Tracked]]] = {}
        for op in queue:
            by_symbol.setdefault(op[1].order.symbol, []).append(op)
        await asyncio.gather(*(self._run(ops) for ops in by_symbol.values()))

    async def _run(self, ops: list[tuple[str, Tracked]]) -> None:
        for kind, t in ops:
            if kind == "place":
                await self._place(t)
            else:
                await self._cancel(t)

    # ------------------------------------------------------------------ placing
    def _amount(self, t: Tracked) -> Decimal:
        """The quantity to send: the order's, or (sized at the fill) its share of the equity now."""
        order = t.order
        if order.equity_fraction is None or order.quantity > 0:
            return order.quantity
        market = self.exchange.markets[order.symbol]
        step = Decimal(str((market.get("precision") or {}).get("amount") or "0.001"))
        price = self.prices(order.symbol)
        equity = self._equity
        budget = equity * Decimal(repr(order.equity_fraction)) / (
            Decimal(repr(price)) * (1 + Decimal(repr(self.settings.taker_fee))))
        return (budget / step).to_integral_value(ROUND_DOWN) * step

    async def _refresh_equity(self) -> None:
        balance = await read(lambda: self.exchange.fetch_balance(), self.settings.backoff, self._retried)
        total = (balance.get("total") or {}).get("USDT")
        self._equity = Decimal(str(total or 0))

    async def _place(self, t: Tracked) -> None:
        if t.order.equity_fraction is not None and t.order.quantity == 0:
            await self._refresh_equity()
        amount = self._amount(t)
        if amount <= 0:
            t.finish("canceled", Decimal(0))
            t.cancel_reason = "below the instrument minimum at the fill"
            readback.final(self, t)
            return
        t.amount = amount
        if self.settings.lookup_before_send:
            found = await self._lookup(t)
            if isinstance(found, dict):  # this decision's order is there already: a restart took it again
                self._ack(t, found)
                self._incident(IncidentKind.ORDER_FOUND, f"{t.order.symbol} order {t.client_id} was at the exchange "
                               "already (sent before a restart): adopted, not sent again", t.order.symbol,
                               action="alert")
                return
        if self.before_send is not None:
            self.before_send(t.order, t.client_id)
        await self._send(t, request(self.venue.id, t.order, t.client_id, amount))

    async def _send(self, t: Tracked, call: Request) -> None:
        t.phase = Phase.SENDING
        started = time.monotonic()
        self.sent.append(t.order.client_order_id)
        for attempt in range(self.settings.place_attempts):
            try:
                answer = await self.exchange.create_order(call.symbol, call.type, call.side, call.amount, call.price,
                                                          dict(call.params))
            except Exception as exc:  # noqa: BLE001 - every failure is either a refusal or a lost answer
                if not answer_lost(exc):
                    reason = rejection_reason(exc)
                    if t.conditional and reason.startswith("would_trigger"):
                        await self._stop_now(t, reason)
                    else:
                        self._reject(t, reason)
                    return
                self.log(f"{t.order.symbol} {t.client_id}: answer lost ({type(exc).__name__}); asking the exchange "
                         "for it by its client order id before anything else")
                await asyncio.sleep(self.settings.lookup_wait_s)
                found = await self._lookup(t)
                if found is _LOOKUP_FAILED:
                    break
                if found is not None:
                    self._ack(t, found)
                    return
                if attempt + 1 < self.settings.place_attempts:
                    await asyncio.sleep(max(0.0, started + self.settings.resend_wait_s - time.monotonic()))
                    started = time.monotonic()
                    self.log(f"{t.order.symbol} {t.client_id}: not at the exchange; sending it again")
                continue
            self._ack(t, answer)
            return
        t.phase = Phase.UNKNOWN
        self._incident(IncidentKind.ORDER_UNKNOWN, f"{t.order.symbol} order {t.client_id}: its placement could not "
                       "be confirmed or ruled out; looked up again at each sync", t.order.symbol,
                       halt=f"order:{t.client_id}")

    async def _stop_now(self, t: Tracked, reason: str) -> None:
        """A stop the price has already passed is refused by the exchange ("would immediately trigger"): leaving the
        position unprotected is not an option, so it is closed at market now, as the stop would have been (the
        simulated venue fills such a stop at the bar's open). Its fill is the stop's."""
        self.log(f"{t.order.symbol} {t.client_id}: {reason}; closing at market as the stop would")
        t.conditional = False
        t.client_id = exchange_client_id(self.venue, f"{t.order.client_order_id}-now")
        t.gapped = True
        market = replace(t.order, type=OrderType.MARKET, stop_price=None)
        await self._send(t, request(self.venue.id, market, t.client_id, t.amount or t.order.quantity))

    async def _lookup(self, t: Tracked) -> Any:
        """The exchange's order under ``t``'s client id: its dict, None if it has none, or ``_LOOKUP_FAILED``."""
        try:
            return await read(lambda: find_order(self.exchange, t.order.symbol, t.client_id, t.conditional),
                              self.settings.backoff, self._retried)
        except ccxt.OrderNotFound:
            return None
        except Exception as exc:
            if answer_lost(exc):
                return _LOOKUP_FAILED
            raise

    def _ack(self, t: Tracked, answer: dict[str, Any]) -> None:
        t.phase = Phase.OPEN
        if answer.get("id") is not None:
            t.exchange_id = str(answer["id"])
            self._by_exchange_id[t.exchange_id] = t
        readback.status(self, t, answer)
        if t.cancel_reason is not None and t.status is None and ("cancel", t) not in self._queue:
            self._queue.append(("cancel", t))

    # ------------------------------------------------------------------ cancelling
    async def _cancel(self, t: Tracked) -> None:
        if t.status is not None or t.phase not in (Phase.OPEN, Phase.UNKNOWN):
            return
        params = cancel_params(self.venue.id, t.client_id, t.conditional)
        try:
            answer = await read(lambda: self.exchange.cancel_order(None, t.order.symbol, dict(params)),
                                self.settings.backoff, self._retried)
        except Exception as exc:  # noqa: BLE001 - a lost answer is retried, any other means it already ended
            if answer_lost(exc):
                self._incident(IncidentKind.CANCEL_FAILED, f"{t.order.symbol} order {t.client_id}: the cancel could "
                               f"not be confirmed ({type(exc).__name__}); tried again at the next sync",
                               t.order.symbol, action="alert")
                self._queue.append(("cancel", t))
                return
            found = await self._lookup(t)  # filled or ended already: learn how
            if isinstance(found, dict):
                readback.status(self, t, found)
            return
        if answer.get("status") in (None, "canceled") and not answer.get("filled"):
            found = await self._lookup(t)
            if isinstance(found, dict):
                readback.status(self, t, found)
                return
        readback.status(self, t, answer)

    # ------------------------------------------------------------------ reading back (``readback``)
    async def sync(self) -> None:
        """Read what happened since the last sync: order states, trades, funding; events wait in ``drain``."""
        await readback.sync(self)

    def foreign_symbols(self) -> Iterable[str]:
        """Symbols of trades whose order is not (yet) known to be the session's."""
        return readback.foreign_symbols(self)

    def take_trade(self, trade: TradeSeen, *, polled: bool = True) -> None:
        """A trade read back (polled, or heard on the user stream with ``polled=False``), taken once by its id."""
        readback.take_trade(self, trade, polled=polled)

    def take_order(self, answer: dict[str, Any]) -> bool:
        """An order update heard on the user stream; False when the order is not known (yet) to be the session's."""
        return readback.take_order(self, answer)

    async def close(self) -> None:
        """Stop watching the user data stream (before the exchange is closed)."""
        if self._stream is not None:
            await self._stream.close()

    async def _foreign_fills(self) -> None:
        """Trades of orders this session did not send: booked as exits (``foreign_fills``)."""
        await readback.book_foreign(self)

    # ------------------------------------------------------------------ plumbing
    def _exposure(self, symbol: str) -> Decimal:
        """The position held plus the entries on their way: what a new entry adds to."""
        held = self.positions.get(symbol, Decimal(0))
        for t in self.live_orders(symbol):
            if not t.order.reduce_only and t.order.type is OrderType.MARKET and t.status is None:
                held += t.order.quantity * t.order.side.sign
        return held

    def _reject(self, t: Tracked, reason: str) -> None:
        t.reject(self.redact(reason))
        readback.final(self, t)

    def _emit(self, event: VenueEvent, *, first: bool = False) -> None:
        self._seq += 1
        self._events.append((event.ts, -self._seq if first else self._seq, event))

    def _retried(self, exc: BaseException, wait: float) -> None:
        self.log(self.redact(f"{type(exc).__name__} from {self.venue.id}; trying again in {wait:.1f} s"))

    def _incident(self, kind: IncidentKind, message: str, symbol: str = "", *, halt: str | None = None,
                  action: str = "") -> None:
        if halt is not None:
            self.halts.hold(halt, message)
            action = action or "entries halted"
        if self.on_incident is not None:
            self.on_incident(Incident(self.clock.now(), kind, self.redact(message), symbol, action))

    def _lift(self, name: str, kind: IncidentKind, message: str, symbol: str = "") -> None:
        if self.halts.lift(name) and self.on_incident is not None:
            self.on_incident(Incident(self.clock.now(), kind, message, symbol,
                                      "entries resumed" if not self.halts else "alert"))
