"""The Monte Carlo draws summed up: loss distributions and the probability of breaching each bound.

A probability from N draws is an estimate; each comes with a Wilson score interval (95%),
which, unlike the normal approximation, stays inside [0, 1] and does not collapse to a
point when no draw (or every draw) broke the bound.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from quantum_trader.analytics.stress.bounds import Bound, limit_bound
from quantum_trader.analytics.stress.montecarlo import STANDARD_BOUNDS, DrawResult
from quantum_trader.config import Policy

CONFIDENCE: Final = 0.95
QUANTILES: Final = (0.5, 0.9, 0.95, 0.99)


@dataclass(frozen=True, slots=True)
class BreachRate:
    bound: Bound
    breaches: int
    runs: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.breaches / self.runs if self.runs else 0.0


def wilson(breaches: int, runs: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of ``breaches`` out of ``runs`` (scipy's)."""
    if runs == 0:
        return 0.0, 1.0
    ci = binomtest(breaches, runs).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def breach_rates(results: Sequence[DrawResult], policy: Policy) -> list[BreachRate]:
    out = []
    for kind in STANDARD_BOUNDS:
        broke = sum(r.breaches[kind.value] for r in results)
        low, high = wilson(broke, len(results))
        out.append(BreachRate(limit_bound(policy, kind), broke, len(results), low, high))
    return out


def own_rate(results: Sequence[DrawResult]) -> tuple[int, float, float]:
    """Draws whose family's own bounds broke, with the Wilson interval."""
    broke = sum(r.own_broken for r in results)
    return (broke, *wilson(broke, len(results)))


def quantiles(results: Sequence[DrawResult]) -> pd.DataFrame:
    """Quantiles and the maximum of the worst loss, the drawdown and the day's loss over the draws."""
    frame = pd.DataFrame([r.row() for r in results])
    rows = {}
    for column, label in (("worst_loss", "worst loss"), ("drawdown", "drawdown"), ("day_loss", "day's loss"),
                          ("trade_loss", "worst trade"), ("exit_slippage", "exit slippage")):
        values = frame[column].to_numpy(dtype=float)
        rows[label] = {**{f"p{round(q * 100)}": float(np.quantile(values, q)) for q in QUANTILES},
                       "max": float(values.max())}
    return pd.DataFrame(rows).T


def draws_frame(results: Sequence[DrawResult]) -> pd.DataFrame:
    return pd.DataFrame([r.row() for r in results])
