"""The spec's multi-asset strategy: per-asset trend models plus cross-asset signals, bar by bar and in batch.

A position opened on the trend model is closed when its momentum (the model's volatility-normalised
trend) turns against it, not on every wobble of the regime; one opened on a cross-asset signal is
held for the signal's lookback (its horizon: 4h for divergence, 24h for sector momentum), then
closed unless the trend model points its way. A trend pointing against any position closes it at
once. An exit that the same decision would reopen on the same side is held instead (closing and
reopening at the same open pays two fees for nothing).

``on_bar`` steps the signals layer's incremental models one model bar at a time
(``signals.pipeline.ModelStepper``); ``prepare`` computes them over the whole history
(``SignalSet.batch``). Both feed the one exit rule below, and a test holds them equal at every decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.domain.market import F64, I64, BarSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.domain.trading import Intent
from quantum_trader.engine.incremental import on_timeframe
from quantum_trader.engine.strategy import Decision, Held, StrategyView, Subscription, every_decision
from quantum_trader.signals.pipeline import BatchSignals, ModelStepper, SignalSet
from quantum_trader.universe.correlation import CorrelationHistory


def exit_reasons(held: Mapping[str, Held], k: int, direction: Callable[[str], int], trend_z: Callable[[str], float],
                 horizons: Mapping[str, int], intents: Callable[[], Sequence[Intent]]) -> list[tuple[str, str]]:
    """The exit rule (see the module docstring): (symbol, reason) of the held positions to close at decision k,
    from each held symbol's model direction and trend z there and the decision's own intents."""
    out = []
    for symbol, h in held.items():
        d = direction(symbol)
        momentum = trend_z(symbol) * h.side.sign
        if d == -h.side.sign or (h.source == "trend" and momentum < 0):
            out.append((symbol, "signal", h.side))
        elif h.source in horizons and d != h.side.sign and k - h.opened_k >= horizons[h.source]:
            out.append((symbol, "horizon", h.side))
    if not out:
        return []
    reopened = {(i.symbol, i.side) for i in intents()}
    return [(symbol, reason) for symbol, reason, side in out if (symbol, side) not in reopened]


def _timeframes(have: str, policy: Policy) -> tuple[str, int]:
    """(model timeframe, its length in ms), checked with the correlation's against the market's bars."""
    model_tf = policy.signals.model.timeframe
    for name, wanted in (("correlation.returns_timeframe", policy.correlation.returns_timeframe),
                         ("signals.model.timeframe", model_tf)):
        if timeframe_ms(wanted) % timeframe_ms(have):
            raise ValueError(
                f"the policy's {name} ({wanted}) cannot be built from {have} bars: backtest on finer bars, "
                f"or set it to a multiple of {have} (e.g. QT__{name.upper().replace('.', '__')}={have})"
            )
    return model_tf, timeframe_ms(model_tf)


def _horizons(policy: Policy, step: int) -> dict[str, int]:
    cross = policy.signals.cross_asset
    return {
        "btc_divergence": max(1, timeframe_ms(cross.btc_divergence.lookback) // step),
        "sector_momentum": max(1, timeframe_ms(cross.sector_momentum.lookback) // step),
    }


class MultiAssetStrategy:
    name = "multi-asset"

    def __init__(self) -> None:
        self._stepper: ModelStepper | None = None
        self._btc = 0
        self._step = 0
        self._horizons: dict[str, int] = {}

    # ------------------------------------------------------------------ bar by bar
    def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
        signals = SignalSet(symbols, policy)
        model_tf, self._step = _timeframes(timeframe, policy)
        self._stepper = ModelStepper(signals)
        self._btc = signals.btc
        self._horizons = _horizons(policy, self._step)
        return Subscription(model_tf, lookback=1, correlation=True)

    def on_bar(self, view: StrategyView) -> Decision:
        stepper = self._stepper
        if stepper is None:
            raise RuntimeError("multi-asset: start() before on_bar()")
        bars = [view.bars[s].last() if s in view.closed else None for s in view.symbols]
        known = view.correlation
        btc_corr = None if known is None else known.matrix[:, self._btc]
        out = stepper.step(view.ts - self._step, bars, btc_corr)
        column = {s: j for j, s in enumerate(view.symbols)}
        exits = exit_reasons(view.held, view.k, lambda s: int(out.decision.direction[column[s]]),
                             lambda s: out.values[column[s]]["trend_z"], self._horizons, lambda: out.intents)
        return Decision(out.intents, exits)

    # ------------------------------------------------------------------ the batch accelerator
    def prepare(self, bars: Mapping[str, BarSeries], policy: Policy) -> MultiAssetDecisions:
        signal_set = SignalSet(tuple(bars), policy)
        corr_tf = policy.correlation.returns_timeframe
        model_tf, step = _timeframes(next(iter(bars.values())).timeframe, policy)
        result = signal_set.batch(on_timeframe(bars, model_tf), on_timeframe(bars, corr_tf))
        history = None if result.correlation is None else decision_rows(result.correlation)
        result = replace(result, correlation=history)
        close_ts = result.ts + step
        corr_index = np.full(close_ts.shape, -1, dtype=np.int64)
        if history is not None:
            corr_index = np.searchsorted(history.ts, close_ts - timeframe_ms(corr_tf), side="right") - 1
        return MultiAssetDecisions(tuple(bars), close_ts, result, step, corr_index, _horizons(policy, step),
                                   timeframe_ms(corr_tf))


def decision_rows(history: CorrelationHistory) -> CorrelationHistory:
    """The history at the rows whose matrix it kept (those the decisions read), the rest dropped.

    The batch keeps per-row figures (average, BTC columns, spikes, breakdowns, events) at every returns bar:
    a 5m history of five assets costs about 10 MB a year, held through the whole replay, while the decisions
    read only the matrix and its time at the last bar closed by each decision. Every such bar is a kept
    row, so the last kept row at or before a time is the last row there, and an index into these rows reads
    the very same matrix."""
    if history.kept is None:  # already at those rows (``CorrelationMonitor.batch(compact=True)``): the events go
        return replace(history, events=())
    rows = history.kept
    return CorrelationHistory(history.assets, history.ts[rows], history.matrix, history.average[rows],
                              history.btc_corr[rows], history.btc_corr_long[rows], history.spike[rows],
                              history.breakdown[rows], (), None)


INTENTS_CACHED = 16
"""Decisions whose intents ``MultiAssetDecisions`` keeps built: the kernel asks about one decision at a time, in
order (its exits, its intents, the edge measure), so a few suffice; keeping every one held a Python object per
intent of the whole history through the replay (about 10 MB a year of hourly decisions on five assets)."""


@dataclass(frozen=True)
class MultiAssetDecisions:
    """The strategy's decisions over a whole history, read by index (``MultiAssetStrategy.prepare``)."""

    symbols: tuple[str, ...]
    close_ts: I64
    result: BatchSignals
    model_step: int
    corr_index: I64
    horizons: Mapping[str, int]
    corr_step: int = 0
    _intents: dict[int, list[Intent]] = field(default_factory=dict, repr=False, compare=False)
    """Intents of the latest decisions asked about (``INTENTS_CACHED``): the kernel, the exits and the edge
    measure all ask about the same one."""

    @cached_property
    def _column(self) -> dict[str, int]:
        """Each symbol's column in the signals' tables."""
        return {s: j for j, s in enumerate(self.result.signals.symbols)}

    def active(self) -> I64:
        return every_decision(self.close_ts)

    def intents(self, k: int) -> list[Intent]:
        cached = self._intents.get(k)
        if cached is None:
            if len(self._intents) >= INTENTS_CACHED:
                del self._intents[next(iter(self._intents))]  # the oldest asked (dicts keep insertion order)
            cached = self._intents[k] = self.result.intents_at(k)
        return list(cached)

    def exits(self, k: int, held: Mapping[str, Held]) -> list[tuple[str, str]]:
        if not held:
            return []
        rows = self.result.rows  # (decision k's row of each table, read once)
        column = self._column
        direction, trend_z = rows.direction[k].tolist(), rows.trend_z[k].tolist()
        return exit_reasons(held, k, lambda s: int(direction[column[s]]), lambda s: float(trend_z[column[s]]),
                            self.horizons, lambda: self.intents(k))

    def correlation(self, k: int) -> F64 | None:
        history = self.result.correlation
        if history is None or self.corr_index[k] < 0:
            return None
        return history.matrix_at(int(self.corr_index[k]))

    def correlation_time(self, k: int) -> int | None:
        """When the matrix known at decision k was computed (its returns bar's close)."""
        history = self.result.correlation
        if history is None or self.corr_index[k] < 0:
            return None
        return int(history.ts[self.corr_index[k]]) + self.corr_step
