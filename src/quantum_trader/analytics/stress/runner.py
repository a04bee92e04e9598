"""Run the named scenarios: one unstressed run, then each scenario's stressed run and its verdict.

Each scenario is the whole engine under the whole policy over the whole market with one
shock injected; the unstressed run places the shocks (``placement``) and is measured over
each scenario's window too, so the report can show what the scenario itself added.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import pandas as pd

from quantum_trader.analytics.stress.bounds import Verdict, check, scenario_bounds
from quantum_trader.analytics.stress.compose import EngineRun, run_engine
from quantum_trader.analytics.stress.injections import market_betas
from quantum_trader.analytics.stress.market import StressMarket
from quantum_trader.analytics.stress.measures import Figures, Window, measure
from quantum_trader.analytics.stress.names import choose, scenario_names
from quantum_trader.analytics.stress.placement import place, time_in_market
from quantum_trader.analytics.stress.scenarios import FAMILIES, Family, Placement, build
from quantum_trader.config import Policy
from quantum_trader.domain.symbols import perp_symbol
from quantum_trader.engine.strategy import Strategy

Progress = Callable[[str, int, int], None]
"""``progress(label, done, total)`` after each run."""


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    family: Family
    description: str
    placement: Placement
    window: Window
    shock_ms: int
    figures: Figures
    unstressed: Figures
    """The unstressed run measured over the same window."""
    verdicts: tuple[Verdict, ...]
    """The scenario's own bound first."""
    unstressed_verdicts: tuple[Verdict, ...]
    """The same bounds on the unstressed run over the same window: a bound it breaks too is not the scenario's doing."""
    equity: pd.DataFrame

    @property
    def passed(self) -> bool:
        return all(v.passed for v in self.verdicts)

    @property
    def why(self) -> tuple[str, ...]:
        """What broke each broken bound; a bound the unstressed run broke too says so first."""
        lines = []
        for verdict, before in zip(self.verdicts, self.unstressed_verdicts, strict=True):
            if not verdict.passed and not before.passed:
                lines.append(f"{verdict.bound.label}: the unstressed run reached {before.figure:.2%} over the same "
                             "window too, so this breach is not the scenario's alone")
            lines.extend(verdict.why)
        return tuple(lines)


@dataclass(frozen=True)
class StressOutcome:
    market: StressMarket
    baseline: EngineRun
    results: tuple[ScenarioResult, ...]
    not_run: tuple[str, ...]
    """Scenarios the policy's table names that have no injection here."""
    in_market: float

    @property
    def broken(self) -> tuple[ScenarioResult, ...]:
        return tuple(r for r in self.results if not r.passed)


def leader_of(market: StressMarket, policy: Policy) -> str:
    """The asset a market-wide move is measured on: the policy's baseline asset (BTC) when present."""
    wanted = perp_symbol(policy.signals.model.baseline_asset)
    return wanted if wanted in market.bars else market.symbols[0]


def run_scenario(name: str, market: StressMarket, baseline: EngineRun, policy: Policy, strategy: Strategy, *,
                 phase: int, equity: float) -> ScenarioResult:
    family = FAMILIES[name]
    placement = place(market, baseline, family.spec)
    leader = leader_of(market, policy)
    built = build(market, family.spec, placement, leader=leader, betas=market_betas(market, leader))
    run = run_engine(built.market, policy, strategy, phase=phase, equity=equity)
    figures = measure(run, built.window, as_one=family.spec.follow_ms > 0)
    asset = placement.assets[0] if family.spec.scope == "asset" else None
    bounds = scenario_bounds(policy, name, family.bounds, asset)
    unstressed = measure(baseline, built.window)
    verdicts = tuple(check(b, figures, start_ms=built.window.start_ms, policy=policy) for b in bounds)
    before = tuple(check(b, unstressed, start_ms=built.window.start_ms, policy=policy) for b in bounds)
    return ScenarioResult(name, family, built.description, placement, built.window, built.shock_ms, figures,
                          unstressed, verdicts, before, run.equity)


def run_scenarios(market: StressMarket, policy: Policy, strategy: Strategy, *, names: Sequence[str] = (),
                  phase: int = 3, equity: float = 100_000.0, progress: Progress | None = None) -> StressOutcome:
    """The unstressed run, then each chosen scenario (all by default)."""
    chosen = choose(policy, names)
    tell = progress or (lambda _label, _done, _total: None)
    total = len(chosen) + 1
    tell("unstressed run", 0, total)
    baseline = run_engine(market, policy, strategy, phase=phase, equity=equity)
    results = []
    for done, name in enumerate(chosen, start=1):
        tell(name, done, total)
        results.append(run_scenario(name, market, baseline, policy, strategy, phase=phase, equity=equity))
    tell("done", total, total)
    return StressOutcome(market, baseline, tuple(results), tuple(scenario_names(policy)[1]), time_in_market(baseline))
