"""The tiers in force over a run: a schedule of tier assignments, each from its screening time.

Pure: the replay composition (``analytics.universe_replay``) computes it from the run's data;
the kernel reads the assignment in force at each decision, so an asset screening removed
takes no new entry until a later screen restores it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from quantum_trader.domain.market import I64
from quantum_trader.universe.tiers import TierAssignment, TierEvent


@dataclass(frozen=True)
class UniverseSchedule:
    """The tier assignments of a run, in time order, each in force from its ``ts``."""

    times: I64
    assignments: tuple[TierAssignment, ...]
    phase: int

    def at(self, ts: int) -> TierAssignment | None:
        i = int(np.searchsorted(self.times, ts, side="right")) - 1
        return self.assignments[i] if i >= 0 else None

    def tiers_at(self, ts: int) -> dict[str, int]:
        """Asset -> effective tier in force at ``ts`` (removed and unadmitted assets are absent)."""
        assignment = self.at(ts)
        if assignment is None:
            return {}
        return {a: m.tier for a, m in assignment.members.items() if m.tier is not None}

    def removed_at(self, ts: int) -> dict[str, str]:
        """Asset -> why it may not be traded at ``ts`` (the first reason of its screen)."""
        assignment = self.at(ts)
        if assignment is None:
            return {}
        return {a: f"{m.state}: {m.reasons[0] if m.reasons else 'no reason recorded'}"
                for a, m in assignment.members.items() if m.tier is None}

    def events(self) -> list[TierEvent]:
        """Every change of tier over the run, in time order (the first screen's against the policy)."""
        return [e for a in self.assignments for e in a.events]
