"""Shared by the strategy tests: markets with gaps, held positions to ask exits with, and the comparison of
a strategy's batch decisions with its bar-by-bar ones at every decision."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pytest

from quantum_trader.config import Policy
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.engine.strategy import Decision, Decisions, Held, Strategy, StrategyView, Subscription
from quantum_trader.testkit import policy_with

SOURCES = ("trend", "btc_divergence", "sector_momentum", "sma-cross", "")

FAST_SIGNALS = {
    "signals.model.volatility_lookback_days": 1,
    "signals.model.volume_zscore_window": 12,
    "signals.cross_asset.btc_divergence.zscore_window": "12h",
    "signals.cross_asset.sector_momentum.lookback": "6h",
    "signals.cross_asset.sector_momentum.min_sector_return": 0.002,
    "correlation.returns_timeframe": "15m",
    "correlation.window": "6h",
    "correlation.btc_correlation_window": "1d",
}
"""Windows short enough that every signal and exit rule acts within a few days of 15m bars."""


def fast_policy() -> Policy:
    return policy_with(FAST_SIGNALS)


def without(series: BarSeries, rows: np.ndarray) -> BarSeries:
    """``series`` without the given rows (a gap in the feed)."""
    keep = np.ones(series.ts.size, dtype=bool)
    keep[rows] = False
    return BarSeries(series.symbol, series.timeframe, series.ts[keep], series.open[keep], series.high[keep],
                     series.low[keep], series.close[keep], series.volume[keep])


def gapped(bars: Mapping[str, BarSeries], gaps: Mapping[str, Sequence[tuple[int, int]]]) -> dict[str, BarSeries]:
    """Each symbol's bars without the ``(first row, length)`` stretches given for it."""
    out = {}
    for symbol, series in bars.items():
        rows = [np.arange(a, min(a + n, series.ts.size)) for a, n in gaps.get(symbol, ())]
        out[symbol] = without(series, np.concatenate(rows)) if rows else series
    return out


def held_script(symbols: Sequence[str], seed: int, *, resting: bool = True) -> Callable[[int], dict[str, Held]]:
    """Held positions at each decision, varied: any subset, side, opening signal, age and resting order."""
    rng = np.random.default_rng(seed)
    cache: dict[int, dict[str, Held]] = {}

    def at(k: int) -> dict[str, Held]:
        if k not in cache:
            chosen = [s for s in symbols if rng.random() < 0.5]
            cache[k] = {s: Held(Side.LONG if rng.random() < 0.5 else Side.SHORT, SOURCES[int(rng.integers(5))],
                                max(0, k - int(rng.integers(0, 40))), resting and bool(rng.random() < 0.1))
                        for s in chosen}
        return cache[k]

    return at


def same_intents(got: list[Intent], want: list[Intent], k: int) -> None:
    """Equal intents; the signals' floats may differ in their last bits (running sums against block sums)."""
    assert [(i.ts, i.symbol, i.side, i.source, i.reasons, i.entry_price, i.order_type) for i in got] == [
        (i.ts, i.symbol, i.side, i.source, i.reasons, i.entry_price, i.order_type) for i in want], f"decision {k}"
    for a, b in zip(got, want, strict=True):
        assert a.edge_score == pytest.approx(b.edge_score, rel=1e-9, abs=1e-12), f"decision {k}"
        assert (a.stop_price is None) == (b.stop_price is None), f"decision {k}"
        if a.stop_price is not None and b.stop_price is not None:
            assert a.stop_price == pytest.approx(b.stop_price, rel=1e-9), f"decision {k}"


def assert_same_decisions(batch: Decisions, incremental: Decisions, held: Callable[[int], dict[str, Held]]) -> int:
    """At every decision, in the kernel's order: the correlation, the exits given ``held(k)``, the intents.

    Returns how many intents and exits were compared (a market where nothing happens proves nothing)."""
    assert incremental.symbols == batch.symbols
    np.testing.assert_array_equal(incremental.close_ts, batch.close_ts)
    acted = 0
    for k in range(batch.close_ts.size):
        assert incremental.correlation_time(k) == batch.correlation_time(k), f"decision {k}"
        a, b = incremental.correlation(k), batch.correlation(k)
        assert (a is None) == (b is None), f"decision {k}"
        if a is not None and b is not None:
            np.testing.assert_array_equal(a, b)
        exits = incremental.exits(k, held(k))
        assert exits == batch.exits(k, held(k)), f"decision {k}"
        intents = incremental.intents(k)
        same_intents(intents, batch.intents(k), k)
        acted += len(exits) + len(intents)
    return acted


class OnBarOnly:
    """A strategy seen without its batch accelerator: the runner must use ``on_bar``."""

    def __init__(self, inner: Strategy) -> None:
        self.inner = inner
        self.name = inner.name

    def start(self, symbols: tuple[str, ...], timeframe: str, policy: Policy) -> Subscription:
        return self.inner.start(symbols, timeframe, policy)

    def on_bar(self, view: StrategyView) -> Decision:
        return self.inner.on_bar(view)
