"""The phase-state store, promotion through a gate, forced overrides, demotion and the kill-switch drill."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from quantum_trader.analytics.gates import GateCriterion, GateStatus, GateVerdict, Level
from quantum_trader.analytics.gates_drill import run_drill
from quantum_trader.analytics.gates_phase import PhaseError, demote, promote
from quantum_trader.config import Policy
from quantum_trader.config.limits import KillSwitchPolicy, PerAssetLimits
from quantum_trader.journal.store import Journal, JournalError, PhaseEventKind

T0 = 1_735_689_600_000


def verdict(from_phase: int, ok: bool) -> GateVerdict:
    crit = GateCriterion("kill_switch_tested", Level.REQUIRED, GateStatus.PASS if ok else GateStatus.NO_EVIDENCE,
                         None, "a drill", "no drill", "journal")
    return GateVerdict(f"phase_{from_phase}_to_{from_phase + 1}", from_phase, from_phase + 1, (crit,))


def test_phase_survives_reopening_the_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    journal = Journal(path)
    assert journal.current_phase(default=0) == 0
    promote(journal, 0, verdict(0, True), ts=T0, operator="ana")
    journal.close()
    again = Journal(path)
    assert again.current_phase(default=0) == 1
    (change,) = again.phase_history()
    assert (change.kind, change.from_phase, change.to_phase, change.forced, change.operator) == (
        PhaseEventKind.PROMOTE, 0, 1, False, "ana")
    assert json.loads(change.evidence)["promotion_allowed"] is True


def test_promotion_is_refused_while_a_required_criterion_lacks_evidence(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    with pytest.raises(PhaseError, match="kill_switch_tested"):
        promote(journal, 0, verdict(0, False), ts=T0)
    with pytest.raises(PhaseError, match="needs a --reason"):
        promote(journal, 0, verdict(0, False), ts=T0, force=True)
    assert journal.phase_history() == [] and journal.current_phase(0) == 0


def test_a_forced_promotion_is_recorded_as_forced_with_its_reason(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    change = promote(journal, 0, verdict(0, False), ts=T0, force=True, reason="board approved", operator="bo")
    assert change.forced and change.reason == "board approved"
    stored = journal.phase_history()[-1]
    assert stored.forced and stored.reason == "board approved" and journal.current_phase(0) == 1


def test_demotion_always_works_and_needs_a_reason(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    promote(journal, 0, verdict(0, True), ts=T0)
    promote(journal, 1, verdict(1, True), ts=T0 + 1)
    with pytest.raises(PhaseError, match="reason"):
        demote(journal, 2, ts=T0 + 2, reason=" ")
    demote(journal, 2, ts=T0 + 2, reason="correlation spike", to_phase=0)
    assert journal.current_phase(0) == 0
    assert [c.kind for c in journal.phase_history()] == [PhaseEventKind.PROMOTE] * 2 + [PhaseEventKind.DEMOTE]
    with pytest.raises(PhaseError, match="cannot demote"):
        demote(journal, 0, ts=T0 + 3, reason="again")


def test_a_verdict_for_another_phase_cannot_promote(tmp_path: Path) -> None:
    with pytest.raises(PhaseError, match="gate out of phase 1"):
        promote(Journal(tmp_path / "j.sqlite"), 0, verdict(1, True), ts=T0)


def test_paper_drill_trips_the_switch_closes_every_position_and_is_recorded(tmp_path: Path) -> None:
    record = run_drill(Policy(), {"BTC/USDT:USDT": 60_000.0, "ETH/USDT:USDT": 3_000.0}, ts=T0, phase=1,
                       operator="ana")
    assert record.tripped and record.positions_before == 2 and record.positions_after == 0 and record.passed
    assert "limit 5.00%" in record.trip_reason
    # the trip is the daily-loss trip: equity fell past 5% before the closes
    assert record.equity_after < record.equity_before * 0.95
    journal = Journal(tmp_path / "j.sqlite")
    saved = journal.record_drill(record)
    assert saved.id == 1 and journal.drills() == [saved]
    (line,) = journal.phase_history()
    assert line.kind is PhaseEventKind.DRILL and line.to_phase == 1 and "passed" in line.reason
    assert journal.current_phase(default=1) == 1  # a drill is not a phase change


def test_a_kill_switch_that_does_not_close_fails_the_drill() -> None:
    # no close on trip, and a per-asset limit the two half-losses stay under: nothing flattens the book
    policy = Policy(kill_switch=KillSwitchPolicy(close_positions_on_trip=False),
                    per_asset=PerAssetLimits(max_daily_loss_per_asset=0.05))
    record = run_drill(policy, {"BTC/USDT:USDT": 60_000.0, "ETH/USDT:USDT": 3_000.0}, ts=T0, phase=1)
    assert record.tripped and record.positions_after == 2
    assert not record.all_closed and not record.passed


def test_a_journal_url_that_cannot_be_opened_is_one_clear_error() -> None:
    with pytest.raises(JournalError, match="nosuchdriver"):
        Journal("nosuchdriver://x/y")
