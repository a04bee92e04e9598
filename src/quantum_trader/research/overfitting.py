"""How much of a study's best result is selection luck: the deflated Sharpe ratio and the probability of
backtest overfitting, from the papers' formulas.

The more parameter sets a study tries, the higher its best Sharpe ratio climbs by chance alone. Two
measures, both from the trials' daily returns:

* **Deflated Sharpe ratio** (Bailey & López de Prado, "The Deflated Sharpe Ratio", 2014): the
  probability that the best trial's true Sharpe ratio exceeds the best one expected from ``N`` trials of
  no skill, given the variance of the trials' Sharpe ratios, the length of the track record and the
  returns' skewness and kurtosis. ``PSR(SR*) = Φ((SR - SR*) √(T-1) / √(1 - γ3 SR + (γ4 - 1)/4 SR²))`` with
  ``SR* = √V [(1-γ) Φ⁻¹(1 - 1/N) + γ Φ⁻¹(1 - 1/(N e))]`` (γ the Euler-Mascheroni constant); Sharpe ratios
  per period (daily), not annualised; γ4 is the kurtosis (3 for normal returns).
* **Probability of backtest overfitting** (Bailey, Borwein, López de Prado & Zhu, "The Probability of
  Backtest Overfitting", 2017), by combinatorially symmetric cross-validation: the returns are cut into
  ``S`` blocks of time; for every choice of half the blocks as in-sample, the trial best in-sample is
  ranked out of sample (relative rank ω = rank / (N + 1), logit λ = ln(ω / (1 - ω))); the PBO is the
  share of choices where λ <= 0, i.e. the in-sample winner did no better than the median out of sample.
  Performance is the Sharpe ratio of each half.

Values near 1 (DSR) and near 0 (PBO) are good; a DSR below 0.95 or a PBO above 0.5 says the best
trial's edge is not distinguishable from the luck of trying many.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import stats

EULER_GAMMA = 0.5772156649015329
F64 = npt.NDArray[np.float64]


def sharpe(returns: F64) -> float:
    """Per-period Sharpe ratio (mean over sample standard deviation); 0 for a flat series."""
    if returns.size < 2:
        return float("nan")
    sd = float(np.std(returns, ddof=1))
    return float(np.mean(returns)) / sd if sd > 0 else 0.0


def expected_max_sharpe(sr_variance: float, trials: int) -> float:
    """The Sharpe ratio the best of ``trials`` unskilled trials reaches by chance (the DSR's benchmark)."""
    if trials < 2 or sr_variance <= 0:
        return 0.0
    z = stats.norm.ppf
    return math.sqrt(sr_variance) * float((1 - EULER_GAMMA) * z(1 - 1 / trials)
                                          + EULER_GAMMA * z(1 - 1 / (trials * math.e)))


def probabilistic_sharpe(sr: float, benchmark: float, observations: int, skew: float, kurtosis: float) -> float:
    """PSR: the probability that the true Sharpe ratio exceeds ``benchmark`` (per-period ratios, Pearson kurtosis)."""
    if observations < 2:
        return float("nan")
    denominator = 1 - skew * sr + (kurtosis - 1) / 4 * sr**2
    if denominator <= 0:
        return float("nan")
    return float(stats.norm.cdf((sr - benchmark) * math.sqrt(observations - 1) / math.sqrt(denominator)))


@dataclass(frozen=True)
class Deflated:
    sharpe: float
    """The best trial's per-period Sharpe ratio."""
    benchmark: float
    """The expected best of the trials by chance (per period)."""
    dsr: float
    trials: int
    observations: int


def deflated_sharpe(best: F64, trial_sharpes: F64) -> Deflated:
    """The DSR of the selected trial's returns ``best`` among trials whose per-period Sharpe ratios are given."""
    finite = trial_sharpes[np.isfinite(trial_sharpes)]
    variance = float(np.var(finite, ddof=1)) if finite.size > 1 else 0.0
    benchmark = expected_max_sharpe(variance, int(finite.size))
    sr = sharpe(best)
    skew = float(stats.skew(best)) if best.size > 2 else 0.0
    kurt = float(stats.kurtosis(best, fisher=False)) if best.size > 3 else 3.0
    if not math.isfinite(skew) or not math.isfinite(kurt):  # a constant series
        skew, kurt = 0.0, 3.0
    return Deflated(sr, benchmark, probabilistic_sharpe(sr, benchmark, int(best.size), skew, kurt),
                    int(finite.size), int(best.size))


@dataclass(frozen=True)
class Overfitting:
    pbo: float
    """Share of the cross-validation splits whose in-sample best was at or below the out-of-sample median."""
    logits: F64
    """λ of every split (for the histogram)."""
    blocks: int
    splits: int


def _block_sharpe(sums: F64, squares: F64, counts: F64) -> F64:
    """Per-column Sharpe ratio of the rows behind summed blocks (sample standard deviation; 0 when flat)."""
    n = counts[:, None]
    mean = sums / n
    var = (squares - n * mean**2) / np.maximum(n - 1, 1)
    sd = np.sqrt(np.clip(var, 0.0, None))
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(sd > 1e-15, mean / np.where(sd > 1e-15, sd, 1.0), 0.0)
    return np.asarray(out, dtype=np.float64)


def default_blocks(rows: int) -> int:
    """The paper's 16 blocks when there are enough rows (4 per block), fewer (even) otherwise; 0: too few."""
    blocks = min(16, rows // 4)
    blocks -= blocks % 2
    return blocks if blocks >= 2 else 0


def probability_of_overfitting(returns: F64, blocks: int | None = None) -> Overfitting | None:
    """CSCV over a (T periods x N trials) matrix of returns; None with fewer than 2 trials or too few rows."""
    rows, trials = returns.shape
    s = default_blocks(rows) if blocks is None else blocks
    if trials < 2 or s < 2 or s % 2 or rows < s:
        return None
    parts = np.array_split(np.arange(rows), s)
    sums = np.stack([returns[p].sum(axis=0) for p in parts])
    squares = np.stack([(returns[p] ** 2).sum(axis=0) for p in parts])
    counts = np.array([p.size for p in parts], dtype=np.float64)
    logits = []
    for chosen in itertools.combinations(range(s), s // 2):
        inside = np.zeros(s, dtype=bool)
        inside[list(chosen)] = True
        is_sr = _block_sharpe(sums[inside].sum(axis=0, keepdims=True), squares[inside].sum(axis=0, keepdims=True),
                              counts[inside].sum(keepdims=True))[0]
        oos_sr = _block_sharpe(sums[~inside].sum(axis=0, keepdims=True),
                               squares[~inside].sum(axis=0, keepdims=True), counts[~inside].sum(keepdims=True))[0]
        best = int(np.argmax(is_sr))
        omega = stats.rankdata(oos_sr)[best] / (trials + 1)
        logits.append(math.log(omega / (1 - omega)))
    values = np.asarray(logits, dtype=np.float64)
    return Overfitting(float(np.mean(values <= 0)), values, s, int(values.size))
