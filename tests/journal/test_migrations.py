"""The journal's Alembic revisions, on SQLite and PostgreSQL: they build exactly the tables the code uses,
round-trip (upgrade, downgrade, upgrade), upgrade the journals made before them in place, and refuse what
they cannot handle without changing it."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from tests.journal.legacy import make_legacy_journal

from quantum_trader.journal import migrate
from quantum_trader.journal.database import Database, JournalError
from quantum_trader.journal.migrate import HEAD, MIGRATIONS, REVISION_TABLES, REVISIONS, DowngradeRefusedError
from quantum_trader.journal.records import Severity
from quantum_trader.journal.schema import head_metadata
from quantum_trader.journal.store import Journal, PhaseChange, PhaseEventKind
from quantum_trader.journal.trading import TradingJournal

T0 = 1_735_689_600_000  # 2025-01-01 00:00 UTC, in ms: beyond a 32-bit integer
ALL_TABLES = {name for names in REVISION_TABLES.values() for name in names}


def tables(db: Database) -> set[str]:
    with db.read() as con:
        return set(inspect(con).get_table_names()) - {migrate.VERSION_TABLE}


def schema_differences(db: Database) -> list[object]:
    with db.read() as con:
        return list(compare_metadata(MigrationContext.configure(con), head_metadata()))


def test_head_is_alembic_head_and_the_revisions_are_a_line() -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert script.get_current_head() == HEAD
    assert tuple(r.revision for r in reversed(list(script.walk_revisions()))) == REVISIONS
    assert set(REVISION_TABLES) == set(REVISIONS)


def test_the_migrations_build_exactly_the_tables_the_code_uses(journal_url: str) -> None:
    db = Database(journal_url)
    assert migrate.upgrade(db) == (None, HEAD)
    assert tables(db) == ALL_TABLES
    assert schema_differences(db) == []
    db.close()


def test_upgrade_downgrade_upgrade_keeps_the_phase_history(journal_url: str) -> None:
    db = Database(journal_url)
    phases = Journal(db)
    phases.record_phase_change(PhaseChange(T0, PhaseEventKind.PROMOTE, 0, 1, "gate passed", False, "ana"))
    history = phases.phase_history()
    trading = TradingJournal(db)
    assert migrate.downgrade(db, "0001") == (HEAD, "0001")  # nothing in the trading tables: not refused
    assert tables(db) == set(REVISION_TABLES["0001"])
    assert Journal(db).phase_history() == history  # read from the old layout
    assert migrate.upgrade(db) == ("0001", HEAD)
    assert schema_differences(db) == []
    assert Journal(db).phase_history() == history and trading.open_orders() == []
    assert migrate.downgrade(db, "base", force=True) == (HEAD, None)
    assert tables(db) == set()
    assert migrate.upgrade(db) == (None, HEAD)
    assert schema_differences(db) == [] and Journal(db).phase_history() == []
    db.close()


def test_a_phase_change_at_a_real_time_is_stored_on_every_backend(journal_url: str) -> None:
    """Revision 0001's ``ts`` was a 32-bit INTEGER: on PostgreSQL an epoch-ms time overflowed it."""
    db = Database(journal_url)
    migrate.upgrade(db, "0001")
    if db.engine.dialect.name == "postgresql":
        with pytest.raises(JournalError, match="out of range"), db.errors("write"), db.begin_write() as con:
            con.execute(text("INSERT INTO phase_events (ts, kind, to_phase, reason, forced, operator, evidence) "
                             f"VALUES ({T0}, 'init', 0, '', false, '', '')"))
    journal = Journal(db)
    journal.record_phase_change(PhaseChange(T0, PhaseEventKind.INIT, None, 0, "start", False, "ana"))
    (change,) = Journal(Database(journal_url)).phase_history()
    assert change.ts == T0
    db.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_an_old_sqlite_journal_is_read_as_it_is_and_upgraded_in_place_by_its_next_write(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    make_legacy_journal(str(path), T0)
    before = _digest(path)
    old = Journal(path)
    history, drills = old.phase_history(), old.drills()
    assert [c.kind for c in history] == [PhaseEventKind.PROMOTE, PhaseEventKind.DRILL] and old.current_phase(0) == 1
    assert drills[0].passed and drills[0].equity_after == 93_500.5
    status = migrate.status(Database(path))
    assert status.legacy and status.current is None and "made before migrations" in status.describe()
    assert _digest(path) == before and sorted(p.name for p in tmp_path.iterdir()) == ["journal.sqlite"]

    old.record_phase_change(PhaseChange(T0 + 10, PhaseEventKind.DEMOTE, 1, 0, "edge gone", False, "bo"))
    new = Journal(path)
    assert new.phase_history()[:2] == history and new.drills() == drills
    assert new.current_phase(3) == 0
    assert migrate.status(Database(path)).current == HEAD
    db = Database(path)
    assert schema_differences(db) == []
    with db.read() as con:
        assert set(con.execute(text("SELECT account FROM phase_events")).scalars()) == {"default"}


def test_an_old_postgresql_journal_is_upgraded_in_place() -> None:
    from tests.journal.conftest import fresh_postgres

    with fresh_postgres() as url:
        make_legacy_journal(url, 1_000)  # the old schema held 32-bit times only
        journal = Journal(url)
        history = journal.phase_history()
        assert migrate.status(journal.db).legacy
        assert migrate.upgrade(journal.db) == ("0001", HEAD)
        assert Journal(url).phase_history() == history and len(Journal(url).drills()) == 1
        assert schema_differences(journal.db) == []
        journal.close()


def test_a_journal_with_tables_of_another_shape_is_refused_and_left_as_it_was(tmp_path: Path) -> None:
    path = tmp_path / "other.sqlite"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as con:
        con.execute(text("CREATE TABLE phase_events (id INTEGER PRIMARY KEY, note TEXT)"))
        con.execute(text("CREATE TABLE killswitch_drills (id INTEGER PRIMARY KEY)"))
    engine.dispose()
    with pytest.raises(JournalError, match=r"table phase_events has columns \['id', 'note'\].*nothing was changed"):
        Journal(path).record_phase_change(PhaseChange(T0, PhaseEventKind.INIT, None, 0, "", False, ""))
    assert tables(Database(path)) == {"phase_events", "killswitch_drills"}
    assert not inspect(create_engine(f"sqlite:///{path}")).has_table(migrate.VERSION_TABLE)


def test_a_journal_newer_than_this_code_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    db = Database(path)
    migrate.upgrade(db)
    with db.begin_write() as con:
        con.execute(text("UPDATE alembic_version SET version_num = '0099'"))
    with pytest.raises(JournalError, match="revision '0099'.*upgrade quantum-trader"):
        TradingJournal(path).record_alert("x", Severity.INFO, "m", ts=T0)
    with pytest.raises(JournalError, match="revision '0099'"):
        migrate.upgrade(Database(path))


def test_a_downgrade_that_would_drop_rows_is_refused_unless_forced(journal_url: str) -> None:
    db = Database(journal_url)
    trading = TradingJournal(db, account="main", session="run-1")
    trading.record_alert("feed", Severity.WARNING, "stale feed", ts=T0)
    with pytest.raises(DowngradeRefusedError, match="alerts: 1"):
        migrate.downgrade(db, "0001")
    assert migrate.status(db).current == HEAD and len(trading.alerts()) == 1
    assert migrate.downgrade(db, "0001", force=True) == (HEAD, "0001")
    assert trading.alerts() == []  # the table is gone: nothing recorded, nothing created by reading
    with pytest.raises(JournalError, match="not above 0001"):
        migrate.downgrade(db, "0001")
    with pytest.raises(JournalError, match="no revision 'nope'"):
        migrate.downgrade(db, "nope")
    db.close()


def test_two_processes_creating_the_same_journal_at_once_both_succeed(journal_url: str) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def first_write(who: str) -> None:
        try:
            barrier.wait()
            Journal(Database(journal_url)).record_phase_change(
                PhaseChange(T0, PhaseEventKind.INIT, None, 0, who, False, who))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=first_write, args=(f"p{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(c.reason for c in Journal(journal_url).phase_history()) == ["p0", "p1", "p2"]
    assert migrate.status(Database(journal_url)).current == HEAD


def test_the_migration_scripts_ship_inside_the_package() -> None:
    """An installed quantum-trader upgrades its journal: the scripts are package files, not a checkout's."""
    from importlib.resources import files

    root = files("quantum_trader.journal.migrations")
    assert root.joinpath("env.py").is_file() and root.joinpath("script.py.mako").is_file()
    versions = {p.name for p in root.joinpath("versions").iterdir() if p.name.endswith(".py")}
    assert {"r0001_phase_tables.py", "r0002_trading_tables.py", "r0003_risk_snapshots.py",
            "r0004_heard_events.py", "r0005_dashboard_reads.py"} <= versions
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"journal/migrations/script.py.mako"' in pyproject  # the one non-Python file, as package data
