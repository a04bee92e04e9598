"""What a study maximises, and how the runs of consecutive windows join into one performance.

Three objectives, each a figure of the project's own metrics (``analytics.metrics``), higher better:

* ``sharpe``: annualised Sharpe ratio of daily returns;
* ``calmar``: annual return over the maximum drawdown;
* ``return``: total return, for a run whose maximum drawdown stays within the cap (``drawdown_cap``,
  default the policy's 20% kill-switch drawdown); a run deeper than the cap is infeasible (``-inf``),
  whatever it earned: return at a drawdown cap.

A figure that is undefined (a Sharpe ratio of a run shorter than two days) gives no value: the trial
counts as failed, with the reason, rather than as a number built on nothing.

Runs of consecutive windows (the steps of a pruned trial, the test folds of a walk-forward) are
joined by ``chain``: each window's equity is rescaled to start where the previous one ended, so the
joined curve compounds the windows' returns as one account would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantum_trader.analytics.metrics import compute_metrics, daily_returns
from quantum_trader.research.trial import HEADLINE, TrialOutcome, day_ms

OBJECTIVES = ("sharpe", "calmar", "return")
DEFAULT_DRAWDOWN_CAP = 0.20


class ObjectiveError(ValueError):
    """An objective or cap the user cannot have; the message is the one line to show."""


@dataclass(frozen=True)
class Objective:
    name: str = "sharpe"
    drawdown_cap: float = DEFAULT_DRAWDOWN_CAP
    """For ``return``: the deepest drawdown (a positive fraction) a feasible run may have."""

    def __post_init__(self) -> None:
        if self.name not in OBJECTIVES:
            raise ObjectiveError(f"--objective {self.name!r}: choose one of {', '.join(OBJECTIVES)}")
        if not 0.0 < self.drawdown_cap < 1.0 or not math.isfinite(self.drawdown_cap):
            raise ObjectiveError(f"--drawdown-cap {self.drawdown_cap}: must be a fraction in (0, 1), e.g. 0.15")

    @property
    def label(self) -> str:
        return f"return at drawdown <= {self.drawdown_cap:.0%}" if self.name == "return" else self.name

    def undefined(self, metrics: Mapping[str, object]) -> str:
        """Why a run has no value: the message of a failed trial."""
        trades = metrics.get("trades")
        why = " (no trades: a flat run has no Sharpe or Calmar ratio)" if trades == 0 else ""
        return f"{self.label} is undefined for this run{why}"

    def value(self, metrics: Mapping[str, object]) -> float | None:
        """The objective of a run's metrics (None: undefined for this run)."""
        if self.name == "return":
            total, drawdown = metrics.get("total_return"), metrics.get("max_drawdown")
            if not isinstance(total, int | float) or not isinstance(drawdown, int | float):
                return None
            return float(total) if -float(drawdown) <= self.drawdown_cap else -math.inf
        figure = metrics.get(self.name)
        return float(figure) if isinstance(figure, int | float) and math.isfinite(figure) else None


def chain(outcomes: Sequence[TrialOutcome]) -> TrialOutcome:
    """Consecutive windows' runs as one: equity compounded across them, figures measured on the joined curve
    (trades, fees, funding and kill-switch trips summed). One outcome is returned as it is."""
    if len(outcomes) == 1:
        return outcomes[0]
    failed = next((o for o in outcomes if not o.ok), None)
    if failed is not None:
        return failed
    pieces_ts: list[np.ndarray] = []
    pieces: list[np.ndarray] = []
    level = 1.0
    for outcome in outcomes:
        if outcome.equity.size == 0:
            raise ValueError("chain: every window's equity is needed (run the trials with keep_equity)")
        scaled = outcome.equity / outcome.equity[0] * level
        keep = outcome.equity_ts > pieces_ts[-1][-1] if pieces_ts else np.ones(outcome.equity_ts.size, dtype=bool)
        pieces_ts.append(outcome.equity_ts[keep])
        pieces.append(scaled[keep])
        level = float(scaled[-1])
    start = float(outcomes[0].equity[0])
    ts = np.concatenate(pieces_ts)
    equity = np.concatenate(pieces) * start
    metrics = compute_metrics(ts, equity, np.zeros(ts.size), pd.DataFrame(columns=["notional_at_entry"]))
    joined: dict[str, float | int | None] = {key: metrics.get(key) for key in HEADLINE}
    for key in ("trades", "fees_paid", "funding_paid", "kill_switch_trips"):
        joined[key] = sum(float(o.metrics.get(key) or 0.0) for o in outcomes)
    joined["trades"] = int(joined["trades"] or 0)
    joined["kill_switch_trips"] = int(joined["kill_switch_trips"] or 0)
    for key in ("win_rate", "profit_factor", "exposure_time"):
        joined[key] = None
    daily = daily_returns(ts, equity)
    return TrialOutcome(metrics=joined, returns_ts=day_ms(daily),
                        returns=daily.to_numpy(dtype=np.float64), equity_ts=ts, equity=equity,
                        seconds=sum(o.seconds for o in outcomes))
