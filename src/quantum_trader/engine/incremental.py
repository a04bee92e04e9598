"""Any strategy as the kernel's ``Decisions``: ``on_bar`` called once per decision, in time order.

The kernel asks at decision k, in this order: the correlation known then, the exits given what it
holds, the entry intents (and again for the edge measure). ``IncrementalDecisions`` answers the
correlation from the policy's correlation monitor, without the strategy (it is market data, the
same for any strategy), and calls ``on_bar`` when the exits are asked, with the held positions;
that one call serves the exits and every later question about the intents of k.

The bars come in two ways, to the same strategy calls:

* a replay (``IncrementalDecisions.replay``): the whole history is known, so the bars are
  aggregated to the strategy's timeframe and the correlations computed once, and each view is a
  cut of those arrays at its decision (O(1), nothing after the cut is reachable);
* live (``on_bars``): the market's bars arrive as they close; a bucket of the strategy's timeframe
  (and of the correlation's returns) is complete once its last bar came or time passed its end,
  and each one closing makes a decision. Only the subscription's ``lookback`` bars are kept.

Asked for intents ahead of the kernel before it has started (a backtest measures each asset's edge
from all the intents up front), the strategy runs ahead with nothing held, and is started again for
the run itself. A decision the kernel does not ask about is decided with the positions it held at
the last one it did.
"""

from __future__ import annotations

import traceback
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.data.resample import resample_bars
from quantum_trader.domain.market import F64, I64, Bar, BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import format_time, timeframe_ms
from quantum_trader.domain.trading import Intent
from quantum_trader.engine.strategy import (
    BarWindow,
    BatchStrategy,
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
from quantum_trader.universe.correlation import CorrelationMonitor, CorrelationMonitorState

_PACKAGE = str(Path(__file__).resolve().parents[1])
_LIBRARIES = ("site-packages", "dist-packages")


def on_timeframe(bars: Mapping[str, BarSeries], timeframe: str) -> dict[str, BarSeries]:
    """Each symbol's bars resampled to ``timeframe``, on its own clock (a decision clock takes the union)."""
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
    """One symbol's closed bars on the strategy's timeframe: known up front (a replay) or appended as they close
    (live: full arrays are replaced, never rewritten, so a window handed out earlier keeps its bars)."""

    def __init__(self, symbol: str, timeframe: str, keep: int | None, series: BarSeries | None = None) -> None:
        self.symbol, self.timeframe, self.keep = symbol, timeframe, keep
        self.dropped = 0
        """Bars no longer kept (live, beyond the lookback)."""
        if series is None:
            self.ts: I64 = np.empty(16, dtype=np.int64)
            self.cols: F64 = np.empty((5, 16))
            self.size = 0
        else:
            self.ts = series.ts
            self.cols = np.vstack([series.open, series.high, series.low, series.close, series.volume])
            self.size = int(series.ts.size)

    def append(self, bar: tuple[int, float, float, float, float, float]) -> None:
        if self.size == self.ts.size:
            keep = self.size if self.keep is None else min(self.size, self.keep)
            capacity = max(16, 2 * keep)
            ts, cols = np.empty(capacity, dtype=np.int64), np.empty((5, capacity))
            ts[:keep], cols[:, :keep] = self.ts[self.size - keep: self.size], self.cols[:, self.size - keep: self.size]
            self.dropped += self.size - keep
            self.ts, self.cols, self.size = ts, cols, keep
        self.ts[self.size] = bar[0]
        self.cols[:, self.size] = bar[1:]
        self.size += 1

    def window(self, count: int) -> BarWindow:
        """The first ``count`` bars ever closed (those still kept)."""
        c = self.cols
        return BarWindow(self.symbol, self.timeframe, self.ts, c[0], c[1], c[2], c[3], c[4], count - self.dropped)


class _Bucket:
    """Live aggregation of one symbol's bars into a longer timeframe, as ``resample_bars`` has it."""

    __slots__ = ("cur", "span")

    def __init__(self, span: int) -> None:
        self.span = span
        self.cur: list[float] | None = None  # open time, open, high, low, close, volume

    def add(self, bar: Bar) -> list[float] | None:
        """Take a bar; the previous bucket if this bar starts a later one (its end passed in a gap)."""
        start = bar.ts - bar.ts % self.span
        cur, done = self.cur, None
        if cur is not None and cur[0] != start:
            done, cur = cur, None
        if cur is None:
            self.cur = [start, bar.open, bar.high, bar.low, bar.close, bar.volume]
        else:
            cur[2], cur[3], cur[4], cur[5] = max(cur[2], bar.high), min(cur[3], bar.low), bar.close, cur[5] + bar.volume
        return done

    def due(self, now: int) -> list[float] | None:
        """The bucket in progress if it has ended by ``now``."""
        cur = self.cur
        if cur is not None and cur[0] + self.span <= now:
            self.cur = None
            return cur
        return None


class IncrementalDecisions:
    """The kernel's ``Decisions`` over a strategy's ``on_bar`` (see the module docstring)."""

    def __init__(self, strategy: Strategy, symbols: Sequence[str], timeframe: str, policy: Policy) -> None:
        self.strategy = strategy
        self.symbols = tuple(symbols)
        self.timeframe = timeframe
        self.policy = policy
        self.subscription = self._start()
        sub = self.subscription
        self.step = _multiple(f"{strategy.name}: the subscription's timeframe", sub.timeframe, timeframe)
        self._stores = {s: _Store(s, sub.timeframe, sub.lookback) for s in self.symbols}
        self._close: I64 = np.empty(0, dtype=np.int64)
        self._counts: I64 = np.empty((0, len(self.symbols)), dtype=np.int64)
        """Per decision and symbol: how many bars of it had closed (its bars are cut there)."""
        self._d = 0
        self._corr_times: I64 = np.empty(0, dtype=np.int64)
        self._corr: F64 = np.empty((0, len(self.symbols), len(self.symbols)))
        self._nc = 0
        self._corr_step = 0
        self._monitor: CorrelationMonitorState | None = None
        self._live: tuple[dict[str, _Bucket], dict[str, _Bucket], dict[str, float]] | None = None
        if sub.correlation:
            self._corr_step = _multiple("the policy's correlation.returns_timeframe",
                                        policy.correlation.returns_timeframe, timeframe)
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

    # ------------------------------------------------------------------ the market, all at once or as it closes
    @classmethod
    def replay(cls, strategy: Strategy, bars: Mapping[str, BarSeries], policy: Policy) -> IncrementalDecisions:
        """Over a known history (each symbol's bars on the same timeframe, any clock)."""
        if not bars:
            raise ValueError(f"strategy {strategy.name}: no bars to decide on")
        self = cls(strategy, tuple(bars), next(iter(bars.values())).timeframe, policy)
        series = on_timeframe(bars, self.subscription.timeframe)
        self._close = union_clock([s.ts for s in series.values()]) + self.step
        self._d = int(self._close.size)
        self._counts = np.empty((self._d, len(self.symbols)), dtype=np.int64)
        for j, (symbol, s) in enumerate(series.items()):
            self._stores[symbol] = _Store(symbol, s.timeframe, None, s)
            self._counts[:, j] = np.searchsorted(s.ts + self.step, self._close, side="right")
        if self.subscription.correlation:
            corr_bars = on_timeframe(bars, policy.correlation.returns_timeframe)
            history = self._monitor_for().batch(*carried_closes([corr_bars[s] for s in self.symbols]))
            self._corr_times, self._corr = history.ts + self._corr_step, history.matrix
            self._nc = int(history.ts.size)
        return self

    def on_bars(self, bars: Sequence[Bar]) -> list[int]:
        """Live: the market's bars of one open time (a symbol without one has a gap); the decisions they close."""
        if not bars:
            return []
        opened = bars[0].ts
        for bar in bars:
            if bar.symbol not in self._stores or bar.ts != opened or bar.timeframe != self.timeframe:
                raise ValueError(f"on_bars: {bar.symbol} {bar.timeframe} bar at {bar.ts} is not a {self.timeframe} "
                                 f"bar of {', '.join(self.symbols)} opening at {opened}")
        if self._live is None:
            self._live = ({s: _Bucket(self.step) for s in self.symbols},
                          {s: _Bucket(self._corr_step) for s in self.symbols} if self._corr_step else {}, {})
        model, returns, last = self._live
        done = self._finished(bars, returns, model, opened + timeframe_ms(self.timeframe))
        made = []
        for close in sorted({d[0] for d in done}):
            at = [d for d in done if d[0] == close]
            if any(kind == 0 for _, kind, _, _ in at):
                last.update({symbol: b[4] for _, kind, symbol, b in at if kind == 0})
                self._observe(close, last)
            if any(kind == 1 for _, kind, _, _ in at):
                made.append(self._close_bars(close, {symbol: b for _, kind, symbol, b in at if kind == 1}))
        return made

    @staticmethod
    def _finished(bars: Sequence[Bar], returns: Mapping[str, _Bucket], model: Mapping[str, _Bucket],
                  now: int) -> list[tuple[int, int, str, list[float]]]:
        """(close, 0 returns | 1 model, symbol, bucket) of every bucket complete once ``bars`` are in at ``now``."""
        done = []
        for kind, buckets in ((0, returns), (1, model)):
            for bar in bars if buckets else ():
                finished = buckets[bar.symbol].add(bar)
                if finished is not None:
                    done.append((int(finished[0]) + buckets[bar.symbol].span, kind, bar.symbol, finished))
            for symbol, bucket in buckets.items():
                finished = bucket.due(now)
                if finished is not None:
                    done.append((int(finished[0]) + bucket.span, kind, symbol, finished))
        return done

    def _observe(self, close: int, last: Mapping[str, float]) -> None:
        """A returns bar closed: the live monitor's matrix (it starts once every symbol has a close)."""
        if len(last) < len(self.symbols):
            return
        if self._monitor is None:
            self._monitor = self._monitor_for().stream()
        snap = self._monitor.update(close - self._corr_step, np.array([last[s] for s in self.symbols]))
        n = len(self.symbols)
        matrix = np.full((n, n), np.nan) if snap.matrix is None else snap.matrix
        if self._nc == self._corr_times.size:
            self._corr_times = np.resize(self._corr_times, max(16, 2 * self._nc))
            self._corr = np.resize(self._corr, (max(16, 2 * self._nc), n, n))
        self._corr_times[self._nc], self._corr[self._nc] = close, matrix
        self._nc += 1

    def _close_bars(self, close: int, buckets: Mapping[str, list[float]]) -> int:
        for symbol, b in buckets.items():
            self._stores[symbol].append((int(b[0]), b[1], b[2], b[3], b[4], b[5]))
        if self._d == self._close.size:
            self._close = np.resize(self._close, max(16, 2 * self._d))
            self._counts = np.resize(self._counts, (max(16, 2 * self._d), len(self.symbols)))
        self._close[self._d] = close
        self._counts[self._d] = [self._stores[s].size + self._stores[s].dropped for s in self.symbols]
        self._d += 1
        return self._d - 1

    # ------------------------------------------------------------------ the Decisions protocol
    @property
    def close_ts(self) -> I64:
        return self._close[: self._d]

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
        return int(np.searchsorted(self._corr_times[: self._nc], self._close[k], side="right")) - 1

    def _decide(self, k: int, held: Mapping[str, Held]) -> None:
        if not 0 <= k < self._d:
            raise IndexError(f"decision {k} does not exist (0..{self._d - 1})")
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
