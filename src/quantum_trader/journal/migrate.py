"""Schema migrations of a journal with Alembic: upgrade, downgrade, status, and the journals made before them.

A journal written by the first releases has the phase tables but no ``alembic_version``:
it is recognised by its tables and columns, stamped at revision ``0001`` (which creates
exactly those tables) and upgraded in place, in the same transaction. Every migration runs
in ONE transaction (SQLite's DDL included, see ``database.py``), under a lock on PostgreSQL,
so two processes starting on a new journal do not both create it, and a failed step leaves
the journal as it was.

The migration scripts ship inside the package (``journal/migrations``): an installed
quantum-trader upgrades its journal without a source checkout. Alembic is imported only when
a schema actually changes; the check on each process's first write is one query.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, func, inspect, select, table, text

from quantum_trader.journal.database import Database, JournalError

if TYPE_CHECKING:
    from alembic.config import Config

HEAD = "0005"
"""The newest revision this code writes (``tests/journal/test_migrations.py`` checks it is Alembic's head)."""
REVISIONS = ("0001", "0002", "0003", "0004", "0005")
BASE = "base"
VERSION_TABLE = "alembic_version"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"

LEGACY_COLUMNS = {
    "phase_events": {"id", "ts", "kind", "from_phase", "to_phase", "reason", "forced", "operator", "evidence"},
    "killswitch_drills": {"id", "ts", "mode", "phase", "positions_before", "positions_after", "all_closed",
                          "tripped", "trip_reason", "equity_before", "equity_after", "operator", "details"},
}
"""The tables (and their columns) that ``metadata.create_all`` made before migrations existed: revision 0001."""

REVISION_TABLES = {
    "0001": ("phase_events", "killswitch_drills"),
    "0002": ("sessions", "orders", "order_events", "fills", "snapshots", "snapshot_positions", "snapshot_balances",
             "equity_snapshots", "risk_decisions", "killswitch_state", "killswitch_events", "asset_locks",
             "tier_changes", "alerts", "incidents", "feed_cursors"),
    "0003": ("risk_snapshots",),
    "0004": ("heard_events",),
    "0005": (),
}
"""The tables each revision creates: undoing it drops them, with their rows."""
REVISION_COLUMNS = {"0005": (("risk_snapshots", "regimes"),)}
"""The columns a revision adds to a table an earlier one made: undoing it drops them, with what they hold."""

_PG_LOCK = 7_311_452_001
"""A transaction-scoped advisory lock key: one migration at a time per PostgreSQL database."""


@dataclass(frozen=True, slots=True)
class SchemaStatus:
    url: str
    exists: bool
    """False: a SQLite file that is not there yet (the first write creates it at the head)."""
    current: str | None
    """The revision the journal is at; None when it has none (new, or made before migrations)."""
    legacy: bool
    """The phase tables without a revision: made before migrations, stamped ``0001`` on the next write."""
    head: str = HEAD

    @property
    def at_head(self) -> bool:
        return self.current == self.head

    def describe(self) -> str:
        if not self.exists:
            return f"journal {self.url}: not created yet (its first write creates it at revision {self.head})"
        if self.legacy:
            return (f"journal {self.url}: made before migrations (revision 0001, not stamped); head {self.head}: "
                    "upgraded on its next write, or by `quantum-trader journal upgrade`")
        current = self.current or "none (empty)"
        state = "up to date" if self.at_head else "behind: `quantum-trader journal upgrade` brings it to head"
        return f"journal {self.url}: revision {current}, head {self.head} ({state})"


class DowngradeRefusedError(JournalError):
    """A downgrade that would drop tables holding rows, asked without ``force``."""


def _version(con: Connection) -> str | None:
    if not inspect(con).has_table(VERSION_TABLE):
        return None
    found = con.execute(select(text("version_num")).select_from(table(VERSION_TABLE))).scalars().all()
    return str(found[0]) if found else None


def _legacy(con: Connection, url: str) -> bool:
    """The phase tables of a journal made before migrations; anything else bearing their names is refused."""
    inspector = inspect(con)
    present = [name for name in LEGACY_COLUMNS if inspector.has_table(name)]
    if not present:
        return False
    for name in LEGACY_COLUMNS:
        if name not in present:
            raise JournalError(f"journal {url}: has {', '.join(present)} but not {name}, and no revision: "
                               "not a journal this program made, nothing was changed")
        columns = {c["name"] for c in inspector.get_columns(name)}
        if columns != LEGACY_COLUMNS[name]:
            raise JournalError(f"journal {url}: table {name} has columns {sorted(columns)}, not those of a journal "
                               "made before migrations, and no revision: nothing was changed")
    return True


def _known(db: Database, revision: str | None) -> None:
    if revision is not None and revision not in REVISIONS:
        raise JournalError(f"journal {db.url}: at revision {revision!r}, which this version of quantum-trader does "
                           f"not know (its newest is {HEAD}): upgrade quantum-trader to use this journal")


def _config(con: Connection) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS).replace("%", "%%"))
    cfg.attributes["connection"] = con
    return cfg


@contextmanager
def _migrating(db: Database, action: str) -> Iterator[Connection]:
    """One write transaction for a whole migration, serialised between processes."""
    from alembic.util.exc import CommandError

    try:
        with db.errors(action), db.begin_write() as con:
            if con.dialect.name == "postgresql":
                con.execute(select(func.pg_advisory_xact_lock(_PG_LOCK)))
            yield con
    except CommandError as exc:
        raise JournalError(f"journal {db.url}: cannot {action} ({db.redact(str(exc))})") from None
    finally:
        db.mark_at_head(False)


def status(db: Database) -> SchemaStatus:
    """Where the journal's schema stands; creates nothing."""
    if not db.exists():
        return SchemaStatus(db.url, exists=False, current=None, legacy=False)
    with db.read() as con:
        current = _version(con)
        legacy = current is None and _legacy(con, db.url)
    return SchemaStatus(db.url, exists=True, current=current, legacy=legacy)


def upgrade(db: Database, target: str = "head", *, action: str = "upgrade its schema") -> tuple[str | None, str | None]:
    """Bring the journal to ``target`` (default the head): (revision before, revision after).

    A journal made before migrations is stamped ``0001`` first; a new SQLite file is created.
    """
    if target not in ("head", *REVISIONS):
        raise JournalError(f"journal {db.url}: no revision {target!r} to upgrade to (known: {', '.join(REVISIONS)})")
    from alembic import command

    with _migrating(db, action) as con:
        before = _version(con)
        _known(db, before)
        cfg = _config(con)
        if before is None and _legacy(con, db.url):
            command.stamp(cfg, "0001")
            before = "0001"
        if target != "head" and before is not None and REVISIONS.index(target) < REVISIONS.index(before):
            raise JournalError(f"journal {db.url}: at revision {before}, above {target}: "
                               f"use `quantum-trader journal downgrade --to {target}`")
        command.upgrade(cfg, target)
        after = _version(con)
    db.mark_at_head(after == HEAD)
    return before, after


def downgrade(db: Database, target: str, *, force: bool = False) -> tuple[str | None, str | None]:
    """Undo the revisions above ``target`` (``base`` undoes them all): (revision before, revision after).

    Undoing a revision drops the tables it created: refused (:class:`DowngradeRefusedError`) while one
    holds rows, unless ``force``.
    """
    if target not in (BASE, *REVISIONS):
        raise JournalError(f"journal {db.url}: no revision {target!r} to downgrade to "
                           f"(known: {BASE}, {', '.join(REVISIONS)})")
    if not db.exists():
        raise JournalError(f"journal {db.url}: does not exist (nothing to downgrade)")
    from alembic import command

    with _migrating(db, "downgrade its schema") as con:
        before = _version(con)
        _known(db, before)
        if before is None and _legacy(con, db.url):
            command.stamp(_config(con), "0001")
            before = "0001"
        if before is None:
            raise JournalError(f"journal {db.url}: has no schema revision (nothing to downgrade)")
        keep = 0 if target == BASE else REVISIONS.index(target) + 1
        if keep > REVISIONS.index(before):
            raise JournalError(f"journal {db.url}: at revision {before}, not above {target} (nothing to undo)")
        undone = REVISIONS[keep:REVISIONS.index(before) + 1]
        held = _rows(con, [name for rev in undone for name in REVISION_TABLES[rev]])
        held.update(_filled(con, [pair for rev in undone for pair in REVISION_COLUMNS.get(rev, ())]))
        if held and not force:
            raise DowngradeRefusedError(
                f"journal {db.url}: downgrade to {target} would drop tables or columns holding rows "
                f"({', '.join(f'{name}: {n}' for name, n in held.items())}); pass --force to drop them")
        command.downgrade(_config(con), target)
        after = _version(con)
    return before, after


def _rows(con: Connection, names: list[str]) -> dict[str, int]:
    inspector = inspect(con)
    counts = {name: int(con.execute(select(func.count()).select_from(table(name))).scalar_one())
              for name in names if inspector.has_table(name)}
    return {name: n for name, n in counts.items() if n}


def _filled(con: Connection, columns: list[tuple[str, str]]) -> dict[str, int]:
    """Rows holding a value in each of ``columns`` (table, column) that exists, by ``table.column``."""
    inspector = inspect(con)
    out = {}
    for name, column in columns:
        if inspector.has_table(name) and column in {c["name"] for c in inspector.get_columns(name)}:
            n = int(con.execute(select(func.count()).select_from(table(name)).where(text(f"{column} IS NOT NULL")))
                    .scalar_one())
            if n:
                out[f"{name}.{column}"] = n
    return out


def ensure_head(db: Database) -> None:
    """At the head already (one query), or upgraded to it now; a journal newer than this code is refused."""
    if db.exists():
        with db.read() as con:
            current = _version(con)
        _known(db, current)
        if current == HEAD:
            return
    upgrade(db, action="upgrade its schema" if db.exists() else "create its tables")
