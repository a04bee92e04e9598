"""The portfolio limits measured again at each entry's fill, where they must still hold.

The risk engine sizes an entry at the decision; the order fills a bar later, with slippage
and fees. A limit the decision respected but the fill broke is still broken, so every entry
fill is measured here against the limits that bound its size: the position's share of
equity, the book's total exposure and the correlated group it joined (the groups anchored
at it and at each held asset it correlates with above the threshold, the same groups the
risk engine bounds). The run reports how many fills ended above each limit and by how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from quantum_trader.domain.market import F64
from quantum_trader.portfolio.state import Figures

RULES = ("max_position_size", "max_total_exposure", "max_correlated_exposure")


def correlated_share(figures: Figures, symbol: str, corr: F64, column: dict[str, int], threshold: float,
                     *, measure_is_risk: bool = False) -> float:
    """The largest correlated group holding ``symbol``, as notional (or risk at stop) over equity."""
    if figures.equity <= 0:
        return float("inf")
    value = figures.risk if measure_is_risk else figures.notional
    held = figures.symbols
    me = column[symbol]
    anchors = [symbol, *(h for h in held if h != symbol and corr[me, column[h]] > threshold)]
    largest = 0.0
    for anchor in anchors:
        a = column[anchor]
        members = [h for h in held if h in (anchor, symbol) or corr[a, column[h]] > threshold]
        largest = max(largest, sum(value[h] for h in members))
    return largest / figures.equity


@dataclass
class FillLimitCheck:
    """Per limit: the entry fills measured, those above the limit, and the worst figure."""

    limits: dict[str, float]
    entries: int = 0
    over: dict[str, int] = field(default_factory=dict)
    worst: dict[str, float] = field(default_factory=dict)

    def record(self, figures: dict[str, float]) -> None:
        self.entries += 1
        for rule, value in figures.items():
            limit = self.limits[rule]
            self.worst[rule] = max(self.worst.get(rule, -np.inf), value)
            if value > limit:
                self.over[rule] = self.over.get(rule, 0) + 1

    def summary(self) -> dict[str, object]:
        """JSON-safe: for each limit, how many entry fills ended above it and the worst excess."""
        out: dict[str, object] = {"entries": self.entries}
        for rule in RULES:
            limit = self.limits[rule]
            worst = self.worst.get(rule)
            out[rule] = {
                "limit": limit,
                "fills_over": self.over.get(rule, 0),
                "worst": None if worst is None else float(worst),
                "worst_excess_of_limit": None if worst is None or worst <= limit else float(worst / limit - 1.0),
            }
        return out
