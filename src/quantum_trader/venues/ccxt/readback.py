"""The execution client's reading back: what the exchange says happened, read into the orders the client follows.

``CcxtExecutionClient.sync`` (after each flush of ``settle``) polls the account here, symbol by symbol: open
orders and lookups by client id (``_sync_orders``), trades by id (``_sync_trades``; a held position's forced
executions too), then funding (``funding_poll``). With the user data stream the stream is read first
(``stream_user``, through ``take_order`` / ``take_trade``) and only the symbols it cannot vouch for are polled.
Every order dict, polled or streamed, is read by ``status``; an order that has ended becomes the kernel's one
event for it (``final``), and its fill moves the client's positions (a position gone flat has its reduce-only
orders cancelled). Trades of orders the session did not send are booked as exits (``foreign_fills``).

Why apart: ``execution`` holds the kernel's synchronous side and the placing and cancelling of orders, with the
whole flow and its faults in its docstring; this module holds the other direction, the answers coming back.
These are functions of the client, not a class of their own: the state they read and write (orders followed,
trades seen, cursors, positions) is the client's, which the kernel's side reads too.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from functools import partial
from typing import TYPE_CHECKING, Any

from quantum_trader.domain.trading import Fill, OrderEvent, OrderEventKind
from quantum_trader.venues.ccxt.forced import trade_reads
from quantum_trader.venues.ccxt.foreign_fills import foreign_fills
from quantum_trader.venues.ccxt.incidents import IncidentKind
from quantum_trader.venues.ccxt.orders import trades_page
from quantum_trader.venues.ccxt.rejections import post_only_refusal
from quantum_trader.venues.ccxt.retry import answer_lost, read
from quantum_trader.venues.ccxt.stream_user import UserStream
from quantum_trader.venues.ccxt.tracking import FINAL, Phase, Tracked, TradeSeen, trade_seen

if TYPE_CHECKING:
    from quantum_trader.venues.ccxt.execution import CcxtExecutionClient


# ------------------------------------------------------------------ reading back
async def sync(client: CcxtExecutionClient) -> None:
    """Read what happened since the last sync: order states, trades, funding; events wait in ``drain``."""
    symbols = sorted({t.order.symbol for t in client.live_orders()}
                     | {s for s, q in client.positions.items() if q} | set(foreign_symbols(client)))
    stream = _user_stream(client)
    if stream is not None:
        symbols = await stream.sync(client, symbols)
    try:
        for symbol in symbols:
            await _sync_orders(client, symbol)
            await _sync_trades(client, symbol)
        _finals(client)
        await _sync_funding(client)
    except Exception as exc:
        if not answer_lost(exc):
            raise
        if stream is not None:
            stream.unsure()
        client._incident(IncidentKind.SYNC_FAILED, f"reading the account failed ({type(exc).__name__}); "
                         "read again at the next sync", action="alert")
    _finals(client)
    await book_foreign(client)


def foreign_symbols(client: CcxtExecutionClient) -> Iterable[str]:
    """Symbols of trades whose order is not (yet) known to be the session's."""
    return (trades[0].symbol for trades in client._foreign.values() if trades)


async def _sync_orders(client: CcxtExecutionClient, symbol: str) -> None:
    live = [t for t in client.live_orders(symbol) if t.status is None]
    for t in [t for t in live if t.phase is Phase.UNKNOWN]:
        found = await client._lookup(t)
        if isinstance(found, dict):
            client._ack(t, found)
            client._lift(f"order:{t.client_id}", IncidentKind.ORDER_FOUND,
                         f"{symbol} order {t.client_id}: found at the exchange", symbol)
        elif found is None:
            client._reject(t, "never reached the exchange: its placement answer was lost and the exchange "
                              "does not have it")
            client._lift(f"order:{t.client_id}", IncidentKind.ORDER_FOUND,
                         f"{symbol} order {t.client_id}: ruled out (not at the exchange)", symbol)
    for conditional in (False, True):
        group = [t for t in live if t.phase is Phase.OPEN and t.conditional == conditional
                 and t.triggered_id is None]
        if not group:
            continue
        params = {"trigger": True} if conditional else {}
        open_orders = await read(partial(client.exchange.fetch_open_orders, symbol, None, None, params),
                                 client.settings.backoff, client._retried)
        still = {str(o.get("clientOrderId")): o for o in open_orders}
        for t in group:
            if t.client_id in still:
                if not t.accepted:  # Bybit's placement answer holds ids only: its open order says it rests
                    status(client, t, still[t.client_id])
            else:
                found = await client._lookup(t)
                if isinstance(found, dict):
                    status(client, t, found)
    for t in [t for t in live if t.triggered_id is not None and t.status is None]:
        answer = await read(partial(client.exchange.fetch_order, t.triggered_id, symbol),
                            client.settings.backoff, client._retried)
        if answer.get("status") in FINAL:
            t.finish(str(answer["status"]), Decimal(str(answer.get("filled") or 0)))


async def _sync_trades(client: CcxtExecutionClient, symbol: str) -> None:
    now = client.clock.now()
    start = max(client._trade_cursor.get(symbol, 0), client.trades_from, now - client.settings.trades_window_ms)
    page, first = trades_page(client.venue.id)
    held = bool(client.positions.get(symbol)) and client._forced_at.get(symbol) != now
    if held:
        client._forced_at[symbol] = now
    for params in (first, *({**first, **extra} for extra in trade_reads(client.venue.id, held))):
        since = start
        while True:
            trades = await read(partial(client.exchange.fetch_my_trades, symbol, since, page, dict(params)),
                                client.settings.backoff, client._retried)
            for raw in trades:
                take_trade(client, trade_seen(raw))
            if page is None or len(trades) < page:
                break
            since = client._trade_cursor[symbol]


def take_trade(client: CcxtExecutionClient, trade: TradeSeen, *, polled: bool = True) -> None:
    """A trade read back, once by its id: to its order, or held as a trade of an order not known to be ours.
    Only a polled trade moves the poll's cursor (a stream may have missed an earlier one)."""
    if trade.id in client._seen_trades:
        return
    client._seen_trades.add(trade.id)
    if polled:
        client._trade_cursor[trade.symbol] = max(client._trade_cursor.get(trade.symbol, 0), trade.ts)
    t = client._by_exchange_id.get(trade.order_id)
    if t is not None:
        t.take(trade)
    elif trade.ts > client.booked_until:  # not one booked already (before this session, or from its journal)
        client._foreign.setdefault(trade.order_id, []).append(trade)


def take_order(client: CcxtExecutionClient, answer: dict[str, Any]) -> bool:
    """An order update heard on the user stream, read as a polled answer is; False when the order is not
    known (yet) to be the session's (its trades will say whose it is)."""
    oid = str(answer.get("id") or "")
    t = client._by_exchange_id.get(oid) or next(
        (t for t in client.live_orders() if t.client_id == answer.get("clientOrderId")), None)
    if t is None:
        return False
    if t.phase in (Phase.DONE, Phase.QUEUED, Phase.UNKNOWN) or t.status is not None:
        return True  # done, not sent, or left to the lookup that lifts its halt
    if t.triggered_id is not None:  # a triggered stop ends with the order it became
        if oid == t.triggered_id and answer.get("status") in FINAL:
            t.finish(str(answer["status"]), Decimal(str(answer.get("filled") or 0)))
        return True
    if t.exchange_id is None:
        client._ack(t, answer)
    else:
        status(client, t, answer)
    return True


def status(client: CcxtExecutionClient, t: Tracked, answer: dict[str, Any]) -> None:
    """What an order dict from the exchange says: still live, triggered (a stop) or final."""
    state = answer.get("status")
    refused = post_only_refusal(answer) if t.order.post_only and state in ("expired", "canceled") else None
    if refused is not None:
        t.reject(refused)
        return
    if t.conditional and t.triggered_id is None and client.venue.trigger_becomes_new_order:
        info = answer.get("info") or {}
        triggered = str(info.get("actualOrderId") or info.get("ai") or "")  # REST, or the user stream's
        if state == "closed" and triggered:
            t.triggered_id = triggered
            client._by_exchange_id[triggered] = t
            _reroute(client, triggered)
            return
        if state == "closed":
            return  # triggered, the order it became not known yet: asked again at the next sync
    if state in FINAL:
        filled = Decimal(str(answer.get("filled") or 0))
        t.finish(str(state), filled)
    elif state == "open" and t.resting and not t.accepted:
        t.accepted = True
        client._emit(OrderEvent(max(client.clock.now(), t.order.ts), OrderEventKind.ACCEPTED, t.order))


def _user_stream(client: CcxtExecutionClient) -> UserStream | None:
    if client._stream is None and client.settings.streams:
        client._stream = UserStream(client.exchange, client.settings.stream, client._incident, client.log)
    return client._stream


def _reroute(client: CcxtExecutionClient, order_id: str) -> None:
    t = client._by_exchange_id.get(order_id)
    for trade in client._foreign.pop(order_id, []):
        if t is not None:
            t.take(trade)


async def _sync_funding(client: CcxtExecutionClient) -> None:
    for event in await client.funding.read(client.exchange, client.clock.now(), client.positions, client.prices,
                                           client.settings.backoff, client._retried):
        client._emit(event, first=True)


# ------------------------------------------------------------------ what the kernel hears
def _finals(client: CcxtExecutionClient) -> None:
    for t in list(client.tracked.values()):
        final(client, t)


def final(client: CcxtExecutionClient, t: Tracked) -> None:
    """An order that has ended becomes its one event for the kernel (and its fill moves the position)."""
    event = t.final_event(client.clock.now())
    if event is None:
        return
    t.phase = Phase.DONE
    client._emit(event)
    if event.fill is not None:
        _filled(client, event.fill)


def _filled(client: CcxtExecutionClient, fill: Fill) -> None:
    symbol = fill.symbol
    held = client.positions.get(symbol, Decimal(0)) + fill.quantity * fill.side.sign
    client.positions[symbol] = held
    if held:
        client.funding.owed_from(fill.ts)
    if held == 0:  # flat: what would reduce it has nothing left to reduce
        for t in client.live_orders(symbol):
            if t.order.reduce_only and t.order.client_order_id != fill.client_order_id:
                client.cancel(t.order.client_order_id, "position closed")


async def book_foreign(client: CcxtExecutionClient) -> None:
    """Trades of orders this session did not send: booked as exits (``foreign_fills``)."""
    for order_id, trades in list(client._foreign.items()):
        if order_id in client._by_exchange_id:
            _reroute(client, order_id)
            continue
        del client._foreign[order_id]
        booked = await foreign_fills(client.exchange, client.venue.id, order_id, trades, client.settings.backoff,
                                     client._retried)
        for event in booked.events:
            assert event.fill is not None
            client._emit(event)
            _filled(client, event.fill)
        client._incident(booked.kind, booked.message, trades[0].symbol, action="alert")
