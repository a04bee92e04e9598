"""The promises a scenario is held to, each read from the policy in force, and what broke one.

A bound is one figure of ``measures.Figures`` against one limit of the policy: the spec's
worst case where the scenario table gives a number (``scenarios.<name>.worst_case_loss``),
else the limit that is meant to hold in that scenario (the 2% risk per trade, the -5% daily
kill switch, the 25% correlated exposure). When a bound breaks, ``Verdict.why`` says what
broke it in the run's own terms (the gap beyond a stop, the loss the kill switch saw when
it tripped and how much the exits after it added), so the finding can be acted on.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from quantum_trader.analytics.stress.compose import ExitFill
from quantum_trader.analytics.stress.measures import Figures, TradeLoss
from quantum_trader.config import Policy
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_MINUTE, format_time

NOTICEABLE = 0.0005
"""A gap or a book's slippage below 5 bp is not worth a word in an explanation."""


class BoundKind(StrEnum):
    DRAWDOWN = "drawdown"
    DAY_LOSS = "day_loss"
    TRADE_RISK = "trade_risk"
    ASSET_LOSS = "asset_loss"
    CORRELATED = "correlated_exposure"


@dataclass(frozen=True, slots=True)
class Bound:
    kind: BoundKind
    limit: float
    source: str
    """Where the limit comes from, as the report prints it (the spec's words or the policy key)."""
    asset: str | None = None
    """For an asset's loss: the symbol the scenario hit (None: the worst asset)."""

    @property
    def label(self) -> str:
        what = {
            BoundKind.DRAWDOWN: "drawdown", BoundKind.DAY_LOSS: "day's loss", BoundKind.TRADE_RISK: "loss per trade",
            BoundKind.ASSET_LOSS: f"loss on {asset_of(self.asset)}" if self.asset else "loss on one asset",
            BoundKind.CORRELATED: "correlated exposure",
        }[self.kind]
        return f"{what} <= {self.limit:.0%}"


@dataclass(frozen=True, slots=True)
class Verdict:
    bound: Bound
    figure: float
    passed: bool
    why: tuple[str, ...]
    """What broke the bound (empty when it held)."""


def scenario_bounds(policy: Policy, name: str, kinds: tuple[BoundKind, ...], asset: str | None = None
                    ) -> tuple[Bound, ...]:
    """The bounds of scenario ``name``: the first is its own, the policy's scenario table's worst case where it
    gives a number (else the limit of that kind in force, with the table's words); the others are the policy's
    limits of their kinds."""
    row = policy.scenarios.get(name)
    first, *rest = kinds
    if row is not None and row.worst_case_loss is not None:
        own = Bound(first, float(row.worst_case_loss), f"spec worst case: {row.worst_case}", asset)
    else:
        own = limit_bound(policy, first, asset, spec=None if row is None else row.worst_case)
    return (own, *(limit_bound(policy, kind, asset) for kind in rest))


def limit_bound(policy: Policy, kind: BoundKind, asset: str | None = None, spec: str | None = None) -> Bound:
    """The policy limit of ``kind``; ``spec`` is the scenario table's words when it gives no number."""
    limit, key = {
        BoundKind.DRAWDOWN: (policy.portfolio.max_drawdown_portfolio, "portfolio.max_drawdown_portfolio"),
        BoundKind.DAY_LOSS: (policy.portfolio.max_daily_loss_portfolio, "portfolio.max_daily_loss_portfolio"),
        BoundKind.TRADE_RISK: (policy.per_asset.max_risk_per_trade, "per_asset.max_risk_per_trade"),
        BoundKind.ASSET_LOSS: (policy.per_asset.max_daily_loss_per_asset, "per_asset.max_daily_loss_per_asset"),
        BoundKind.CORRELATED: (policy.portfolio.max_correlated_exposure, "portfolio.max_correlated_exposure"),
    }[kind]
    source = f"policy {key}" if spec is None else f"spec worst case: {spec}; held to policy {key}"
    return Bound(kind, float(limit), source, asset)


def _minutes(ts: int, start: int) -> str:
    minutes = (ts - start) / MS_PER_MINUTE
    return f"{minutes:.0f} min" if minutes < 120 else f"{minutes / 60:.1f} h"


def exit_story(fill: ExitFill | None) -> str:
    """How one exit went, in a clause: the gap past its stop, the book's slippage, who sent it."""
    if fill is None:
        return "no exit was filled in the window"
    parts = []
    if fill.gap > NOTICEABLE:
        parts.append(f"the price gapped through its stop {fill.intended:.6g} to {fill.reference:.6g} "
                     f"({fill.gap:.1%} beyond it)")
    elif fill.reason not in ("stop", "stop_gap"):
        parts.append(f"closed by a {fill.reason.replace('_', ' ')} exit at {fill.reference:.6g}")
    if fill.book > NOTICEABLE:
        parts.append(f"the book took {fill.book:.2%} more on the way out (filled {fill.price:.6g})")
    return "; ".join(parts) if parts else f"exited at its stop {fill.intended:.6g} ({fill.reason})"


def _exit_of(figures: Figures, symbol: str, ts: int | None = None) -> ExitFill | None:
    fills = [e for e in figures.exits if e.symbol == symbol and (ts is None or e.ts == ts)]
    return max(fills, key=lambda e: e.total, default=None)


def _trade_line(trade: TradeLoss, limit: float, figures: Figures) -> str:
    return (f"{asset_of(trade.symbol)} {trade.side} lost {trade.loss:.2%} of equity against a {limit:.0%} budget "
            f"(planned {trade.planned:.2%} at its stop): {exit_story(_exit_of(figures, trade.symbol, trade.exit_ts))}")


def _switch_line(figures: Figures, limit: float, start_ms: int, taken: float, what: str) -> str:
    trip = figures.trip
    worst = figures.worst_exit
    if trip is None:
        return (f"the kill switch never tripped: no bar close it watches saw the {limit:.0%} limit crossed "
                f"before the loss was taken ({exit_story(worst)})")
    said = (f"the kill switch tripped ({trip.kind}) {_minutes(trip.ts, start_ms)} after the start, seeing "
            f"{trip.figure:.2%}")
    if trip.figure > limit + NOTICEABLE:
        said += f": the first close it saw was already past its {limit:.0%} trip, overshot by {trip.figure - limit:.2%}"
    extra = taken - trip.figure
    if extra > NOTICEABLE:
        said += f"; the exits after it added {extra:.2%} to the {what} ({exit_story(worst)})"
    return said


def check(bound: Bound, figures: Figures, *, start_ms: int, policy: Policy) -> Verdict:
    """The bound against the run's figures; when it breaks, the reasons in the run's own terms."""
    if bound.kind is BoundKind.TRADE_RISK:
        worst = figures.worst_trade
        figure = worst.loss if worst is not None else 0.0
        broken = [t for t in figures.trade_losses if t.loss > bound.limit][:3]
        why = tuple(_trade_line(t, bound.limit, figures) for t in broken)
    elif bound.kind is BoundKind.ASSET_LOSS:
        symbol = bound.asset or (figures.worst_asset or ("", 0.0))[0]
        figure = figures.asset_losses.get(symbol, 0.0)
        locked = asset_of(symbol) in {asset_of(s) for s in figures.locks}
        why = (f"{asset_of(symbol)} cost {figure:.2%} of equity against {bound.limit:.0%}: "
               f"{exit_story(_exit_of(figures, symbol))}; "
               + ("the per-asset daily limit locked it, after the loss was taken" if locked else
                  "the per-asset daily limit never locked it before the loss was taken"),)
    elif bound.kind is BoundKind.DAY_LOSS:
        figure = figures.worst_day_loss
        day = format_time(figures.worst_day)[:10] if figures.worst_day is not None else "?"
        why = (f"the UTC day {day} lost {figure:.2%} from its start against the {bound.limit:.0%} kill switch",
               _switch_line(figures, bound.limit, start_ms, figure, "day's loss"))
    elif bound.kind is BoundKind.DRAWDOWN:
        figure = figures.window_drawdown
        why = (f"the drawdown from peak reached {figure:.2%} against {bound.limit:.0%}",
               _switch_line(figures, bound.limit, start_ms, figure, "drawdown"))
    else:
        risk = policy.correlation.exposure_measure == "risk_amount"
        figure = figures.correlated(policy.correlation.exposure_measure)
        action = policy.drift.action
        seen = figures.correlated_exposure
        kernel = (f"the kernel's own {policy.correlation.window} matrix saw {seen:.1%} correlated too: limits bind "
                  "at entry, and prices moved the held book past the limit afterwards" if seen >= figure - NOTICEABLE
                  else f"the kernel's own {policy.correlation.window} matrix measured at most {seen:.1%} correlated "
                  "(it lags a change of regime)")
        held = "positions moving as one" if figures.as_one else "correlated positions"
        why = (f"{held} reached {figure:.1%} of equity ({'risk at the stops' if risk else 'notional'}) against "
               f"{bound.limit:.0%}; {kernel}",
               "drift.action is 'trim': the excess was cut, but not before it was held" if action == "trim" else
               "drift.action is 'alert': held positions above the limit are reported, not cut")
    passed = figure <= bound.limit
    return Verdict(bound, figure, passed, () if passed else why)
