"""Window sums and smoothing: batch equals a brute-force reference, live equals batch, no drift."""

from __future__ import annotations

import numpy as np
import pytest

from quantum_trader.indicators.rolling import Ewm, RollingSums, ScalarRollingSums, ewm, rolling_sum


def _brute(x: np.ndarray, w: int) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    for i in range(w - 1, x.shape[0]):
        out[i] = x[i - w + 1 : i + 1].sum(axis=0)
    return out


@pytest.mark.parametrize(("n", "w"), [(1, 1), (10, 3), (97, 10), (100, 10), (5, 7), (300, 1)])
def test_rolling_sum_matches_brute_force_for_any_length_and_window(n: int, w: int) -> None:
    x = np.random.default_rng(n * 31 + w).normal(size=(n, 3))
    np.testing.assert_allclose(rolling_sum(x, w), _brute(x, w), rtol=1e-12, atol=1e-12, equal_nan=True)
    np.testing.assert_allclose(rolling_sum(x[:, 0], w), _brute(x[:, 0], w), rtol=1e-12, atol=1e-12, equal_nan=True)


def test_live_sums_equal_batch_over_a_long_series_without_drift() -> None:
    # 300k updates of values with a large offset: an uncompensated running sum drifts visibly here
    rng = np.random.default_rng(7)
    x = np.column_stack([1e6 + rng.normal(size=300_000), rng.normal(size=300_000) * 1e-3])
    w = 288
    batch = rolling_sum(x, w)
    vec, scal = RollingSums(w, 2), ScalarRollingSums(w, 2)
    live_v = np.array([r if (r := vec.update(row)) is not None else [np.nan, np.nan] for row in x])
    live_s = np.array([r if (r := scal.update(tuple(row))) is not None else [np.nan, np.nan] for row in x[:50_000]])
    # column 1 sums to ~0 with mixed signs: judge it in absolute terms against its term size (~1e-3)
    np.testing.assert_allclose(live_v[:, 0], batch[:, 0], rtol=1e-13, equal_nan=True)
    np.testing.assert_allclose(live_v[:, 1], batch[:, 1], atol=1e-15, equal_nan=True)
    np.testing.assert_allclose(live_s[:, 0], batch[:50_000, 0], rtol=1e-13, equal_nan=True)
    np.testing.assert_allclose(live_s[:, 1], batch[:50_000, 1], atol=1e-15, equal_nan=True)
    exact = x[-w:].sum(axis=0)
    assert abs(live_v[-1, 0] - exact[0]) / exact[0] < 1e-14


def test_ewm_live_equals_batch() -> None:
    x = np.cumsum(np.random.default_rng(1).normal(size=5000)) + 100
    state = Ewm(0.1)
    np.testing.assert_allclose([state.update(v) for v in x], ewm(x, 0.1), rtol=1e-12)
    assert ewm(x, 0.1)[0] == pytest.approx(x[0])


@pytest.mark.parametrize("window", [0, -3, 2.5])
def test_bad_window_is_one_clear_error(window: float) -> None:
    with pytest.raises(ValueError, match="rolling window"):
        rolling_sum(np.ones(10), window)  # type: ignore[arg-type]
