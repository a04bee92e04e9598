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
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, Decimal
from functools import partial
from typing import Any

import ccxt

from quantum_trader.domain.clock import Clock
from quantum_trader.domain.trading import (
    Fill,
    FundingEvent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderPurpose,
    OrderSide,
    OrderType,
)
from quantum_trader.venues.ccxt.connect import VenueInfo
from quantum_trader.venues.ccxt.forced import ADL, LIQUIDATION, order_forced, trade_forced, trade_reads
from quantum_trader.venues.ccxt.ids import exchange_client_id
from quantum_trader.venues.ccxt.incidents import Halts, Incident, IncidentKind, Listener
from quantum_trader.venues.ccxt.orders import (
    Request,
    by_id_params,
    cancel_params,
    check,
    find_order,
    request,
    trades_page,
)
from quantum_trader.venues.ccxt.rejections import post_only_refusal, rejection_reason
from quantum_trader.venues.ccxt.retry import Backoff, answer_lost, read
from quantum_trader.venues.ccxt.stream_user import StreamSettings, UserStream
from quantum_trader.venues.ccxt.tracking import FINAL, Phase, Tracked, TradeSeen

VenueEvent = OrderEvent | FundingEvent
Quoter = Callable[..., float]
"""``(symbol, reference, quantity, *, buy, ts, bar_volume) -> price``: the slippage model entries are sized on."""
FORCED_INCIDENTS = {LIQUIDATION: IncidentKind.LIQUIDATION, ADL: IncidentKind.ADL}


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
    _seen_funding: set[str] = field(default_factory=set)
    _funding_cursor: int | None = None
    _equity: Decimal = Decimal(0)
    _seq: int = 0
    _stream: UserStream | None = None

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
            self._final(t)
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

    def resume(self, *, positions: Mapping[str, Decimal], trades_from: int, funding_from: int | None) -> None:
        """A resumed session's account as its journal holds it: the positions, and where the trades and funding
        not yet booked start."""
        self.positions = {s: q for s, q in positions.items() if q}
        self.trades_from = max(self.trades_from, trades_from)
        self.booked_until = max(self.booked_until, trades_from)
        if funding_from is not None:
            self._funding_cursor = funding_from

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
            self._final(t)
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
        self._status(t, answer)
        if t.cancel_reason is not None and t.status is None and ("cancel", t) not in self._queue:
            self._queue.append(("cancel", t))

    def _status(self, t: Tracked, answer: dict[str, Any]) -> None:
        """What an order dict from the exchange says: still live, triggered (a stop) or final."""
        status = answer.get("status")
        refused = post_only_refusal(answer) if t.order.post_only and status in ("expired", "canceled") else None
        if refused is not None:
            t.reject(refused)
            return
        if t.conditional and t.triggered_id is None and self.venue.trigger_becomes_new_order:
            info = answer.get("info") or {}
            triggered = str(info.get("actualOrderId") or info.get("ai") or "")  # REST, or the user stream's
            if status == "closed" and triggered:
                t.triggered_id = triggered
                self._by_exchange_id[triggered] = t
                self._reroute(triggered)
                return
            if status == "closed":
                return  # triggered, the order it became not known yet: asked again at the next sync
        if status in FINAL:
            filled = Decimal(str(answer.get("filled") or 0))
            t.finish(str(status), filled)
        elif status == "open" and t.resting and not t.accepted:
            t.accepted = True
            self._emit(OrderEvent(max(self.clock.now(), t.order.ts), OrderEventKind.ACCEPTED, t.order))

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
                self._status(t, found)
            return
        if answer.get("status") in (None, "canceled") and not answer.get("filled"):
            found = await self._lookup(t)
            if isinstance(found, dict):
                self._status(t, found)
                return
        self._status(t, answer)

    # ------------------------------------------------------------------ reading back
    async def sync(self) -> None:
        """Read what happened since the last sync: order states, trades, funding; events wait in ``drain``."""
        symbols = sorted({t.order.symbol for t in self.live_orders()}
                         | {s for s, q in self.positions.items() if q} | set(self.foreign_symbols()))
        stream = self._user_stream()
        if stream is not None:
            symbols = await stream.sync(self, symbols)
        try:
            for symbol in symbols:
                await self._sync_orders(symbol)
                await self._sync_trades(symbol)
            self._finals()
            await self._sync_funding()
        except Exception as exc:
            if not answer_lost(exc):
                raise
            if stream is not None:
                stream.unsure()
            self._incident(IncidentKind.SYNC_FAILED, f"reading the account failed ({type(exc).__name__}); "
                           "read again at the next sync", action="alert")
        self._finals()
        await self._foreign_fills()

    def foreign_symbols(self) -> Iterable[str]:
        """Symbols of trades whose order is not (yet) known to be the session's."""
        return (trades[0].symbol for trades in self._foreign.values() if trades)

    async def _sync_orders(self, symbol: str) -> None:
        live = [t for t in self.live_orders(symbol) if t.status is None]
        for t in [t for t in live if t.phase is Phase.UNKNOWN]:
            found = await self._lookup(t)
            if isinstance(found, dict):
                self._ack(t, found)
                self._lift(f"order:{t.client_id}", IncidentKind.ORDER_FOUND,
                           f"{symbol} order {t.client_id}: found at the exchange", symbol)
            elif found is None:
                self._reject(t, "never reached the exchange: its placement answer was lost and the exchange "
                                "does not have it")
                self._lift(f"order:{t.client_id}", IncidentKind.ORDER_FOUND,
                           f"{symbol} order {t.client_id}: ruled out (not at the exchange)", symbol)
        for conditional in (False, True):
            group = [t for t in live if t.phase is Phase.OPEN and t.conditional == conditional
                     and t.triggered_id is None]
            if not group:
                continue
            params = {"trigger": True} if conditional else {}
            open_orders = await read(partial(self.exchange.fetch_open_orders, symbol, None, None, params),
                                     self.settings.backoff, self._retried)
            still = {str(o.get("clientOrderId")): o for o in open_orders}
            for t in group:
                if t.client_id in still:
                    if not t.accepted:  # Bybit's placement answer holds ids only: its open order says it rests
                        self._status(t, still[t.client_id])
                else:
                    found = await self._lookup(t)
                    if isinstance(found, dict):
                        self._status(t, found)
        for t in [t for t in live if t.triggered_id is not None and t.status is None]:
            answer = await read(partial(self.exchange.fetch_order, t.triggered_id, symbol),
                                self.settings.backoff, self._retried)
            if answer.get("status") in FINAL:
                t.finish(str(answer["status"]), Decimal(str(answer.get("filled") or 0)))

    async def _sync_trades(self, symbol: str) -> None:
        now = self.clock.now()
        start = max(self._trade_cursor.get(symbol, 0), self.trades_from, now - self.settings.trades_window_ms)
        page, first = trades_page(self.venue.id)
        held = bool(self.positions.get(symbol)) and self._forced_at.get(symbol) != now
        if held:
            self._forced_at[symbol] = now
        for params in (first, *({**first, **extra} for extra in trade_reads(self.venue.id, held))):
            since = start
            while True:
                trades = await read(partial(self.exchange.fetch_my_trades, symbol, since, page, dict(params)),
                                    self.settings.backoff, self._retried)
                for raw in trades:
                    self.take_trade(trade_seen(raw))
                if page is None or len(trades) < page:
                    break
                since = self._trade_cursor[symbol]

    def take_trade(self, trade: TradeSeen, *, polled: bool = True) -> None:
        """A trade read back, once by its id: to its order, or held as a trade of an order not known to be ours.
        Only a polled trade moves the poll's cursor (a stream may have missed an earlier one)."""
        if trade.id in self._seen_trades:
            return
        self._seen_trades.add(trade.id)
        if polled:
            self._trade_cursor[trade.symbol] = max(self._trade_cursor.get(trade.symbol, 0), trade.ts)
        t = self._by_exchange_id.get(trade.order_id)
        if t is not None:
            t.take(trade)
        elif trade.ts > self.booked_until:  # not one booked already (before this session, or from its journal)
            self._foreign.setdefault(trade.order_id, []).append(trade)

    def take_order(self, answer: dict[str, Any]) -> bool:
        """An order update heard on the user stream, read as a polled answer is; False when the order is not
        known (yet) to be the session's (its trades will say whose it is)."""
        oid = str(answer.get("id") or "")
        t = self._by_exchange_id.get(oid) or next(
            (t for t in self.live_orders() if t.client_id == answer.get("clientOrderId")), None)
        if t is None:
            return False
        if t.phase in (Phase.DONE, Phase.QUEUED, Phase.UNKNOWN) or t.status is not None:
            return True  # done, not sent, or left to the lookup that lifts its halt
        if t.triggered_id is not None:  # a triggered stop ends with the order it became
            if oid == t.triggered_id and answer.get("status") in FINAL:
                t.finish(str(answer["status"]), Decimal(str(answer.get("filled") or 0)))
            return True
        if t.exchange_id is None:
            self._ack(t, answer)
        else:
            self._status(t, answer)
        return True

    def _user_stream(self) -> UserStream | None:
        if self._stream is None and self.settings.streams:
            self._stream = UserStream(self.exchange, self.settings.stream, self._incident, self.log)
        return self._stream

    async def close(self) -> None:
        """Stop watching the user data stream (before the exchange is closed)."""
        if self._stream is not None:
            await self._stream.close()

    def _reroute(self, order_id: str) -> None:
        t = self._by_exchange_id.get(order_id)
        for trade in self._foreign.pop(order_id, []):
            if t is not None:
                t.take(trade)

    def _funding_due(self) -> bool:
        """Within ``funding_window_ms`` after a settlement time: the funding history is asked only then (on Binance
        it is one of the heaviest reads, and nothing changes in it between settlements)."""
        now = self.clock.now()
        day = now - now % 86_400_000
        times = [d + h * 3_600_000 for d in (day - 86_400_000, day) for h in self.settings.funding_hours_utc]
        passed = [t for t in times if t <= now]
        return bool(passed) and now - max(passed) <= self.settings.funding_window_ms

    async def _sync_funding(self) -> None:
        if not any(self.positions.values()) and self._funding_cursor is None:
            return
        if self._funding_cursor is None:
            self._funding_cursor = self.clock.now()
        if not self._funding_due():
            return
        since = self._funding_cursor
        rows = await read(lambda: self.exchange.fetch_funding_history(None, since, None),
                          self.settings.backoff, self._retried)
        for row in rows:
            key = str(row.get("id") or (row.get("symbol"), row.get("timestamp")))
            if key in self._seen_funding or row.get("symbol") is None:
                continue
            self._seen_funding.add(key)
            ts = int(row["timestamp"])
            self._funding_cursor = max(self._funding_cursor, ts)
            info = row.get("info") or {}
            if info.get("execType") == "Funding" and info.get("feeRate") and info.get("execPrice"):
                # Bybit's funding execution carries the rate and the mark it settled at
                self._emit(FundingEvent(ts, str(row["symbol"]), float(info["feeRate"]), float(info["execPrice"])),
                           first=True)
                continue
            await self._funding_event(str(row["symbol"]), ts, float(row.get("amount") or 0.0))

    async def _funding_event(self, symbol: str, ts: int, amount: float) -> None:
        """The settlement as the kernel books it: the rate and mark the exchange settled at (its funding
        history), so the kernel's payment is the exchange's."""
        history = await read(lambda: self.exchange.fetch_funding_rate_history(symbol, ts, 5),
                             self.settings.backoff, self._retried)
        entry = next((h for h in history if int(h.get("timestamp") or 0) == ts), None)
        if entry is not None and entry.get("fundingRate") is not None:
            mark = (entry.get("info") or {}).get("markPrice")
            price = float(mark) if mark not in (None, "", "0") else self.prices(symbol)
            self._emit(FundingEvent(ts, symbol, float(entry["fundingRate"]), price), first=True)
            return
        held = float(self.positions.get(symbol, 0))
        price = self.prices(symbol)
        if held and price:
            self._emit(FundingEvent(ts, symbol, -amount / (held * price), price), first=True)

    # ------------------------------------------------------------------ what the kernel hears
    def _finals(self) -> None:
        for t in list(self.tracked.values()):
            self._final(t)

    def _final(self, t: Tracked) -> None:
        event = t.final_event(self.clock.now())
        if event is None:
            return
        t.phase = Phase.DONE
        self._emit(event)
        if event.fill is not None:
            self._filled(event.fill)

    def _filled(self, fill: Fill) -> None:
        symbol = fill.symbol
        held = self.positions.get(symbol, Decimal(0)) + fill.quantity * fill.side.sign
        self.positions[symbol] = held
        if held and self._funding_cursor is None:
            self._funding_cursor = fill.ts  # funding is owed from the first fill on, a settlement at it included
        if held == 0:  # flat: what would reduce it has nothing left to reduce
            for t in self.live_orders(symbol):
                if t.order.reduce_only and t.order.client_order_id != fill.client_order_id:
                    self.cancel(t.order.client_order_id, "position closed")

    async def _foreign_fills(self) -> None:
        """Trades of orders this session did not send: booked as exits (a liquidation, an ADL, a manual close)."""
        for order_id, trades in list(self._foreign.items()):
            if order_id in self._by_exchange_id:
                self._reroute(order_id)
                continue
            symbol = trades[0].symbol
            del self._foreign[order_id]
            client, forced = "", next((t.forced for t in trades if t.forced), "")
            try:
                info = await read(partial(self.exchange.fetch_order, order_id, symbol, by_id_params(self.venue.id)),
                                  self.settings.backoff, self._retried)
                client, forced = str(info.get("clientOrderId") or ""), forced or order_forced(info)
            except ccxt.BaseError:
                pass  # the trades still say what filled; only a Binance liquidation's mark is lost
            for trade in trades:
                side = OrderSide(trade.side)
                order = Order(f"exchange-{order_id}", trade.ts, symbol, side, OrderType.MARKET, trade.qty,
                              reduce_only=True, purpose=OrderPurpose.EXIT, tag=forced or "exchange")
                fill = Fill(trade.ts, symbol, side, trade.qty, trade.price, trade.fee, order.client_order_id,
                            is_maker=trade.maker, liquidation=forced == LIQUIDATION)
                self._emit(OrderEvent(trade.ts, OrderEventKind.FILLED, order, fill=fill, reason=forced or "exchange"))
                self._filled(fill)
            if forced:
                what = "liquidated" if forced == LIQUIDATION else "auto-deleveraged"
                message = (f"{symbol}: the exchange {what} {sum((t.qty for t in trades), Decimal(0))} of the position "
                           f"(order {order_id}, {client or 'no client id'}); booked as an exit")
            else:
                message = (f"{symbol}: the exchange filled order {order_id} ({client or 'no client id'}) that this "
                           "session did not send; booked as an exit")
            self._incident(FORCED_INCIDENTS.get(forced, IncidentKind.FOREIGN_FILL), message, symbol, action="alert")

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
        self._final(t)

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


def trade_seen(raw: dict[str, Any]) -> TradeSeen:
    fee = raw.get("fee") or {}
    return TradeSeen(id=str(raw["id"]), order_id=str(raw.get("order")), symbol=str(raw["symbol"]),
                     side=str(raw["side"]), ts=int(raw["timestamp"]),
                     price=Decimal(str((raw.get("info") or {}).get("price") or raw["price"])),
                     qty=Decimal(str((raw.get("info") or {}).get("qty") or raw["amount"])),
                     fee=Decimal(str(fee.get("cost") or 0)), maker=raw.get("takerOrMaker") == "maker",
                     forced=trade_forced(raw.get("info") or {}))
