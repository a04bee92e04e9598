"""Reconciliation before a live session trades: the journal's account against the exchange's, difference by difference.

A process that died (a crash, a reboot, a lost connection to the host) leaves the journal as it was at
that moment, while the exchange went on: a resting stop may have filled, a limit expired, an order whose
answer was lost may or may not exist. So before the first order the session asks the exchange about
everything the journal holds open, and compares what it holds:

- each order the journal holds open is looked up by its client order id. Still resting: agreed. Ended
  (filled, cancelled, expired) while the session was down: its final state and its trades are the
  exchange's record, not a guess, so they are journalled now (an incident, resolved at once, says so).
  Unknown to the exchange: an incident; whether it was ever placed cannot be known.
- each order resting at the exchange on the session's symbols must be one the journal holds open; one it
  does not know is an incident (placed by hand, or by another program: the session will not manage it).
- each position at the exchange must equal the journal's, the net of every fill its live sessions on this
  exchange hold; any other size is an incident (a fill the journal never heard of, or a position opened by
  hand). Paper sessions kept in the same journal are not the exchange's business.
- the USDT balance is read and kept in the journal's balances for the record.

Every difference is an incident in the journal with its safe action; a session refuses to start while
one is unresolved (``quantum-trader journal incidents``), rather than guess which side is right.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import Any

import ccxt

from quantum_trader.domain.trading import OrderEvent, OrderEventKind, OrderSide, OrderType
from quantum_trader.journal import Balance, OrderRecord, OrderStatus, SessionMode, TradingJournal
from quantum_trader.venues.ccxt.account import listed_orders, listed_positions
from quantum_trader.venues.ccxt.connect import VenueInfo
from quantum_trader.venues.ccxt.execution import trade_seen
from quantum_trader.venues.ccxt.ids import exchange_client_id
from quantum_trader.venues.ccxt.orders import find_order, trades_page
from quantum_trader.venues.ccxt.retry import Backoff, read
from quantum_trader.venues.ccxt.tracking import FINAL, Tracked, TradeSeen

HALT = "session refused to start (entries halted) until an operator resolves it"
UNSENT = "never reached the exchange: journalled, then the process died before sending it"
RECORDED = "recorded from the exchange"


@dataclass(frozen=True)
class Difference:
    kind: str
    detail: str
    symbol: str = ""


@dataclass
class Reconciliation:
    exchange_positions: dict[str, Decimal]
    journal_positions: dict[str, Decimal]
    resting: list[str]
    """Client ids of the orders resting at the exchange that the journal holds open."""
    settled: list[str] = field(default_factory=list)
    """Orders the journal held open that had ended at the exchange: their end is journalled now."""
    exchange_ids: dict[str, str] = field(default_factory=dict)
    """The journal's client order id -> the exchange's order id, for the orders found resting."""
    unsent: list[str] = field(default_factory=list)
    """Orders journalled and never acknowledged that the exchange does not have: the process died before sending
    them. One due at the bar forming now is left to the session (it asks again before sending); an older one
    is journalled as never sent."""
    differences: list[Difference] = field(default_factory=list)
    balance: Decimal | None = None
    seconds: float = 0.0

    @property
    def agrees(self) -> bool:
        return not self.differences

    @property
    def flat(self) -> bool:
        return not any(self.exchange_positions.values()) and not self.resting

    def lines(self) -> list[str]:
        held = ", ".join(f"{s} {q:+}" for s, q in sorted(self.exchange_positions.items()) if q) or "none"
        lines = [f"reconciled in {self.seconds * 1000:.0f} ms: positions {held}; {len(self.resting)} resting orders "
                 f"known to the journal; {len(self.settled)} ended while the session was down (journalled now)"]
        lines.extend(f"difference {d.kind}: {d.detail}" for d in self.differences)
        return lines


def live_sessions(journal: TradingJournal, exchange_id: str) -> set[str]:
    """The account's live sessions on this exchange: a paper session's orders and fills (the same account may
    keep them in the same journal) never reached it."""
    return {s.session for s in journal.sessions() if s.mode is SessionMode.LIVE and s.exchange == exchange_id}


def journal_positions(journal: TradingJournal, symbols: Iterable[str], sessions: set[str]) -> dict[str, Decimal]:
    """The net quantity of every fill of ``sessions`` the journal holds, per symbol (long positive)."""
    wanted = set(symbols)
    net: dict[str, Decimal] = defaultdict(Decimal)
    for record in journal.fills_since(0):
        fill = record.fill
        if fill.symbol in wanted and record.session in sessions:
            net[fill.symbol] += fill.quantity if fill.side is OrderSide.BUY else -fill.quantity
    return {s: net.get(s, Decimal(0)) for s in sorted(wanted)}


async def _exchange_positions(exchange: Any, symbols: Sequence[str], backoff: Backoff) -> dict[str, Decimal]:
    held = {s: Decimal(0) for s in symbols}
    for p in await listed_positions(exchange, symbols, backoff):
        size = Decimal(str(p.get("contracts") or 0))
        held[p["symbol"]] += -size if p.get("side") == "short" else size
    return held


async def _lookup(exchange: Any, symbol: str, client_id: str, conditional: bool, backoff: Backoff) -> Any:
    try:
        return await read(lambda: find_order(exchange, symbol, client_id, conditional), backoff)
    except ccxt.OrderNotFound:
        return None


async def _trades_of(exchange: Any, symbol: str, since: int, order_ids: set[str],
                     backoff: Backoff) -> list[TradeSeen]:
    trades: list[TradeSeen] = []
    limit, params = trades_page(exchange.id)
    while True:
        page = await read(partial(exchange.fetch_my_trades, symbol, since, limit, dict(params)), backoff)
        trades.extend(t for raw in page if (t := trade_seen(raw)).order_id in order_ids)
        if limit is None or len(page) < limit:
            return trades
        since = max(int(raw["timestamp"]) for raw in page) + 1


async def _settle(exchange: Any, journal: TradingJournal, venue: VenueInfo, record: OrderRecord, answer: Any,
                  now: int, backoff: Backoff, heard_ts: int) -> bool:
    """Journal how an order the journal held open ended at the exchange; False if it has not ended."""
    order = record.order
    status = answer.get("status")
    info = answer.get("info") or {}
    ids = {str(answer.get("id")), str(info.get("actualOrderId") or "")} - {"", "None"}
    if status not in FINAL or (status == "closed" and order.type is OrderType.STOP_MARKET
                               and venue.trigger_becomes_new_order and not info.get("actualOrderId")):
        return False
    tracked = Tracked(order, exchange_client_id(venue, order.client_order_id), order.type is OrderType.STOP_MARKET)
    triggered = str(info.get("actualOrderId") or "")
    if triggered and status == "closed":  # a stop that triggered: what filled is the order it became's to say
        became = await read(partial(exchange.fetch_order, triggered, order.symbol), backoff)
        status = became.get("status")
        if status not in FINAL:
            return False
        answer = {**answer, "filled": became.get("filled")}
    filled = Decimal(str(answer.get("filled") or 0))
    if filled > 0:
        for trade in await _trades_of(exchange, order.symbol, order.ts, ids, backoff):
            tracked.take(trade)
    tracked.finish(str(status), filled)
    event = tracked.final_event(now)
    if event is None:  # its trades are not all visible yet: leave it open, it is asked again at the next start
        return False
    journal.record_heard(event, heard_ts=heard_ts, fill_id=None if event.fill is None else f"{order.client_order_id}/1",
                         exchange_order_id=str(answer["id"]) if answer.get("id") else None)
    return True


def _not_found(journal: TradingJournal, record: OrderRecord, client_id: str, now: int, live_from: int | None,
               heard_ts: int, unsent: list[str], differences: list[Difference]) -> None:
    """An order the journal holds open and the exchange does not have. Never acknowledged (PENDING): the process
    died between its journal row and its send; one due before the bar forming now is journalled as never sent
    (a session taken again refuses it rather than send it late), one due now is left for the session to send.
    Acknowledged once: it cannot be known what became of it, an incident."""
    order = record.order
    if record.status is OrderStatus.PENDING:
        unsent.append(order.client_order_id)
        if live_from is None or order.ts < live_from:
            journal.record_heard(OrderEvent(now, OrderEventKind.REJECTED, order, reason=UNSENT), heard_ts=heard_ts)
        return
    differences.append(Difference("order_unknown", f"{order.symbol} {order.type.value} {client_id} is open in the "
                                  "journal and unknown to the exchange", order.symbol))


async def reconcile(exchange: Any, journal: TradingJournal, venue: VenueInfo, symbols: Sequence[str], *,
                    now: int, backoff: Backoff | None = None, live_from: int | None = None,
                    heard_ts: int | None = None) -> Reconciliation:
    """Compare and settle (module docstring); every difference is journalled as an open incident.

    ``live_from``: the open of the bar forming now (the session's first live moment); ``heard_ts``: the market
    time the session will take its first bar at (the last close before ``live_from``). What is settled is
    journalled as heard then, where a session taken again hands it to the kernel (``engine.catch_up``)."""
    heard_ts = now if heard_ts is None else heard_ts
    started = time.perf_counter()
    backoff = backoff or Backoff()
    wanted = set(symbols)
    resting_at_exchange = {str(o.get("clientOrderId") or ""): o
                           for o in await listed_orders(exchange, symbols, backoff)}
    differences: list[Difference] = []
    resting: list[str] = []
    settled: list[str] = []
    exchange_ids: dict[str, str] = {}
    unsent: list[str] = []
    sessions = live_sessions(journal, exchange.id)
    for record in journal.open_orders():
        order = record.order
        if order.symbol not in wanted or record.session not in sessions:
            continue
        client_id = exchange_client_id(venue, order.client_order_id)
        if client_id in resting_at_exchange:
            resting.append(client_id)
            if resting_at_exchange[client_id].get("id") is not None:
                exchange_ids[order.client_order_id] = str(resting_at_exchange[client_id]["id"])
            continue
        answer = await _lookup(exchange, order.symbol, client_id, order.type is OrderType.STOP_MARKET, backoff)
        if answer is None:
            _not_found(journal, record, client_id, now, live_from, heard_ts, unsent, differences)
        elif await _settle(exchange, journal, venue, record, answer, now, backoff, heard_ts):
            settled.append(client_id)
        else:
            resting.append(client_id)
    for client_id, o in resting_at_exchange.items():
        if client_id not in resting:
            differences.append(Difference("foreign_order", f"{o.get('symbol')} {o.get('side')} {o.get('type')} "
                                          f"{client_id or o.get('id')} rests at the exchange and not in the journal",
                                          str(o.get("symbol") or "")))
    held = await _exchange_positions(exchange, symbols, backoff)
    known = journal_positions(journal, symbols, sessions)
    for symbol in sorted(wanted):
        if held[symbol] != known[symbol]:
            differences.append(Difference("position_mismatch", f"{symbol}: the exchange holds {held[symbol]:+}, the "
                                          f"journal's fills net {known[symbol]:+}", symbol))
    balance = await read(lambda: exchange.fetch_balance(), backoff)
    total = (balance.get("total") or {}).get("USDT")
    found = Reconciliation(held, known, resting, settled, exchange_ids, unsent, differences,
                           None if total is None else Decimal(str(total)), time.perf_counter() - started)
    _journal(journal, found, now)
    return found


def _journal(journal: TradingJournal, found: Reconciliation, now: int) -> None:
    with journal.transaction():
        if found.balance is not None:
            journal.record_balances(now, [Balance("USDT", found.balance)], source="exchange")
        for client_id in found.settled:
            incident = journal.open_incident("order_settled", f"{client_id} ended while the session was down",
                                             safe_action=RECORDED, ts=now)
            journal.resolve_incident(incident, ts=now, by="reconciliation", resolution=RECORDED)
        for d in found.differences:
            journal.open_incident(f"reconciliation:{d.kind}", d.detail, safe_action=HALT, ts=now)
