"""The market view's matrix is validated as before, once per matrix: a fault is named, a valid one is kept."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantum_trader.config import Policy
from quantum_trader.domain.instrument import Instrument
from quantum_trader.risk import MarketViewError, build_market_view
from quantum_trader.risk.market import MarketViews

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT")
POLICY = Policy()


def _matrix(**cells: float) -> np.ndarray:
    matrix = np.eye(3)
    for name, value in cells.items():
        i, j = int(name[1]), int(name[2])
        matrix[i, j] = value
    return matrix


def _view(correlation: np.ndarray) -> object:
    return build_market_view(POLICY, ts=0, phase=3, symbols=SYMBOLS, correlation=correlation, depth_1pct={},
                             marks={}, instruments=())


@pytest.mark.parametrize(("cells", "message"), [
    ({"c01": math.nan, "c10": math.nan}, "correlation[BTC/USDT:USDT, ETH/USDT:USDT] is not a finite number"),
    ({"c12": math.inf, "c21": 0.5}, "correlation[ETH/USDT:USDT, SOL/USDT:USDT] is not a finite number"),
    ({"c02": 1.5, "c20": 1.5}, "correlation[BTC/USDT:USDT, SOL/USDT:USDT] = 1.5 is outside [-1, 1]"),
    ({"c12": -1.2, "c21": -1.2, "c01": math.nan}, "correlation[BTC/USDT:USDT, ETH/USDT:USDT] is not a finite"),
    ({"c01": 0.5, "c10": 0.4}, "correlation is not symmetric at (BTC/USDT:USDT, ETH/USDT:USDT)"),
])
def test_a_faulty_matrix_is_named(cells: dict[str, float], message: str) -> None:
    with pytest.raises(MarketViewError, match=message.replace("[", r"\[").replace("]", r"\]")
                       .replace("(", r"\(").replace(")", r"\)")):
        _view(_matrix(**cells))


def test_a_matrix_within_the_tolerances_is_accepted_and_frozen() -> None:
    view = _view(_matrix(c01=0.3, c10=0.3 + 5e-10, c02=1.0 + 5e-10, c20=1.0 + 5e-10))
    assert view.corr(SYMBOLS[0], SYMBOLS[1]) == 0.3  # type: ignore[attr-defined]
    assert not view.correlation.flags.writeable  # type: ignore[attr-defined]


def test_a_read_only_matrix_is_validated_once_and_a_changed_one_again() -> None:
    views = MarketViews(POLICY, SYMBOLS, [Instrument(s, 0.01, 0.001, 5.0) for s in SYMBOLS])
    matrix = _matrix(c01=0.4, c10=0.4)
    matrix.setflags(write=False)
    first = views.build(ts=0, phase=3, correlation=matrix, depth_1pct={}, marks={})
    again = views.correlation_only(ts=1, phase=3, correlation=matrix)
    assert again.correlation is first.correlation and again.rows == first.rows
    writable = _matrix(c01=0.4, c10=0.4)
    view = views.build(ts=2, phase=3, correlation=writable, depth_1pct={}, marks={})
    writable[0, 1] = 0.9  # a writable matrix is copied and checked each time: a change is seen
    with pytest.raises(MarketViewError, match="not symmetric"):
        views.build(ts=3, phase=3, correlation=writable, depth_1pct={}, marks={})
    assert view.corr(SYMBOLS[0], SYMBOLS[1]) == 0.4


def test_the_correlation_view_is_the_view_without_the_market() -> None:
    views = MarketViews(POLICY, SYMBOLS, ())
    matrix = _matrix(c01=0.4, c10=0.4)
    built = views.build(ts=5, phase=2, correlation=matrix, depth_1pct={}, marks={})
    only = views.correlation_only(ts=5, phase=2, correlation=matrix)
    fields = ("ts", "phase", "index", "rows", "depth_1pct", "marks", "instruments", "tiers", "edge_assets",
              "entry_slippage", "removed")
    assert [getattr(only, f) for f in fields] == [getattr(built, f) for f in fields]
    np.testing.assert_array_equal(only.correlation, built.correlation)
    with pytest.raises(MarketViewError, match="phase 7"):
        views.correlation_only(ts=5, phase=7, correlation=matrix)
