"""Sessions, tier changes, alerts, incidents and feed cursors: the operational record behind
:class:`TradingJournal`, and what the gates read to judge operation (uptime, restarts, incidents).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, RowMapping, func, insert, select, update

from quantum_trader.journal.database import JournalError, new_id
from quantum_trader.journal.orders_io import Scope
from quantum_trader.journal.records import Alert, Incident, SessionMode, SessionRecord, Severity, TierChange
from quantum_trader.journal.tables import alerts, feed_cursors, incidents, sessions, tier_changes


def _int(value: Any) -> int | None:
    return None if value is None else int(value)


# ------------------------------------------------------------------ sessions
def start_session(con: Connection, scope: Scope, mode: SessionMode, ts: int, exchange: str, detail: str) -> bool:
    """Record the session's start; False when it was already started in the same mode (a resumed run)."""
    s = sessions.c
    row = con.execute(select(sessions).where(s.account == scope.account, s.session == scope.session)
                      ).mappings().first()
    if row is not None:
        if row["mode"] != mode.value:
            raise JournalError(f"session {scope.session}: already recorded as {row['mode']}, not {mode.value}")
        return False
    con.execute(insert(sessions).values(**scope.stamp, mode=mode.value, exchange=exchange, started_ts=ts,
                                        detail=detail))
    return True


def end_session(con: Connection, scope: Scope, ts: int, reason: str) -> None:
    s = sessions.c
    done = con.execute(update(sessions).where(s.account == scope.account, s.session == scope.session)
                       .values(ended_ts=ts, end_reason=reason)).rowcount
    if not done:
        raise JournalError(f"session {scope.session}: never started in this journal (start_session first)")


def all_sessions(con: Connection, account: str) -> list[SessionRecord]:
    s = sessions.c
    query = select(sessions).where(s.account == account).order_by(s.started_ts, s.session)
    return [SessionRecord(r["session"], SessionMode(r["mode"]), int(r["started_ts"]), r["exchange"], r["detail"],
                          _int(r["ended_ts"]), r["end_reason"]) for r in con.execute(query).mappings()]


# ------------------------------------------------------------------ tiers
def record_tier_change(con: Connection, scope: Scope, change: TierChange) -> int:
    return new_id(con.execute(insert(tier_changes).values(
        **scope.stamp, ts=change.ts, asset=change.asset, from_tier=change.from_tier, to_tier=change.to_tier,
        reason=change.reason, operator=change.operator)))


def all_tier_changes(con: Connection, account: str) -> list[TierChange]:
    t = tier_changes.c
    query = select(tier_changes).where(t.account == account).order_by(t.ts, t.id)
    return [TierChange(int(r["ts"]), r["asset"], r["from_tier"], r["to_tier"], r["reason"], r["operator"],
                       r["session"], int(r["id"])) for r in con.execute(query).mappings()]


# ------------------------------------------------------------------ alerts
def record_alert(con: Connection, scope: Scope, alert: Alert) -> int:
    """The alert's id; the one already recorded when this session raised the very same alert at the same time (a
    bar taken again after a crash)."""
    a = alerts.c
    same = con.execute(select(a.id).where(a.account == scope.account, a.session == scope.session, a.ts == alert.ts,
                                          a.kind == alert.kind, a.message == alert.message).limit(1)).scalar()
    if same is not None:
        return int(same)
    return new_id(con.execute(insert(alerts).values(
        **scope.stamp, ts=alert.ts, kind=alert.kind, severity=alert.severity.value, message=alert.message
    )))


def acknowledge_alert(con: Connection, account: str, alert_id: int, ts: int, by: str) -> bool:
    """Acknowledge; False when it already was (the first acknowledgement stands)."""
    a = alerts.c
    row = con.execute(select(alerts).where(a.account == account, a.id == alert_id)).mappings().first()
    if row is None:
        raise JournalError(f"alert #{alert_id}: no such alert for account {account}")
    if row["acknowledged_ts"] is not None:
        return False
    con.execute(update(alerts).where(a.id == alert_id).values(acknowledged_by=by, acknowledged_ts=ts))
    return True


def all_alerts(con: Connection, account: str, unacknowledged_only: bool) -> list[Alert]:
    a = alerts.c
    query = select(alerts).where(a.account == account)
    if unacknowledged_only:
        query = query.where(a.acknowledged_ts.is_(None))
    return [Alert(int(r["ts"]), r["kind"], Severity(r["severity"]), r["message"], r["acknowledged_by"],
                  _int(r["acknowledged_ts"]), r["session"], int(r["id"]))
            for r in con.execute(query.order_by(a.ts, a.id)).mappings()]


# ------------------------------------------------------------------ incidents
def open_incident(con: Connection, scope: Scope, incident: Incident) -> int:
    return new_id(con.execute(insert(incidents).values(
        **scope.stamp, ts=incident.ts, kind=incident.kind, detail=incident.detail, safe_action=incident.safe_action
    )))


def resolve_incident(con: Connection, account: str, incident_id: int, ts: int, by: str, resolution: str) -> bool:
    """Resolve; False when it already was (the first resolution stands)."""
    i = incidents.c
    row = con.execute(select(incidents).where(i.account == account, i.id == incident_id)).mappings().first()
    if row is None:
        raise JournalError(f"incident #{incident_id}: no such incident for account {account}")
    if row["resolved_ts"] is not None:
        return False
    con.execute(update(incidents).where(i.id == incident_id).values(resolved_ts=ts, resolved_by=by,
                                                                      resolution=resolution))
    return True


def _incident_of(r: RowMapping) -> Incident:
    return Incident(int(r["ts"]), r["kind"], r["detail"], r["safe_action"], _int(r["resolved_ts"]), r["resolved_by"],
                    r["resolution"], r["session"], int(r["id"]))


def all_incidents(con: Connection, account: str, unresolved_only: bool) -> list[Incident]:
    i = incidents.c
    query = select(incidents).where(i.account == account)
    if unresolved_only:
        query = query.where(i.resolved_ts.is_(None))
    return [_incident_of(r) for r in con.execute(query.order_by(i.ts, i.id)).mappings()]


# ------------------------------------------------------------------ feed cursors
def feed_cursor(con: Connection, account: str, session: str | None, feed: str) -> int | None:
    """The last bar processed on ``feed`` by ``session`` (None: by any session of the account)."""
    f = feed_cursors.c
    query = select(func.max(f.bar_ts)).where(f.account == account, f.feed == feed)
    if session is not None:
        query = query.where(f.session == session)
    return _int(con.execute(query).scalar_one_or_none())


def set_feed_cursor(con: Connection, scope: Scope, feed: str, bar_ts: int, ts: int) -> None:
    """Move the cursor forward; backwards is refused (the bars in between would be processed twice)."""
    current = feed_cursor(con, scope.account, scope.session, feed)
    f = feed_cursors.c
    if current is None:
        con.execute(insert(feed_cursors).values(**scope.stamp, feed=feed, bar_ts=bar_ts, updated_ts=ts))
        return
    if bar_ts < current:
        raise JournalError(f"feed cursor {feed} of session {scope.session}: bar {bar_ts} is before the recorded "
                           f"{current} (a cursor only moves forward)")
    con.execute(update(feed_cursors).where(f.account == scope.account, f.session == scope.session, f.feed == feed)
                .values(bar_ts=bar_ts, updated_ts=ts))
