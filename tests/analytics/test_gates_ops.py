"""The gates' criteria on journal evidence built by hand: provenance, scope and each measure's edge."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from quantum_trader.analytics.gates import GateStatus
from quantum_trader.analytics.gates_journal import JournalEvidence, Segment, scope_problems
from quantum_trader.analytics.gates_ops import (
    correlation_monitoring,
    evaluate_journal_gate,
    kill_switch_tested,
    limit_breaches,
    months_profitable,
)
from quantum_trader.analytics.gates_progress import gate_progress
from quantum_trader.config import Policy
from quantum_trader.config.universe import Gate01Evidence
from quantum_trader.domain.trading import Fill, OrderSide
from quantum_trader.journal.records import (
    FillRecord,
    KillSwitchChange,
    RiskSnapshot,
    SessionMode,
    SessionRecord,
)
from quantum_trader.journal.store import DrillRecord
from quantum_trader.risk.events import EventKind

POLICY = Policy()
HOUR = 3_600_000
DAY = 24 * HOUR
T0 = 1_735_689_600_000  # 2025-01-01
BTC, ETH = "BTC/USDT:USDT", "ETH/USDT:USDT"


def fill(ts: int, symbol: str, side: OrderSide, qty: str, price: str, session: str = "s1") -> FillRecord:
    return FillRecord(f"f{ts}{symbol}", Fill(ts, symbol, side, Decimal(qty), Decimal(price), Decimal(0), f"c{ts}"),
                      session)


def segment(session: str = "s1", kind: str = "live", phase: int = 0, days: int = 95, daily: float = 10.0,
            fills: tuple[FillRecord, ...] = (), positions: int = 0, corr_every: int | None = None,
            hole: tuple[int, int] | None = None) -> Segment:
    """Hourly bar closes from T0, equity rising ``daily`` a day; ``hole``: hours without a bar close."""
    snaps = []
    for h in range(days * 24):
        if hole is not None and hole[0] <= h < hole[1]:
            continue
        snaps.append(RiskSnapshot(T0 + h * HOUR, Decimal(100_000 + daily * h / 24), 0.0, positions, drawdown=0.0,
                                  session=session))
    updates = tuple(s.ts for i, s in enumerate(snaps) if corr_every and i % corr_every == 0)
    return Segment(session, kind, phase, "binanceusdm", (BTC,), snaps[0].ts, snaps[-1].ts, tuple(snaps), updates,
                   fills)


def evidence(*segments: Segment, killswitch: tuple[KillSwitchChange, ...] = (),
             drills: tuple[DrillRecord, ...] = (), sessions: tuple[SessionRecord, ...] = ()) -> JournalEvidence:
    known = sessions or tuple(SessionRecord(s.session, SessionMode(s.kind) if s.kind != "testnet" else
                                            SessionMode.TESTNET, s.start) for s in segments)
    return JournalEvidence("journal test", segments, killswitch=killswitch, drills=drills, sessions=known)


BTC_FILLS = (fill(T0 + 40 * DAY, BTC, OrderSide.BUY, "0.1", "60000"),
             fill(T0 + 41 * DAY, BTC, OrderSide.SELL, "0.1", "61000"))


def test_three_profitable_months_of_live_btc_operation_pass() -> None:
    crit = months_profitable(evidence(segment(fills=BTC_FILLS)), 0, POLICY, "m", 3, "live", "profitable BTC")
    assert crit.status is GateStatus.PASS and crit.value == 3
    assert "90 of 90 days" in crit.detail


def test_a_session_that_traded_eth_in_phase_0_is_named_and_rejected() -> None:
    eth = (*BTC_FILLS, fill(T0 + 50 * DAY, ETH, OrderSide.BUY, "1", "3000"),
           fill(T0 + 51 * DAY, ETH, OrderSide.SELL, "1", "3100"))
    ev = evidence(segment(fills=eth))
    crit = months_profitable(ev, 0, POLICY, "m", 3, "live", "profitable BTC")
    assert crit.status is GateStatus.NO_EVIDENCE
    assert "traded BTC, ETH: not BTC-only operation" in crit.detail


def test_operation_in_another_phase_is_not_evidence_for_this_gate() -> None:
    problems = scope_problems(segment(phase=1, fills=BTC_FILLS), 0, POLICY)
    assert problems == ["ran in phase 1, not phase 0"]
    only_btc = scope_problems(segment(phase=1, fills=BTC_FILLS), 1, POLICY)
    assert only_btc == ["traded BTC: not BTC and ETH operation (ETH never traded)"]


def test_paper_is_refused_for_0_to_1_by_default_and_accepted_when_the_policy_says_so() -> None:
    ev = evidence(segment(kind="paper", fills=BTC_FILLS))
    refused = evaluate_journal_gate(0, ev, POLICY).criteria[0]
    assert refused.status is GateStatus.NO_EVIDENCE and "paper is not accepted here (accepts live)" in refused.detail
    accepted = months_profitable(ev, 0, POLICY, "m", 3, "live,paper", "profitable BTC")
    assert accepted.status is GateStatus.PASS


def test_the_policy_refuses_a_backtest_as_evidence() -> None:
    with pytest.raises(ValidationError, match="a backtest is never a gate's evidence"):
        Gate01Evidence(months_profitable_btc="live,backtest")
    with pytest.raises(ValidationError, match="expected some of"):
        Gate01Evidence(operations_stable="live,dream")


def test_a_live_session_on_a_testnet_is_testnet_evidence() -> None:
    record = SessionRecord("s1", SessionMode.LIVE, T0, detail=json.dumps({"network": "testnet", "phase": 0}))
    ev = evidence(segment(kind="testnet", fills=BTC_FILLS), sessions=(record,))
    assert ev.mode_of("s1") == "testnet"


def _trip(session: str, ts: int) -> KillSwitchChange:
    return KillSwitchChange(ts, EventKind.TRIP_DRAWDOWN, "drawdown 20%", session=session)


def test_a_testnet_trip_counts_only_while_no_live_trip_happened() -> None:
    flat_testnet = segment("t1", kind="testnet", positions=0)
    ok = kill_switch_tested(evidence(flat_testnet, killswitch=(_trip("t1", T0 + DAY),)), POLICY, "live,testnet")
    assert ok.status is GateStatus.PASS
    still_open = segment("l1", kind="live", positions=1)
    both = evidence(flat_testnet, still_open, killswitch=(_trip("t1", T0 + DAY), _trip("l1", T0 + 2 * DAY)))
    failed = kill_switch_tested(both, POLICY, "live,testnet")
    assert failed.status is GateStatus.FAIL and "live" in failed.detail


def test_a_paper_drill_is_not_a_kill_switch_test_unless_the_policy_accepts_drills() -> None:
    drill = DrillRecord(T0, "paper", 0, 1, 0, True, True, "drill", 1.0, 1.0, id=1)
    ev = evidence(segment(), drills=(drill,))
    assert kill_switch_tested(ev, POLICY, "live,testnet").status is GateStatus.NO_EVIDENCE
    assert kill_switch_tested(ev, POLICY, "live,testnet,drill").status is GateStatus.PASS


def test_an_entry_fill_above_the_position_size_limit_is_a_breach() -> None:
    big = (fill(T0 + 10 * DAY, BTC, OrderSide.BUY, "0.3", "60000"), fill(T0 + 10 * DAY + 5, ETH, OrderSide.BUY, "1",
                                                                          "3000"))
    crit = limit_breaches(evidence(segment(phase=1, fills=big)), 1, POLICY, "live")
    assert crit.status is GateStatus.FAIL and "above position size 0.1, first BTC/USDT:USDT" in crit.detail
    small = (fill(T0 + 10 * DAY, BTC, OrderSide.BUY, "0.1", "60000"), fill(T0 + 10 * DAY + 5, ETH, OrderSide.BUY,
                                                                           "1", "3000"))
    assert limit_breaches(evidence(segment(phase=1, fills=small)), 1, POLICY, "live").status is GateStatus.PASS


def test_correlation_updates_with_a_gap_over_the_bound_fail() -> None:
    both = (*BTC_FILLS, fill(T0 + 50 * DAY, ETH, OrderSide.BUY, "1", "3000"),
            fill(T0 + 51 * DAY, ETH, OrderSide.SELL, "1", "3100"))
    steady = evidence(segment(phase=1, fills=both, corr_every=1))
    assert correlation_monitoring(steady, 1, POLICY, "1h", "live").status is GateStatus.PASS
    holed = evidence(segment(phase=1, fills=both, corr_every=1, hole=(100, 105)))
    crit = correlation_monitoring(holed, 1, POLICY, "1h", "live")
    assert crit.status is GateStatus.FAIL and "longest gap 6.00h" in crit.detail


def test_progress_says_how_far_and_when_the_gate_could_open() -> None:
    ev = evidence(segment(days=47, fills=(fill(T0 + 10 * DAY, BTC, OrderSide.BUY, "0.1", "60000"),)))
    progress = gate_progress(ev, POLICY, phase=0)
    data = json.loads(json.dumps(progress.to_dict()))
    months = data["next_gate"]["criteria"][0]
    assert "47 of 90 days" in months["detail"] and months["status"] == "fail"
    assert progress.earliest_open == T0 + 90 * DAY
    assert data["open"] is False and data["admitted"] == ["BTC"]
    assert any(b.startswith("kill_switch_tested") for b in data["blocks"])
