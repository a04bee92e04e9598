"""Where the expansion stands: the current phase, what it admits, and the next gate's progress, as one value.

``gate_progress`` is the one pure function behind ``quantum-trader phase status`` and the dashboard's
``/api/gates``: it reads the journal (or takes evidence already read), evaluates the gate out of the
current phase on operation (``gates_ops``), and says per criterion how far it is, what blocks the gate
and the earliest date it could open (if every month from now on is profitable, since the months
criteria are the slow ones). ``GateProgress.to_dict`` is JSON-able as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quantum_trader.analytics.gates import GateStatus, GateVerdict, Level
from quantum_trader.analytics.gates_journal import JournalEvidence
from quantum_trader.analytics.gates_ops import earliest_open, evaluate_journal_gate
from quantum_trader.config.policy import Policy
from quantum_trader.domain.time import format_time
from quantum_trader.journal.database import Database
from quantum_trader.journal.schema import DEFAULT_ACCOUNT
from quantum_trader.journal.store import Journal
from quantum_trader.journal.trading import TradingJournal


@dataclass(frozen=True)
class GateProgress:
    phase: int
    phase_name: str
    admitted: tuple[str, ...]
    verdict: GateVerdict | None
    """The gate out of ``phase`` on the journal's operation (None in phase 3: no further gate)."""
    earliest_open: int | None
    source: str

    @property
    def blocks(self) -> tuple[str, ...]:
        if self.verdict is None:
            return ()
        return tuple(f"{c.name} ({c.status.value}): {c.detail}" for c in self.verdict.blocking)

    def to_dict(self) -> dict[str, Any]:
        return {
            "phase": self.phase, "phase_name": self.phase_name, "admitted": list(self.admitted),
            "next_gate": None if self.verdict is None else self.verdict.to_dict(),
            "open": bool(self.verdict and self.verdict.promotion_allowed),
            "blocks": list(self.blocks),
            "earliest_open": None if self.earliest_open is None else format_time(self.earliest_open),
            "earliest_open_ms": self.earliest_open, "source": self.source,
        }


def _months_rule(policy: Policy, phase: int) -> tuple[int, str]:
    gates = policy.expansion.phase_gates
    if phase == 0:
        return gates.phase_0_to_1.required.months_profitable_btc, gates.phase_0_to_1.evidence.months_profitable_btc
    if phase == 1:
        return gates.phase_1_to_2.required.months_profitable_multi, gates.phase_1_to_2.evidence.months_profitable_multi
    return gates.phase_2_to_3.required.months_stable_assets, gates.phase_2_to_3.evidence.months_stable_assets


def gate_progress(journal: str | Path | Database | TradingJournal | JournalEvidence, policy: Policy, *,
                  phase: int | None = None, account: str = DEFAULT_ACCOUNT) -> GateProgress:
    """The expansion's state from ``journal`` (a path, URL, open journal or evidence already read)."""
    if isinstance(journal, JournalEvidence):
        evidence, current = journal, phase if phase is not None else policy.expansion.start_phase
    else:
        trading = journal if isinstance(journal, TradingJournal) else TradingJournal(journal, account=account)
        evidence = JournalEvidence.read(trading)
        current = phase if phase is not None else Journal(trading.db, account=trading.account).current_phase(
            policy.expansion.start_phase)
    p = policy.expansion.phases[current]
    if current >= 3:
        return GateProgress(current, p.name, p.assets, None, None, evidence.source)
    verdict = evaluate_journal_gate(current, evidence, policy)
    need, accepts = _months_rule(policy, current)
    months = verdict.criteria[0]
    when = None
    if months.level is Level.REQUIRED:
        when = earliest_open(evidence, current, policy, need, accepts)
        if months.status is GateStatus.PASS and verdict.blocking:
            when = None  # the months are there; what blocks is not a matter of time
    return GateProgress(current, p.name, p.assets, verdict, when, evidence.source)
