"""The simulated venue's small models: each cost and mechanism on its own."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantum_trader.config import load_policy
from quantum_trader.domain.time import parse_time
from quantum_trader.venues.simulated.fees import FeeModel
from quantum_trader.venues.simulated.funding import funding_payment, settlement_times
from quantum_trader.venues.simulated.matching import (
    ExitKind,
    first_stop_index,
    resolve_bar,
    stop_fill,
    target_fill,
)
from quantum_trader.venues.simulated.slippage import SpreadImpactModel, depth_within, walk_book


def test_long_stop_gap_fills_at_open_not_stop() -> None:
    exit_ = stop_fill(True, 95.0, bar_open=90.0, bar_high=92.0, bar_low=88.0)
    assert exit_ is not None and exit_.kind is ExitKind.STOP_GAP and exit_.price == 90.0


def test_short_stop_gap_fills_at_open() -> None:
    exit_ = stop_fill(False, 105.0, bar_open=110.0, bar_high=111.0, bar_low=108.0)
    assert exit_ is not None and exit_.kind is ExitKind.STOP_GAP and exit_.price == 110.0


def test_stop_touched_inside_bar_fills_at_stop() -> None:
    exit_ = stop_fill(True, 95.0, bar_open=100.0, bar_high=101.0, bar_low=94.0)
    assert exit_ is not None and (exit_.kind, exit_.price) == (ExitKind.STOP, 95.0)
    assert stop_fill(True, 95.0, bar_open=100.0, bar_high=101.0, bar_low=95.01) is None


def test_a_gap_through_the_target_fills_at_the_target_not_the_better_open() -> None:
    exit_ = target_fill(True, 110.0, bar_open=112.0, bar_high=113.0, bar_low=111.0)
    assert exit_ is not None and (exit_.kind, exit_.price) == (ExitKind.TARGET_GAP, 110.0)


def test_bar_touching_stop_and_target_takes_stop_first() -> None:
    exit_ = resolve_bar(True, 95.0, 110.0, bar_open=100.0, bar_high=111.0, bar_low=94.0)
    assert exit_ is not None and exit_.kind is ExitKind.STOP


def test_finer_bars_decide_when_target_came_first() -> None:
    finer = (np.array([100.0, 109.0]), np.array([111.0, 109.5]), np.array([99.0, 94.0]))
    exit_ = resolve_bar(True, 95.0, 110.0, 100.0, 111.0, 94.0, finer=finer)
    assert exit_ is not None and exit_.kind is ExitKind.TARGET and exit_.price == 110.0


def test_first_stop_index_scans_vectorised() -> None:
    lows = np.array([99.0, 98.0, 94.0, 90.0])
    highs = lows + 2
    assert first_stop_index(True, 95.0, highs, lows) == 2
    assert first_stop_index(True, 80.0, highs, lows) == -1
    assert first_stop_index(False, 100.5, highs, lows) == 0


def test_maker_and_taker_fees_from_policy() -> None:
    policy = load_policy(env={})
    fees = FeeModel.from_policy(policy.venue.fees["binanceusdm"])
    assert fees.fee(10_000.0, is_maker=False) == pytest.approx(5.0)
    assert fees.fee(10_000.0, is_maker=True) == pytest.approx(2.0)
    assert fees.fee(-10_000.0, is_maker=False) == pytest.approx(5.0)


@pytest.mark.parametrize(("qty", "rate", "expected"), [(2.0, 0.0001, -0.02), (-2.0, 0.0001, 0.02),
                                                       (2.0, -0.0001, 0.02), (-2.0, -0.0001, -0.02)])
def test_funding_sign_by_side(qty: float, rate: float, expected: float) -> None:
    assert funding_payment(qty, 100.0, rate) == pytest.approx(expected)


def test_settlement_times_at_00_08_16() -> None:
    start = parse_time("2024-01-01 07:00")
    times = settlement_times(start, parse_time("2024-01-02 09:00"))
    assert [t - parse_time("2024-01-01") for t in times] == [h * 3_600_000 for h in (8, 16, 24, 32)]


def test_walk_book_average_price_and_shortfall() -> None:
    px = np.array([100.0, 101.0, np.nan])
    sz = np.array([1.0, 2.0, 0.0])
    price, filled = walk_book(px, sz, 2.0)
    assert price == pytest.approx((100.0 + 101.0) / 2) and filled == 2.0
    price, filled = walk_book(px, sz, 4.0)
    assert filled == 3.0 and price == pytest.approx((100 + 2 * 101 + 101) / 4)


def test_spread_impact_never_better_than_reference() -> None:
    model = SpreadImpactModel(spread=0.0002, impact=0.1)
    buy = model.price(100.0, 1.0, 100.0, buy=True)
    sell = model.price(100.0, 1.0, 100.0, buy=False)
    assert buy == pytest.approx(100.0 * (1 + 0.0001 + 0.1 * math.sqrt(0.01)))
    assert sell < 100.0 < buy


def test_depth_within_takes_smaller_side() -> None:
    bid_px = np.array([99.5, 99.0, 98.0])
    ask_px = np.array([100.5, 101.0, 102.0])
    sz = np.array([1.0, 1.0, 1.0])
    assert depth_within(bid_px, sz, ask_px, sz, 0.01) == pytest.approx(min(99.5 + 99.0, 100.5 + 101.0))
