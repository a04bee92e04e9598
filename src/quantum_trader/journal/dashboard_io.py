"""The dashboard's reads of a trading journal: cheap enough to run on every poll of a year-long journal.

A year of 1m bars is 525,600 risk snapshots; the dashboard never loads them all. ``version`` is a
handful of index seeks (the newest row of each table the page shows); the history is sampled in the
database, one index seek per sample point (``sampled``: the row at or before each of N evenly spaced
times, in one statement), so a chart costs the same on a day and on a year. Every query stays on the
``(account, ts)`` index of revision 0003; readers never create anything, and a table that does not exist
yet reads as empty.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import Connection, and_, func, literal_column, select, text

from quantum_trader.journal.database import Database
from quantum_trader.journal.ops_io import _incident_of
from quantum_trader.journal.records import Alert, Incident, RiskSnapshot, Severity
from quantum_trader.journal.risk_io import RISK_TABLE
from quantum_trader.journal.risk_io import _of as _risk_of
from quantum_trader.journal.schema import phase_events
from quantum_trader.journal.tables import (
    alerts,
    feed_cursors,
    fills,
    incidents,
    killswitch_state,
    orders,
    risk_snapshots,
)


@dataclass(frozen=True, slots=True)
class FillWithTag:
    fill_id: int
    ts: int
    symbol: str
    side: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    tag: str
    purpose: str


_SAMPLE = """
WITH RECURSIVE marks(n, t) AS (
    SELECT CAST(0 AS BIGINT), CAST(:lo AS BIGINT)
    UNION ALL
    SELECT n + 1, CAST(:lo AS BIGINT) + ((n + 1) * (CAST(:hi AS BIGINT) - CAST(:lo AS BIGINT))) / CAST(:steps AS BIGINT)
    FROM marks WHERE n < CAST(:steps AS BIGINT)
),
picked AS (
    SELECT DISTINCT (SELECT r.id FROM risk_snapshots r
                     WHERE r.account = :account AND r.ts <= marks.t AND r.ts >= CAST(:lo AS BIGINT) {extra}
                     ORDER BY r.ts DESC, r.id DESC LIMIT 1) AS id
    FROM marks
)
SELECT s.id, s.ts, s.equity, s.exposure, s.correlated_exposure, s.daily_loss, s.drawdown, s.positions, s.session
       {matrix}
FROM risk_snapshots s JOIN picked ON s.id = picked.id
ORDER BY s.ts, s.id
"""
"""One index seek per sample time (the row at or before it), the rows fetched in the same statement; the
matrix columns only when asked for (a history chart needs none of them)."""


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


class DashboardReader:
    """The reads of one account's journal the dashboard needs beyond :class:`TradingJournal`'s."""

    def __init__(self, db: Database, account: str) -> None:
        self.db = db
        self.account = account

    def _has(self, table: str) -> bool:
        return self.db.has_table(table)

    # ------------------------------------------------------------------ what changed
    def version(self) -> tuple[int, ...]:
        """Newest row ids and acknowledgement counts: any change to what the page shows changes this."""
        a = self.account
        parts = []
        if self._has(RISK_TABLE):
            r = risk_snapshots.c
            parts.append(select(r.id).where(r.account == a).order_by(r.ts.desc(), r.id.desc()).limit(1)
                         .scalar_subquery())
        if self._has(alerts.name):
            parts += [select(func.max(alerts.c.id)).where(alerts.c.account == a).scalar_subquery(),
                      select(func.count(alerts.c.acknowledged_ts)).where(alerts.c.account == a).scalar_subquery(),
                      select(func.max(incidents.c.id)).where(incidents.c.account == a).scalar_subquery(),
                      select(func.count(incidents.c.resolved_ts)).where(incidents.c.account == a).scalar_subquery(),
                      select(func.max(fills.c.id)).where(fills.c.account == a).scalar_subquery(),
                      select(func.max(killswitch_state.c.ts)).where(killswitch_state.c.account == a)
                      .scalar_subquery()]
        if self._has(phase_events.name):
            parts.append(select(func.max(phase_events.c.id)).scalar_subquery())
        if not parts:
            return ()
        with self.db.read() as con:
            row = con.execute(select(*parts)).one()
        return tuple(int(v or 0) for v in row)

    # ------------------------------------------------------------------ risk history
    def _bounds(self, con: Connection, since: int | None, until: int | None,
                correlation: bool) -> tuple[int, int] | None:
        r = risk_snapshots.c
        where = [r.account == self.account]
        if since is not None:
            where.append(r.ts >= since)
        if until is not None:
            where.append(r.ts <= until)
        if correlation:
            where.append(r.correlation.is_not(None))
        first = con.execute(select(r.ts).where(and_(*where)).order_by(r.ts, r.id).limit(1)).scalar()
        last = con.execute(select(r.ts).where(and_(*where)).order_by(r.ts.desc(), r.id.desc()).limit(1)).scalar()
        return None if first is None or last is None else (int(first), int(last))

    def sampled(self, since: int | None, until: int | None, points: int, *,
                correlation: bool = False) -> list[RiskSnapshot]:
        """At most ``points`` snapshots evenly spread over the range (the last one always included), oldest first.
        Without ``correlation`` they carry no matrix (``symbols`` empty, ``correlation`` None: a chart of the
        history needs none); with it, only the snapshots carrying one, matrix included."""
        if not self._has(RISK_TABLE) or points < 1:
            return []
        with self.db.read() as con:
            bounds = self._bounds(con, since, until, correlation)
            if bounds is None:
                return []
            lo, hi = bounds
            steps = max(1, points - 1) if hi > lo else 1
            query = _SAMPLE.format(extra="AND r.correlation IS NOT NULL" if correlation else "",
                                   matrix=", s.symbols, s.correlation, s.mean_correlation" if correlation else "")
            rows = con.execute(text(query), {"lo": lo, "hi": hi, "steps": steps, "account": self.account}).all()
        out = []
        for row in rows:
            symbols: tuple[str, ...] = ()
            matrix = None
            mean = None
            if correlation:
                symbols = tuple(json.loads(row[9])) if row[9] else ()
                matrix = tuple(tuple(float(x) for x in r) for r in json.loads(row[10])) if row[10] else None
                mean = _float(row[11])
            out.append(RiskSnapshot(int(row[1]), Decimal(str(row[2])), float(str(row[3])), int(row[7]),
                                    _float(row[4]), _float(row[5]), _float(row[6]), symbols, matrix, mean,
                                    str(row[8]), int(row[0])))
        return out

    def newest_ids(self) -> tuple[int, int]:
        """(newest risk snapshot, newest fill of any account): what cached history and positions hang on."""
        risk = fill = 0
        with self.db.read() as con:
            if self._has(RISK_TABLE):
                r = risk_snapshots.c
                risk = con.execute(select(r.id).where(r.account == self.account)
                                   .order_by(r.ts.desc(), r.id.desc()).limit(1)).scalar() or 0
            if self._has(fills.name):
                fill = con.execute(select(func.max(fills.c.id))).scalar() or 0
        return int(risk), int(fill)

    def risk_at_or_before(self, ts: int) -> RiskSnapshot | None:
        if not self._has(RISK_TABLE):
            return None
        r = risk_snapshots.c
        with self.db.read() as con:
            row = con.execute(select(risk_snapshots).where(r.account == self.account, r.ts <= ts)
                              .order_by(r.ts.desc(), r.id.desc()).limit(1)).mappings().first()
        return None if row is None else _risk_of(row)

    def first_risk(self) -> RiskSnapshot | None:
        if not self._has(RISK_TABLE):
            return None
        r = risk_snapshots.c
        with self.db.read() as con:
            row = con.execute(select(risk_snapshots).where(r.account == self.account)
                              .order_by(r.ts, r.id).limit(1)).mappings().first()
        return None if row is None else _risk_of(row)

    # ------------------------------------------------------------------ alerts, incidents
    def recent_alerts(self, limit: int) -> tuple[list[Alert], dict[str, int], int]:
        """The newest ``limit`` alerts (newest first), the count of every alert by kind, and how many are not
        acknowledged."""
        if not self._has(alerts.name):
            return [], {}, 0
        a = alerts.c
        with self.db.read() as con:
            rows = con.execute(select(alerts).where(a.account == self.account)
                               .order_by(a.ts.desc(), a.id.desc()).limit(limit)).mappings().all()
            counts = con.execute(select(a.kind, func.count()).where(a.account == self.account)
                                 .group_by(a.kind)).all()
            open_count = con.execute(select(func.count()).where(a.account == self.account,
                                                                a.acknowledged_ts.is_(None))).scalar()
        items = [Alert(int(r["ts"]), r["kind"], Severity(r["severity"]), r["message"], r["acknowledged_by"],
                       None if r["acknowledged_ts"] is None else int(r["acknowledged_ts"]), r["session"], int(r["id"]))
                 for r in rows]
        return items, {str(kind): int(n) for kind, n in counts}, int(open_count or 0)

    def alert_counts(self) -> dict[str, int]:
        """Every alert of the account, counted by kind."""
        if not self._has(alerts.name):
            return {}
        a = alerts.c
        with self.db.read() as con:
            rows = con.execute(select(a.kind, func.count()).where(a.account == self.account).group_by(a.kind)).all()
        return {str(kind): int(n) for kind, n in rows}

    def open_alert_count(self) -> int:
        if not self._has(alerts.name):
            return 0
        a = alerts.c
        with self.db.read() as con:
            value = con.execute(select(func.count()).where(a.account == self.account,
                                                           a.acknowledged_ts.is_(None))).scalar()
        return int(value or 0)

    def recent_incidents(self, limit: int) -> list[Incident]:
        if not self._has(incidents.name):
            return []
        i = incidents.c
        with self.db.read() as con:
            rows = con.execute(select(incidents).where(i.account == self.account)
                               .order_by(i.ts.desc(), i.id.desc()).limit(limit)).mappings().all()
        return [_incident_of(r) for r in rows]

    # ------------------------------------------------------------------ fills, orders, feed
    def fills_with_tags(self) -> list[FillWithTag]:
        """Every fill in journal order, with the tag and purpose of the order it filled."""
        if not self._has(fills.name):
            return []
        f, o = fills.c, orders.c
        query = (select(f.id, f.ts, f.symbol, f.side, f.quantity, f.price, f.fee,
                        func.coalesce(o.tag, literal_column("''")), func.coalesce(o.purpose, literal_column("''")))
                 .select_from(fills.outerjoin(orders, and_(o.account == f.account,
                                                           o.client_order_id == f.client_order_id)))
                 .where(f.account == self.account).order_by(f.id))
        with self.db.read() as con:
            return [FillWithTag(int(r[0]), int(r[1]), r[2], r[3], Decimal(r[4]), Decimal(r[5]), Decimal(r[6]),
                                str(r[7]), str(r[8])) for r in con.execute(query)]

    def order_latencies_ms(self, limit: int = 500) -> list[float]:
        """Created to last update of the newest ``limit`` orders that reached a final status."""
        if not self._has(orders.name):
            return []
        o = orders.c
        final = ("filled", "cancelled", "rejected", "expired")
        with self.db.read() as con:
            rows = con.execute(select(o.created_ts, o.updated_ts).where(o.account == self.account,
                                                                       o.status.in_(final))
                               .order_by(o.id.desc()).limit(limit)).all()
        return [float(u - c) for c, u in rows if c is not None and u is not None and u >= c]

    def feed_updated(self) -> int | None:
        """When any feed cursor of the account last moved (wall clock of the session)."""
        if not self._has(feed_cursors.name):
            return None
        c = feed_cursors.c
        with self.db.read() as con:
            value = con.execute(select(func.max(c.updated_ts)).where(c.account == self.account)).scalar()
        return None if value is None else int(value)
