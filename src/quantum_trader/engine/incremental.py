"""Any strategy as the kernel's ``Decisions``: ``on_bar`` called once per decision, in time order.

The kernel asks at decision k, in this order: the correlation known then, the exits given what it
holds, the entry intents (and again for the edge measure). ``IncrementalDecisions`` answers the
correlation from the policy's correlation monitor, without the strategy (it is market data, the
same for any strategy), and calls ``on_bar`` when the exits are asked, with the held positions;
that one call serves the exits and every later question about the intents of k. So ``on_bar``
runs as the replay reaches each decision, never ahead of the positions it is shown.

The replay knows its market up front, so the bars are aggregated to the strategy's timeframe and
the correlations computed once, and each view is a cut of those arrays at its decision (O(1), and
nothing after the cut is reachable). Feeding bars as they arrive live (aggregating buckets, the
streaming correlation monitor, keeping only the subscription's lookback) belongs to the live feed;
note for it: the streaming monitor refuses a symbol without a close yet, which the batch one leaves
unknown, so the two disagree until every symbol has traded.

Asked for intents ahead of the kernel before it has started (a backtest measures each asset's edge
from all the intents up front), the strategy runs ahead with nothing held, and is started again for
the run itself. A decision the kernel does not ask about is decided with the positions it held at
the last one it did.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.data.resample import resample_bars
from quantum_trader.domain.market import F64, I64, BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import format_time, timeframe_ms
from quantum_trader.domain.trading import Intent
from quantum_trader.engine.strategy import (
    BarWindow,
    BatchStrategy,
    DecisionBars,
    Decisions,
    Held,
    KnownCorrelation,
    Strategy,
    StrategyError,
    StrategyView,
    Subscription,
    every_decision,
)
from quantum_trader.signals.pipeline import carried_closes, union_clock
from quantum_trader.universe.correlation import CorrelationMonitor

_PACKAGE = str(Path(__file__).resolve().parents[1])
_LIBRARIES = ("site-packages", "dist-packages")


def on_timeframe(bars: Mapping[str, BarSeries], timeframe: str) -> dict[str, BarSeries]:
    """Each symbol's bars resampled to ``timeframe``, on its own clock (a decision clock takes the union); a
    streamed replay's ``DecisionBars`` hold them resampled already (their finest bars have closes only)."""
    if isinstance(bars, DecisionBars) and timeframe in bars.coarser:
        return {s: bars.coarser[timeframe][s] for s in bars}
    return {s: (b if b.timeframe == timeframe else resample_bars(b, timeframe)) for s, b in bars.items()}


def decisions_for(strategy: Strategy, bars: Mapping[str, BarSeries], policy: Policy) -> Decisions:
    """A replay's decisions: the strategy's batch accelerator when it declares one, else ``on_bar``."""
    if isinstance(strategy, BatchStrategy):
        return strategy.prepare(bars, policy)
    return IncrementalDecisions.replay(strategy, bars, policy)


def _multiple(name: str, wanted: str, have: str) -> int:
    if timeframe_ms(wanted) % timeframe_ms(have):
        raise ValueError(f"{name} ({wanted}) cannot be built from {have} bars: it must be a whole multiple of {have}")
    return timeframe_ms(wanted)


class _Store:
    """One symbol's closed bars on the strategy's timeframe, over the whole replay."""

    def __init__(self, series: BarSeries) -> None:
        self.series = series

    def window(self, count: int) -> BarWindow:
        """The first ``count`` bars."""
        b = self.series
        return BarWindow(b.symbol, b.timeframe, b.ts, b.open, b.high, b.low, b.close, b.volume, count)


class IncrementalDecisions:
    """The kernel's ``Decisions`` over a strategy's ``on_bar`` (see the module docstring)."""

    def __init__(self, strategy: Strategy, bars: Mapping[str, BarSeries], policy: Policy) -> None:
        """Over a known history: each symbol's bars, on one timeframe, any clock."""
        if not bars:
            raise ValueError(f"strategy {strategy.name}: no bars to decide on")
        self.strategy = strategy
        self.symbols = tuple(bars)
        self.timeframe = next(iter(bars.values())).timeframe
        self.policy = policy
        self.subscription = sub = self._start()
        self.step = _multiple(f"strategy {strategy.name}: the subscription's timeframe", sub.timeframe, self.timeframe)
        series = on_timeframe(bars, sub.timeframe)
        self._stores = {s: _Store(series[s]) for s in self.symbols}
        self._close: I64 = union_clock([s.ts for s in series.values()]) + self.step
        self._counts = np.empty((self._close.size, len(self.symbols)), dtype=np.int64)
        """Per decision and symbol: how many of its bars had closed (its window is cut there)."""
        for j, symbol in enumerate(self.symbols):
            self._counts[:, j] = np.searchsorted(series[symbol].ts + self.step, self._close, side="right")
        self._corr_times: I64 = np.empty(0, dtype=np.int64)
        self._corr: F64 = np.empty((0, len(self.symbols), len(self.symbols)))
        if sub.correlation:
            corr_tf = policy.correlation.returns_timeframe
            corr_step = _multiple("the policy's correlation.returns_timeframe", corr_tf, self.timeframe)
            corr_bars = on_timeframe(bars, corr_tf)
            history = self._monitor_for().batch(*carried_closes([corr_bars[s] for s in self.symbols]))
            self._corr_times, self._corr = history.ts + corr_step, history.matrix
        self._reset()

    def _start(self) -> Subscription:
        """The strategy's subscription (its ``ValueError``, a policy it cannot run on, stops the run as it is)."""
        try:
            sub = self.strategy.start(self.symbols, self.timeframe, self.policy)
        except ValueError:
            raise
        except Exception as exc:  # the strategy's own code: one line naming where it failed
            raise _failed(self.strategy.name, "start", exc) from exc
        if not isinstance(sub, Subscription):
            raise StrategyError(f"strategy {self.strategy.name}: start() returned {type(sub).__name__}, "
                                "not a Subscription")
        return sub

    def _reset(self) -> None:
        self._frontier = -1
        self._intents: dict[int, list[Intent]] = {}
        self._exits: list[tuple[str, str]] = []
        self._held: Mapping[str, Held] = {}
        self._asked = False
        self._previewed = False

    def _monitor_for(self) -> CorrelationMonitor:
        assets = tuple(asset_of(s) for s in self.symbols)
        baseline = self.policy.signals.model.baseline_asset
        return CorrelationMonitor(assets, self.policy, baseline if baseline in assets else assets[0])

    @classmethod
    def replay(cls, strategy: Strategy, bars: Mapping[str, BarSeries], policy: Policy) -> IncrementalDecisions:
        """The strategy's decisions over a known history (each symbol's bars on one timeframe, any clock)."""
        return cls(strategy, bars, policy)

    # ------------------------------------------------------------------ the Decisions protocol
    @property
    def close_ts(self) -> I64:
        return self._close

    def active(self) -> I64:
        return every_decision(self.close_ts)

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        if not self._asked:
            self._asked = True
            if self._previewed:  # the run ahead without positions is over: the run itself starts afresh
                if self._start() != self.subscription:
                    raise ValueError(f"strategy {self.strategy.name}: start() subscribed differently the second time")
                self._reset()
                self._asked = True
        if k < self._frontier:
            raise ValueError(f"strategy {self.strategy.name}: decision {k} was taken already (now at {self._frontier})")
        if k > self._frontier:
            self._decide(k, held)
        return list(self._exits)

    def intents(self, k: int) -> list[Intent]:
        if k > self._frontier:
            self._previewed |= not self._asked
            self._decide(k, self._held)
        return list(self._intents.get(k, ()))

    def correlation(self, k: int) -> F64 | None:
        i = self._known_correlation(k)
        return None if i < 0 else np.asarray(self._corr[i], dtype=np.float64)

    def correlation_time(self, k: int) -> int | None:
        i = self._known_correlation(k)
        return None if i < 0 else int(self._corr_times[i])

    # ------------------------------------------------------------------ deciding
    def _known_correlation(self, k: int) -> int:
        """Index of the newest matrix computed by decision k's close (-1: none yet)."""
        return int(np.searchsorted(self._corr_times, self._close[k], side="right")) - 1

    def _decide(self, k: int, held: Mapping[str, Held]) -> None:
        if not 0 <= k < self._close.size:
            raise IndexError(f"decision {k} does not exist (0..{self._close.size - 1})")
        while self._frontier < k:
            j = self._frontier + 1
            seen = held if j == k else self._held
            view = self._view(j, seen)
            try:
                decision = self.strategy.on_bar(view)
            except Exception as exc:  # the strategy's own code: one line naming where it failed
                raise _failed(self.strategy.name, f"on_bar at {format_time(view.ts)}", exc) from exc
            intents, exits = self._checked(decision)
            if intents:
                self._intents[j] = intents
            self._exits = exits
            self._frontier = j
        self._held = held

    def _view(self, k: int, held: Mapping[str, Held]) -> StrategyView:
        counts = self._counts[k]
        before = self._counts[k - 1] if k else np.zeros_like(counts)
        i = self._known_correlation(k)
        known = None if i < 0 else KnownCorrelation(int(self._corr_times[i]), self._corr[i])
        return StrategyView(
            k=k, ts=int(self._close[k]), symbols=self.symbols,
            bars={s: self._stores[s].window(int(counts[j])) for j, s in enumerate(self.symbols)},
            closed=frozenset(s for j, s in enumerate(self.symbols) if counts[j] > before[j]),
            held=held, correlation=known,
        )

    def _checked(self, decision: object) -> tuple[list[Intent], list[tuple[str, str]]]:
        """The strategy's answer, or one clear line saying what is wrong with it."""
        name, symbols = self.strategy.name, ", ".join(self.symbols)
        if not isinstance(decision, tuple) or len(decision) != 2:
            raise StrategyError(f"strategy {name}: on_bar returned {type(decision).__name__}, not a Decision "
                                "(intents, exits)")
        intents: list[Intent] = []
        for intent in _listed(name, "intents", decision[0]):
            if not isinstance(intent, Intent) or intent.symbol not in self._stores:
                raise StrategyError(f"strategy {name}: an intent must be an Intent on one of {symbols}, got {intent!r}")
            intents.append(intent)
        exits: list[tuple[str, str]] = []
        for e in _listed(name, "exits", decision[1]):
            if not isinstance(e, tuple | list) or len(e) != 2 or e[0] not in self._stores:
                raise StrategyError(f"strategy {name}: an exit is (symbol, reason) with a symbol of {symbols}, "
                                    f"got {e!r}")
            exits.append((str(e[0]), str(e[1])))
        return intents, exits


def _listed(name: str, what: str, value: object) -> list[object]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise StrategyError(f"strategy {name}: on_bar's {what} must be a list, got {type(value).__name__}")
    return list(value)


def _failed(name: str, where: str, exc: Exception) -> StrategyError:
    """``exc`` raised by the strategy's code, as one line naming the innermost line of that code."""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if not f.filename.startswith(_PACKAGE)]
    own = [f for f in frames if not any(lib in f.filename for lib in _LIBRARIES)] or frames
    line = f" ({_shown(own[-1].filename)}:{own[-1].lineno})" if own else ""
    return StrategyError(f"strategy {name}: {where} raised {type(exc).__name__}: {exc}{line}")


def _shown(filename: str) -> str:
    """A file under the working folder as the user would name it, relative to it."""
    path = Path(filename)
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else filename
