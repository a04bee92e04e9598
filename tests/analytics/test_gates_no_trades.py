"""A run without a single trade is evidence too: the gate says the months were not profitable, it does not crash."""

from __future__ import annotations

from pathlib import Path

from tests.analytics.test_gates_builders import build_run, equity_for

from quantum_trader.analytics.gates import GateStatus, evaluate_gate
from quantum_trader.analytics.gates_evidence import Evidence
from quantum_trader.config import load_policy


def test_a_run_without_trades_fails_the_profitable_months_criterion(tmp_path: Path) -> None:
    run = build_run(tmp_path / "run", trades=[], equity=equity_for([]), events=[])
    verdict = evaluate_gate(0, Evidence.from_run(run), load_policy(env={}))
    statuses = {c.name: c.status for c in verdict.criteria}
    assert statuses["3_months_profitable_btc"] is GateStatus.FAIL
    assert not verdict.supported and not verdict.promotion_allowed
