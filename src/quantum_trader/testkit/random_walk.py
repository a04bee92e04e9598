"""Random-walk markets for checks, tests and benchmarks: bars with regimes, no file needed.

Seeded, so a test or a benchmark sees the same market every run. They live with the other
builders rather than in ``signals`` because they are a stand-in for data, which the pure
layers only ever receive.
"""

from __future__ import annotations

import numpy as np

from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import timeframe_ms


def random_walk_bars(
    symbol: str, n: int, timeframe: str = "1h", seed: int = 0, start_ms: int = 1_704_067_200_000,
    price: float = 100.0, vol: float = 0.01,
) -> BarSeries:
    """A regime-switching random walk (trending, ranging and volatile stretches) for checks and benchmarks."""
    rng = np.random.default_rng(seed)
    regime_len = 200
    k = -(-n // regime_len)
    drift = np.repeat(rng.choice([-0.3, 0.0, 0.3], size=k), regime_len)[:n] * vol
    scale = np.repeat(rng.choice([1.0, 1.0, 2.5], size=k), regime_len)[:n] * vol
    r = drift + scale * rng.standard_t(5, size=n) / np.sqrt(5 / 3)
    close = price * np.exp(np.cumsum(r))
    open_ = np.concatenate([[price], close[:-1]])
    wick = np.abs(rng.normal(scale=0.5, size=(2, n))) * scale * close
    high = np.maximum(open_, close) + wick[0]
    low = np.maximum(np.minimum(open_, close) - wick[1], 1e-9)
    volume = np.exp(rng.normal(size=n) * 0.5 + 3.0 + 20.0 * np.abs(r))
    ts = start_ms + np.arange(n, dtype=np.int64) * timeframe_ms(timeframe)
    return BarSeries(symbol, timeframe, ts, open_, high, low, close, volume)


def random_walk_market(
    symbols: list[str] | tuple[str, ...], n: int, timeframe: str = "1m", seed: int = 0, vol: float = 0.001,
    common: float = 0.85,
) -> dict[str, BarSeries]:
    """Correlated random walks on one clock: each asset loads ``common`` on a shared factor."""
    rng = np.random.default_rng(seed)
    factor = rng.standard_normal(n)
    out: dict[str, BarSeries] = {}
    for j, sym in enumerate(symbols):
        own = random_walk_bars(sym, n, timeframe, seed=seed + 1 + j, vol=vol, price=100.0 * (j + 1))
        r = np.diff(np.log(own.close), prepend=np.log(own.open[0]))
        mixed = common * factor * vol + np.sqrt(1 - common**2) * r
        close = own.open[0] * np.exp(np.cumsum(mixed))
        open_ = np.concatenate([[own.open[0]], close[:-1]])
        spread = own.high - np.maximum(own.open, own.close)
        high = np.maximum(open_, close) + spread / own.close * close
        low = np.minimum(open_, close) * (1 - np.abs(own.low - np.minimum(own.open, own.close)) / own.close)
        out[sym] = BarSeries(sym, timeframe, own.ts, open_, high, low, close, own.volume)
    return out
