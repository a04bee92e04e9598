"""A running session follows the phase the journal holds: promotion and demotion take effect at the next decision.

The phase is the journal's (``Journal``: an append-only table of changes), so ``phase promote`` or
``phase demote`` in another process changes what a running paper or live session may trade without a
restart. ``PhaseFollower`` is the kernel's ``phase_follower``: called once per decision, before the
entry intents are filtered, it asks the journal for its latest change id (one indexed read) and reads
the phase only when that moved. A new phase replaces the kernel's settings (``phase`` for the risk
engine's phase rule, ``excluded`` for the symbols it no longer admits) and is noted in the session's
journal as a ``phase_change`` alert at the market time it took effect (the gates cut the session there).

What a demotion does to what is held is the policy's (``expansion.demotion.positions``): ``close`` exits
every position the phase no longer admits, or whose asset the universe removed from its tier, at this
decision; ``freeze`` keeps them to their own stop, target or exit, with nothing new or added. New entries
stop in both cases. ``DrawdownDemotion`` is the automatic demotion: a drawdown trip of the kill switch
records ``phase demote`` one phase down, with the trip's reason, which the follower then applies.
"""

from __future__ import annotations

from dataclasses import replace

from quantum_trader.config import Policy
from quantum_trader.domain.symbols import asset_of
from quantum_trader.engine.core import TradingKernel
from quantum_trader.journal.records import Severity
from quantum_trader.journal.store import Journal, PhaseChange, PhaseEventKind
from quantum_trader.journal.trading import TradingJournal
from quantum_trader.risk import EventKind, RiskEvent

PHASE_CHANGE_ALERT = "phase_change"
ENGINE_OPERATOR = "engine"


def excluded_in(policy: Policy, phase: int, symbols: tuple[str, ...]) -> frozenset[str]:
    """The symbols ``phase`` does not admit (tier 3 is the risk engine's call in a selective phase)."""
    p = policy.expansion.phases[phase]
    return frozenset(s for s in symbols
                     if asset_of(s) not in p.assets and not (p.tier_3_selective and policy.tier_of(asset_of(s)) == 3))


class PhaseFollower:
    """The kernel's ``phase_follower`` for a session with a journal (module docstring)."""

    def __init__(self, store: Journal, trading: TradingJournal, policy: Policy) -> None:
        self.store = store
        self.trading = trading
        self.policy = policy
        self.seen = store.last_change_id()
        """Changes up to this id were there when the session started: its phase already says what they mean."""
        self.changes = 0
        self._closed: set[str] = set()

    def __call__(self, kernel: TradingKernel, ts: int) -> None:
        latest = self.store.last_change_id()
        if latest != self.seen:
            self.seen = latest
            self._apply(kernel, self.store.current_phase(kernel.settings.phase), ts)
        if self.policy.expansion.demotion.positions == "close":
            self._close_outside(kernel, ts)

    def _apply(self, kernel: TradingKernel, phase: int, ts: int) -> None:
        old = kernel.settings.phase
        if phase == old:
            return
        kernel.settings = replace(kernel.settings, phase=phase,
                                  excluded=excluded_in(self.policy, phase, tuple(kernel.symbols)))
        self.changes += 1
        self._closed.clear()
        admitted = ", ".join(self.policy.phase_assets(phase))
        self.trading.record_alert(
            PHASE_CHANGE_ALERT, Severity.WARNING if phase < old else Severity.INFO,
            f"phase {old} -> {phase} taken from the journal at this decision: admits {admitted}", ts=ts)

    def _close_outside(self, kernel: TradingKernel, ts: int) -> None:
        excluded = kernel.settings.excluded
        universe = kernel.data.universe
        removed = {} if universe is None else universe.removed_at(ts)
        for symbol, position in list(kernel.ledger.positions.items()):
            if symbol in kernel.desk.exiting or symbol in self._closed:
                continue
            if symbol in excluded:
                why = f"not admitted in phase {kernel.settings.phase}"
            elif asset_of(symbol) in removed:
                why = f"removed from its tier: {removed[asset_of(symbol)]}"
            else:
                continue
            if kernel.desk.exit(ts, position, "phase_demoted") is not None:
                self._closed.add(symbol)
                self.trading.record_alert(PHASE_CHANGE_ALERT, Severity.WARNING, f"{symbol} closed: {why}", ts=ts)


class DrawdownDemotion:
    """A kernel risk listener: a drawdown trip records a demotion one phase down (``expansion.demotion``)."""

    def __init__(self, store: Journal) -> None:
        self.store = store

    def __call__(self, kernel: TradingKernel, ts: int, events: tuple[RiskEvent, ...]) -> None:
        trip = next((e for e in events if e.kind is EventKind.TRIP_DRAWDOWN), None)
        phase = self.store.current_phase(kernel.settings.phase)
        if trip is None or phase == 0 or not kernel.policy.expansion.demotion.on_drawdown_trip:
            return
        reason = f"kill switch drawdown trip: {trip.reason}"
        if any(c.ts == ts and c.reason == reason for c in self.store.phase_history()):
            return  # this very trip demoted already (a session resumed after a crash takes it again)
        self.store.record_phase_change(PhaseChange(ts, PhaseEventKind.DEMOTE, phase, phase - 1, reason, forced=False,
                                                   operator=ENGINE_OPERATOR))
