"""Volume, taker flow, funding and mark prices, all derived from the simulated volatility state.

Each quantity is tied to the same hidden state as the price path, because that is what
the screener and the signals measure in real markets: volume rises when volatility
does, takers lean with the bar's direction, funding leans with the recent trend, and the
mark price tracks the last trade within a few basis points.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import signal

from quantum_trader.data.synthetic.params import AssetParams
from quantum_trader.data.synthetic.returns import HOURS_PER_YEAR, ReturnPaths
from quantum_trader.domain.time import MS_PER_HOUR, MS_PER_MINUTE

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

VOLUME_VOL_ELASTICITY: Final = 0.9
"""Volume ~ volatility level ** 0.9: busy markets trade more, slightly less than proportionally."""
VOLUME_SHOCK_WEIGHT: Final = 0.7
VOLUME_NOISE: Final = 0.4
TAKER_LEAN: Final = 0.30
"""Largest tilt of the taker-buy share away from 1/2 for a strongly directional minute."""
TAKER_NOISE: Final = 0.04

FUNDING_PERIOD_MS: Final = 8 * MS_PER_HOUR
FUNDING_MEAN: Final = 0.0001
"""0.01% per 8h: the interest-rate baseline every Binance/Bybit perpetual sits at in calm markets."""
FUNDING_PERSISTENCE: Final = 0.7
FUNDING_TREND_LEAN: Final = 0.8
"""Funding moves this many noise units per standard deviation of the trailing 8h return."""
FUNDING_CLIP: Final = 0.003
"""Exchanges cap funding; 0.3%/8h is beyond anything but a mania and keeps the series realistic."""

BASIS_PERSISTENCE: Final = 0.98
BASIS_SD: Final = 0.0002
BASIS_FUNDING_SHARE: Final = 0.5
"""Mark premium over the last trade: half the current funding rate plus slow 2 bp noise."""


def usd_volume(rng: np.random.Generator, paths: ReturnPaths, params: tuple[AssetParams, ...]) -> F64:
    """Quote volume per minute, scaled so each asset's mean 24h volume is its ``daily_usd_volume``."""
    level = paths.hour_level / np.mean(paths.hour_level, axis=0, keepdims=True)
    activity = np.repeat(level**VOLUME_VOL_ELASTICITY, 60, axis=0)
    activity *= 1.0 + VOLUME_SHOCK_WEIGHT * np.abs(paths.innovations)
    activity *= rng.lognormal(-0.5 * VOLUME_NOISE**2, VOLUME_NOISE, size=activity.shape)
    activity /= np.mean(activity, axis=0, keepdims=True)
    daily = np.array([p.daily_usd_volume for p in params])
    return np.asarray(activity * (daily / 1440.0)[None, :], dtype=np.float64)


def taker_buy_share(rng: np.random.Generator, paths: ReturnPaths) -> F64:
    """Share of each minute's volume bought by takers: above 1/2 on up-minutes, below on down-minutes."""
    standardised = paths.log_returns / paths.minute_sigma
    share = 0.5 + TAKER_LEAN * np.tanh(0.8 * standardised)
    share += rng.normal(0.0, TAKER_NOISE, size=share.shape)
    return np.asarray(np.clip(share, 0.03, 0.97), dtype=np.float64)


def funding_times(start_ms: int, end_ms: int) -> I64:
    """Settlement times at 00, 08 and 16 UTC in ``[start_ms, end_ms)``."""
    first = -(-start_ms // FUNDING_PERIOD_MS) * FUNDING_PERIOD_MS
    return np.arange(first, end_ms, FUNDING_PERIOD_MS, dtype=np.int64)


def funding_rates(
    rng: np.random.Generator,
    times: I64,
    start_ms: int,
    log_path: F64,
    params: tuple[AssetParams, ...],
) -> F64:
    """Rates per settlement (rows) and asset (columns): AR(1) around 0.01%, leaning with the last 8h.

    ``log_path[m]`` is the log price at ``start_ms + m`` minutes (row 0 the start price), so
    a settlement at time T reads only prices up to T, never later ones.
    """
    k = len(params)
    at = (times - start_ms) // MS_PER_MINUTE
    before = np.maximum(at - FUNDING_PERIOD_MS // MS_PER_MINUTE, 0)
    trailing = log_path[at] - log_path[before]
    vol_8h = np.array([p.annual_vol for p in params]) * np.sqrt(8.0 / HOURS_PER_YEAR)
    noise_sd = np.array([p.funding_noise for p in params])
    lean = FUNDING_TREND_LEAN * noise_sd * trailing / vol_8h[None, :]
    shocks = rng.normal(0.0, 1.0, size=(times.size, k)) * noise_sd[None, :]
    dev = signal.lfilter([1.0], [1.0, -FUNDING_PERSISTENCE], lean + shocks, axis=0)
    return np.asarray(np.clip(FUNDING_MEAN + dev, -FUNDING_CLIP, FUNDING_CLIP), dtype=np.float64)


def mark_factor(
    rng: np.random.Generator, n_minutes: int, start_ms: int, times: I64, rates: F64
) -> F64:
    """Per-minute multiplier mark / last trade: 1 + half the prevailing funding + slow noise."""
    k = rates.shape[1]
    innovation_sd = BASIS_SD * np.sqrt(1.0 - BASIS_PERSISTENCE**2)
    noise = signal.lfilter(
        [1.0], [1.0, -BASIS_PERSISTENCE], rng.normal(0.0, innovation_sd, size=(n_minutes, k)), axis=0
    )
    minute_ms = start_ms + np.arange(n_minutes, dtype=np.int64) * MS_PER_MINUTE
    # The rate that will settle next is the one the premium index is building towards.
    nxt = np.searchsorted(times, minute_ms, side="right")
    prevailing = np.zeros((n_minutes, k)) + FUNDING_MEAN
    if times.size:
        valid = nxt < times.size
        prevailing[valid] = rates[nxt[valid]]
    return np.asarray(1.0 + BASIS_FUNDING_SHARE * prevailing + noise, dtype=np.float64)
