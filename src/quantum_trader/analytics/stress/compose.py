"""One stress run: a (stressed) market through the backtest's own composition, nothing modelled on the side.

``analytics.backtest.prepare_run`` reads a catalog; a scenario's market is in memory, so this
module does the same steps on it with the same functions: ``assemble_market`` aligns it and
derives depth and spreads from its books, the strategy computes its decisions in batch, the
universe is screened again on the run's own data, and ``engine.kernel.Kernel`` replays it
through the simulated exchange under the whole policy. A test holds the unstressed run equal
to ``run_backtest`` over the same market written to a catalog.

The one thing added is a fill listener (the kernel's own ``listeners`` seam): it keeps each
exit's intended price (the stop, or the open a market exit was sent for), the price the bar
offered (a gap's open) and the fill, which the trade rows do not carry.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

import pandas as pd

from quantum_trader.analytics.replay_market import assemble_market
from quantum_trader.analytics.stress.market import StressMarket
from quantum_trader.analytics.universe_replay import (
    ReplayInputs,
    admitted_by_phase,
    correlation_clock,
    replay_universe,
)
from quantum_trader.config import Policy
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.trading import OrderEvent, OrderPurpose, OrderSide, OrderType
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.grid import MarketGrid
from quantum_trader.engine.incremental import decisions_for
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.recorder import Recorder
from quantum_trader.engine.strategy import Decisions, Strategy


@dataclass(frozen=True, slots=True)
class ExitFill:
    """An exit as filled: ``intended`` is what the exit aimed at (a stop's price, else the reference), ``reference``
    the price the bar offered before costs (a gap's open), ``price`` the fill after the book's slippage."""

    ts: int
    symbol: str
    sell: bool
    reason: str
    intended: float
    reference: float
    price: float
    quantity: float

    def _adverse(self, start: float, end: float) -> float:
        """How far ``end`` is worse than ``start`` for this exit, as a fraction of ``start`` (positive: worse)."""
        if not start > 0:
            return 0.0
        return (start - end) / start if self.sell else (end - start) / start

    @property
    def gap(self) -> float:
        """Beyond the stop before any cost: the market opened past it."""
        return self._adverse(self.intended, self.reference)

    @property
    def book(self) -> float:
        """The book's slippage on the way out, from the price the bar offered."""
        return self._adverse(self.reference, self.price)

    @property
    def total(self) -> float:
        return self._adverse(self.intended, self.price)


@dataclass
class ExitLog:
    """The kernel's fill listener: every fill of an order that is not an entry."""

    fills: list[ExitFill] = field(default_factory=list)

    def __call__(self, event: OrderEvent, _kernel: TradingKernel) -> None:
        fill, order = event.fill, event.order
        if fill is None or order.purpose is OrderPurpose.ENTRY:
            return
        reference = float(event.reference) if event.reference is not None else float(fill.price)
        stop = order.stop_price if order.type is OrderType.STOP_MARKET else None
        intended = float(stop) if stop is not None else reference
        reason = event.reason or order.tag or order.purpose.value
        self.fills.append(ExitFill(int(fill.ts), fill.symbol, fill.side is OrderSide.SELL, reason, intended,
                                   reference, float(fill.price), float(fill.quantity)))


@dataclass(frozen=True)
class EngineRun:
    """What one run leaves, in memory: the recorder's frames, the exits, the aligned grid and the settings."""

    trades: pd.DataFrame
    equity: pd.DataFrame
    events: pd.DataFrame
    exits: tuple[ExitFill, ...]
    grid: MarketGrid
    initial_equity: float
    policy: Policy


def _universe(market: StressMarket, bars: Mapping[str, BarSeries], data: MarketData, decisions: Decisions,
              settings: KernelSettings) -> tuple[MarketData, KernelSettings]:
    """``analytics.backtest``'s universe step, on the market in memory (its listing and spot flags came with it)."""
    policy, phase = settings.policy, settings.phase
    if policy.universe.in_backtests:
        intents = [(int(decisions.close_ts[k]), decisions.intents(k)) for k in range(decisions.close_ts.size)]
        inputs = ReplayInputs(bars=bars, corr_bars=correlation_clock(bars, policy), books=data.books,
                              funding=data.funding, listed=market.listed, spot=market.spot)
        schedule = replay_universe(inputs, intents, policy, phase=phase, start=int(data.grid.ts[0]),
                                   end=int(data.grid.ts[-1]))
        data = replace(data, universe=schedule)
    excluded = frozenset(s for s in bars if not admitted_by_phase(policy, phase, asset_of(s)))
    return data, replace(settings, excluded=excluded)


def market_data(market: StressMarket, policy: Policy) -> MarketData:
    """The market aligned as a replay aligns it (feeds past their maximum age count as missing)."""
    data = assemble_market(market.bars, market.funding, market.books, market.marks, policy=policy,
                           instruments=market.instruments, notes=market.notes, exchange=market.exchange)
    return replace(data, finer=dict(market.finer)) if market.finer else data


def run_engine(market: StressMarket, policy: Policy, strategy: Strategy, *, phase: int,
               equity: float = 100_000.0, slippage: bool = True) -> EngineRun:
    """Replay ``market`` through the kernel, the simulated exchange and the whole policy (never the plain profile:
    a stress test is about the limits)."""
    data = market_data(market, policy)
    decisions = decisions_for(strategy, dict(market.bars), policy)
    settings = KernelSettings(policy=policy, initial_equity=Decimal(repr(float(equity))), phase=phase,
                              slippage=slippage)
    data, settings = _universe(market, market.bars, data, decisions, settings)
    exits = ExitLog()
    kernel = Kernel(data, settings, listeners=[exits])
    rec: Recorder = kernel.run(decisions)
    return EngineRun(trades=rec.trades_frame(), equity=rec.equity_frame(), events=rec.events_frame(),
                     exits=tuple(exits.fills), grid=data.grid, initial_equity=float(equity), policy=policy)
