"""The kernel's inputs: the aligned market and the settings of one run.

Separate from the loop so the composition roots (backtest now, paper and live later)
build them without importing the loop's internals.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from quantum_trader.config import Policy
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import F64, I64, BarSeries, BookSeries, FundingSeries
from quantum_trader.engine.grid import MarketGrid
from quantum_trader.risk.kill_switch import KillSwitchState
from quantum_trader.universe.schedule import UniverseSchedule


@dataclass(frozen=True)
class MarketData:
    """Everything the kernel reads besides bars, aligned once before the loop."""

    grid: MarketGrid
    instruments: Mapping[str, Instrument]
    funding: Mapping[str, FundingSeries] = field(default_factory=dict)
    depth_ts: Mapping[str, I64] = field(default_factory=dict)
    depth: Mapping[str, F64] = field(default_factory=dict)
    """Depth within 1% of mid (smaller side, USD) per book snapshot."""
    spread: Mapping[str, float] = field(default_factory=dict)
    """Typical relative bid-ask spread per symbol, for the slippage model without a book."""
    finer: Mapping[str, BarSeries] = field(default_factory=dict)
    """Finer bars (1m) when the grid is coarser: they decide whether a bar touching both a
    position's stop and its target reached the target first."""
    exchange_marks: frozenset[str] = frozenset()
    """Symbols whose ``grid.mark`` comes from the exchange's mark-price series (else carried closes)."""
    books: Mapping[str, BookSeries] = field(default_factory=dict)
    """L2 snapshots: a fill walks the latest one at or before it (within ``book_max_age_ms``)."""
    book_max_age_ms: int = 15 * 60_000
    """A book older than this is no book: depth unknown (the liquidity rule cannot bind), slippage from
    the spread and impact model (``data_requirements.max_age.book``)."""
    feed_gaps: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Per feed (book, mark, funding) and symbol: the share of the symbol's bars without a fresh value."""
    feed_ages: Mapping[str, int] = field(default_factory=dict)
    """Per feed: the maximum age (ms) a value had to be fresh."""
    notes: tuple[str, ...] = ()
    """What loading the market had to assume (guessed instruments, spot standing in for perpetuals)."""
    universe: UniverseSchedule | None = None
    """The tiers in force over the run, rescreened on its own data (None: the policy's tiers throughout)."""


@dataclass(frozen=True)
class KernelSettings:
    policy: Policy
    initial_equity: Decimal = Decimal(100_000)
    phase: int = 3
    excluded: frozenset[str] = frozenset()
    """Symbols the run's universe never admits (no tier, or not in the phase): their intents are counted, not
    sent to the risk engine (the run says so once, before the first bar, instead of one refusal each)."""
    slippage: bool = True
    impact: float = 0.005
    """Square-root impact coefficient per unit of participation in one bar's volume (no book)."""
    switch: KillSwitchState | None = None
    """The kill switch the run starts with (None: armed): a session's journal hands back a switch left tripped,
    so a restarted process refuses entries until an operator resets it."""

    @property
    def latency_bars(self) -> int:
        return self.policy.venue.latency_bars
