"""Phase promotion and demotion: the gate decides, the journal remembers, an operator may override on record.

Promotion moves one phase up and is refused while a required criterion of the gate out
of the current phase fails or lacks evidence; ``force=True`` with a non-empty reason
records the promotion *as forced*, with the blocking criteria in its evidence, so an
override can never pass for a clean promotion. Demotion always works (shrinking the
universe is always safe) and needs a reason too.
"""

from __future__ import annotations

import json

from quantum_trader.analytics.gates import GateVerdict
from quantum_trader.journal.store import Journal, PhaseChange, PhaseEventKind


class PhaseError(ValueError):
    """A phase change that is refused; the message says which criteria block it."""


def promote(journal: Journal, current: int, verdict: GateVerdict, *, ts: int, reason: str = "", force: bool = False,
            operator: str = "") -> PhaseChange:
    """Record ``current -> current + 1`` if ``verdict`` (the gate out of ``current``) allows it, or if forced."""
    if current >= 3:
        raise PhaseError("already in phase 3: there is no phase to promote to")
    if verdict.from_phase != current:
        raise PhaseError(
            f"the verdict is for the gate out of phase {verdict.from_phase}, the current phase is {current}"
        )
    evidence = json.dumps(verdict.to_dict(), default=str)
    if not verdict.promotion_allowed:
        if not force:
            raise PhaseError(verdict.summary() + "; use --force with --reason to override on record")
        if not reason.strip():
            raise PhaseError("a forced promotion needs a --reason, recorded with it")
    change = PhaseChange(ts, PhaseEventKind.PROMOTE, current, current + 1,
                         reason.strip() or verdict.summary(), forced=not verdict.promotion_allowed, operator=operator,
                         evidence=evidence)
    return journal.record_phase_change(change)


def demote(journal: Journal, current: int, *, ts: int, reason: str, to_phase: int | None = None,
           operator: str = "") -> PhaseChange:
    """Record a move down (one phase, or to ``to_phase``); always allowed, a reason is required."""
    target = current - 1 if to_phase is None else to_phase
    if not reason.strip():
        raise PhaseError("a demotion needs a --reason")
    if not 0 <= target < current:
        raise PhaseError(f"cannot demote from phase {current} to phase {target}: the target must be below it and >= 0")
    return journal.record_phase_change(
        PhaseChange(ts, PhaseEventKind.DEMOTE, current, target, reason.strip(), forced=False, operator=operator)
    )
