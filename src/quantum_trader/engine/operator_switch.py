"""A running session takes the kill switch an operator changes in the journal, within one bar.

The kill switch a session trades under lives in its kernel; the journal keeps a copy (``SwitchKeeper``)
that a new session starts from (``restored_switch``). An operator trips or resets it from another
process: the dashboard (``POST /api/killswitch/trip``, ``/reset``) or ``quantum-trader killswitch
reset``. ``OperatorSwitch`` is a ``SessionRecorder`` watcher: after each bar it asks the journal for the
account's newest kill-switch change id (``killswitch_ops.ChangeWatch``: one index seek, microseconds on
SQLite) and, only when that moved, reads the changes after the last one it saw. A trip or a reset written
by anything but this session is taken as the kernel takes its own:

- a trip trips the kernel's switch on the trigger the change names (an operator's trip from the
  dashboard is the drawdown trigger's, the one that stays until a reset); what rests is cancelled and
  what is held closed when the policy says so (``kill_switch.cancel_orders_on_trip``,
  ``close_positions_on_trip``), as ``kill_switch.update`` asks of the kernel's own trip, and every entry
  is refused from the next decision on (the risk engine's ``kill_switch`` gate);
- a reset re-arms it as ``kill_switch.reset_drawdown`` does, the peak rebased to the equity now (and
  the kernel's highest close seen with it), so the next mark does not trip it again at once; a forced
  reset of a daily trip rebases day-start equity too, as the journal's record was
  (``killswitch_ops.reset``).

Either way the run records the event (``kill_switch_trip`` or ``kill_switch_reset``) at the bar's close,
its message naming the operator and the reason, and the kernel's risk listeners hear it: the journal
keeps the switch as the session now holds it, the alert rules raise (or re-arm) ``kill_switch_trip``.
The automatic demotion of a drawdown trip (``DrawdownDemotion``) is not told: an operator's trip is no
drawdown. A re-arm written elsewhere (another session's new UTC day) is left to the kernel's own clock.
"""

from __future__ import annotations

from dataclasses import replace

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.phase_follow import DrawdownDemotion
from quantum_trader.engine.recorder import EVENT_NAMES
from quantum_trader.journal import KillSwitchChange, RiskSnapshot, TradingJournal
from quantum_trader.journal.killswitch_ops import ChangeWatch, changes_after
from quantum_trader.risk import ActionKind, EventKind, KillSwitchAction, KillSwitchState, RiskEvent
from quantum_trader.risk.kill_switch import reset_drawdown

TRIPS = (EventKind.TRIP_DAILY, EventKind.TRIP_DRAWDOWN)


class OperatorSwitch:
    """A ``SessionRecorder`` watcher (module docstring). ``taken`` lists the changes it applied, in order."""

    def __init__(self, journal: TradingJournal) -> None:
        self.journal = journal
        self.ids = ChangeWatch(journal.db, journal.account)
        self.seen = self.ids.latest()
        """Changes up to this id were there when the session started: the switch it started with says them."""
        self.taken: list[KillSwitchChange] = []

    def __call__(self, kernel: TradingKernel, chunk: MarketChunk, snapshot: RiskSnapshot) -> None:
        latest = self.ids.latest()
        if latest == self.seen:
            return
        changes = changes_after(self.journal.db, self.journal.account, self.seen)
        self.seen = max([latest, *(c.id or 0 for c in changes)])
        ts = int(chunk.ts[-1]) + chunk.step
        for change in changes:
            if change.session != self.journal.session:  # not this session's own trip, re-arm or reset
                self.take(kernel, change, ts)

    def take(self, kernel: TradingKernel, change: KillSwitchChange, ts: int) -> None:
        """Apply one change made outside the session, at ``ts`` (the close of the bar just taken)."""
        who = f"operator {change.operator}" if change.operator else f"session {change.session or '(unnamed)'}"
        said = f"{change.reason} ({who}, taken from the journal by the running session)"
        switch = kernel.switch
        if change.kind in TRIPS:
            daily = change.kind is EventKind.TRIP_DAILY
            if switch.daily_tripped if daily else switch.drawdown_tripped:
                return  # tripped already on that trigger: nothing changes
            tripped = (replace(switch, daily_tripped=True, daily_trip_ts=ts) if daily
                       else replace(switch, drawdown_tripped=True, drawdown_trip_ts=ts))
            self._apply(kernel, tripped, RiskEvent(ts, change.kind, said), trip_actions(kernel, switch))
        elif change.kind is EventKind.RESET and switch.tripped:
            self._apply(kernel, self._reset(kernel, change, ts), RiskEvent(ts, EventKind.RESET, said), ())
        else:
            return
        self.taken.append(change)

    def _reset(self, kernel: TradingKernel, change: KillSwitchChange, ts: int) -> KillSwitchState:
        switch = kernel.switch
        if switch.drawdown_tripped:
            switch, kernel.ledger, _ = reset_drawdown(switch, kernel.ledger, ts, change.reason, change.operator)
            kernel.peak_seen = float(kernel.ledger.peak_equity)
        if switch.daily_tripped:
            if change.forced:  # the day's loss may still be past the limit: measured from now on, as recorded
                kernel.ledger = replace(kernel.ledger, day_start_equity=kernel.ledger.equity)
            switch = replace(switch, daily_tripped=False, daily_trip_ts=None)
        kernel.curve.changed()
        return switch

    @staticmethod
    def _apply(kernel: TradingKernel, switch: KillSwitchState, event: RiskEvent,
               actions: tuple[KillSwitchAction, ...]) -> None:
        """As ``TradingKernel._mark`` takes its own switch's update: state, run event, listeners, actions."""
        kernel.switch = switch
        kernel.rec.event(event.ts, EVENT_NAMES[event.kind], event.reason)
        for listener in kernel.risk_listeners:
            if not isinstance(listener, DrawdownDemotion):
                listener(kernel, event.ts, (event,))
        kernel._act(actions, event.ts)
        for venue_event in kernel.execution.drain():  # cancellations answer at once: booked before going on
            kernel.on_event(venue_event)


def trip_actions(kernel: TradingKernel, before: KillSwitchState) -> tuple[KillSwitchAction, ...]:
    """What ``kill_switch.update`` asks on a trip of a switch that was ``before``: cancel what rests (on the trip
    itself), close what is held, refuse entries (the policy's ``kill_switch`` settings)."""
    limits, why = kernel.limits, "kill switch tripped by an operator"
    actions = []
    if not before.tripped and limits.cancel_on_trip:
        actions.append(KillSwitchAction(ActionKind.CANCEL_ALL, why))
    if limits.close_on_trip and kernel.ledger.positions:
        actions.append(KillSwitchAction(ActionKind.CLOSE_ALL, why))
    actions.append(KillSwitchAction(ActionKind.REFUSE_ENTRIES, why))
    return tuple(actions)
