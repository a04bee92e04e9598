"""The figures the dashboard derives from the policy and the journal's rows: slots by tier, the kill switch's
distance to its triggers, the next gate's criteria. Plain numbers in, views out, so the journal and the run
folder are shown by the same rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import BaseModel

from quantum_trader.config import Policy
from quantum_trader.domain.time import utc_day_start
from quantum_trader.monitor.views import Criterion, Gates, KillSwitch, Slots, TierSlots, Trigger

MANUAL_TRIP = "manual trip by "
"""How an operator's trip's reason starts (``cli/dashboard_source.JournalControls.trip``): shown as ``manual``."""
GATE_NAMES = {0: "phase_0_to_1", 1: "phase_1_to_2", 2: "phase_2_to_3"}
"""The policy's (and the spec's) name of the gate out of each phase."""


def _threshold(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _criteria(group: BaseModel | None, level: str) -> list[Criterion]:
    if group is None:
        return []
    return [Criterion(name=name, level=level, threshold=_threshold(getattr(group, name)))
            for name in type(group).model_fields]


def gate_criteria(policy: Policy, phase: int) -> Gates:
    """The current phase and the gate out of it, criteria as the policy states them (no verdict: evaluating them
    needs the gates' evidence, see ``analytics.gates``)."""
    p = policy.expansion.phases[phase]
    name = GATE_NAMES.get(phase)
    criteria: list[Criterion] = []
    if name is not None:
        gate = getattr(policy.expansion.phase_gates, name)
        criteria = [*_criteria(gate.required, "required"), *_criteria(getattr(gate, "recommended", None),
                                                                       "recommended")]
    return Gates(phase=phase, phase_name=p.name, assets=list(p.assets), next_gate=name,
                 next_phase=phase + 1 if name is not None else None, criteria=criteria)


def slot_usage(policy: Policy, assets: Iterable[str]) -> Slots:
    """Held assets per tier against the policy's slots: tier 1's reserved slots, tier 2's and 3's caps."""
    slots = policy.position_slots
    alloc = slots.allocation_by_tier
    held: dict[int, list[str]] = {1: [], 2: [], 3: []}
    for asset in sorted(set(assets)):
        tier = policy.tier_of(asset)
        held.setdefault(tier if tier is not None else 0, []).append(asset)
    limits = {1: alloc.tier_1.reserved_slots, 2: alloc.tier_2.max_slots, 3: alloc.tier_3.max_slots}
    tiers = [TierSlots(tier=t, used=len(held.get(t, [])), limit=limits[t], assets=held.get(t, [])) for t in (1, 2, 3)]
    if held.get(0):
        tiers.append(TierSlots(tier=0, used=len(held[0]), limit=0, assets=held[0]))
    return Slots(total=slots.total_slots, used=sum(len(v) for v in held.values()),
                 reserved_tier_1=alloc.tier_1.reserved_slots, tiers=tiers)


@dataclass(frozen=True, slots=True)
class SwitchRecord:
    """The journal's kill-switch record, as plain values."""

    daily_tripped: bool
    drawdown_tripped: bool
    since: int | None
    reason: str
    peak_equity: float
    day_start_equity: float
    equity_day: int
    saved_ts: int
    locks: tuple[tuple[str, int], ...] = ()


def _trigger(name: str, base: float | None, equity: float | None, limit: float, *, current: bool = True,
             loss: float | None = None) -> Trigger:
    if loss is None and base is not None and equity is not None and base > 0:
        loss = (base - equity) / base
    trigger_equity = base * (1 - limit) if base is not None else None
    room = limit - loss if loss is not None and current else None
    return Trigger(name=name, base=base, loss=loss, limit=limit, room=room, trigger_equity=trigger_equity,
                   current=current)


def killswitch_view(policy: Policy, record: SwitchRecord | None, equity: float | None, equity_ts: int | None,
                    daily_loss: float | None, drawdown: float | None) -> KillSwitch:
    """Both triggers measured on the last equity: from the record's peak and day-start equity when the journal
    holds one (the engine saved it), else from the last risk snapshot's own loss figures."""
    pf = policy.portfolio
    daily_limit, drawdown_limit = pf.max_daily_loss_portfolio, pf.max_drawdown_portfolio
    if record is None:
        return KillSwitch(
            tripped=False, what="armed", daily=_trigger("loss since day start", None, equity, daily_limit,
                                                        loss=daily_loss),
            drawdown=_trigger("drawdown from peak", None, equity, drawdown_limit, loss=drawdown),
            source="last risk snapshot (no kill-switch record saved: armed)")
    current = equity_ts is not None and utc_day_start(equity_ts) == record.equity_day
    peak = max(record.peak_equity, equity) if equity is not None else record.peak_equity
    what = " and ".join(k for k, on in (("daily loss", record.daily_tripped), ("drawdown", record.drawdown_tripped))
                        if on) or "armed"
    if what != "armed" and record.reason.startswith(MANUAL_TRIP):
        what = "manual"
    return KillSwitch(
        tripped=record.daily_tripped or record.drawdown_tripped, what=what, reason=record.reason,
        since=record.since, saved_ts=record.saved_ts, locks=list(record.locks),
        daily=_trigger("loss since day start", record.day_start_equity, equity, daily_limit, current=current),
        drawdown=_trigger("drawdown from peak", peak, equity, drawdown_limit),
        source="journal kill-switch record")
