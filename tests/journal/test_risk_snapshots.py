"""Risk snapshots (revision 0003): what the dashboard's exposure history and heatmap and the gates' correlation
cadence read. They read back exactly as written, in time order, on SQLite and PostgreSQL; a malformed matrix is
refused whole; a journal made at revision 0002 upgrades in place and keeps its rows. Each symbol's regime (revision
0005) is written where one changed and read back by the dashboard's one-seek reader; a journal at 0003 reads as it
did until a write upgrades it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.journal import migrate
from quantum_trader.journal.dashboard_io import DashboardReader
from quantum_trader.journal.database import Database, JournalError
from quantum_trader.journal.records import EquitySnapshot, RiskSnapshot
from quantum_trader.journal.trading import TradingJournal

T0 = 1_735_689_600_000
SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT")


def snapshot(ts: int, *, matrix: tuple[tuple[float, ...], ...] | None = None) -> RiskSnapshot:
    return RiskSnapshot(ts, Decimal("10012.5"), 0.215, 2, correlated_exposure=0.2, daily_loss=-0.003, drawdown=0.011,
                        symbols=SYMBOLS if matrix is not None else (), correlation=matrix,
                        mean_correlation=None if matrix is None else matrix[0][1])


def test_snapshots_read_back_in_time_order_with_their_matrices(journal_url: str) -> None:
    journal = TradingJournal(journal_url, session="paper-1")
    matrix = ((1.0, 0.8312345678901234), (0.8312345678901234, 1.0))
    journal.record_risk(snapshot(T0 + 120_000))
    journal.record_risk(snapshot(T0, matrix=matrix))
    journal.record_risk(snapshot(T0 + 60_000))
    every = journal.risk_snapshots()
    assert [s.ts for s in every] == [T0, T0 + 60_000, T0 + 120_000]
    assert every[0].correlation == matrix and every[0].symbols == SYMBOLS and every[0].session == "paper-1"
    assert every[1].correlation is None and every[1].exposure == 0.215 and every[1].equity == Decimal("10012.5")
    assert [s.ts for s in journal.risk_snapshots(correlation_only=True)] == [T0]
    assert [s.ts for s in journal.risk_snapshots(since=T0 + 60_000, until=T0 + 60_000)] == [T0 + 60_000]
    latest = journal.latest_risk()
    assert latest is not None and latest.ts == T0 + 120_000
    corr = journal.latest_risk(correlation_only=True)
    assert corr is not None and corr.ts == T0
    journal.close()


def test_a_matrix_of_the_wrong_size_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    journal = TradingJournal(tmp_path / "j.sqlite")
    bad = RiskSnapshot(T0, Decimal(1), 0.0, 0, symbols=SYMBOLS, correlation=((1.0,),))
    with pytest.raises(JournalError, match=r"risk snapshot at 1735689600000: correlation matrix is not 2 x 2"):
        journal.record_risk(bad)
    assert journal.risk_snapshots() == []


def test_a_reader_of_a_journal_without_the_table_gets_nothing_and_creates_nothing(tmp_path: Path) -> None:
    path = tmp_path / "none.sqlite"
    assert TradingJournal(path).risk_snapshots() == [] and not path.exists()


def test_a_journal_at_revision_0002_upgrades_and_keeps_its_rows(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.sqlite")
    migrate.upgrade(db, "0002")
    old = TradingJournal(db)
    assert migrate.status(db).current == "0002"
    with db.errors("write"), db.begin_write() as con:
        from quantum_trader.journal import state_io
        from quantum_trader.journal.orders_io import Scope
        state_io.record_equity(con, Scope("default", "s"), EquitySnapshot(T0, Decimal("100"), Decimal("100")))
    assert old.risk_snapshots() == []
    old.record_risk(snapshot(T0))  # the first write brings it to the head
    assert migrate.status(db).current == migrate.HEAD
    assert [e.equity for e in old.equity_since(0)] == [Decimal("100")]
    assert len(old.risk_snapshots()) == 1
    with pytest.raises(migrate.DowngradeRefusedError, match="risk_snapshots: 1"):
        migrate.downgrade(db, "0002")


finite = st.floats(min_value=-1.0, max_value=1.0, allow_nan=False)


@settings(max_examples=25, deadline=None)
@given(values=st.lists(finite, min_size=4, max_size=4), exposure=st.floats(0, 10, allow_nan=False))
def test_floats_read_back_bit_for_bit(tmp_path_factory: pytest.TempPathFactory, values: list[float],
                                      exposure: float) -> None:
    journal = TradingJournal(tmp_path_factory.mktemp("j") / "j.sqlite")
    matrix = ((values[0], values[1]), (values[2], values[3]))
    journal.record_risk(RiskSnapshot(T0, Decimal("1"), exposure, 1, symbols=SYMBOLS, correlation=matrix,
                                     mean_correlation=values[1]))
    back = journal.risk_snapshots()[0]
    assert back.correlation == matrix and back.exposure == exposure and back.mean_correlation == values[1]
    journal.close()


REGIMES = (("BTC/USDT:USDT", "trending_up", T0), ("ETH/USDT:USDT", "unknown", None))


def test_regimes_read_back_from_the_newest_row_that_has_them(journal_url: str) -> None:
    journal = TradingJournal(journal_url, session="paper-1")
    reader = DashboardReader(journal.db, "default")
    assert reader.latest_regimes() is None
    journal.record_bars([snapshot(T0), RiskSnapshot(T0 + 60_000, Decimal(1), 0.1, 0, regimes=REGIMES),
                         snapshot(T0 + 120_000)], [])
    assert reader.latest_regimes() == (T0 + 60_000, REGIMES)
    later = (("BTC/USDT:USDT", "ranging", T0 + 180_000), ("ETH/USDT:USDT", "unknown", None))
    journal.record_risk(RiskSnapshot(T0 + 180_000, Decimal(1), 0.1, 0, regimes=later))
    journal.record_risk(snapshot(T0 + 240_000))
    assert reader.latest_regimes() == (T0 + 180_000, later)
    assert [s.regimes for s in journal.risk_snapshots()] == [()] * 5  # the general readers leave them out
    journal.close()


def test_a_journal_at_revision_0003_reads_as_before_and_a_write_brings_the_regimes(tmp_path: Path) -> None:
    db = Database(tmp_path / "old.sqlite")
    migrate.upgrade(db, "0003")
    old = TradingJournal(db, session="s")
    with db.errors("write"), db.begin_write() as con:  # a row written by the 0003 code
        from quantum_trader.journal import risk_io
        from quantum_trader.journal.orders_io import Scope

        values = risk_io._values(Scope("default", "s"), snapshot(T0))
        del values["regimes"]
        con.execute(risk_io.risk_snapshots.insert(), values)
    reader = DashboardReader(db, "default")
    assert [s.ts for s in old.risk_snapshots()] == [T0] and old.latest_risk() is not None
    assert reader.latest_regimes() is None and migrate.status(db).current == "0003"  # read: nothing changed
    old.record_risk(RiskSnapshot(T0 + 60_000, Decimal(1), 0.1, 0, regimes=REGIMES))
    assert migrate.status(db).current == migrate.HEAD and reader.latest_regimes() == (T0 + 60_000, REGIMES)
    with pytest.raises(migrate.DowngradeRefusedError, match=r"risk_snapshots.regimes: 1"):
        migrate.downgrade(db, "0003")
    assert migrate.downgrade(db, "0003", force=True) == (migrate.HEAD, "0003")
    assert [s.ts for s in old.risk_snapshots()] == [T0, T0 + 60_000]  # the rows stay, their regimes go
    assert DashboardReader(db, "default").latest_regimes() is None
    db.close()


def test_a_malformed_regime_is_refused(tmp_path: Path) -> None:
    journal = TradingJournal(tmp_path / "j.sqlite")
    with pytest.raises(JournalError, match=r"risk snapshot at 1735689600000: regime \('BTC', '', 5\)"):
        journal.record_risk(RiskSnapshot(T0, Decimal(1), 0.0, 0, regimes=(("BTC", "", 5),)))
    assert journal.risk_snapshots() == []
