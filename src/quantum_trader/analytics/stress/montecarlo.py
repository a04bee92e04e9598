"""Monte Carlo stress: many randomised shocks on resampled markets, and how often each bound breaks.

Each run (a *draw*) is independent: from its own seed it resamples the market in blocks of
days (``bootstrap``), draws a family of shock among those asked for, how hard (a severity
factor on the family's move, funding and thinning of the books), how correlated the assets'
moves are, which assets it hits and when, runs the unstressed and the stressed market through
the whole engine, and measures every bound on the result. The draws' seeds are spawned from
one ``SeedSequence`` by index, so a draw's result depends on the seed and its index only: the
same seed gives the same table whatever runs the draws, in whatever order.

The map over draws is a parameter (``mapper``, a plain serial map by default): any function
with the signature of ``map`` that returns a list in the order of its input (a pool, Ray)
runs them elsewhere. The function it receives is a ``functools.partial`` of a module-level
function over plain data, so it pickles; the base market travels inside it once per task,
which a distributed mapper should place in its object store once instead.

Breach probabilities are conditional on the shock meeting an exposed book: each draw lands at
a time its own unstressed run held positions (``placement``) when there is one. They come with
Wilson 95% intervals, which stay honest at 0 or N breaches out of N.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Final, TypeVar

import numpy as np

from quantum_trader.analytics.stress.bootstrap import resample_market
from quantum_trader.analytics.stress.bounds import BoundKind, Verdict, check, limit_bound, scenario_bounds
from quantum_trader.analytics.stress.compose import run_engine
from quantum_trader.analytics.stress.injections import market_betas
from quantum_trader.analytics.stress.market import StressMarket
from quantum_trader.analytics.stress.measures import measure
from quantum_trader.analytics.stress.placement import place, time_in_market
from quantum_trader.analytics.stress.runner import leader_of
from quantum_trader.analytics.stress.scenarios import FAMILIES, Placement, build, scaled
from quantum_trader.config import Policy
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_MINUTE
from quantum_trader.engine.strategy import Strategy
from quantum_trader.research.runner import Runner

T = TypeVar("T")
R = TypeVar("R")
Mapper = Callable[[Callable[[T], R], Sequence[T]], list[R]]

STANDARD_BOUNDS: Final = (BoundKind.TRADE_RISK, BoundKind.ASSET_LOSS, BoundKind.DAY_LOSS, BoundKind.DRAWDOWN,
                          BoundKind.CORRELATED)
"""Every draw is measured against each of these (the policy's limits), whatever its family."""
SPREAD_FAMILIES: Final = frozenset({"correlated_crash", "liquidity_crisis", "flash_crash", "funding_spike"})
"""Families whose hit assets are drawn: the held ones and a random number of others (the other families hit the
whole market or one held asset)."""


def serial_map(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """The default mapper: one draw after the other, here."""
    return [fn(item) for item in items]


@dataclass(frozen=True)
class MonteCarloConfig:
    runs: int
    seed: int = 0
    families: tuple[str, ...] = tuple(FAMILIES)
    severity: tuple[float, float] = (0.5, 1.5)
    """Range of the factor on each family's default severity (uniform)."""
    correlation: tuple[float, float] = (0.3, 1.0)
    """Range of each asset's correlation with the common shock (uniform); 1: moves by its beta share exactly."""
    block_days: int = 1
    bootstrap: bool = True
    phase: int = 3
    equity: float = 100_000.0

    def __post_init__(self) -> None:
        if self.runs < 1:
            raise ValueError(f"monte carlo: at least one run, got {self.runs}")
        unknown = [f for f in self.families if f not in FAMILIES]
        if unknown or not self.families:
            raise ValueError(f"monte carlo: unknown scenario {', '.join(unknown) or '(none given)'}; "
                             f"choose from {', '.join(FAMILIES)}")


@dataclass(frozen=True)
class DrawResult:
    """One draw: what was injected and what it did (fractions; times epoch ms)."""

    index: int
    family: str
    severity: float
    correlation: float
    at_ms: int
    assets: str
    description: str
    exposure_at_start: float
    worst_loss: float
    drawdown: float
    day_loss: float
    trade_loss: float
    asset_loss: float
    correlated: float
    exit_slippage: float
    trip_minutes: float
    """Minutes from the shock's start to the first kill-switch trip (NaN: none)."""
    breaches: dict[str, bool]
    """Per standard bound (``BoundKind`` value): broken in this draw."""
    own_broken: bool
    """The family's own bounds (as the named scenario is held to) broke."""
    in_market_share: float
    """Share of the draw's unstressed run with a position held."""

    def row(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k != "breaches"}
        out.update({f"broke_{k}": v for k, v in self.breaches.items()})
        return out


@dataclass(frozen=True)
class DrawContext:
    """What every draw shares: plain, picklable data (a distributed mapper ships it once per task)."""

    market: StressMarket
    policy: Policy
    strategy: Callable[[], Strategy]
    config: MonteCarloConfig


@dataclass(frozen=True)
class Draw:
    index: int
    seed: np.random.SeedSequence = field(compare=False)


def draws(config: MonteCarloConfig) -> list[Draw]:
    """The tasks: one per run, each with the seed spawned for its index."""
    children = np.random.SeedSequence(config.seed).spawn(config.runs)
    return [Draw(i, s) for i, s in enumerate(children)]


def _weights(rng: np.random.Generator, symbols: Sequence[str], leader: str, rho: float) -> dict[str, float]:
    """Each asset's share of the common shock: ``rho`` of it common, the rest its own noise (never reversed)."""
    z = rng.standard_normal(len(symbols))
    return {s: 1.0 if s == leader else float(max(0.0, rho + np.sqrt(1.0 - rho * rho) * z[i]))
            for i, s in enumerate(symbols)}


def _hit(rng: np.random.Generator, family: str, placement: Placement, market: StressMarket) -> Placement:
    """The assets a spread family hits: every held one, and from none to all of the others."""
    if family not in SPREAD_FAMILIES:
        return placement
    others = [s for s in market.symbols if s not in placement.sides]
    count = int(rng.integers(0, len(others) + 1))
    extra = {others[i] for i in rng.choice(len(others), size=count, replace=False).tolist()} if others else set()
    hit = tuple(s for s in market.symbols if s in placement.sides or s in extra)
    return replace(placement, assets=hit or placement.assets)


def _verdicts(policy: Policy, figures: Any, start: int, asset: str | None) -> dict[str, Verdict]:
    return {k.value: check(limit_bound(policy, k, asset if k is BoundKind.ASSET_LOSS else None), figures,
                           start_ms=start, policy=policy) for k in STANDARD_BOUNDS}


def run_draw(context: DrawContext, draw: Draw) -> DrawResult:
    """One draw, from its own seed alone (see the module docstring)."""
    config, policy = context.config, context.policy
    rng = np.random.default_rng(draw.seed)
    market = resample_market(context.market, rng, block_days=config.block_days) if config.bootstrap else context.market
    name = config.families[int(rng.integers(len(config.families)))]
    family = FAMILIES[name]
    severity = float(rng.uniform(*config.severity))
    rho = float(rng.uniform(*config.correlation))
    spec = scaled(family.spec, severity)
    leader = leader_of(market, policy)
    baseline = run_engine(market, policy, context.strategy(), phase=config.phase, equity=config.equity)
    placement = _hit(rng, name, place(market, baseline, spec, random=rng), market)
    built = build(market, spec, placement, leader=leader, betas=market_betas(market, leader),
                  weights=_weights(rng, market.symbols, leader, rho))
    run = run_engine(built.market, policy, context.strategy(), phase=config.phase, equity=config.equity)
    figures = measure(run, built.window, as_one=spec.follow_ms > 0)
    asset = placement.assets[0] if spec.scope == "asset" else None
    start = built.window.start_ms
    standard = _verdicts(policy, figures, start, asset)
    own = [check(b, figures, start_ms=start, policy=policy)
           for b in scenario_bounds(policy, name, family.bounds, asset)]
    trip = figures.trip
    return DrawResult(
        index=draw.index, family=name, severity=severity, correlation=rho, at_ms=start,
        assets=",".join(asset_of(s) for s in placement.assets), description=built.description,
        exposure_at_start=figures.exposure_at_start, worst_loss=figures.worst_loss, drawdown=figures.window_drawdown,
        day_loss=figures.worst_day_loss, trade_loss=standard[BoundKind.TRADE_RISK.value].figure,
        asset_loss=standard[BoundKind.ASSET_LOSS.value].figure,
        correlated=standard[BoundKind.CORRELATED.value].figure, exit_slippage=figures.worst_exit_slippage,
        trip_minutes=float("nan") if trip is None else (trip.ts - start) / MS_PER_MINUTE,
        breaches={k: not v.passed for k, v in standard.items()}, own_broken=not all(v.passed for v in own),
        in_market_share=time_in_market(baseline),
    )


def run_monte_carlo(market: StressMarket, policy: Policy, strategy: Callable[[], Strategy], config: MonteCarloConfig,
                    *, mapper: Mapper[Draw, DrawResult] = serial_map, runner: Runner | None = None,
                    progress: Callable[[int, int], None] | None = None) -> list[DrawResult]:
    """Every draw of ``config``, mapped by ``mapper``, or as tasks of ``runner`` (``research.runner``: Ray), which
    sends the market to its workers once; the results in draw order, the same either way."""
    context = DrawContext(market, policy, strategy, config)
    if runner is not None:
        results = runner.map_shared(run_draw, runner.share(context), draws(config), progress)
    else:
        results = mapper(partial(run_draw, context), draws(config))
    return sorted(results, key=lambda r: r.index)
