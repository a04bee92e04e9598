"""A strategy's decisions as the bars arrive: the replay's ``Decisions``, grown by one bar at a time.

A replay knows its whole market and decides over it once (``incremental.decisions_for``: the strategy's
batch accelerator, else ``on_bar``). Live, the market grows a bar at a time, so at each closed bar the
strategy decides again over the bars so far (the warm-up history fetched at the start, then every live bar,
at most ``window`` bars per symbol) and the decisions that became known at this close are appended. For a
causal strategy (the project's own and any whose decision reads only the bars up to it, which the look-ahead
check enforces) the decision at a close is the one a backtest over the same bars takes there, so a live run
and a backtest of the same bars decide alike. An ``on_bar`` strategy that keeps state between calls is
restarted on each rebuild and shown the history without positions before the current decision: its
decisions may differ from a backtest's, as its own state would differ after a restart.

Only the newest decisions are kept answerable (the kernel asks about the decision it is taking); asking
about an older one is an error, not a silent recomputation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.domain.market import F64, I64, BarSeries
from quantum_trader.domain.trading import Intent
from quantum_trader.engine.incremental import decisions_for
from quantum_trader.engine.strategy import Decisions, Held, Strategy

DEFAULT_WINDOW = 2000
"""Bars per symbol the strategy decides over live: far above the built-in strategies' lookbacks, and a
bound on the work per bar (each close re-decides over the window)."""


@dataclass
class _Column:
    ts: list[int] = field(default_factory=list)
    values: list[tuple[float, float, float, float, float]] = field(default_factory=list)


@dataclass
class GrowingDecisions:
    strategy: Strategy
    policy: Policy
    symbols: tuple[str, ...]
    timeframe: str
    window: int = DEFAULT_WINDOW
    _columns: dict[str, _Column] = field(default_factory=dict)
    _close: list[int] = field(default_factory=list)
    _active: list[int] = field(default_factory=list)
    _where: dict[int, tuple[Decisions, int]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._columns = {s: _Column() for s in self.symbols}

    def seed(self, history: Mapping[str, BarSeries]) -> None:
        """The warm-up bars before the first live bar: decided over, never traded."""
        for symbol, series in history.items():
            column = self._columns.get(symbol)
            if column is None:
                continue
            for i in range(len(series)):
                column.ts.append(int(series.ts[i]))
                column.values.append((float(series.open[i]), float(series.high[i]), float(series.low[i]),
                                      float(series.close[i]), float(series.volume[i])))
        if self._ready():
            self._close.extend(int(t) for t in self._rebuild()[0].close_ts.tolist())

    def extend(self, ts: int, bars: Sequence[tuple[float, float, float, float, float] | None]) -> list[int]:
        """One closed row (per symbol its OHLCV, None where it had no bar): the indices of the decisions that
        became known at its close and can act (``active``)."""
        for symbol, bar in zip(self.symbols, bars, strict=True):
            if bar is not None and all(v == v for v in bar):
                column = self._columns[symbol]
                column.ts.append(ts)
                column.values.append(bar)
                if len(column.ts) > self.window:
                    del column.ts[0], column.values[0]
        if not self._ready():
            return []
        inner, closes = self._rebuild()
        last = self._close[-1] if self._close else None
        active = {int(i) for i in inner.active().tolist()}
        new = []
        for local, close in enumerate(closes.tolist()):
            if last is not None and close <= last:
                continue
            g = len(self._close)
            self._close.append(int(close))
            self._where = {k: v for k, v in self._where.items() if k >= g - 4}
            self._where[g] = (inner, local)
            if local in active:
                self._active.append(g)
                new.append(g)
        return new

    def _ready(self) -> bool:
        return all(c.ts for c in self._columns.values())

    def _rebuild(self) -> tuple[Decisions, I64]:
        bars = {}
        for symbol, column in self._columns.items():
            values = np.asarray(column.values, dtype=np.float64)
            bars[symbol] = BarSeries(symbol, self.timeframe, np.asarray(column.ts, dtype=np.int64),
                                     values[:, 0].copy(), values[:, 1].copy(), values[:, 2].copy(),
                                     values[:, 3].copy(), values[:, 4].copy())
        inner = decisions_for(self.strategy, bars, self.policy)
        return inner, np.asarray(inner.close_ts, dtype=np.int64)

    # ------------------------------------------------------------------ the Decisions protocol
    @property
    def close_ts(self) -> I64:
        return np.asarray(self._close, dtype=np.int64)

    def active(self) -> I64:
        return np.asarray(self._active, dtype=np.int64)

    def _at(self, k: int) -> tuple[Decisions, int]:
        found = self._where.get(k)
        if found is None:
            raise IndexError(f"decision {k} is not the newest: a live run answers only the decisions just taken")
        return found

    def intents(self, k: int) -> list[Intent]:
        inner, local = self._at(k)
        return inner.intents(local)

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        inner, local = self._at(k)
        return inner.exits(local, held)

    def correlation(self, k: int) -> F64 | None:
        inner, local = self._at(k)
        return inner.correlation(local)

    def correlation_time(self, k: int) -> int | None:
        inner, local = self._at(k)
        return inner.correlation_time(local)
