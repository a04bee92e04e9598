"""The kill switch and the per-asset daily locks: a persistent state and pure transitions.

Trips at the policy's daily loss (from day-start equity, marked to market) or drawdown
(from peak equity). A daily trip re-arms at the next UTC day; a drawdown trip stays
until an operator resets it with a reason (:func:`reset_drawdown`, which also rebases
the ledger's peak, or the next check would trip again at once). An asset losing the
per-asset daily limit is flattened and locked until the next UTC day.

The state is a plain value with a JSON-safe ``to_dict``/``from_dict`` so the journal
persists it and a restart cannot forget a trip. Engine loop, after every mark::

    update = kill_switch.update(switch, ledger, limits, ts)
    switch = update.state            # persist it
    journal(update.events); execute(update.actions)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from quantum_trader.domain.slot_init import slot_init
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, format_time, utc_day_start
from quantum_trader.portfolio.ledger import rebase_peak
from quantum_trader.portfolio.state import Figures, LedgerState
from quantum_trader.risk.events import ActionKind, EventKind, KillSwitchAction, RiskEvent
from quantum_trader.risk.limits import CompiledLimits

_FORMAT_VERSION = 1
_asset = lru_cache(maxsize=4096)(asset_of)
"""``asset_of`` remembered: the switch reads every held symbol's asset at every mark."""


class KillSwitchError(ValueError):
    """A kill-switch state that cannot be loaded, or an operator command that does not apply."""


@slot_init
@dataclass(frozen=True, slots=True)
class KillSwitchState:
    """``locks`` pairs an asset code with the epoch ms its lock ends (the next UTC day)."""

    day_start: int
    daily_tripped: bool = False
    drawdown_tripped: bool = False
    daily_trip_ts: int | None = None
    drawdown_trip_ts: int | None = None
    locks: tuple[tuple[str, int], ...] = ()

    @property
    def tripped(self) -> bool:
        return self.daily_tripped or self.drawdown_tripped

    def is_locked(self, asset: str) -> bool:
        return any(a == asset for a, _ in self.locks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": _FORMAT_VERSION,
            "day_start": self.day_start,
            "daily_tripped": self.daily_tripped,
            "drawdown_tripped": self.drawdown_tripped,
            "daily_trip_ts": self.daily_trip_ts,
            "drawdown_trip_ts": self.drawdown_trip_ts,
            "locks": [[asset, until] for asset, until in self.locks],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> KillSwitchState:
        def field(name: str, kinds: tuple[type, ...]) -> Any:
            if name not in data:
                raise KillSwitchError(f"kill switch state: field {name!r} is missing")
            value = data[name]
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise KillSwitchError(f"kill switch state: field {name!r} has the wrong type ({value!r})")
            return value

        if data.get("version") != _FORMAT_VERSION:
            raise KillSwitchError(
                f"kill switch state: version {data.get('version')!r} is not {_FORMAT_VERSION}"
            )
        locks = []
        for i, item in enumerate(field("locks", (list, tuple))):
            if not (
                isinstance(item, list | tuple)
                and len(item) == 2
                and isinstance(item[0], str)
                and isinstance(item[1], int)
                and not isinstance(item[1], bool)
            ):
                raise KillSwitchError(
                    f"kill switch state: locks[{i}] must be [asset, until_ms], got {item!r}"
                )
            locks.append((item[0], item[1]))
        return cls(
            day_start=field("day_start", (int,)),
            daily_tripped=field("daily_tripped", (bool,)),
            drawdown_tripped=field("drawdown_tripped", (bool,)),
            daily_trip_ts=field("daily_trip_ts", (int, type(None))),
            drawdown_trip_ts=field("drawdown_trip_ts", (int, type(None))),
            locks=tuple(sorted(locks)),
        )


def armed(ts: int) -> KillSwitchState:
    """A fresh, armed switch for the UTC day of ``ts``."""
    return KillSwitchState(day_start=utc_day_start(ts))


@slot_init
@dataclass(frozen=True, slots=True)
class SwitchUpdate:
    state: KillSwitchState
    events: tuple[RiskEvent, ...]
    actions: tuple[KillSwitchAction, ...]


def on_new_day(
    switch: KillSwitchState, ts: int, day: int | None = None
) -> tuple[KillSwitchState, tuple[RiskEvent, ...]]:
    """Re-arm a daily trip and release locks whose day is over; a drawdown trip stays.

    ``day`` is the start of the risk day now current (default: the UTC day of ``ts``);
    :func:`update` passes the ledger's, so the switch and the ledger never disagree on
    which day a loss belongs to (a close stamped 00:00 is still the old day's).
    """
    day = utc_day_start(ts) if day is None else day
    if day <= switch.day_start:
        return switch, ()
    events = []
    if switch.daily_tripped:
        events.append(RiskEvent(ts, EventKind.REARM, "new UTC day: daily loss kill switch re-armed"))
    kept = tuple((a, until) for a, until in switch.locks if until > day)
    events.extend(
        RiskEvent(ts, EventKind.UNLOCK, f"new UTC day: {a} unlocked", symbol=a)
        for a, until in switch.locks
        if until <= day
    )
    new = replace(switch, day_start=day, daily_tripped=False, daily_trip_ts=None, locks=kept)
    return new, tuple(events)


def _day_start(ledger: LedgerState) -> str:
    """The baseline a daily limit was measured from, and when its prices were marked: an
    operator reading a trip can check it against the equity curve at 00:00."""
    return f"day start {ledger.figures.day_start_equity:,.2f} marked at {format_time(ledger.day_start_marked_at)}"


def _day_hit(figures: Figures, limit: float) -> bool:
    """Loss from day-start equity at or beyond ``limit`` (compared without a division)."""
    return figures.equity - figures.day_start_equity <= -limit * figures.day_start_equity


def _trips(
    switch: KillSwitchState, ledger: LedgerState, limits: CompiledLimits, ts: int
) -> tuple[KillSwitchState, list[RiskEvent]]:
    figures = ledger.figures
    events: list[RiskEvent] = []
    day_return = figures.day_return
    if not switch.daily_tripped and _day_hit(figures, limits.daily_loss_portfolio):
        switch = replace(switch, daily_tripped=True, daily_trip_ts=ts)
        events.append(
            RiskEvent(
                ts,
                EventKind.TRIP_DAILY,
                f"portfolio down {-day_return:.2%} on the UTC day (equity {figures.equity:,.2f} vs "
                f"{_day_start(ledger)}), limit {limits.daily_loss_portfolio:.2%}",
                figure=day_return,
                limit=-limits.daily_loss_portfolio,
            )
        )
    drawdown = figures.drawdown
    if (
        not switch.drawdown_tripped
        and figures.peak_equity - figures.equity >= limits.drawdown * figures.peak_equity
    ):
        switch = replace(switch, drawdown_tripped=True, drawdown_trip_ts=ts)
        events.append(
            RiskEvent(
                ts,
                EventKind.TRIP_DRAWDOWN,
                f"drawdown {drawdown:.2%} from peak equity {figures.peak_equity:,.2f}, "
                f"limit {limits.drawdown:.2%}; "
                "stays tripped until an operator resets it",
                figure=-drawdown,
                limit=-limits.drawdown,
            )
        )
    return switch, events


def _locks(
    switch: KillSwitchState, ledger: LedgerState, limits: CompiledLimits, ts: int
) -> tuple[KillSwitchState, list[RiskEvent]]:
    figures = ledger.figures
    base = figures.day_start_equity
    events: list[RiskEvent] = []
    if base <= 0:
        return switch, events
    until = ledger.day_start + MS_PER_DAY
    locks = list(switch.locks)
    floor = -limits.daily_loss_asset * base
    for symbol, pnl in figures.day_pnl.items():
        if not pnl <= floor:
            continue
        asset = _asset(symbol)
        loss = pnl / base
        if not switch.is_locked(asset):
            locks.append((asset, until))
            events.append(
                RiskEvent(
                    ts,
                    EventKind.LOCK,
                    f"{asset} down {-loss:.2%} of day-start equity today ({_day_start(ledger)}), "
                    f"limit {limits.daily_loss_asset:.2%}: "
                    "flattened and locked until the next UTC day",
                    figure=loss,
                    limit=-limits.daily_loss_asset,
                    symbol=symbol,
                )
            )
    if not events:  # nothing newly locked: the state stands as it is (its locks are kept sorted)
        return switch, events
    return replace(switch, locks=tuple(sorted(locks))), events


def update(switch: KillSwitchState, ledger: LedgerState, limits: CompiledLimits, ts: int) -> SwitchUpdate:
    """Check the ledger against the switch's limits: new state, events, and actions to execute.

    While tripped, ``close_all`` is repeated as long as positions remain (reduce-only
    closes are idempotent, a failed close must be retried); ``cancel_all`` comes with
    the trip itself.
    """
    switch, events = on_new_day(switch, ts, ledger.day_start)
    was_tripped = switch.tripped
    switch, trip_events = _trips(switch, ledger, limits, ts)
    switch, lock_events = _locks(switch, ledger, limits, ts)
    all_events = (*events, *trip_events, *lock_events)
    actions: list[KillSwitchAction] = []
    if switch.tripped:
        why = "kill switch tripped: " + ("daily loss" if switch.daily_tripped else "drawdown")
        if not was_tripped and limits.cancel_on_trip:
            actions.append(KillSwitchAction(ActionKind.CANCEL_ALL, why))
        if limits.close_on_trip and ledger.positions:
            actions.append(KillSwitchAction(ActionKind.CLOSE_ALL, why))
        actions.append(KillSwitchAction(ActionKind.REFUSE_ENTRIES, why))
    for symbol in ledger.positions if switch.locks else ():
        asset = _asset(symbol)
        if switch.is_locked(asset):
            actions.append(
                KillSwitchAction(
                    ActionKind.FLATTEN_ASSET, f"{asset} hit the per-asset daily loss limit", symbol=symbol
                )
            )
    return SwitchUpdate(switch, all_events, tuple(actions))


def reset_drawdown(
    switch: KillSwitchState, ledger: LedgerState, ts: int, reason: str, operator: str = ""
) -> tuple[KillSwitchState, LedgerState, RiskEvent]:
    """An operator's reset of a drawdown trip; the ledger's peak becomes current equity."""
    if not reason.strip():
        raise KillSwitchError("kill switch reset: a reason is required")
    if not switch.drawdown_tripped:
        raise KillSwitchError("kill switch reset: the drawdown kill switch is not tripped")
    ledger = rebase_peak(ledger)
    who = f" by {operator}" if operator else ""
    event = RiskEvent(
        ts,
        EventKind.RESET,
        f"drawdown kill switch reset{who}: {reason.strip()} "
        f"(peak rebased to equity {ledger.figures.equity:.2f})",
        figure=float(ledger.equity),
    )
    return replace(switch, drawdown_tripped=False, drawdown_trip_ts=None), ledger, event
