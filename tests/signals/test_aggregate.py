"""1m -> 1h / 5m aggregation emits closed buckets only, batch and live alike."""

from __future__ import annotations

import numpy as np
import pytest

from quantum_trader.domain.market import BarSeries
from quantum_trader.signals.aggregate import BarAggregator, aggregate_bars
from quantum_trader.testkit.random_walk import random_walk_bars


def _live(bars: BarSeries, tf: str) -> list[tuple[float, ...]]:
    agg = BarAggregator(bars.symbol, bars.timeframe, tf)
    out = []
    for i in range(len(bars)):
        for b in agg.update(int(bars.ts[i]), bars.open[i], bars.high[i], bars.low[i], bars.close[i], bars.volume[i]):
            out.append((b.ts, b.open, b.high, b.low, b.close, b.volume))
    return out


def _rows(b: BarSeries) -> list[tuple[float, ...]]:
    return list(zip(b.ts, b.open, b.high, b.low, b.close, b.volume, strict=True))


def test_batch_equals_live_with_gaps_and_drops_the_open_bucket() -> None:
    bars = random_walk_bars("BTC/USDT:USDT", 1000, timeframe="1m", seed=2)
    keep = np.ones(len(bars), bool)
    keep[[59, 100, 101, 102, 300]] = False  # a missing last minute and a gap
    keep[-7:] = False  # the series ends inside an hour
    gapped = BarSeries(bars.symbol, "1m", bars.ts[keep], *(getattr(bars, c)[keep] for c in
                                                          ("open", "high", "low", "close", "volume")))
    for tf in ("5m", "1h"):
        batch = aggregate_bars(gapped, tf)
        live = _live(gapped, tf)
        assert len(live) == len(batch)
        np.testing.assert_allclose(np.array(live, dtype=float), np.array(_rows(batch), dtype=float), rtol=1e-12)
    hourly = aggregate_bars(gapped, "1h")
    assert hourly.ts[-1] + 3_600_000 <= gapped.ts[-1]  # the unfinished hour is not emitted
    first = slice(0, 60)
    assert hourly.high[0] == bars.high[first][keep[first]].max() and hourly.close[0] == bars.close[58]


def test_misaligned_timeframes_are_refused() -> None:
    with pytest.raises(ValueError, match="not a whole multiple"):
        BarAggregator("BTC/USDT:USDT", "1h", "90m")
