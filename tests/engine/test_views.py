"""What the correlation_update event says while pairs warm up, and once every pair is known."""

from __future__ import annotations

import math

import numpy as np

from quantum_trader.engine.views import clean_correlation, correlation_summary

NAN = float("nan")


def test_no_matrix_yet_is_warming_up_not_a_mean_of_zero() -> None:
    text, value = correlation_summary(None, 4)
    assert text == "4 assets, correlation warming up (none of 6 pairs known yet)" and math.isnan(value)


def test_the_mean_is_over_known_pairs_and_the_rest_are_counted() -> None:
    corr = np.array([[1.0, 0.8, NAN], [0.8, 1.0, 0.4], [NAN, 0.4, 1.0]])
    text, value = correlation_summary(corr, 3)
    assert text == "3 assets, mean pairwise correlation 0.60 over 2 of 3 pairs (1 warming up)"
    assert abs(value - 0.6) < 1e-12
    assert clean_correlation(corr, 3)[0, 2] == 0.0  # the risk engine meanwhile counts it as uncorrelated


def test_every_pair_known_reads_plainly() -> None:
    corr = np.array([[1.0, 0.5], [0.5, 1.0]])
    assert correlation_summary(corr, 2) == ("2 assets, mean pairwise correlation 0.50", 0.5)
    assert correlation_summary(None, 1) == ("1 asset, no pairs to correlate", 1.0)
