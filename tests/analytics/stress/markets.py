"""Small markets and scripted books for the stress tests: a few days of the synthetic market, and strategies
whose positions are known, so a scenario's effect on them can be worked out by hand."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache

import numpy as np

from quantum_trader.analytics.stress.market import StressMarket, from_synthetic
from quantum_trader.config import Policy
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.engine.grid import build_grid
from quantum_trader.engine.strategy import Decision, Decisions, StrategyView, Subscription
from quantum_trader.testkit import ScriptedDecisions, long

ASSETS = ("BTC", "ETH", "SOL")
STOP = 0.02
"""The scripted longs' stops: 2% below the entry."""


@cache
def small_market(days: int = 8, seed: int = 3, assets: tuple[str, ...] = ASSETS) -> StressMarket:
    """A few days of the synthetic market (1m bars, books every 5m, funding, marks)."""
    return from_synthetic(generate_market(SynthConfig(days=days, seed=seed, assets=assets)),
                          source=f"synthetic ({days} d, seed {seed})")


class HoldLongs:
    """Goes long every asset at the close of ``row``, a stop ``STOP`` below, and holds to the end."""

    name = "hold-longs"

    def __init__(self, row: int = 60) -> None:
        self.row = row

    def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
        raise NotImplementedError("batch only: prepare")

    def on_bar(self, view: StrategyView) -> Decision:
        raise NotImplementedError("batch only: prepare")

    def prepare(self, bars: Mapping[str, BarSeries], policy: Policy) -> Decisions:
        grid = build_grid(bars)
        closes = grid.close[self.row]
        intents = [long(asset_of(s), entry=float(closes[j]), stop=float(closes[j]) * (1 - STOP))
                   for j, s in enumerate(grid.symbols) if np.isfinite(closes[j])]
        hourly = range(self.row, grid.ts.size, 60)
        return ScriptedDecisions.at_closes(grid, intents={self.row: intents}, also=hourly)


class NeverTrades(HoldLongs):
    """Decides every hour and never trades: a flat book no scenario can hurt."""

    name = "never-trades"

    def prepare(self, bars: Mapping[str, BarSeries], policy: Policy) -> Decisions:
        grid = build_grid(bars)
        return ScriptedDecisions.at_closes(grid, also=range(self.row, grid.ts.size, 60))
