"""Each asset's regime, as the spec's classification gives it from the session's bars: what the dashboard's
per-asset view shows (spec section 8: "Regime classification").

A session's strategy may have a regime of its own or none (``sma-cross`` has none, and a user's strategy is
opaque to the engine), so the session journals the spec's (``signals.regime``: trending up or down, ranging,
high volatility, unknown while warming up), computed as the multi-asset strategy's models compute theirs
(``signals.model.AssetModel``: the policy's model timeframe, each asset's trend lookback and regime
sensitivity, the volatility lookback) from the very bars the session takes. For the multi-asset strategy it is
the regime its own models read at the same close (``tests/engine/test_regime_watch.py`` holds them equal).

``RegimeWatch.update`` takes each stretch the kernel took; finer bars are aggregated to the model's timeframe
as the signal layer aggregates them (``signals.aggregate.BarAggregator``: a bucket once it has closed), so an
asset's regime can change only at a model bar's close. A live session seeds it with its warm-up history
(``seed``); a replay starts with none and reads ``unknown`` until the volatility lookback has filled, as the
strategy does over the same bars.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import timeframe_ms
from quantum_trader.signals.aggregate import BarAggregator
from quantum_trader.signals.features import AssetFeaturesState, SignalInputError
from quantum_trader.signals.model import AssetModel
from quantum_trader.signals.regime import Regime, classify_with_thresholds

MINUTE = 60_000


class _Asset:
    """One symbol's aggregation, features and regime."""

    def __init__(self, symbol: str, policy: Policy, source: str) -> None:
        model = AssetModel(symbol, policy.signals)
        self.aggregator = BarAggregator(symbol, source, model.timeframe)
        self.features: AssetFeaturesState = model.stream()
        self.thresholds = model.params.thresholds
        self.regime = Regime.UNKNOWN
        self.since: int | None = None

    def bar(self, ts: int, o: float, h: float, lo: float, c: float, v: float) -> bool:
        """One closed bar in; True when a model bar closed with it and the regime changed."""
        changed = False
        for bar in self.aggregator.update(ts, o, h, lo, c, v):
            try:
                values = self.features.update(bar.ts, bar.high, bar.low, bar.close, bar.volume)
            except SignalInputError:  # a bar the models refuse (non-finite price): the regime stays as it was
                continue
            trend_z, vol_ratio = values[2], values[3]
            code = int(classify_with_thresholds(np.array([trend_z]), np.array([vol_ratio]), *self.thresholds)[0])
            regime = Regime(code)
            if regime is not self.regime or self.since is None:
                self.regime = regime
                self.since = bar.ts + timeframe_ms(bar.timeframe)  # known at the model bar's close
                changed = True
        return changed


class RegimeWatch:
    """The regime of each symbol (module docstring). ``current`` is (symbol, regime label, since when) of each."""

    def __init__(self, policy: Policy, symbols: tuple[str, ...], step_ms: int) -> None:
        source = f"{step_ms // MINUTE}m"
        self.symbols = symbols
        self.step = step_ms
        self.assets = {s: _Asset(s, policy, source) for s in symbols}

    @classmethod
    def of(cls, policy: Policy, symbols: tuple[str, ...], step_ms: int) -> RegimeWatch | None:
        """None when the session's bars cannot make the model's bars (coarser, or not a whole divisor of them):
        no regime is journalled then."""
        model = timeframe_ms(policy.signals.model.timeframe)
        if step_ms <= 0 or step_ms % MINUTE or model % step_ms:
            return None
        try:
            return cls(policy, symbols, step_ms)
        except ValueError:  # a lookback that is not a whole number of model bars: the policy's validation says so
            return None

    def seed(self, history: Mapping[str, BarSeries]) -> None:
        """Bars before the session's first (a live session's warm-up), oldest first, on the session's timeframe."""
        for symbol, bars in history.items():
            asset = self.assets.get(symbol)
            if asset is None:
                continue
            for i in range(len(bars.ts)):
                asset.bar(int(bars.ts[i]), float(bars.open[i]), float(bars.high[i]), float(bars.low[i]),
                          float(bars.close[i]), _volume(float(bars.volume[i])))

    def update(self, chunk: MarketChunk) -> bool:
        """The stretch's bars in; True when some symbol's regime changed (or became known for the first time)."""
        changed = False
        column = {s: j for j, s in enumerate(chunk.symbols)}
        for symbol, asset in self.assets.items():
            j = column.get(symbol)
            if j is None:
                continue
            for row in np.flatnonzero(chunk.valid[:, j]):
                changed |= asset.bar(int(chunk.ts[row]), float(chunk.open[row, j]), float(chunk.high[row, j]),
                                     float(chunk.low[row, j]), float(chunk.close[row, j]),
                                     _volume(float(chunk.volume[row, j])))
        return changed

    @property
    def current(self) -> tuple[tuple[str, str, int | None], ...]:
        return tuple((s, a.regime.label, a.since) for s, a in self.assets.items())


def _volume(value: float) -> float:
    """A bar without a volume (NaN) still has prices: the regime reads only them."""
    return value if math.isfinite(value) and value >= 0 else 0.0
