"""Snapshots (positions, balances, equity), the kill switch and asset locks: the statements behind
:class:`TradingJournal`.

A snapshot is a header row plus one row per position or balance, so a flat book (no position)
is a snapshot too, distinguishable from "never recorded". The kill switch is one row per account,
replaced on each save, plus an append-only history of its trips, re-arms and resets.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, RowMapping, bindparam, insert, select, update

from quantum_trader.domain.trading import Position
from quantum_trader.journal import codec
from quantum_trader.journal.database import JournalError, new_id
from quantum_trader.journal.orders_io import Scope
from quantum_trader.journal.records import (
    Balance,
    BalancesSnapshot,
    EquitySnapshot,
    KillSwitchChange,
    KillSwitchRecord,
    LockRecord,
    PositionsSnapshot,
)
from quantum_trader.journal.tables import (
    asset_locks,
    equity_snapshots,
    killswitch_events,
    killswitch_state,
    snapshot_balances,
    snapshot_positions,
    snapshots,
)
from quantum_trader.risk.events import EventKind
from quantum_trader.risk.kill_switch import KillSwitchError, KillSwitchState

POSITIONS = "positions"
BALANCES = "balances"
EQUITY_FIELDS = ("equity", "cash", "unrealised_pnl", "realised_pnl", "fees_paid", "funding_paid")


def _snapshot(con: Connection, scope: Scope, ts: int, kind: str, source: str) -> int:
    return new_id(con.execute(insert(snapshots).values(**scope.stamp, ts=ts, kind=kind, source=source)))


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise JournalError(f"{what}: {name} appears twice in one snapshot")
        seen.add(name)


def record_positions(con: Connection, scope: Scope, ts: int, positions: Iterable[Position], source: str) -> int:
    held = list(positions)
    _unique([p.symbol for p in held], f"positions snapshot at {ts}")
    rows = [codec.position_values(p, f"position {p.symbol} at {ts}") for p in held]
    snapshot_id = _snapshot(con, scope, ts, POSITIONS, source)
    if rows:
        con.execute(insert(snapshot_positions), [{**r, "snapshot_id": snapshot_id} for r in rows])
    return snapshot_id


def record_balances(con: Connection, scope: Scope, ts: int, balances: Iterable[Balance], source: str) -> int:
    held = list(balances)
    _unique([b.asset for b in held], f"balances snapshot at {ts}")
    rows = [codec.balance_values(b, f"balance {b.asset} at {ts}") for b in held]
    snapshot_id = _snapshot(con, scope, ts, BALANCES, source)
    if rows:
        con.execute(insert(snapshot_balances), [{**r, "snapshot_id": snapshot_id} for r in rows])
    return snapshot_id


def _latest(con: Connection, account: str, kind: str, source: str) -> RowMapping | None:
    s = snapshots.c
    query = (select(snapshots).where(s.account == account, s.kind == kind, s.source == source)
             .order_by(s.id.desc()).limit(1))
    return con.execute(query).mappings().first()


def latest_positions(con: Connection, account: str, source: str) -> PositionsSnapshot | None:
    head = _latest(con, account, POSITIONS, source)
    if head is None:
        return None
    rows = con.execute(select(snapshot_positions).where(snapshot_positions.c.snapshot_id == head["id"])
                       .order_by(snapshot_positions.c.symbol)).mappings()
    return PositionsSnapshot(int(head["ts"]), tuple(codec.position_of(r) for r in rows), source, head["session"])


def latest_balances(con: Connection, account: str, source: str) -> BalancesSnapshot | None:
    head = _latest(con, account, BALANCES, source)
    if head is None:
        return None
    rows = con.execute(select(snapshot_balances).where(snapshot_balances.c.snapshot_id == head["id"])
                       .order_by(snapshot_balances.c.asset)).mappings()
    return BalancesSnapshot(int(head["ts"]), tuple(codec.balance_of(r) for r in rows), source, head["session"])


def record_equity(con: Connection, scope: Scope, snapshot: EquitySnapshot) -> None:
    """Appended, unless this session holds this very snapshot already (a bar taken again after a crash)."""
    e = equity_snapshots.c
    same_time = con.execute(select(equity_snapshots).where(e.account == scope.account, e.ts == snapshot.ts,
                                                           e.session == scope.session)).mappings()
    if any(_equity_of(row) == snapshot for row in same_time):
        return
    con.execute(insert(equity_snapshots), _equity_row(scope, snapshot))


def record_equities(con: Connection, scope: Scope, snapshots: Sequence[EquitySnapshot]) -> None:
    """Many snapshots in one statement, appended as they are (a session's bars since its last flush, which it
    never writes twice)."""
    if snapshots:
        con.execute(insert(equity_snapshots), [_equity_row(scope, s) for s in snapshots])


def _equity_row(scope: Scope, snapshot: EquitySnapshot) -> dict[str, object]:
    where = f"equity snapshot at {snapshot.ts}"
    return {**scope.stamp, "ts": snapshot.ts,
            **{name: codec.exact(where, name, getattr(snapshot, name)) for name in EQUITY_FIELDS}}


def _equity_of(row: RowMapping) -> EquitySnapshot:
    return EquitySnapshot(int(row["ts"]), *(row[name] for name in EQUITY_FIELDS))


def latest_equity(con: Connection, account: str) -> EquitySnapshot | None:
    e = equity_snapshots.c
    row = con.execute(select(equity_snapshots).where(e.account == account).order_by(e.ts.desc(), e.id.desc())
                      .limit(1)).mappings().first()
    return None if row is None else _equity_of(row)


def equity_since(con: Connection, account: str, since_ts: int) -> list[EquitySnapshot]:
    e = equity_snapshots.c
    query = select(equity_snapshots).where(e.account == account, e.ts >= since_ts).order_by(e.ts, e.id)
    return [_equity_of(r) for r in con.execute(query).mappings()]


# ------------------------------------------------------------------ kill switch
def save_killswitch(con: Connection, scope: Scope, record: KillSwitchRecord, change: KillSwitchChange | None) -> None:
    where = f"kill switch of {scope.account} at {record.ts}"
    state_json = json.dumps(record.state.to_dict())
    values = {"session": scope.session, "ts": record.ts, "tripped": record.tripped, "state": state_json,
              "trip_reason": record.trip_reason,
              "peak_equity": codec.exact(where, "peak_equity", record.peak_equity),
              "day_start_equity": codec.exact(where, "day_start_equity", record.day_start_equity),
              "equity_day": record.equity_day}
    k = killswitch_state.c
    saved = con.execute(update(killswitch_state).where(k.account == bindparam("a")), {"a": scope.account, **values})
    if not saved.rowcount:
        con.execute(insert(killswitch_state), {"account": scope.account, **values})
    if change is not None and not _change_seen(con, scope, change):
        con.execute(insert(killswitch_events), {
            **scope.stamp, "ts": change.ts, "kind": change.kind.value, "reason": change.reason,
            "operator": change.operator, "forced": change.forced, "state": state_json})


def _change_seen(con: Connection, scope: Scope, change: KillSwitchChange) -> bool:
    """This session already recorded this change at this time (a bar taken again after a crash)."""
    e = killswitch_events.c
    return con.execute(select(e.id).where(e.account == scope.account, e.session == scope.session, e.ts == change.ts,
                                          e.kind == change.kind.value, e.reason == change.reason).limit(1)
                       ).first() is not None


def _state_of(text: str, account: str) -> KillSwitchState:
    try:
        return KillSwitchState.from_dict(json.loads(text))
    except (KillSwitchError, ValueError) as exc:
        raise JournalError(f"kill switch of {account}: the stored state cannot be read ({exc})") from None


def load_killswitch(con: Connection, account: str) -> KillSwitchRecord | None:
    row = con.execute(select(killswitch_state).where(killswitch_state.c.account == account)).mappings().first()
    if row is None:
        return None
    return KillSwitchRecord(_state_of(row["state"], account), row["peak_equity"], row["day_start_equity"],
                            int(row["equity_day"]), row["trip_reason"], int(row["ts"]))


def killswitch_history(con: Connection, account: str) -> list[KillSwitchChange]:
    k = killswitch_events.c
    query = select(killswitch_events).where(k.account == account).order_by(k.id)
    return [KillSwitchChange(int(r["ts"]), EventKind(r["kind"]), r["reason"], r["operator"], bool(r["forced"]),
                             r["session"], int(r["id"]))
            for r in con.execute(query).mappings()]


# ------------------------------------------------------------------ locks
def _active_lock(con: Connection, account: str, asset: str) -> RowMapping | None:
    a = asset_locks.c
    query = select(asset_locks).where(a.account == account, a.asset == asset, a.cleared_ts.is_(None)).order_by(a.id)
    return con.execute(query).mappings().first()


def record_lock(con: Connection, scope: Scope, asset: str, ts: int, until: int, reason: str) -> int:
    """A lock on ``asset`` until ``until``; the id of the lock already held if there is one."""
    held = _active_lock(con, scope.account, asset)
    if held is not None:
        return int(held["id"])
    if until <= ts:
        raise JournalError(f"lock of {asset} at {ts}: it ends at {until}, not after it starts")
    return new_id(con.execute(insert(asset_locks).values(**scope.stamp, asset=asset, ts=ts, until_ts=until,
                                                          reason=reason)))


def clear_lock(con: Connection, scope: Scope, asset: str, ts: int, reason: str) -> bool:
    a = asset_locks.c
    done = con.execute(update(asset_locks).where(a.account == scope.account, a.asset == asset, a.cleared_ts.is_(None))
                       .values(cleared_ts=ts, cleared_reason=reason)).rowcount
    return bool(done)


def _lock_of(row: RowMapping) -> LockRecord:
    return LockRecord(row["asset"], int(row["ts"]), int(row["until_ts"]), row["reason"],
                      None if row["cleared_ts"] is None else int(row["cleared_ts"]), row["cleared_reason"],
                      row["session"], int(row["id"]))


def locks(con: Connection, account: str, *, active_at: int | None, active_only: bool) -> list[LockRecord]:
    a = asset_locks.c
    query = select(asset_locks).where(a.account == account)
    if active_only:
        query = query.where(a.cleared_ts.is_(None))
        if active_at is not None:
            query = query.where(a.until_ts > active_at)
    return [_lock_of(r) for r in con.execute(query.order_by(a.id)).mappings()]

