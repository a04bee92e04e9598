"""The deflated Sharpe ratio and the probability of backtest overfitting against values computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from quantum_trader.research.overfitting import (
    default_blocks,
    deflated_sharpe,
    expected_max_sharpe,
    probabilistic_sharpe,
    probability_of_overfitting,
    sharpe,
)


def test_the_deflated_sharpe_papers_worked_example() -> None:
    # Bailey & López de Prado (2014), section 5: 100 trials whose annualised Sharpe ratios vary with variance 1/2,
    # the best one 2.5 annualised over 1250 daily returns with skewness -3 and kurtosis 10: E[max SR] = 0.1132 a
    # day and DSR = 0.9004.
    benchmark = expected_max_sharpe(0.5 / 250, 100)
    assert benchmark == pytest.approx(0.1132, abs=5e-5)
    assert probabilistic_sharpe(2.5 / math.sqrt(250), benchmark, 1250, -3.0, 10.0) == pytest.approx(0.9004, abs=5e-5)


def test_probabilistic_sharpe_by_hand() -> None:
    # SR 0.1 against 0 over 101 normal returns: z = 0.1 * sqrt(100) / sqrt(1 + (3 - 1) / 4 * 0.01) = 0.997509,
    # and Phi(0.997509) = 0.840741.
    assert probabilistic_sharpe(0.1, 0.0, 101, 0.0, 3.0) == pytest.approx(0.840741, abs=1e-6)
    # fat tails and negative skew widen the interval: the same ratio is less certain
    assert probabilistic_sharpe(0.1, 0.0, 101, -1.0, 8.0) < 0.840741


def test_one_trial_has_nothing_to_deflate() -> None:
    assert expected_max_sharpe(0.3, 1) == 0.0
    assert expected_max_sharpe(0.0, 50) == 0.0


def test_deflated_sharpe_of_returns() -> None:
    returns = np.array([0.01, -0.005, 0.02, 0.0, 0.015, -0.01, 0.005, 0.01])
    sr = float(np.mean(returns) / np.std(returns, ddof=1))
    trial_sharpes = np.array([sr, 0.1, -0.2, 0.3])
    result = deflated_sharpe(returns, trial_sharpes)
    assert result.sharpe == pytest.approx(sr)
    assert result.benchmark == pytest.approx(expected_max_sharpe(float(np.var(trial_sharpes, ddof=1)), 4))
    assert result.trials == 4 and result.observations == 8
    assert 0.0 < result.dsr < probabilistic_sharpe(sr, 0.0, 8, 0.0, 3.0) + 0.2  # the benchmark lowers it


# Four trials over four days, two days per block; per block (mean / sample sd) Sharpe ratios by hand:
#          block 1            block 2
# A   [.03, .01] -> 1.414   [.00, -.02] -> -0.707
# B   [.02, .00] -> 0.707   [.02, .04]  ->  2.121
# C   [.02,-.01] -> 0.236   [.01, .03]  ->  1.414
# D   [-.01,.00] -> -0.707  [.00, .01]  ->  0.707
# In-sample block 1: A is best, and last of four in block 2: w = 1/5, logit ln(1/4).
# In-sample block 2: B is best, and third of four in block 1: w = 3/5, logit ln(3/2). PBO = 1/2.
HAND = np.array([[0.03, 0.02, 0.02, -0.01],
                 [0.01, 0.00, -0.01, 0.00],
                 [0.00, 0.02, 0.01, 0.00],
                 [-0.02, 0.04, 0.03, 0.01]])


def test_pbo_by_hand() -> None:
    result = probability_of_overfitting(HAND, blocks=2)
    assert result is not None
    assert result.logits == pytest.approx([math.log(1 / 4), math.log(3 / 2)])
    assert result.pbo == 0.5
    assert result.splits == 2


def test_a_trial_best_everywhere_is_not_overfit_and_a_reversing_one_is() -> None:
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.01, size=(64, 5))
    steady = noise.copy()
    steady[:, 0] += 0.02  # trial 0 earns more every day
    result = probability_of_overfitting(steady)
    assert result is not None and result.pbo == 0.0 and result.blocks == 16
    reversing = noise.copy()
    first = np.arange(64) < 32  # trial 0 shines in the first half and fails in the second; trial 1 the reverse
    reversing[first, 0] += 0.03
    reversing[~first, 0] -= 0.03
    reversing[first, 1] -= 0.03
    reversing[~first, 1] += 0.03
    result = probability_of_overfitting(reversing, blocks=2)
    assert result is not None and result.pbo == 1.0  # whichever half is in sample, its winner is last out of it


def test_too_little_to_cross_validate() -> None:
    assert probability_of_overfitting(np.zeros((3, 4))) is None  # 3 days: no even number of 4-day blocks
    assert probability_of_overfitting(np.zeros((40, 1))) is None  # one trial
    assert default_blocks(100) == 16 and default_blocks(30) == 6 and default_blocks(7) == 0


@given(st.lists(st.floats(-0.1, 0.1), min_size=2, max_size=40))
def test_sharpe_is_mean_over_sample_sd(values: list[float]) -> None:
    returns = np.array(values)
    sd = np.std(returns, ddof=1)
    expected = 0.0 if sd == 0 else float(np.mean(returns) / sd)
    assert sharpe(returns) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@given(st.integers(2, 6), st.integers(2, 5), st.integers(0, 10_000))
def test_pbo_is_a_share_of_the_splits(half_blocks: int, trials: int, seed: int) -> None:
    blocks = 2 * half_blocks
    returns = np.random.default_rng(seed).normal(0, 0.01, size=(blocks * 3, trials))
    result = probability_of_overfitting(returns, blocks=blocks)
    assert result is not None
    assert result.splits == math.comb(blocks, half_blocks)
    assert 0.0 <= result.pbo <= 1.0
    assert result.pbo == pytest.approx(float(np.mean(result.logits <= 0)))
