"""Correlated crashes: every asset drops together over minutes to hours, then partly recovers.

The spec's ``correlated_crash`` scenario is the one the portfolio limits and the kill
switch exist for, so the demo market must contain at least one (``min_crashes``) for a
backtest to exercise them. A crash is an overlay on the diffusive returns: a
front-loaded drop (the first minutes are the steepest, as in liquidation cascades), a
partial rebound, a common shock that pushes pairwise correlation towards 1 while it
lasts, and a forced high-volatility regime afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from quantum_trader.domain.time import MS_PER_MINUTE

DROP_RANGE: Final = (0.06, 0.15)
"""BTC's log drop; other assets drop ``beta`` times as much."""
DROP_MINUTES: Final = (30, 240)
RECOVERY_MINUTES: Final = (120, 480)
RECOVERY_SHARE: Final = (0.3, 0.6)
BETA_EXPONENT: Final = 0.7
"""beta = (asset vol / BTC vol) ** 0.7: alts fall harder, but less than their vol ratio."""
COMMON_SHOCK_WEIGHT: Final = 0.6
"""Share of minute-innovation variance replaced by one market-wide shock during a crash."""


CRASH_VARIANCE_SHARE: Final = 0.04
"""Share of a year's return variance one crash adds (drop, rebound, boosted and GARCH-lifted
volatility; measured over simulated years). The diffusive part is shrunk by it."""
MAX_CRASH_VARIANCE_SHARE: Final = 0.5


@dataclass(frozen=True, slots=True)
class Crash:
    """One correlated crash; ``btc_drop`` is BTC's log-price fall over the drop window."""

    start_ms: int
    drop_minutes: int
    recovery_minutes: int
    btc_drop: float
    recovery_share: float

    @property
    def end_ms(self) -> int:
        return self.start_ms + (self.drop_minutes + self.recovery_minutes) * MS_PER_MINUTE


def schedule_crashes(
    rng: np.random.Generator, n_minutes: int, start_ms: int, rate_per_year: float, min_crashes: int
) -> tuple[Crash, ...]:
    """Poisson number of crashes (at least ``min_crashes``) at uniform times, sorted by start.

    Markets shorter than a crash plus an hour of lead-in have none: there is no room.
    """
    longest = DROP_MINUTES[1] + RECOVERY_MINUTES[1]
    room = n_minutes - longest - 60
    count = max(int(rng.poisson(rate_per_year * n_minutes / 525_600.0)), min_crashes)
    if room <= 0 or count == 0:
        return ()
    starts = np.sort(rng.integers(60, 60 + room, size=count))
    drops = rng.uniform(*DROP_RANGE, size=count)
    drop_min = rng.integers(DROP_MINUTES[0], DROP_MINUTES[1] + 1, size=count)
    rec_min = rng.integers(RECOVERY_MINUTES[0], RECOVERY_MINUTES[1] + 1, size=count)
    shares = rng.uniform(*RECOVERY_SHARE, size=count)
    return tuple(
        Crash(
            start_ms=start_ms + int(starts[i]) * MS_PER_MINUTE,
            drop_minutes=int(drop_min[i]),
            recovery_minutes=int(rec_min[i]),
            btc_drop=float(drops[i]),
            recovery_share=float(shares[i]),
        )
        for i in range(count)
    )


def crash_betas(annual_vols: npt.NDArray[np.float64], btc_vol: float) -> npt.NDArray[np.float64]:
    return np.asarray((annual_vols / btc_vol) ** BETA_EXPONENT, dtype=np.float64)


def crash_overlay(
    crashes: tuple[Crash, ...], start_ms: int, n_minutes: int, betas: npt.NDArray[np.float64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Minute indices touched by crashes and the log returns to add there, shape (m, assets).

    Returned sparse (indices + values) because crashes cover a tiny share of the minutes.
    """
    index_parts: list[npt.NDArray[np.int64]] = []
    value_parts: list[npt.NDArray[np.float64]] = []
    for crash in crashes:
        first = (crash.start_ms - start_ms) // MS_PER_MINUTE
        d, r = crash.drop_minutes, crash.recovery_minutes
        weights = np.arange(d, 0, -1, dtype=np.float64)
        drop_path = -crash.btc_drop * weights / weights.sum()
        rebound = np.full(r, crash.btc_drop * crash.recovery_share / r)
        path = np.concatenate([drop_path, rebound])
        idx = np.arange(first, first + d + r, dtype=np.int64)
        keep = idx < n_minutes
        index_parts.append(idx[keep])
        value_parts.append(path[keep, None] * betas[None, :])
    if not index_parts:
        return np.empty(0, dtype=np.int64), np.empty((0, betas.size), dtype=np.float64)
    return np.concatenate(index_parts), np.concatenate(value_parts, axis=0)


def crash_minute_mask(crashes: tuple[Crash, ...], start_ms: int, n_minutes: int) -> npt.NDArray[np.bool_]:
    mask = np.zeros(n_minutes, dtype=bool)
    for crash in crashes:
        lo = (crash.start_ms - start_ms) // MS_PER_MINUTE
        hi = (crash.end_ms - start_ms) // MS_PER_MINUTE
        mask[lo:min(hi, n_minutes)] = True
    return mask


def diffusive_scale(crashes: tuple[Crash, ...], n_minutes: int) -> float:
    """Volatility multiplier for the everyday returns so that crashes do not inflate the annual total."""
    per_year = len(crashes) * 525_600.0 / n_minutes
    share = min(CRASH_VARIANCE_SHARE * per_year, MAX_CRASH_VARIANCE_SHARE)
    return float(np.sqrt(1.0 - share))
