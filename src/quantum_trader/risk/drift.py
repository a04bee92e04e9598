"""Monitoring after entry: limits bind at entry, then prices and correlations move.

``drift`` compares the held book with the exposure alert (spec: "Portfolio exposure >
35%"), the total exposure limit and the correlated exposure limit under the *current*
correlation matrix, and returns events for the alerting layer. It is stateless, so it
reports a condition on every call while it lasts; the alerting layer de-duplicates.
With ``drift.action: trim`` it also returns ``TRIM`` actions sized to bring the figure
back to its limit, taken from the largest position concerned.
"""

from __future__ import annotations

from dataclasses import dataclass

from quantum_trader.portfolio.state import LedgerState
from quantum_trader.risk.events import ActionKind, EventKind, KillSwitchAction, RiskEvent
from quantum_trader.risk.limits import CompiledLimits
from quantum_trader.risk.market import MarketView

_DRIFT_CORRELATED = EventKind.DRIFT_CORRELATED
_DRIFT_EXPOSURE_ALERT = EventKind.DRIFT_EXPOSURE_ALERT


@dataclass(frozen=True, slots=True)
class DriftReport:
    events: tuple[RiskEvent, ...]
    actions: tuple[KillSwitchAction, ...]
    total_exposure: float
    correlated_exposure: float
    """Largest correlated group (held positions above the threshold with one another), of equity."""


def correlated_groups(state: LedgerState, market: MarketView, limits: CompiledLimits) -> dict[str, float]:
    """Per held symbol: the measure summed over held positions correlated with it above the threshold.

    Symbols missing from the matrix count only themselves (the alert names them).
    """
    figures = state.figures
    values = figures.risk if limits.measure_is_risk else figures.notional
    groups: dict[str, float] = {}
    for s in figures.symbols:
        total = 0.0
        for t in figures.symbols:
            corr = 1.0 if s == t else market.corr(s, t)
            if corr is not None and corr > limits.corr_threshold:
                total += values[t]
        groups[s] = total
    return groups


def drift(state: LedgerState, market: MarketView, limits: CompiledLimits, ts: int) -> DriftReport:
    figures = state.figures
    equity = figures.equity
    if equity <= 0 or not figures.symbols:
        return DriftReport((), (), 0.0 if equity > 0 else float("inf"), 0.0)
    events: list[RiskEvent] = []
    actions: list[KillSwitchAction] = []
    total = figures.total_notional / equity
    if total > limits.total_exposure:
        events.append(
            RiskEvent(
                ts,
                EventKind.DRIFT_EXPOSURE_BREACH,
                f"total exposure {total:.2%} above the {limits.total_exposure:.2%} limit",
                total,
                limits.total_exposure,
            )
        )
        if limits.drift_trim:
            largest = max(figures.symbols, key=lambda s: figures.notional[s])
            excess = figures.total_notional - limits.total_exposure * equity
            actions.append(
                KillSwitchAction(
                    ActionKind.TRIM,
                    "total exposure drifted above its limit",
                    largest,
                    min(excess, figures.notional[largest]),
                )
            )
    elif total > limits.drift_alert:
        events.append(
            RiskEvent(
                ts,
                _DRIFT_EXPOSURE_ALERT,
                f"total exposure {total:.2%} above the {limits.drift_alert:.2%} alert",
                total,
                limits.drift_alert,
            )
        )
    groups = correlated_groups(state, market, limits)
    worst = max(groups, key=lambda s: groups[s])
    correlated = groups[worst] / equity
    if correlated > limits.correlated_exposure:
        members = [
            t for t in figures.symbols if t == worst or (market.corr(worst, t) or 0.0) > limits.corr_threshold
        ]
        events.append(
            RiskEvent(
                ts,
                _DRIFT_CORRELATED,
                f"correlated exposure {correlated:.2%} ({', '.join(members)}) above the "
                f"{limits.correlated_exposure:.2%} limit",
                correlated,
                limits.correlated_exposure,
                worst,
            )
        )
        if limits.drift_trim:
            largest = max(members, key=lambda s: figures.notional[s])
            share = (
                figures.notional[largest] / max(figures.risk[largest], 1e-12)
                if limits.measure_is_risk
                else 1.0
            )
            excess = (groups[worst] - limits.correlated_exposure * equity) * share
            actions.append(
                KillSwitchAction(
                    ActionKind.TRIM,
                    "correlated exposure drifted above its limit",
                    largest,
                    min(excess, figures.notional[largest]),
                )
            )
    return DriftReport(tuple(events), tuple(actions), total, correlated)
