"""The market factor's regime: a four-state Markov chain stepped once per hour.

Regimes are what the signal layer's regime detector is meant to find, so the synthetic
market needs them as ground truth. Each regime sets a drift (in units of the asset's own
hourly volatility, so a trend moves SOL more than BTC) and a volatility multiplier.
The multipliers are normalised so that their mean square under the chain's stationary
distribution is 1: switching regimes reshapes volatility over time without changing the
calibrated annual level.
"""

from __future__ import annotations

from bisect import bisect_right
from enum import IntEnum
from typing import Final

import numpy as np
import numpy.typing as npt


class Regime(IntEnum):
    TRENDING_UP = 0
    TRENDING_DOWN = 1
    RANGING = 2
    HIGH_VOL = 3


# Hourly transition probabilities, rows = from, columns = to (order of Regime).
# Mean stays: trends ~3 days, ranges ~4 days, high-volatility bursts ~20 hours.
TRANSITIONS: Final = np.array(
    [
        [0.986, 0.003, 0.007, 0.004],
        [0.004, 0.984, 0.007, 0.005],
        [0.004, 0.004, 0.990, 0.002],
        [0.015, 0.020, 0.015, 0.950],
    ],
    dtype=np.float64,
)
DRIFT_SIGMAS: Final = np.array([0.10, -0.11, 0.0, -0.02], dtype=np.float64)
"""Drift per hour in units of the asset's hourly volatility."""
_RAW_VOL_MULTIPLIER: Final = np.array([0.95, 1.10, 0.75, 1.80], dtype=np.float64)


def stationary_distribution(transitions: npt.NDArray[np.float64] = TRANSITIONS) -> npt.NDArray[np.float64]:
    """Left eigenvector of the transition matrix for eigenvalue 1, normalised to sum 1."""
    values, vectors = np.linalg.eig(transitions.T)
    vec = np.real(vectors[:, int(np.argmin(np.abs(values - 1.0)))])
    return np.asarray(vec / vec.sum(), dtype=np.float64)


def _normalised_multipliers() -> npt.NDArray[np.float64]:
    pi = stationary_distribution()
    scale = float(np.sqrt(np.sum(pi * _RAW_VOL_MULTIPLIER**2)))
    return np.asarray(_RAW_VOL_MULTIPLIER / scale, dtype=np.float64)


VOL_MULTIPLIER: Final = _normalised_multipliers()


def simulate_regimes(
    rng: np.random.Generator, n_hours: int, forced_high_vol: npt.NDArray[np.bool_] | None = None
) -> npt.NDArray[np.int8]:
    """One regime code per hour; hours flagged in ``forced_high_vol`` (crashes) are HIGH_VOL.

    The chain continues from a forced state, so a crash tends to be followed by a
    high-volatility spell and then by a down or ranging market, as in real sell-offs.
    The loop is over hours (8,760 a year), on plain Python lists: a few milliseconds.
    """
    cumulative = np.cumsum(TRANSITIONS, axis=1)
    cumulative[:, -1] = 1.0
    rows = [list(map(float, row)) for row in cumulative]
    draws = rng.random(n_hours + 1).tolist()
    pi_cum = np.cumsum(stationary_distribution()).tolist()
    pi_cum[-1] = 1.0
    state = min(bisect_right(pi_cum, draws[0]), 3)
    forced = [False] * n_hours if forced_high_vol is None else forced_high_vol.tolist()
    out = np.empty(n_hours, dtype=np.int8)
    high = int(Regime.HIGH_VOL)
    for h in range(n_hours):
        if h > 0:
            state = min(bisect_right(rows[state], draws[h]), 3)
        if forced[h]:
            state = high
        out[h] = state
    return out
