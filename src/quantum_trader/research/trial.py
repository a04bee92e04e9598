"""One trial of a study: a full backtest of one parameter set over one window, with the real engine and policy.

The task a worker runs: build the strategy from its parameters, cut the window from the shared
market, decide, screen the universe, run the kernel through the simulated venue, and measure the
run with the project's own metrics. Nothing is written to disk (a study of 500 trials must not leave
500 run folders): the outcome is a small value (metrics, daily returns, the equity sampled) that travels
back to the driver.

A window may start with a warm-up: the strategy and the correlation monitor see the bars from
``load_from``, but no intent is acted on before ``start`` and the figures are measured from ``start``
(a walk-forward test fold whose indicators are already formed on its first bar).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from quantum_trader.analytics.metrics import compute_metrics, daily_returns
from quantum_trader.analytics.universe_replay import (
    ReplayInputs,
    admitted_by_phase,
    correlation_clock,
    listed_from,
    replay_universe,
)
from quantum_trader.config import Policy
from quantum_trader.data.catalog import CatalogError
from quantum_trader.domain.market import F64, I64, BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.trading import Intent
from quantum_trader.engine.incremental import decisions_for
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategy import Decisions, Held, Strategy, StrategyError, active_decisions
from quantum_trader.research.market import MarketInputs

HEADLINE = ("total_return", "cagr", "sharpe", "sortino", "calmar", "max_drawdown", "annual_volatility", "trades",
            "win_rate", "profit_factor", "fees_paid", "funding_paid", "kill_switch_trips", "exposure_time")
"""The figures of ``analytics.metrics`` a study keeps per trial (the table's metric columns)."""


@dataclass(frozen=True)
class Window:
    """``start <= ts < end`` measured; bars from ``load_from`` (<= start) seen by the strategy first."""

    start: int
    end: int
    load_from: int | None = None

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise ValueError(f"window: end {self.end} is not after start {self.start}")
        if self.load_from is not None and self.load_from > self.start:
            raise ValueError("window: the warm-up cannot begin after the start")


@dataclass(frozen=True)
class StudySetup:
    """What every trial of a study shares: the market, the base policy and how a run is set up."""

    market: MarketInputs
    policy: Policy
    settings: KernelSettings
    """The base run's settings (phase, equity, slippage, plain or not); a trial's policy replaces its policy."""
    make_strategy: Callable[[Mapping[str, str]], Strategy]
    """Builds the strategy from its parameters (as text), in the worker; a refusal is a ``ValueError`` (one line).
    Picklable: a module-level function or a ``functools.partial`` of one."""
    plain: bool = False


@dataclass(frozen=True)
class TrialTask:
    """One backtest to run: which parameters, over which window."""

    params: Mapping[str, str]
    """Strategy constructor parameters, as ``--param`` text."""
    window: Window
    policy: Policy | None = None
    """The trial's own policy (its policy parameters applied); None: the study's."""
    keep_equity: bool = False
    """Send the equity curve back (walk-forward test folds, for the stitched curve)."""


@dataclass(frozen=True)
class TrialOutcome:
    """What a trial measured; ``error`` says why it could not run (a parameter set the strategy refuses)."""

    metrics: Mapping[str, float | int | None] = field(default_factory=dict)
    returns_ts: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    """UTC day closes of the daily returns (epoch ms)."""
    returns: F64 = field(default_factory=lambda: np.zeros(0))
    equity_ts: I64 = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    equity: F64 = field(default_factory=lambda: np.zeros(0))
    seconds: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class _ActFrom:
    """A strategy's decisions with every intent and exit before decision ``first`` dropped: the warm-up."""

    inner: Decisions
    first: int

    @property
    def close_ts(self) -> I64:
        return self.inner.close_ts

    @property
    def symbols(self) -> tuple[str, ...]:
        return self.inner.symbols

    def active(self) -> I64:
        active = active_decisions(self.inner)
        return active[active >= self.first]

    def intents(self, k: int) -> list[Intent]:
        return [] if k < self.first else self.inner.intents(k)

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        return [] if k < self.first else self.inner.exits(k, held)

    def correlation(self, k: int) -> F64 | None:
        return self.inner.correlation(k)

    def correlation_time(self, k: int) -> int | None:
        return self.inner.correlation_time(k)


def _universe(setup: StudySetup, policy: Policy, settings: KernelSettings, bars: Mapping[str, BarSeries],
              data: MarketData, decisions: Decisions) -> tuple[MarketData, KernelSettings]:
    """The run's universe exactly as ``analytics.backtest`` builds it (the phase's assets with a tier, rescreened
    on the run's own data; every asset in a plain run), from the listing the driver read once."""
    if settings.policy.fixed_fraction:
        return data, settings
    phase = settings.phase
    if policy.universe.in_backtests:
        intents = [(int(decisions.close_ts[k]), decisions.intents(k)) for k in range(decisions.close_ts.size)]
        inputs = ReplayInputs(bars=bars, corr_bars=correlation_clock(bars, policy), books=data.books,
                              funding=data.funding, listed=listed_from(setup.market.listing, bars),
                              spot=frozenset(s for s in setup.market.spot if s in bars))
        schedule = replay_universe(inputs, intents, policy, phase=phase, start=int(data.grid.ts[0]),
                                   end=int(data.grid.ts[-1]))
        data = replace(data, universe=schedule)
    excluded = frozenset(s for s in bars if not admitted_by_phase(policy, phase, asset_of(s)))
    return data, replace(settings, excluded=excluded)


def run_trial(setup: StudySetup, task: TrialTask) -> TrialOutcome:
    """The backtest of ``task``; a parameter set the strategy or the window refuses is an outcome with an error."""
    started = time.perf_counter()
    window = task.window
    policy = task.policy or setup.policy
    settings = setup.settings if task.policy is None else replace(
        setup.settings, policy=policy.as_fixed_fraction() if setup.plain else policy)
    try:
        strategy = setup.make_strategy(task.params)
        bars, data = setup.market.window(window.load_from or window.start, window.end, policy)
        decisions = decisions_for(strategy, bars, policy)
        if window.load_from is not None and window.load_from < window.start:
            decisions = _ActFrom(decisions, int(np.searchsorted(decisions.close_ts, window.start, side="left")))
        data, settings = _universe(setup, policy, settings, bars, data, decisions)
        kernel = Kernel(data, settings)
        rec = kernel.run(decisions)
    except (StrategyError, CatalogError, ValueError) as exc:  # a refused parameter set, not a crash
        return TrialOutcome(error=str(exc), seconds=time.perf_counter() - started)
    equity = rec.equity_frame()
    equity = equity[equity["ts"] >= window.start]
    return measure(equity, rec.trades_frame(), rec.kill_switch_trips, task.keep_equity,
                   time.perf_counter() - started)


def day_ms(daily: pd.Series) -> I64:
    """The epoch ms of daily returns' index (UTC day closes), whatever resolution pandas chose."""
    if daily.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.asarray(pd.DatetimeIndex(daily.index).as_unit("ms").asi8, dtype=np.int64)


def measure(equity: pd.DataFrame, trades: pd.DataFrame, trips: int, keep_equity: bool, seconds: float
            ) -> TrialOutcome:
    """The trial's figures from its equity rows and trades (``analytics.metrics``, as a run folder has them)."""
    ts = equity["ts"].to_numpy(dtype=np.int64)
    values = equity["equity"].to_numpy(dtype=np.float64)
    metrics = compute_metrics(ts, values, equity["total_exposure"].to_numpy(dtype=np.float64), trades,
                              kill_switch_trips=trips)
    daily = daily_returns(ts, values)
    return TrialOutcome(
        metrics={key: metrics.get(key) for key in HEADLINE},
        returns_ts=day_ms(daily),
        returns=daily.to_numpy(dtype=np.float64),
        equity_ts=ts if keep_equity else np.zeros(0, dtype=np.int64),
        equity=values if keep_equity else np.zeros(0),
        seconds=seconds,
    )
