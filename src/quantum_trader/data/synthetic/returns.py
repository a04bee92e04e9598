"""Correlated, fat-tailed, volatility-clustered 1-minute log returns, and OHLC from them.

The volatility of asset i in hour h is a product of slow hourly factors, all with mean
square 1 so the calibrated annual volatility survives:

    sigma_i,h = annual_vol_i / sqrt(8760) * sqrt(g_i,h) * regime_mult_h * season_h * q_i,h

``g`` is a GARCH(1,1) variance driven by the previous hour's standardised shock, ``q``
a Student-t scale (one uniform per hour shared by all assets and mapped through each
asset's own degrees of freedom, so tails are per asset but arrive together and the
target correlation is kept), ``season`` the measured hour-of-day / weekend profile.
Inside the hour, minute innovations are correlated normals (Cholesky of the embedded
matrix) times one market-wide Student-t scale per minute, which gives 1m bars their
own fat tails. Summing 60 such minutes reproduces the hourly shock that drives GARCH,
so the minute path and the hourly clustering are one consistent process.

Everything is vectorised over minutes; the only loop is the GARCH recursion over hours.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt
from scipy import integrate, special, stats

from quantum_trader.data.synthetic.crashes import COMMON_SHOCK_WEIGHT
from quantum_trader.data.synthetic.params import HOUR_OF_DAY_VOL, WEEKEND_VOL, AssetParams
from quantum_trader.data.synthetic.regimes import DRIFT_SIGMAS, VOL_MULTIPLIER
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR

F64 = npt.NDArray[np.float64]

HOURS_PER_YEAR: Final = 24 * 365
MINUTE_TAIL_DF: Final = 4.0
"""Degrees of freedom of the market-wide per-minute t scale (1m crypto returns are very fat-tailed)."""
MAX_T_SCALE: Final = 6.0
"""Cap on a t scale factor: keeps a one-in-a-billion draw from making a 40-sigma bar."""
MAX_GARCH_SHOCK: Final = 25.0
"""Cap on the squared shock fed to GARCH (5 sigma): a crash lifts volatility ~2x, not 60x."""
CRASH_VOL_BOOST: Final = 2.0
"""Diffusive volatility multiplier during a crash's drop and rebound."""


@dataclass(frozen=True, slots=True)
class ReturnPaths:
    """Log returns and the volatility state that produced them (microstructure reuses the state)."""

    log_returns: F64
    """(minutes, assets)."""
    minute_sigma: F64
    """(minutes, assets): conditional standard deviation of each minute's diffusive return."""
    innovations: F64
    """(minutes, assets): the unit-variance shock of each minute (its sign and size drive taker flow)."""
    hour_level: F64
    """(hours, assets): sqrt(g) * regime * season, the slow 'how busy is the market' level, mean ~1."""


def seasonal_profile(start_ms: int, n_hours: int) -> F64:
    """Hour-of-day x weekend volatility factor per hour, normalised to mean square 1 over a week."""
    hours = start_ms // MS_PER_HOUR + np.arange(n_hours, dtype=np.int64)
    hod = hours % 24
    weekday = (hours * MS_PER_HOUR // MS_PER_DAY + 3) % 7  # 1970-01-01 was a Thursday (3)
    factor = HOUR_OF_DAY_VOL[hod] * np.where(weekday >= 5, WEEKEND_VOL, 1.0)
    week = np.concatenate([HOUR_OF_DAY_VOL] * 5 + [HOUR_OF_DAY_VOL * WEEKEND_VOL] * 2)
    return np.asarray(factor / np.sqrt(np.mean(week**2)), dtype=np.float64)


def capped_t_scale_moment(df: float, cap: float = MAX_T_SCALE) -> float:
    """E[min(s, cap)^2] for the t scale s = sqrt((df - 2) / chi2_df); we divide by its root.

    Uses E[(df-2)/X; X > c] = P(chi2_{df-2} > c), so no integration is needed.
    """
    c = (df - 2.0) / cap**2
    return float(stats.chi2.sf(c, df - 2.0) + cap**2 * stats.chi2.cdf(c, df))


@lru_cache(maxsize=32)
def capped_shock_moment(df: float, cap: float = MAX_GARCH_SHOCK) -> float:
    """E[min(T^2, cap)] for a unit-variance Student-t T: the mean of what GARCH actually sees.

    GARCH's long-run variance is omega / (1 - alpha * E[shock] - beta); with alpha + beta
    near 1 a capped shock moment of 0.9 instead of 1 would lower the volatility by a third,
    so omega is set from this exact moment rather than from the uncapped 1.
    """
    scale = np.sqrt((df - 2.0) / df)
    limit = np.sqrt(cap)
    inside, _ = integrate.quad(lambda y: y * y * stats.t.pdf(y / scale, df) / scale, -limit, limit)
    tail = 2.0 * stats.t.sf(limit / scale, df)
    return float(inside + cap * tail)


def _garch(eta2: F64, crash2: F64, alpha: F64, beta: F64, dfs: F64) -> F64:
    """Unit-mean GARCH(1,1) variance path over hours (the one Python loop of the generator).

    ``crash2`` is the squared crash return in units of unconditional hourly volatility; it
    is divided by the current variance, as a real return would be, so a crash spanning
    several hours lifts volatility once instead of compounding hour after hour.
    """
    n_hours, k = eta2.shape
    moment = np.array([capped_shock_moment(float(d)) for d in dfs])
    omega = 1.0 - beta - alpha * moment
    g = np.empty((n_hours, k), dtype=np.float64)
    current = np.ones(k, dtype=np.float64)
    has_crash = np.any(crash2 > 0.0, axis=1).tolist()
    for h in range(n_hours):
        g[h] = current
        shock = eta2[h] + crash2[h] / current if has_crash[h] else eta2[h]
        current = omega + (alpha * np.minimum(shock, MAX_GARCH_SHOCK) + beta) * current
    # With alpha + beta near 1 the sample mean of g wanders far from its long-run value of 1;
    # rescaling makes every sample honour the calibrated volatility level.
    return np.asarray(g / g.mean(axis=0, keepdims=True), dtype=np.float64)


def _hourly_t_scale(rng: np.random.Generator, n_hours: int, dfs: F64) -> F64:
    """Comonotone standardised-t scales: one uniform per hour, each asset's own degrees of freedom."""
    u = np.clip(rng.random(n_hours), 1e-12, 1.0 - 1e-12)
    chi2 = special.chdtri(dfs[None, :], 1.0 - u[:, None])
    norm = np.sqrt([capped_t_scale_moment(float(d)) for d in dfs])
    scale = np.minimum(np.sqrt((dfs[None, :] - 2.0) / chi2), MAX_T_SCALE) / norm[None, :]
    return np.asarray(scale, dtype=np.float64)


def minute_innovations(
    rng: np.random.Generator, n_minutes: int, chol: F64, crash_index: npt.NDArray[np.int64]
) -> tuple[F64, F64]:
    """Unit-variance correlated shocks with a common t scale (also returned); crashes share one shock."""
    z = rng.standard_normal((n_minutes, chol.shape[0])) @ chol.T
    if crash_index.size:
        common = rng.standard_normal(crash_index.size)
        w = COMMON_SHOCK_WEIGHT
        z[crash_index] = np.sqrt(1.0 - w) * z[crash_index] + np.sqrt(w) * common[:, None]
    chi2 = rng.chisquare(MINUTE_TAIL_DF, n_minutes)
    scale = np.minimum(np.sqrt((MINUTE_TAIL_DF - 2.0) / chi2), MAX_T_SCALE)
    scale /= np.sqrt(capped_t_scale_moment(MINUTE_TAIL_DF))
    z *= scale[:, None]
    return z, np.asarray(scale, dtype=np.float64)


def simulate_returns(
    rng: np.random.Generator,
    params: tuple[AssetParams, ...],
    chol: F64,
    start_ms: int,
    regimes: npt.NDArray[np.int8],
    crash_index: npt.NDArray[np.int64],
    crash_values: F64,
    diffusive_scale: float = 1.0,
) -> ReturnPaths:
    """Minute log returns for all assets; ``crash_*`` is the sparse overlay from crashes.py.

    ``diffusive_scale`` shrinks the everyday volatility so that crashes, which add their
    own variance, leave the total near the calibrated annual volatility.
    """
    n_hours = regimes.size
    n_minutes = n_hours * 60
    k = len(params)
    vol_h = np.array([p.annual_vol for p in params]) * diffusive_scale / np.sqrt(HOURS_PER_YEAR)
    alpha = np.array([p.garch_alpha for p in params])
    beta = np.array([p.garch_beta for p in params])
    dfs = np.array([p.tail_df for p in params])

    e, t_scale = minute_innovations(rng, n_minutes, chol, crash_index)
    hourly_shock = e.reshape(n_hours, 60, k).sum(axis=1) / np.sqrt(60.0)
    q = _hourly_t_scale(rng, n_hours, dfs)
    eta2 = (q * hourly_shock) ** 2
    crash_hourly = np.zeros((n_hours, k))
    if crash_index.size:
        np.add.at(crash_hourly, crash_index // 60, crash_values)
    g = _garch(eta2, (crash_hourly / vol_h[None, :]) ** 2, alpha, beta, dfs)
    level = np.sqrt(g) * VOL_MULTIPLIER[regimes][:, None] * seasonal_profile(start_ms, n_hours)[:, None]

    minute_scale = np.repeat(level * q * (vol_h / np.sqrt(60.0))[None, :], 60, axis=0)
    if crash_index.size:
        minute_scale[crash_index] *= CRASH_VOL_BOOST
    drift = np.repeat(DRIFT_SIGMAS[regimes][:, None] * (vol_h / 60.0)[None, :], 60, axis=0)
    log_returns = drift + minute_scale * e
    if crash_index.size:
        np.add.at(log_returns, crash_index, crash_values)
    # The minute's own t scale is part of its conditional spread (it is known inside the minute).
    minute_sigma = minute_scale * t_scale[:, None]
    return ReturnPaths(log_returns, minute_sigma, e, level)


def ohlc_from_returns(
    rng: np.random.Generator, log_returns: F64, minute_sigma: F64, start_prices: F64
) -> tuple[F64, F64, F64, F64]:
    """Open/high/low/close per minute; high and low are Brownian-bridge extremes inside the minute.

    For a Brownian path from 0 to ``d`` with variance ``v``, the maximum is exactly
    ``(d + sqrt(d^2 - 2 v ln U)) / 2`` for uniform U, and the minimum mirrors it; so the
    wicks are as long as the minute's volatility says and always bracket open and close.
    """
    n, k = log_returns.shape
    log_close = np.log(start_prices)[None, :] + np.cumsum(log_returns, axis=0)
    log_open = np.empty_like(log_close)
    log_open[0] = np.log(start_prices)
    log_open[1:] = log_close[:-1]
    u = 1.0 - rng.random((2, n, k))  # in (0, 1], so log(u) <= 0 and finite
    d = log_close - log_open
    var2 = 2.0 * minute_sigma**2
    up = np.sqrt(d * d - var2 * np.log(u[0]))
    down = np.sqrt(d * d - var2 * np.log(u[1]))
    open_ = np.exp(log_open)
    close = np.exp(log_close)
    high = np.maximum(np.exp(log_open + (d + up) / 2.0), np.maximum(open_, close))
    low = np.minimum(np.exp(log_open + (d - down) / 2.0), np.minimum(open_, close))
    return open_, high, low, close
