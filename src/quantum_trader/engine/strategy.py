"""Strategies: one protocol, decided bar by bar; a batch precomputation is an optional accelerator.

A strategy is asked at each close of its timeframe what it wants, given what is known then:
``on_bar(view) -> Decision``. The view holds each symbol's closed bars so far, the positions
held, the correlation matrix known at that close and the time; nothing later exists in it.
The same call serves a replay, paper and live trading (``engine.incremental`` feeds it).

The kernel reads a strategy through ``Decisions``, by decision index: ``IncrementalDecisions``
(``engine.incremental``) turns any strategy into them by calling ``on_bar`` once per decision,
in time order. A strategy that can also compute all its decisions over a known history at once
says so by implementing ``BatchStrategy.prepare``; the backtest then uses that instead, and a
test must prove the two equal (``tests/engine/test_strategy_batch_equals_incremental.py`` does
for the built-in strategies). A decision at index k is *known* at ``close_ts[k]``: the close of
the bar it was computed on, never earlier.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple, Protocol, TypeVar, runtime_checkable

import numpy as np
import numpy.typing as npt

from quantum_trader.config import Policy
from quantum_trader.domain.market import F64, I64, Bar, BarSeries
from quantum_trader.domain.slot_init import slot_init
from quantum_trader.domain.trading import Intent, Side

T = TypeVar("T", bound=np.generic)


@slot_init
@dataclass(frozen=True, slots=True)
class Held:
    """A held position as a strategy sees it: which way, opened by which signal, at which decision."""

    side: Side
    source: str
    opened_k: int
    resting: bool = False
    """Not held yet: a limit entry resting at the venue (an exit for it cancels the order)."""


# ---------------------------------------------------------------------------------------------- the strategy
@dataclass(frozen=True, slots=True)
class Subscription:
    """What a strategy asks of the runner, once, before its first bar."""

    timeframe: str
    """The bars ``on_bar`` sees, and when it is called: at each close of this timeframe (a whole multiple of
    the market's bars, which the runner aggregates; the bucket of a gap holds what traded in it)."""
    lookback: int | None = None
    """How many closed bars back the strategy reads (None: all of them): what a live runner must keep, so that
    memory follows the strategy's window, not the length of history (a replay holds every bar anyway)."""
    correlation: bool = True
    """Whether the risk engine reads the policy's correlation monitor (``correlation.*``) over this strategy's
    symbols: its correlated-exposure limit and its ``correlation_update`` events. Off, every pair counts as
    uncorrelated (the reference strategy of other engines has no monitor)."""


@dataclass(frozen=True, slots=True)
class KnownCorrelation:
    """The correlation matrix of the symbols' returns known at a decision."""

    computed_at: int
    """The close of the returns bar it was computed on (at or before the decision time)."""
    matrix: F64
    """(n, n) in the view's ``symbols`` order; NaN for pairs whose window has not filled yet."""


def _frozen(values: npt.NDArray[T], n: int) -> npt.NDArray[T]:
    """The first ``n`` values as a read-only view: a strategy cannot change the bars the run goes on with."""
    out = values[:n]
    out.flags.writeable = False
    return out


class BarWindow:
    """One symbol's closed bars up to a decision, oldest first: ``close[-1]`` is the newest close.

    The arrays are read-only views (no copy, O(1) to make), cut at the decision: a strategy cannot
    read a bar that has not closed, whatever it keeps, nor change one. A replay holds every bar; read
    only the subscription's ``lookback`` last ones, which is all a live runner needs to keep.
    """

    __slots__ = ("_c", "_h", "_l", "_n", "_o", "_ts", "_v", "symbol", "timeframe")

    def __init__(self, symbol: str, timeframe: str, ts: I64, open_: F64, high: F64, low: F64, close: F64,
                 volume: F64, n: int) -> None:
        self.symbol, self.timeframe = symbol, timeframe
        self._ts, self._o, self._h, self._l, self._c, self._v = ts, open_, high, low, close, volume
        self._n = n

    def __len__(self) -> int:
        return self._n

    @property
    def ts(self) -> I64:
        """Open time of each bar (its close is ``ts + timeframe``)."""
        return _frozen(self._ts, self._n)

    @property
    def open(self) -> F64:
        return _frozen(self._o, self._n)

    @property
    def high(self) -> F64:
        return _frozen(self._h, self._n)

    @property
    def low(self) -> F64:
        return _frozen(self._l, self._n)

    @property
    def close(self) -> F64:
        return _frozen(self._c, self._n)

    @property
    def volume(self) -> F64:
        return _frozen(self._v, self._n)

    def last(self) -> Bar:
        """The newest closed bar (IndexError before the first)."""
        i = self._n - 1
        if i < 0:
            raise IndexError(f"{self.symbol}: no closed {self.timeframe} bar yet")
        return Bar(self.symbol, self.timeframe, int(self._ts[i]), float(self._o[i]), float(self._h[i]),
                   float(self._l[i]), float(self._c[i]), float(self._v[i]))


@dataclass(frozen=True, slots=True)
class StrategyView:
    """What is known at one decision: the close at ``ts`` and everything before it."""

    k: int
    """The decision's index, counted from the first (``Held.opened_k`` is on the same count)."""
    ts: int
    """The decision time: the close of the bars that just closed (epoch ms)."""
    symbols: tuple[str, ...]
    bars: Mapping[str, BarWindow]
    """Each symbol's closed bars on the subscription's timeframe, up to and including this close."""
    closed: frozenset[str]
    """The symbols whose bar closed at ``ts``; the others have none here (a gap, not started or ended)."""
    held: Mapping[str, Held]
    """Positions held, and limit entries resting (``resting``), when the kernel asks."""
    correlation: KnownCorrelation | None
    """The newest matrix computed by ``ts`` (None before the first, or without ``Subscription.correlation``)."""


class Decision(NamedTuple):
    """What a strategy wants at one decision: entries for the risk engine, and positions to close.

    A pair, ``(intents, exits)``: ``on_bar`` may return ``Decision(intents, exits)`` or the two as a tuple.
    """

    intents: Sequence[Intent] = ()
    """Wishes to hold a position; the risk engine sizes, ranks and may refuse them."""
    exits: Sequence[tuple[str, str]] = ()
    """(symbol, reason) of held positions, or resting entries, to close."""


class StrategyError(ValueError):
    """A strategy broke its contract (an answer of the wrong shape) or raised: the one line a run stops with."""


@runtime_checkable
class Strategy(Protocol):
    """A strategy: ``start`` once per run, then ``on_bar`` at each close, in time order.

    ``start`` is called again before another run over the same object, and must reset whatever
    ``on_bar`` keeps. Its ``ValueError`` (a policy the strategy cannot run on) stops the run with its message.
    """

    name: str

    def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
        """``timeframe``: the market's bars (the subscription's must be a whole multiple of it)."""
        ...

    def on_bar(self, view: StrategyView) -> Decision: ...


STRATEGY_MEMBERS = ("name", "start", "on_bar")
"""``Strategy``'s members, for a loader to name the one a class lacks (a test holds the two the same)."""


class DecisionBars(dict[str, BarSeries]):
    """A streamed replay's decision bars: each symbol's finest signal bars with their times and closes only (the
    other columns read NaN, held as no memory) and, in ``coarser``, the same bars resampled to the coarser
    timeframes whole (OHLCV), built window by window from those finest bars. A strategy's batch reads the finest
    bars' closes (the correlation's returns) and the coarser ones' columns (its models), so five years of 5m
    OHLCV (about 25 MB a year on five assets) are never held whole. ``on_timeframe`` answers from ``coarser``."""

    def __init__(self, bars: Mapping[str, BarSeries], coarser: Mapping[str, Mapping[str, BarSeries]]) -> None:
        super().__init__(bars)
        self.coarser = {timeframe: dict(by_symbol) for timeframe, by_symbol in coarser.items()}


def closes_only(bars: BarSeries) -> BarSeries:
    """``bars`` keeping its times and closes: the other columns are NaN views of one number (no memory)."""
    nothing = np.broadcast_to(np.float64(np.nan), bars.ts.shape)
    return BarSeries(bars.symbol, bars.timeframe, bars.ts, nothing, nothing, nothing, bars.close, nothing)


@runtime_checkable
class BatchStrategy(Strategy, Protocol):
    """A strategy that can also decide a whole known history at once: an accelerator of ``on_bar``.

    ``prepare`` must give at every decision exactly what ``on_bar`` gives (prove it with a test, as
    ``tests/engine/test_strategy_batch_equals_incremental.py`` does); the backtest uses it when present.
    """

    def prepare(self, bars: Mapping[str, BarSeries], policy: Policy) -> Decisions: ...


# ---------------------------------------------------------------------------------------------- the kernel's side
class Decisions(Protocol):
    """A strategy's decisions over a run, read by index."""

    @property
    def close_ts(self) -> I64:
        """(D,) ascending: when each decision becomes known."""
        ...

    @property
    def symbols(self) -> tuple[str, ...]: ...

    def active(self) -> I64:
        """The decision indices at which the strategy can emit an intent or an exit, whatever is held
        (ascending; ``every_decision(self.close_ts)`` when it cannot tell). The replay skips the others: a 1m
        strategy that acts a few times a day costs a few Python steps a day, not 1,440."""
        ...

    def intents(self, k: int) -> list[Intent]: ...

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        """(symbol, reason) of held positions the strategy closes at decision k."""
        ...

    def correlation(self, k: int) -> F64 | None:
        """Correlation matrix known at decision k, rows/columns in ``symbols`` order."""
        ...

    def correlation_time(self, k: int) -> int | None:
        """When the matrix known at decision k was computed (None: the strategy keeps no dated matrix)."""
        ...


def every_decision(close_ts: I64) -> I64:
    """Every decision index: for a strategy that cannot tell where it will act."""
    return np.arange(int(close_ts.size), dtype=np.int64)


def active_decisions(decisions: Decisions) -> I64:
    """``decisions.active()``, checked: strictly increasing indices of existing decisions."""
    out = np.asarray(decisions.active(), dtype=np.int64)
    size = int(decisions.close_ts.size)
    if out.ndim != 1 or (out.size and (out[0] < 0 or out[-1] >= size or bool(np.any(out[1:] <= out[:-1])))):
        raise ValueError(f"decisions.active() must be strictly increasing indices in 0..{size - 1}")
    return out
