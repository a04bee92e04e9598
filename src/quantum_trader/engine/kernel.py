"""A backtest's engine in one call: an aligned market replayed through the trading kernel and the simulated exchange.

``Kernel(data, settings, venue, feed=...).run(decisions)`` composes the three seams for a replay: the market
as a feed of stretches (``engine.feed``, or the catalog streamed by ``engine.catalog_feed``), the simulated
exchange as the execution client (``venues.simulated.exchange``, with the cost models of ``venue``), and the
replay driver (``engine.replay``) that moves time; the decisions are the strategy's, precomputed in batch.
Paper trading (``engine.paced``) feeds the same kernel and venue one bar at a time on the asyncio loop; live
trading (``engine.live``) puts an exchange's client (``venues.ccxt``) in the simulated exchange's place behind
``ExecutionClient``.
The trading logic is all in ``engine.core``: nothing here or below it knows whether a run is a backtest.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np

from quantum_trader.domain.market import F64
from quantum_trader.domain.trading import Order, OrderEvent
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.feed import InMemoryFeed
from quantum_trader.engine.grid import MarketGrid
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.ports import ExecutionClient, MarketDataFeed
from quantum_trader.engine.recorder import Recorder
from quantum_trader.engine.replay import ReplayDriver
from quantum_trader.engine.strategy import Decisions
from quantum_trader.portfolio import LedgerState, compile_margin
from quantum_trader.risk import KillSwitchState, RiskEvent
from quantum_trader.risk.batch import BatchResult
from quantum_trader.venues.simulated.account import VenueAccount
from quantum_trader.venues.simulated.exchange import SimulatedExchange
from quantum_trader.venues.simulated.venue import SimulatedVenue


def simulated_exchange(data: MarketData, settings: KernelSettings, venue: SimulatedVenue | None = None,
                       feed: MarketDataFeed | None = None) -> SimulatedExchange:
    """The policy's simulated exchange over ``data``: its fees, its slippage over the stored books and spreads
    (or ``venue``'s models), its latency, margin and limit-order rules, an account holding the initial equity."""
    policy = settings.policy
    feed = feed or InMemoryFeed(data.grid)
    models = venue or SimulatedVenue.from_policy(policy, books=data.books, spread=data.spread,
                                                 slippage=settings.slippage, impact=settings.impact,
                                                 book_max_age_ms=data.book_max_age_ms)
    return SimulatedExchange(
        venue=models, instruments=data.instruments, symbols=feed.symbols,
        account=VenueAccount.opened(settings.initial_equity, feed.start_ts),
        margin=compile_margin(policy.margin),
        latency_bars=policy.venue.latency_bars, finer=data.finer, exchange_marks=data.exchange_marks,
    )


class Kernel:
    """Runs one strategy's decisions over a market (see the module docstring)."""

    def __init__(self, data: MarketData, settings: KernelSettings, venue: SimulatedVenue | None = None, *,
                 jump: bool = True, chunk_rows: int | None = None, run_id: str = "backtest",
                 listeners: list[Callable[[OrderEvent, TradingKernel], None]] | None = None,
                 feed: MarketDataFeed | None = None,
                 risk_listeners: list[Callable[[TradingKernel, int, tuple[RiskEvent, ...]], None]] | None = None,
                 decision_listeners: list[Callable[[TradingKernel, int, BatchResult], None]] | None = None
                 ) -> None:
        self.data = data
        self.grid: MarketGrid = data.grid
        self.settings = settings
        self.policy = settings.policy
        self.feed: MarketDataFeed = feed or InMemoryFeed(data.grid, data.funding, rows=chunk_rows)
        """Where the bars come from: the market held whole, cut in stretches, or the catalog streamed
        (``engine.catalog_feed``), in which case ``data`` holds everything but the bars."""
        self.exchange = simulated_exchange(data, settings, venue, self.feed)
        self.venue = self.exchange.venue
        self.jump = jump
        self.chunk_rows = chunk_rows
        self.run_id = run_id
        self.listeners = list(listeners or [])
        self.risk_listeners = list(risk_listeners or [])
        self.decision_listeners = list(decision_listeners or [])
        self.core: TradingKernel | None = None

    def run(self, decisions: Decisions, on_rows: Callable[[int, int], None] | None = None) -> Recorder:
        """Replay every bar; ``on_rows(done, total)`` hears progress about 200 times a run, never per bar."""
        driver = self.driver(decisions, on_rows)
        driver.run(self.feed.chunks())
        return driver.kernel.rec

    def driver(self, decisions: Decisions, on_rows: Callable[[int, int], None] | None = None, *,
               execution: ExecutionClient | None = None) -> ReplayDriver:
        """The kernel and the venue composed, ready for stretches of the market (``run`` feeds them all at once,
        paper trading one bar at a time); ``execution`` stands between the kernel and the venue when given (a
        wrapper of ``self.exchange`` that watches what is sent)."""
        core = TradingKernel(self.data, self.settings, execution or self.exchange, decisions, self.run_id,
                             listeners=self.listeners, risk_listeners=self.risk_listeners,
                             decision_listeners=self.decision_listeners, symbols=self.feed.symbols,
                             start_ts=self.feed.start_ts)
        self.core = core
        self.exchange.guard = self._guard
        active = decisions.active()
        return ReplayDriver(core, self.exchange, decisions.close_ts[active], active, jump=self.jump,
                            clock=self.exchange.clock, progress=on_rows,  # type: ignore[arg-type]
                            total_rows=self.feed.total_rows)

    def _guard(self, order: Order, row: int) -> Decimal:
        core = self.core
        assert core is not None
        placed = core.desk.placed.get(order.client_order_id)
        if placed is None or placed.intent is None:
            return order.quantity
        return core.recheck(placed.intent, placed.decision, order.quantity, row)

    # ------------------------------------------------------------------ what a finished run holds
    def _core(self) -> TradingKernel:
        assert self.core is not None, "run() first"
        return self.core

    @property
    def ledger(self) -> LedgerState:
        return self._core().ledger

    @property
    def switch(self) -> KillSwitchState:
        return self._core().switch

    @property
    def rec(self) -> Recorder:
        return self._core().rec

    @property
    def corr(self) -> F64:
        return self._core().corr if self.core is not None else np.eye(len(self.feed.symbols))
