"""`quantum-trader killswitch status | reset` on the state the engine saved in the journal (SQLite and PostgreSQL).

A reset is refused (exit 1, one line naming the condition) while the drawdown from peak, or the day's
loss on the same UTC day, is still beyond its limit; --force overrides on record; every reset is
recorded with the operator ($USER by default) and the reason. `killswitch drill` keeps working.
"""

from __future__ import annotations

import time
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from quantum_trader.cli.main import app
from quantum_trader.domain.time import MS_PER_DAY, utc_day_start
from quantum_trader.journal.records import EquitySnapshot, KillSwitchChange, KillSwitchRecord
from quantum_trader.journal.trading import TradingJournal
from quantum_trader.risk.events import EventKind
from quantum_trader.risk.kill_switch import KillSwitchState

runner = CliRunner()
ENV = {"COLUMNS": "250", "QT_DEBUG": "", "USER": "ana", "QT_ACCOUNT": "", "QT_JOURNAL": ""}


def now_ms() -> int:
    return int(time.time() * 1000)


def saved(url: str, *, drawdown: bool = False, daily: bool = False, peak: str = "120000.00",
          day_start: str = "100000.00", day: int | None = None, equity: str | None = None) -> KillSwitchRecord:
    """What the engine would have saved at a trip, and its last equity snapshot."""
    ts = now_ms() - 60_000
    day = utc_day_start(ts) if day is None else day
    state = KillSwitchState(day_start=day, daily_tripped=daily, drawdown_tripped=drawdown,
                            daily_trip_ts=ts if daily else None, drawdown_trip_ts=ts if drawdown else None)
    reason = "drawdown 21.67% from peak equity 120,000.00, limit 20.00%" if drawdown else "portfolio down 6.00%"
    record = KillSwitchRecord(state, Decimal(peak), Decimal(day_start), day, reason if state.tripped else "", ts)
    journal = TradingJournal(url, account="default", session="run-1")
    journal.save_killswitch(record, KillSwitchChange(ts, EventKind.TRIP_DRAWDOWN if drawdown else EventKind.TRIP_DAILY,
                                                     reason) if state.tripped else None)
    if equity is not None:
        journal.record_equity(EquitySnapshot(ts, Decimal(equity), Decimal(equity)))
    journal.close()
    return record


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={**ENV, **(env or {})})
    return result.exit_code, result.output


def test_status_shows_the_trip_the_baselines_and_the_distance_to_both_triggers(journal_url: str) -> None:
    saved(journal_url, drawdown=True, equity="94000.00")
    code, out = invoke("killswitch", "status", "--journal", journal_url)
    assert code == 0, out
    assert "TRIPPED (drawdown) since" in out and "reason: drawdown 21.67% from peak" in out
    assert "peak equity 120,000.00; day-start equity 100,000.00" in out
    assert "last equity 94,000.00" in out
    assert "drawdown from peak 21.67% of 120,000.00, limit 20.00%: beyond the limit (fires at equity 96,000.00" in out
    assert "loss since day start 6.00% of 100,000.00, limit 5.00%: beyond the limit" in out
    assert "trip_drawdown: drawdown 21.67%" in out


def test_status_of_an_armed_switch_says_how_far_the_triggers_are(journal_url: str) -> None:
    saved(journal_url, peak="100000.00", equity="99000.00")
    code, out = invoke("killswitch", "status", "--journal", journal_url)
    assert code == 0 and "kill switch: armed" in out
    assert "drawdown from peak 1.00% of 100,000.00, limit 20.00%: 19.00% to go (19,000.00 above the trigger" in out
    assert "loss since day start 1.00% of 100,000.00, limit 5.00%: 4.00% to go (4,000.00 above" in out


def test_a_reset_is_refused_while_the_drawdown_holds_and_forced_on_record(journal_url: str) -> None:
    saved(journal_url, drawdown=True, equity="94000.00")
    code, out = invoke("killswitch", "reset", "--reason", "reviewed", "--journal", journal_url)
    lines = [line for line in out.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1, out
    assert lines[0].startswith("error: refused: drawdown 21.67% from peak equity 120,000.00 is still at or beyond "
                               "the 20.00% limit")
    journal = TradingJournal(journal_url, account="default")
    assert journal.load_killswitch() is not None and journal.load_killswitch().tripped  # type: ignore[union-attr]
    code, out = invoke("killswitch", "reset", "--reason", "board decision", "--force", "--journal", journal_url)
    assert code == 0 and "(FORCED) by ana: armed" in out
    assert "peak equity rebased from 120,000.00 to 94,000.00" in out
    record = journal.load_killswitch()
    assert record is not None and not record.tripped and record.peak_equity == Decimal("94000.00")
    reset = journal.killswitch_history()[-1]
    assert (reset.kind, reset.operator, reset.forced) == (EventKind.RESET, "ana", True)
    assert reset.reason == "drawdown kill switch reset (FORCED): board decision"
    code, out = invoke("killswitch", "reset", "--reason", "again", "--journal", journal_url)
    assert code == 1 and "not tripped" in out


def test_a_reset_once_the_drawdown_is_back_within_its_limit_is_allowed(journal_url: str) -> None:
    saved(journal_url, drawdown=True, equity="100000.00")  # 16.7% below the peak: within 20%
    code, out = invoke("killswitch", "reset", "--reason", "recovered", "--operator", "bo", "--journal", journal_url)
    assert code == 0 and "kill switch reset by bo: armed" in out and "(FORCED)" not in out
    journal = TradingJournal(journal_url, account="default")
    reset = journal.killswitch_history()[-1]
    assert (reset.operator, reset.forced, reset.reason) == ("bo", False, "drawdown kill switch reset: recovered")


def test_a_daily_trip_is_held_on_its_day_and_free_on_the_next(journal_url: str) -> None:
    saved(journal_url, daily=True, peak="100000.00", equity="94000.00")
    code, out = invoke("killswitch", "reset", "--reason", "x", "--journal", journal_url)
    assert code == 1 and "the day's loss 6.00% from day-start equity 100,000.00 is still at or beyond the 5.00%" in out
    assert "re-arms by itself at the next UTC day" in out
    yesterday = utc_day_start(now_ms()) - MS_PER_DAY
    saved(journal_url, daily=True, peak="100000.00", day=yesterday, equity="94000.00")
    code, out = invoke("killswitch", "reset", "--reason", "new day", "--journal", journal_url)
    assert code == 0, out


def test_without_an_equity_snapshot_the_condition_cannot_be_checked(journal_url: str) -> None:
    saved(journal_url, drawdown=True)
    code, out = invoke("killswitch", "reset", "--reason", "x", "--journal", journal_url)
    assert code == 1 and "no equity is recorded" in out
    code, out = invoke("killswitch", "reset", "--reason", "x", "--force", "--journal", journal_url)
    assert code == 0 and "peak equity kept at 120,000.00" in out


def test_a_reset_needs_a_reason_and_a_fresh_journal_stays_uncreated(tmp_path: Path) -> None:
    folder = tmp_path
    path = folder / "j.sqlite"
    code, out = invoke("killswitch", "reset", "--reason", " ", "--journal", str(path))
    assert code == 2 and "a reset needs a reason" in out
    code, out = invoke("killswitch", "reset", "--reason", "x", "--journal", str(path))
    assert code == 1 and "not tripped" in out
    code, out = invoke("killswitch", "status", "--journal", str(path))
    assert code == 0 and "armed (no state saved" in out
    assert list(folder.iterdir()) == []


def test_the_drill_still_records_its_evidence(journal_url: str) -> None:
    code, out = invoke("killswitch", "drill", "--price", "BTC=60000", "--journal", journal_url, "--operator", "ana")
    assert code == 0 and "passed" in out, out
    from quantum_trader.journal.store import Journal

    (drill,) = Journal(journal_url).drills()
    assert drill.passed and drill.operator == "ana"


def test_status_and_reset_measure_against_the_limits_the_session_ran_with(journal_url: str) -> None:
    """A session run with a tighter drawdown limit (``--set``) tripped at 16%: measured against the default 20%, a
    reset would be allowed while its own condition still holds. With the session's ``--set`` both commands use its
    limit; a bad key is one line naming it."""
    saved(journal_url, drawdown=True, peak="100000.00", equity="84000.00")
    tight = ("--set", "portfolio.max_drawdown_portfolio=0.15")
    code, out = invoke("killswitch", "status", *tight, "--journal", journal_url)
    assert code == 0 and "drawdown from peak 16.00% of 100,000.00, limit 15.00%: beyond the limit" in out, out
    code, out = invoke("killswitch", "reset", "--reason", "reviewed", *tight, "--journal", journal_url)
    assert code == 1 and "refused" in out, out
    code, out = invoke("killswitch", "reset", "--reason", "x", "--set", "portfolio.nope=1", "--journal", journal_url)
    assert code == 2 and len(out.strip().splitlines()) == 1 and "--set portfolio.nope=1" in out, out
    code, out = invoke("killswitch", "reset", "--reason", "within the default limit", "--journal", journal_url)
    assert code == 0 and "armed" in out, out
