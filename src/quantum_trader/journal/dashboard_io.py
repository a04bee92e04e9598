"""The dashboard's reads of a trading journal: cheap enough to run on every poll of a year-long journal.

A year of 1m bars is 525,600 risk snapshots; the dashboard never loads them all. ``version`` is a
handful of index seeks (the newest row of each table the page shows); the history is sampled in the
database, one index seek per sample point, and the points behind the newest row are kept between requests
(``sampled``, ``journal.sampled_history``), so a chart costs the same on a day and on a year and a new bar a
few seeks. Every query stays on an index (``(account, ts)`` of revision 0003, the partial ones of 0005);
readers never create anything, and a table that does not exist yet reads as empty.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, bindparam, func, literal_column, select

from quantum_trader.journal.database import Database
from quantum_trader.journal.ops_io import _incident_of
from quantum_trader.journal.records import Alert, Incident, KillSwitchRecord, RiskSnapshot, Severity
from quantum_trader.journal.risk_io import READ_COLUMNS, RISK_TABLE, regimes_of
from quantum_trader.journal.risk_io import _of as _risk_of
from quantum_trader.journal.sampled_history import SampleCache
from quantum_trader.journal.schema import phase_events
from quantum_trader.journal.state_io import load_killswitch
from quantum_trader.journal.tables import (
    alerts,
    feed_cursors,
    fills,
    incidents,
    killswitch_events,
    killswitch_state,
    order_events,
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


@dataclass(frozen=True, slots=True)
class BarRows:
    """``DashboardReader.bar_rows``: what a new bar may change on the portfolio."""

    latest: RiskSnapshot | None
    day_before: RiskSnapshot | None
    killswitch: KillSwitchRecord | None
    feed_updated: int | None


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


_LATENCIES = (select(orders.c.created_ts, orders.c.updated_ts)
              .where(orders.c.account == bindparam("account"),
                     orders.c.status.in_(("filled", "cancelled", "rejected", "expired")))
              .order_by(orders.c.id.desc()).limit(bindparam("limit")))


VERSION_PARTS = ("risk", "alerts", "acknowledged", "incidents", "resolved", "fills", "killswitch",
                 "killswitch_events", "order_events", "phases")
"""The parts of ``DashboardReader.version``, in its order: the newest risk snapshot's id; the account's newest
alert, how many are acknowledged, its newest incident, how many are resolved, its newest fill, the kill switch's
save time, its newest change; the newest order event and the newest phase event (of any account: one seek of the
primary key). Alerts, incidents, fills and events are only ever appended (an acknowledgement or a resolution is
counted), and an order's status and times change only with an event of its, so each part moves whenever what its
table shows changes; the kill switch's one row is replaced in place, and only its save time says so."""

_R = risk_snapshots.c
_NEWEST_RISK = (select(*READ_COLUMNS).where(_R.account == bindparam("account"))
                .order_by(_R.ts.desc(), _R.id.desc()).limit(1))
_RISK_AT_OR_BEFORE = (select(*READ_COLUMNS).where(_R.account == bindparam("account"), _R.ts <= bindparam("ts"))
                      .order_by(_R.ts.desc(), _R.id.desc()).limit(1))
_FIRST_RISK = select(*READ_COLUMNS).where(_R.account == bindparam("account")).order_by(_R.ts, _R.id).limit(1)
_FEED_UPDATED = select(func.max(feed_cursors.c.updated_ts)).where(feed_cursors.c.account == bindparam("account"))
_ALERT_COUNTS = (select(alerts.c.kind, func.count()).where(alerts.c.account == bindparam("account"))
                 .group_by(alerts.c.kind))
"""Statements built once (their parameters bound at each call): the reads a new bar repeats."""


class DashboardReader:
    """The reads of one account's journal the dashboard needs beyond :class:`TradingJournal`'s."""

    def __init__(self, db: Database, account: str) -> None:
        self.db = db
        self.account = account
        self.samples = SampleCache(account)
        self._regimes_column = False
        self._version: tuple[tuple[bool, ...], Select[Any] | None, tuple[str, ...]] | None = None

    def _has(self, table: str) -> bool:
        return self.db.has_table(table)

    # ------------------------------------------------------------------ what changed
    def version(self) -> tuple[int, ...]:
        """Newest row ids and acknowledgement counts: any change to what the page shows changes this. One statement,
        built once for the tables there are (the page asks for it several times a second)."""
        return tuple(self.version_parts().values())

    def version_parts(self) -> dict[str, int]:
        """``version`` by name (``VERSION_PARTS``; a table not there yet is left out), so a figure that shows only
        some of the tables can be kept until one of its own parts moves."""
        present = (self._has(RISK_TABLE), self._has(alerts.name), self._has(phase_events.name))
        if self._version is None or self._version[0] != present:
            self._version = (present, *self._version_statement(*present))
        _, statement, names = self._version
        if statement is None:
            return {}
        with self.db.read() as con:
            row = con.execute(statement, {"account": self.account}).one()
        return {name: int(v or 0) for name, v in zip(names, row, strict=True)}

    @staticmethod
    def _version_statement(risk: bool, trading: bool, phases: bool) -> tuple[Select[Any] | None, tuple[str, ...]]:
        a: Any = bindparam("account")
        parts: list[Any] = []
        if risk:
            r = risk_snapshots.c
            parts.append(select(r.id).where(r.account == a).order_by(r.ts.desc(), r.id.desc()).limit(1)
                         .scalar_subquery())
        if trading:
            parts += [select(func.max(alerts.c.id)).where(alerts.c.account == a).scalar_subquery(),
                      select(func.count(alerts.c.acknowledged_ts)).where(alerts.c.account == a).scalar_subquery(),
                      select(func.max(incidents.c.id)).where(incidents.c.account == a).scalar_subquery(),
                      select(func.count(incidents.c.resolved_ts)).where(incidents.c.account == a).scalar_subquery(),
                      select(func.max(fills.c.id)).where(fills.c.account == a).scalar_subquery(),
                      select(func.max(killswitch_state.c.ts)).where(killswitch_state.c.account == a)
                      .scalar_subquery(),
                      select(func.max(killswitch_events.c.id)).where(killswitch_events.c.account == a)
                      .scalar_subquery(),
                      select(func.max(order_events.c.id)).scalar_subquery()]
        if phases:
            parts.append(select(func.max(phase_events.c.id)).scalar_subquery())
        names = (*VERSION_PARTS[:1 if risk else 0], *(VERSION_PARTS[1:9] if trading else ()),
                 *(VERSION_PARTS[9:] if phases else ()))
        return (select(*parts) if parts else None), names

    # ------------------------------------------------------------------ risk history
    def sampled(self, since: int | None, until: int | None, points: int, *,
                correlation: bool = False) -> list[RiskSnapshot]:
        """At most ``points`` snapshots evenly spread over the range (the first and the last always included), oldest
        first (``sampled_history``: picks kept between calls, a new bar costs a few index seeks). Without
        ``correlation`` they carry no matrix (``symbols`` empty, ``correlation`` None: a chart of the history needs
        none); with it, only the snapshots carrying one, matrix included."""
        if not self._has(RISK_TABLE) or points < 1:
            return []
        with self.db.read() as con:
            return self.samples.sample(con, since, until, points, correlation=correlation)

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

    def bar_rows(self, span_ms: int) -> BarRows:
        """What a new bar may change on the portfolio, read in one transaction (so they agree with each other): the
        newest snapshot and the last one at least ``span_ms`` before it (the first one when the journal is younger:
        what the 24 hours' P&L compares), the kill switch's record, the feed cursors' last move. A few index seeks."""
        latest = before = record = updated = None
        with self.db.read() as con:
            if self._has(RISK_TABLE):
                newest = con.execute(_NEWEST_RISK, {"account": self.account}).mappings().first()
                if newest is not None:
                    latest = _risk_of(newest)
                    found = con.execute(_RISK_AT_OR_BEFORE, {"account": self.account, "ts": latest.ts - span_ms}
                                        ).mappings().first()
                    found = found or con.execute(_FIRST_RISK, {"account": self.account}).mappings().first()
                    before = None if found is None else _risk_of(found)
            if self._has(killswitch_state.name):
                record = load_killswitch(con, self.account)
            if self._has(feed_cursors.name):
                value = con.execute(_FEED_UPDATED, {"account": self.account}).scalar()
                updated = None if value is None else int(value)
        return BarRows(latest, before, record, updated)

    def risk_at_or_before(self, ts: int) -> RiskSnapshot | None:
        if not self._has(RISK_TABLE):
            return None
        r = risk_snapshots.c
        with self.db.read() as con:
            row = con.execute(select(*READ_COLUMNS).where(r.account == self.account, r.ts <= ts)
                              .order_by(r.ts.desc(), r.id.desc()).limit(1)).mappings().first()
        return None if row is None else _risk_of(row)

    def latest_regimes(self) -> tuple[int, tuple[tuple[str, str, int | None], ...]] | None:
        """The newest row's regimes (when it was written, and each symbol's regime and since when), one seek on the
        partial index of revision 0005; None when none is journalled (or the journal predates the column)."""
        if not self._has(RISK_TABLE) or not self._has_regimes():
            return None
        r = risk_snapshots.c
        with self.db.read() as con:
            row = con.execute(select(r.ts, r.regimes).where(r.account == self.account, r.regimes.is_not(None))
                              .order_by(r.ts.desc(), r.id.desc()).limit(1)).first()
        return None if row is None else (int(row[0]), regimes_of(row[1]))

    def _has_regimes(self) -> bool:
        """Revision 0005's column: asked again until found (a session's first write upgrades the journal)."""
        if not self._regimes_column:
            self._regimes_column = "regimes" in self.db.columns(RISK_TABLE)
        return self._regimes_column

    def first_risk(self) -> RiskSnapshot | None:
        if not self._has(RISK_TABLE):
            return None
        r = risk_snapshots.c
        with self.db.read() as con:
            row = con.execute(select(*READ_COLUMNS).where(r.account == self.account)
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
        """Every alert of the account, counted by kind (one grouped statement)."""
        if not self._has(alerts.name):
            return {}
        with self.db.read() as con:
            rows = con.execute(_ALERT_COUNTS, {"account": self.account}).all()
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
        with self.db.read() as con:
            rows = con.execute(_LATENCIES, {"account": self.account, "limit": limit}).all()
        return [float(u - c) for c, u in rows if c is not None and u is not None and u >= c]
