"""Risk snapshots (revision 0003): the statements behind :meth:`TradingJournal.record_risk` and its readers.

The correlation matrix is JSON (floats by their shortest repr, so it reads back bit for bit); a
matrix whose size is not that of its symbols is refused before anything is written. Each symbol's regime
(revision 0005) is JSON too, ``[[symbol, regime, since], ...]``, written only where one changed.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import Connection, RowMapping, insert, select

from quantum_trader.journal import codec
from quantum_trader.journal.database import JournalError
from quantum_trader.journal.orders_io import Scope
from quantum_trader.journal.records import RiskSnapshot
from quantum_trader.journal.tables import risk_snapshots

RISK_TABLE = "risk_snapshots"
READ_COLUMNS = tuple(c for c in risk_snapshots.c if c.name != "regimes")
"""What the readers of snapshots select: all but the regimes of revision 0005, which only ``latest_regimes`` reads
(it checks the column is there), so a journal not yet upgraded (read by a command that writes nothing) reads as
it always did."""


def _matrix_json(snapshot: RiskSnapshot, where: str) -> str | None:
    matrix = snapshot.correlation
    if matrix is None:
        return None
    n = len(snapshot.symbols)
    if len(matrix) != n or any(len(row) != n for row in matrix):
        raise JournalError(f"{where}: correlation matrix is not {n} x {n} (its symbols: {', '.join(snapshot.symbols)})")
    rows = [[float(x) for x in row] for row in matrix]
    if not all(math.isfinite(x) for row in rows for x in row):
        raise JournalError(f"{where}: correlation matrix holds a value that is not finite")
    return json.dumps(rows)


def record_risk(con: Connection, scope: Scope, snapshot: RiskSnapshot) -> None:
    record_risks(con, scope, [snapshot])


def record_risks(con: Connection, scope: Scope, snapshots: Sequence[RiskSnapshot]) -> None:
    """Many snapshots in one statement (a session's bars since its last flush)."""
    if snapshots:
        con.execute(insert(risk_snapshots), [_values(scope, s) for s in snapshots])


def _values(scope: Scope, snapshot: RiskSnapshot) -> dict[str, object]:
    where = f"risk snapshot at {snapshot.ts}"
    if snapshot.positions < 0:
        raise JournalError(f"{where}: positions {snapshot.positions} is negative")
    return {
        **scope.stamp, "ts": snapshot.ts, "equity": codec.exact(where, "equity", snapshot.equity),
        "exposure": snapshot.exposure, "correlated_exposure": snapshot.correlated_exposure,
        "daily_loss": snapshot.daily_loss, "drawdown": snapshot.drawdown, "positions": snapshot.positions,
        "symbols": json.dumps(list(snapshot.symbols)) if snapshot.symbols else None,
        "correlation": _matrix_json(snapshot, where), "mean_correlation": snapshot.mean_correlation,
        "regimes": _regimes_json(snapshot, where),
    }


def _regimes_json(snapshot: RiskSnapshot, where: str) -> str | None:
    if not snapshot.regimes:
        return None
    for symbol, regime, since in snapshot.regimes:
        if not symbol or not regime or (since is not None and not isinstance(since, int)):
            raise JournalError(f"{where}: regime {(symbol, regime, since)!r} is not (symbol, label, since ms)")
    return json.dumps([list(r) for r in snapshot.regimes])


def regimes_of(text: str | None) -> tuple[tuple[str, str, int | None], ...]:
    if not text:
        return ()
    return tuple((str(s), str(r), None if t is None else int(t)) for s, r, t in json.loads(text))


def _of(row: RowMapping) -> RiskSnapshot:
    symbols = tuple(json.loads(row["symbols"])) if row["symbols"] else ()
    matrix = row["correlation"]
    correlation = None if matrix is None else tuple(tuple(float(x) for x in r) for r in json.loads(matrix))
    return RiskSnapshot(int(row["ts"]), Decimal(row["equity"]), row["exposure"], int(row["positions"]),
                        row["correlated_exposure"], row["daily_loss"], row["drawdown"], symbols, correlation,
                        row["mean_correlation"], row["session"], int(row["id"]), regimes_of(row.get("regimes")))


def risk_snapshots_between(con: Connection, account: str, since: int | None, until: int | None,
                           session: str | None, correlation_only: bool) -> list[RiskSnapshot]:
    r = risk_snapshots.c
    query = select(*READ_COLUMNS).where(r.account == account)
    if since is not None:
        query = query.where(r.ts >= since)
    if until is not None:
        query = query.where(r.ts <= until)
    if session is not None:
        query = query.where(r.session == session)
    if correlation_only:
        query = query.where(r.correlation.is_not(None))
    return [_of(row) for row in con.execute(query.order_by(r.ts, r.id)).mappings()]


def latest_risk(con: Connection, account: str, correlation_only: bool) -> RiskSnapshot | None:
    r = risk_snapshots.c
    query = select(*READ_COLUMNS).where(r.account == account)
    if correlation_only:
        query = query.where(r.correlation.is_not(None))
    row = con.execute(query.order_by(r.ts.desc(), r.id.desc()).limit(1)).mappings().first()
    return None if row is None else _of(row)
