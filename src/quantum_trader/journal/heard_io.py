"""What a live session heard and when (revision 0004): the statements behind ``TradingJournal.record_heard`` and
``TradingJournal.heard``.

The exchange's word on an order is journalled as an order event (``orders_io``); this adds the market time at
which the session heard it, and the funding payments it was charged, so a session taken again after a crash
(``engine.catch_up``) books each at the bar it was booked at before instead of asking the exchange again. The
writes are idempotent as the rest of the journal's: an event heard twice (a replay) keeps its first time.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, RowMapping, and_, func, insert, select

from quantum_trader.domain.trading import Fill, FundingEvent, OrderEvent, OrderEventKind, OrderSide
from quantum_trader.journal import codec
from quantum_trader.journal.orders_io import Scope
from quantum_trader.journal.tables import fills, heard_events, order_events, orders

HEARD_TABLE = "heard_events"
ORDER, FUNDING = "order", "funding"


@dataclass(frozen=True, slots=True)
class Heard:
    """One thing a session heard: ``event`` at market time ``heard_ts`` (journal order within one time)."""

    heard_ts: int
    event: OrderEvent | FundingEvent
    seq: int


def _event_row(con: Connection, account: str, event: OrderEvent, fill_id: str | None) -> int | None:
    e = order_events.c
    where = [e.account == account, e.client_order_id == event.order.client_order_id]
    if fill_id is not None:
        where.append(e.fill_id == fill_id)
    else:
        where += [e.kind == event.kind.value, e.ts == event.ts, e.reason == event.reason, e.fill_id.is_(None)]
    found = con.execute(select(func.min(e.id)).where(*where)).scalar_one_or_none()
    return None if found is None else int(found)


def record_heard_order(con: Connection, scope: Scope, event: OrderEvent, fill_id: str | None, heard_ts: int) -> None:
    """Note when the (already journalled) ``event`` was heard; once per event."""
    row = _event_row(con, scope.account, event, fill_id)
    if row is None:
        return
    h = heard_events.c
    seen = con.execute(select(func.count()).select_from(heard_events).where(
        h.account == scope.account, h.order_event_id == row)).scalar_one()
    if not seen:
        con.execute(insert(heard_events), {**scope.stamp, "heard_ts": heard_ts, "kind": ORDER, "order_event_id": row})


def record_funding(con: Connection, scope: Scope, event: FundingEvent, heard_ts: int) -> bool:
    """A funding payment heard; False if this session already holds it (a replay)."""
    h = heard_events.c
    codec.finite(f"funding {event.symbol}", "rate", event.rate)
    codec.finite(f"funding {event.symbol}", "price", event.price)
    seen = con.execute(select(func.count()).select_from(heard_events).where(
        h.account == scope.account, h.session == scope.session, h.kind == FUNDING, h.symbol == event.symbol,
        h.ts == event.ts)).scalar_one()
    if seen:
        return False
    con.execute(insert(heard_events), {**scope.stamp, "heard_ts": heard_ts, "kind": FUNDING, "symbol": event.symbol,
                                       "ts": event.ts, "rate": event.rate, "price": event.price})
    return True


def heard_of(con: Connection, account: str, session: str) -> list[Heard]:
    """Everything ``session`` heard, in the order it heard it."""
    h, e, o, f = heard_events.c, order_events.c, orders.c, fills.c
    out: list[Heard] = []
    funding = select(heard_events).where(h.account == account, h.session == session, h.kind == FUNDING)
    for r in con.execute(funding).mappings():
        out.append(Heard(int(r["heard_ts"]), FundingEvent(int(r["ts"]), r["symbol"], r["rate"], r["price"]),
                         int(r["id"])))
    query = (select(h.heard_ts, h.id.label("seq"), e.ts.label("event_ts"), e.kind.label("event_kind"),
                    e.reason.label("event_reason"), e.reference.label("event_reference"), e.fill_id,
                    *[c for c in orders.c if c.name not in ("id", "account", "session", "status")],
                    f.ts.label("fill_ts"), f.symbol.label("fill_symbol"), f.side.label("fill_side"),
                    f.quantity.label("fill_quantity"), f.price.label("fill_price"), f.fee, f.is_maker, f.liquidation)
             .select_from(heard_events.join(order_events, e.id == h.order_event_id)
                          .join(orders, and_(o.account == e.account, o.client_order_id == e.client_order_id))
                          .outerjoin(fills, and_(f.account == e.account, f.fill_id == e.fill_id)))
             .where(h.account == account, h.session == session, h.kind == ORDER))
    out.extend(Heard(int(r["heard_ts"]), _order_event(r), int(r["seq"])) for r in con.execute(query).mappings())
    return sorted(out, key=lambda x: x.seq)


def _order_event(row: RowMapping) -> OrderEvent:
    order = codec.order_of(row)
    fill = None
    if row["fill_id"] is not None:
        fill = Fill(ts=int(row["fill_ts"]), symbol=row["fill_symbol"], side=OrderSide(row["fill_side"]),
                    quantity=row["fill_quantity"], price=row["fill_price"], fee=row["fee"],
                    client_order_id=order.client_order_id, is_maker=bool(row["is_maker"]),
                    liquidation=bool(row["liquidation"]))
    return OrderEvent(int(row["event_ts"]), OrderEventKind(row["event_kind"]), order, fill=fill,
                      reason=row["event_reason"], reference=row["event_reference"])
