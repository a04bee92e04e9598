"""The dashboard's history charts: at most N risk snapshots evenly spread over a range, sampled in the database and
kept between requests, so a chart costs the same on a day and on a year, and a new bar costs a few index seeks.

The sample times lie on a grid aligned to the epoch, its step the smallest of ``STEPS`` that keeps the grid
within the points asked for: as bars are added the step stays put (it moves one rung up when the range
outgrows it), and a grid time behind the newest row picks the same row (the one at or before it) however many
rows come after it, since a session journals its bars in time order. So ``SampleCache`` keeps the picks of the
grid times behind the newest row, and a request reads only the grid times since, plus the range's first and
last rows: one index seek each (``_PICKS``). Kept picks are dropped when a row was written behind them (a
second session journalling older bars): the rows written since they were kept are checked first, by id.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import pairwise
from typing import Any

from sqlalchemy import Connection, text

from quantum_trader.journal.records import RiskSnapshot

MINUTE = 60_000
STEPS = tuple(m * MINUTE for m in (1, 2, 5, 10, 15, 30, 60, 120, 240, 360, 720, 1440, 2880, 10080, 20160, 43200))
"""Grid steps (1 minute to 30 days): one rung is at most 2.5 times the one below, so a chart gets at least about
2/5 of the points it asks for."""
DAY = 1440 * MINUTE
KEPT = 32
"""Sampled ranges kept (each a few hundred rows)."""

_COLUMNS = "s.id, s.ts, s.equity, s.exposure, s.correlated_exposure, s.daily_loss, s.drawdown, s.positions, s.session"
_MATRIX = ", s.symbols, s.correlation, s.mean_correlation"
_PICKS = """
WITH RECURSIVE marks(t) AS (
    SELECT CAST(:g0 AS BIGINT)
    UNION ALL
    SELECT t + CAST(:step AS BIGINT) FROM marks WHERE t + CAST(:step AS BIGINT) < CAST(:hi AS BIGINT)
),
picked AS (
    SELECT DISTINCT (SELECT r.id FROM risk_snapshots r
                     WHERE r.account = :account AND r.ts <= marks.t AND r.ts >= CAST(:lo AS BIGINT) {extra}
                     ORDER BY r.ts DESC, r.id DESC LIMIT 1) AS id
    FROM marks
)
SELECT {columns} FROM risk_snapshots s JOIN picked ON s.id = picked.id ORDER BY s.ts, s.id
"""
"""The row at or before each grid time from ``g0`` (one index seek each), fetched in the same statement."""
_END = """SELECT {columns} FROM risk_snapshots s WHERE s.account = :account {extra} {range}
ORDER BY s.ts {order}, s.id {order} LIMIT 1"""
_ADDED = "SELECT s.ts, s.account FROM risk_snapshots s WHERE s.id > :seen {extra} ORDER BY s.id LIMIT :most"
"""The rows written since the picks were kept, by the primary key alone (an ``account`` condition would send the
planner to the ``(account, ts)`` index and through every row of the account)."""
ADDED_MOST = 10_000
"""More rows written since than this: the kept picks are read again rather than checked."""


def _float(value: object) -> float | None:
    return None if value is None else float(str(value))


def _row(values: Sequence[Any], matrix: bool) -> RiskSnapshot:
    symbols: tuple[str, ...] = ()
    correlation = None
    mean = None
    if matrix:
        symbols = tuple(json.loads(values[9])) if values[9] else ()
        correlation = tuple(tuple(float(x) for x in r) for r in json.loads(values[10])) if values[10] else None
        mean = _float(values[11])
    return RiskSnapshot(int(values[1]), Decimal(str(values[2])), float(str(values[3])), int(values[7]),
                        _float(values[4]), _float(values[5]), _float(values[6]), symbols, correlation, mean,
                        str(values[8]), int(values[0]))


def grid_step(span: int, inside: int) -> int:
    """The smallest step of ``STEPS`` putting at most ``inside`` grid times strictly inside any range of ``span``
    (that is ``span // step + 1`` at most: the range need not start on the grid); beyond them, whole days."""
    for step in STEPS:
        if span // step + 1 <= inside:
            return step
    days = span // (max(1, inside - 1) * DAY) + 1
    return days * DAY


@dataclass(frozen=True, slots=True)
class _Kept:
    upto: int
    """The last grid time kept (behind the newest row when it was read)."""
    seen: int
    """The newest row id when they were read: rows written after it are checked before the picks are trusted."""
    rows: tuple[RiskSnapshot, ...]


class SampleCache:
    """Sampled ranges of one account's risk snapshots, kept between requests (module docstring)."""

    def __init__(self, account: str) -> None:
        self.account = account
        self._kept: OrderedDict[tuple[object, ...], _Kept] = OrderedDict()
        self._lock = threading.Lock()
        self.seeks = 0
        """Grid times read from the database so far (what a request cost: tests and the benchmark read it)."""

    def sample(self, con: Connection, since: int | None, until: int | None, points: int, *,
               correlation: bool) -> list[RiskSnapshot]:
        """At most ``points`` rows evenly spread over the range (its first and last row always among them), oldest
        first; with ``correlation`` only the rows carrying a matrix, matrix included. ``con`` reads one snapshot of
        the database (a transaction)."""
        extra = "AND s.correlation IS NOT NULL" if correlation else ""
        columns = _COLUMNS + (_MATRIX if correlation else "")
        bounds = "".join((" AND s.ts >= :since" if since is not None else "",
                          " AND s.ts <= :until" if until is not None else ""))
        args: dict[str, object] = {"account": self.account, "since": since, "until": until}
        ends = [con.execute(text(_END.format(columns=columns, extra=extra, range=bounds, order=order)),
                            args).first() for order in ("ASC", "DESC")]
        if ends[0] is None or ends[1] is None:
            return []
        first, last = _row(ends[0], correlation), _row(ends[1], correlation)
        if points <= 2 or last.ts <= first.ts:
            return _distinct([first, last])
        step = grid_step(last.ts - first.ts, points - 2)
        key = (since, until, correlation, first.ts, step)
        seen = int(con.execute(text("SELECT max(id) FROM risk_snapshots")).scalar() or 0)
        with self._lock:
            kept = self._kept.get(key)
        if kept is not None and not self._still(con, kept, extra):
            kept = None  # a row was written behind the kept picks: read them again
        g0 = kept.upto + step if kept is not None else (first.ts // step + 1) * step
        rows = list(kept.rows) if kept is not None else []
        if g0 < last.ts:
            self.seeks += -(-(last.ts - g0) // step)
            found = con.execute(text(_PICKS.format(columns=columns, extra=extra.replace("s.", "r."))),
                                {"g0": g0, "step": step, "hi": last.ts, "lo": first.ts, "account": self.account})
            rows.extend(_row(r, correlation) for r in found)
            upto = g0 + ((last.ts - 1 - g0) // step) * step
        else:
            upto = g0 - step
        rows = _distinct(rows)
        with self._lock:
            self._kept[key] = _Kept(upto, seen, tuple(rows))
            self._kept.move_to_end(key)
            while len(self._kept) > KEPT:
                self._kept.popitem(last=False)
        return _distinct([first, *rows, last])


    def _still(self, con: Connection, kept: _Kept, extra: str) -> bool:
        """No row of the account was written behind ``kept.upto`` since the picks were kept."""
        added = con.execute(text(_ADDED.format(extra=extra)), {"seen": kept.seen, "most": ADDED_MOST}).all()
        if len(added) >= ADDED_MOST:
            return False
        return all(int(ts) > kept.upto for ts, account in added if account == self.account)


def _distinct(rows: list[RiskSnapshot]) -> list[RiskSnapshot]:
    """In time order, each row once (neighbouring grid times often pick the same row). Rows already in order and
    each once (the kept picks, and most requests' whole answer) are returned as they are: sorting them again was most
    of the sampling's own Python time on a year's chart."""
    keys = [(r.ts, r.id) for r in rows]
    if all(a[1] is not None and b[1] is not None and a < b for a, b in pairwise(keys)):
        return rows
    out: list[RiskSnapshot] = []
    ids: set[int | None] = set()
    for row in sorted(rows, key=lambda r: (r.ts, r.id or 0)):
        if row.id not in ids:
            ids.add(row.id)
            out.append(row)
    return out
