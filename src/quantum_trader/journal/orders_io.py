"""Orders, their events, fills and risk decisions: the statements behind :class:`TradingJournal`.

Each function runs on a connection the caller opened (one transaction per state change) and
is idempotent where a crash can make the engine say the same thing twice: the same order
(same client order id, same fields) is recorded once, a fill id once, an order event once.
The same id with different content is refused: it is a bug or a corrupted replay, never
something to paper over.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, RowMapping, bindparam, func, insert, select, update

from quantum_trader.domain.trading import Fill, Order, OrderEvent, OrderEventKind, RiskDecision
from quantum_trader.journal import codec
from quantum_trader.journal.database import JournalError, new_id
from quantum_trader.journal.records import (
    ZERO,
    DecisionRecord,
    FillRecord,
    OrderEventRecord,
    OrderRecord,
    OrderStatus,
    next_status,
)
from quantum_trader.journal.tables import fills, order_events, orders, risk_decisions

_OPEN = [s.value for s in OrderStatus if s.is_open]

# The hot path's statements, built once (a fill costs ~7 statements: building them anew each time was
# half of its CPU time); parameters by name at execution.
_o, _f, _e = orders.c, fills.c, order_events.c
_ORDER = select(orders).where(_o.account == bindparam("a"), _o.client_order_id == bindparam("cid"))
_FILL = select(fills).where(_f.account == bindparam("a"), _f.fill_id == bindparam("fid"))
_FILLED = select(_f.quantity).where(_f.account == bindparam("a"), _f.client_order_id == bindparam("cid"))
_FILL_EVENT_SEEN = select(func.count()).select_from(order_events).where(
    _e.account == bindparam("a"), _e.client_order_id == bindparam("cid"), _e.fill_id == bindparam("fid"))
_EVENT_SEEN = select(func.count()).select_from(order_events).where(
    _e.account == bindparam("a"), _e.client_order_id == bindparam("cid"), _e.kind == bindparam("k"),
    _e.ts == bindparam("t"), _e.reason == bindparam("r"), _e.fill_id.is_(None))
_UPDATE_ORDER = update(orders).where(_o.id == bindparam("row_id"))


@dataclass(frozen=True, slots=True)
class Scope:
    """Who writes: every row carries the account and the session (run) id."""

    account: str
    session: str

    @property
    def stamp(self) -> dict[str, str]:
        return {"account": self.account, "session": self.session}


def _order_row(con: Connection, account: str, client_order_id: str) -> RowMapping | None:
    return con.execute(_ORDER, {"a": account, "cid": client_order_id}).mappings().first()


def order_record(row: RowMapping) -> OrderRecord:
    return OrderRecord(codec.order_of(row), OrderStatus(row["status"]), row["filled_quantity"],
                       row["exchange_order_id"], row["session"], int(row["updated_ts"]), row["decision_id"])


def record_order(con: Connection, scope: Scope, order: Order, decision_id: int | None) -> bool:
    """Insert the order (status PENDING); False if the same order was already journalled (a replay)."""
    values = codec.order_values(order)
    existing = _order_row(con, scope.account, order.client_order_id)
    if existing is not None:
        diffs = codec.differences(existing, values, codec.ORDER_FIELDS)
        if diffs:
            raise JournalError(f"order {order.client_order_id}: already journalled with other values "
                               f"({'; '.join(diffs)}): one client order id names one order")
        return False
    con.execute(insert(orders), {
        **values, **scope.stamp, "exchange_order_id": None, "status": OrderStatus.PENDING.value,
        "filled_quantity": ZERO, "updated_ts": order.ts, "decision_id": decision_id})
    return True


def _insert_fill(con: Connection, scope: Scope, fill: Fill, fill_id: str) -> bool:
    values = codec.fill_values(fill, fill_id)
    existing = con.execute(_FILL, {"a": scope.account, "fid": fill_id}).mappings().first()
    if existing is not None:
        diffs = codec.differences(existing, values, codec.FILL_FIELDS)
        if diffs:
            raise JournalError(f"fill {fill_id}: already journalled with other values ({'; '.join(diffs)})")
        return False
    con.execute(insert(fills), {**values, **scope.stamp})
    return True


def _filled(con: Connection, account: str, client_order_id: str) -> Decimal:
    return sum(con.execute(_FILLED, {"a": account, "cid": client_order_id}).scalars().all(), ZERO)


def record_fill(con: Connection, scope: Scope, fill: Fill, fill_id: str) -> bool:
    """Insert the fill; False if it was already there. Its order's filled quantity follows (status: events)."""
    new = _insert_fill(con, scope, fill, fill_id)
    row = _order_row(con, scope.account, fill.client_order_id) if new and fill.client_order_id else None
    if row is not None:
        con.execute(_UPDATE_ORDER, {"row_id": row["id"],
                                    "filled_quantity": _filled(con, scope.account, fill.client_order_id)})
    return new


def _event_seen(con: Connection, account: str, event: OrderEvent, fill_id: str | None) -> bool:
    cid = event.order.client_order_id
    if fill_id is not None:
        found = con.execute(_FILL_EVENT_SEEN, {"a": account, "cid": cid, "fid": fill_id})
    else:
        found = con.execute(_EVENT_SEEN, {"a": account, "cid": cid, "k": event.kind.value, "t": event.ts,
                                          "r": event.reason})
    return bool(found.scalar_one())


def record_order_event(con: Connection, scope: Scope, event: OrderEvent, exchange_order_id: str | None,
                       fill_id: str | None) -> OrderStatus:
    """The event, its fill (if any) and the order's new status and filled quantity, in the caller's transaction."""
    cid = event.order.client_order_id
    row = _order_row(con, scope.account, cid)
    if row is None:
        raise JournalError(f"order event {event.kind.value} for {cid}: no such order in the journal "
                           "(an order is journalled before it is sent)")
    if (event.fill is None) != (fill_id is None):
        raise JournalError(f"order event {event.kind.value} for {cid}: a fill and its fill_id go together "
                           f"(fill {'given' if event.fill else 'missing'}, fill_id {fill_id!r})")
    status = OrderStatus(row["status"])
    if _event_seen(con, scope.account, event, fill_id):
        return status
    codec.finite(f"order event for {cid}", "reference", event.reference)
    changes: dict[str, Any] = {"updated_ts": max(int(row["updated_ts"]), event.ts)}
    if event.fill is not None and fill_id is not None:
        if event.fill.client_order_id != cid:
            raise JournalError(f"order event for {cid}: its fill belongs to {event.fill.client_order_id!r}")
        _insert_fill(con, scope, event.fill, fill_id)
        changes["filled_quantity"] = _filled(con, scope.account, cid)
    status = next_status(status, event.kind)
    changes["status"] = status.value
    if exchange_order_id and not row["exchange_order_id"]:
        changes["exchange_order_id"] = exchange_order_id
    con.execute(insert(order_events), {
        **scope.stamp, "client_order_id": cid, "ts": event.ts, "kind": event.kind.value, "reason": event.reason,
        "exchange_order_id": exchange_order_id, "fill_id": fill_id, "reference": event.reference})
    con.execute(_UPDATE_ORDER, {"row_id": row["id"], **changes})
    return status


# ------------------------------------------------------------------ readers
def order_by_client_id(con: Connection, account: str, client_order_id: str) -> OrderRecord | None:
    row = _order_row(con, account, client_order_id)
    return None if row is None else order_record(row)


def open_orders(con: Connection, account: str) -> list[OrderRecord]:
    query = select(orders).where(orders.c.account == account, orders.c.status.in_(_OPEN)).order_by(orders.c.id)
    return [order_record(r) for r in con.execute(query).mappings()]


def all_orders(con: Connection, account: str, session: str | None) -> list[OrderRecord]:
    query = select(orders).where(orders.c.account == account)
    if session is not None:
        query = query.where(orders.c.session == session)
    return [order_record(r) for r in con.execute(query.order_by(orders.c.id)).mappings()]


def events_of(con: Connection, account: str, client_order_id: str) -> list[OrderEventRecord]:
    e = order_events.c
    query = select(order_events).where(e.account == account, e.client_order_id == client_order_id).order_by(e.id)
    return [OrderEventRecord(r["client_order_id"], int(r["ts"]), OrderEventKind(r["kind"]), r["reason"],
                             r["exchange_order_id"], r["fill_id"], r["reference"], r["session"], int(r["id"]))
            for r in con.execute(query).mappings()]


def _fill_record(row: RowMapping) -> FillRecord:
    return FillRecord(row["fill_id"], codec.fill_of(row), row["session"], int(row["id"]))


def fills_since(con: Connection, account: str, since_ts: int) -> list[FillRecord]:
    query = select(fills).where(fills.c.account == account, fills.c.ts >= since_ts).order_by(fills.c.ts, fills.c.id)
    return [_fill_record(r) for r in con.execute(query).mappings()]


def fills_after(con: Connection, account: str, fill_id: str | None) -> list[FillRecord]:
    """The fills journalled after ``fill_id`` (all of them for None), in journal order."""
    query = select(fills).where(fills.c.account == account)
    if fill_id is not None:
        seq = con.execute(select(fills.c.id).where(fills.c.account == account, fills.c.fill_id == fill_id)
                          ).scalar_one_or_none()
        if seq is None:
            raise JournalError(f"fill {fill_id}: not in the journal (fills after it cannot be told)")
        query = query.where(fills.c.id > seq)
    return [_fill_record(r) for r in con.execute(query.order_by(fills.c.id)).mappings()]


def last_fill(con: Connection, account: str) -> FillRecord | None:
    query = select(fills).where(fills.c.account == account).order_by(fills.c.id.desc()).limit(1)
    row = con.execute(query).mappings().first()
    return None if row is None else _fill_record(row)


# ------------------------------------------------------------------ decisions
def record_decision(con: Connection, scope: Scope, decision: RiskDecision, ts: int, requested: Decimal | None,
                    client_order_id: str | None) -> int:
    """The decision's id; the one already recorded when this session journalled the very same verdict at the same
    time (a bar taken again after a crash records nothing twice)."""
    values = codec.decision_values(decision, ts, requested)
    d = risk_decisions.c
    rows = con.execute(select(d.id, d.quantity).where(
        d.account == scope.account, d.session == scope.session, d.ts == ts, d.symbol == values["symbol"],
        d.verdict == values["verdict"], d.intent == values["intent"], d.reasons == values["reasons"]))
    same = next((int(row.id) for row in rows if row.quantity == values["quantity"]), None)
    if same is not None:
        return same
    return new_id(con.execute(insert(risk_decisions), {**values, **scope.stamp, "client_order_id": client_order_id}))


def decisions(con: Connection, account: str, since_ts: int | None) -> list[DecisionRecord]:
    d = risk_decisions.c
    query = select(risk_decisions).where(d.account == account)
    if since_ts is not None:
        query = query.where(d.ts >= since_ts)
    return [DecisionRecord(int(r["ts"]), codec.decision_of(r), r["requested_quantity"], r["client_order_id"],
                           r["session"], int(r["id"]))
            for r in con.execute(query.order_by(d.ts, d.id)).mappings()]
