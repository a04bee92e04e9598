"""Monte Carlo: a seed fixes every draw whatever runs them; the bootstrap keeps each day whole and the path
continuous; the breach probabilities carry Wilson intervals."""

from __future__ import annotations

import math
import pickle
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import TypeVar

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.analytics.stress.markets import HoldLongs, small_market

from quantum_trader.analytics.stress.bootstrap import day_order, resample_market
from quantum_trader.analytics.stress.montecarlo import (
    Draw,
    DrawResult,
    MonteCarloConfig,
    draws,
    run_monte_carlo,
)
from quantum_trader.analytics.stress.summary import breach_rates, draws_frame, quantiles, wilson
from quantum_trader.config import load_policy
from quantum_trader.domain.time import MS_PER_DAY

T = TypeVar("T")
R = TypeVar("R")
POLICY = load_policy(None, env={})
CONFIG = MonteCarloConfig(runs=3, seed=42, families=("flash_crash", "funding_spike", "asset_delisted"))


def backwards(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    """A mapper that runs the draws last first, as a pool finishing out of order would."""
    return list(reversed([fn(item) for item in reversed(items)]))


def threads(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(fn, items))


@pytest.fixture(scope="module")
def first() -> list[DrawResult]:
    return run_monte_carlo(small_market(), POLICY, HoldLongs, CONFIG)


def test_the_same_seed_gives_the_same_draws_whatever_maps_them(first: list[DrawResult]) -> None:
    for mapper in (backwards, threads):
        again = run_monte_carlo(small_market(), POLICY, HoldLongs, CONFIG, mapper=mapper)
        pd.testing.assert_frame_equal(draws_frame(again), draws_frame(first))


def test_another_seed_draws_other_scenarios(first: list[DrawResult]) -> None:
    other = draws_frame(run_monte_carlo(small_market(), POLICY, HoldLongs, replace(CONFIG, seed=43)))
    frame = draws_frame(first)
    assert not other[["severity", "correlation", "at_ms"]].equals(frame[["severity", "correlation", "at_ms"]])
    assert frame["index"].tolist() == [0, 1, 2]
    assert set(frame["family"]) <= set(CONFIG.families)
    assert frame["severity"].between(*CONFIG.severity).all()
    assert (frame["exposure_at_start"] > 0.05).all()  # each shock met the held book


def test_a_draw_is_a_picklable_task() -> None:
    draw = draws(CONFIG)[1]
    back = pickle.loads(pickle.dumps(draw))
    assert isinstance(back, Draw) and back.index == 1
    assert np.random.default_rng(back.seed).random() == np.random.default_rng(draw.seed).random()


def test_the_summary_counts_breaches_with_wilson_intervals(first: list[DrawResult]) -> None:
    rates = breach_rates(first, POLICY)
    assert [r.bound.label for r in rates] == ["loss per trade <= 2%", "loss on one asset <= 3%", "day's loss <= 5%",
                                              "drawdown <= 20%", "correlated exposure <= 25%"]
    for rate in rates:
        assert rate.breaches == sum(d.breaches[rate.bound.kind.value] for d in first)
        assert rate.low <= rate.rate <= rate.high
    table = quantiles(first)
    assert table.loc["worst loss", "max"] == pytest.approx(max(d.worst_loss for d in first))


@pytest.mark.parametrize(("breaches", "runs"), [(0, 10), (3, 10), (10, 10), (17, 200)])
def test_wilson_is_the_textbook_interval(breaches: int, runs: int) -> None:
    z = 1.959963984540054
    p = breaches / runs
    centre = (p + z * z / (2 * runs)) / (1 + z * z / runs)
    half = z / (1 + z * z / runs) * math.sqrt(p * (1 - p) / runs + z * z / (4 * runs * runs))
    assert wilson(breaches, runs) == pytest.approx((max(0.0, centre - half), min(1.0, centre + half)), abs=1e-9)


@given(days=st.integers(1, 40), block=st.integers(1, 10), seed=st.integers(0, 2**32 - 1))
def test_blocks_are_runs_of_consecutive_source_days(days: int, block: int, seed: int) -> None:
    order = day_order(days, block, np.random.default_rng(seed))
    assert order.size == days and order.min() >= 0 and order.max() < days
    size = min(block, days)
    for start in range(0, days, size):
        chunk = order[start:start + size]
        assert np.all(np.diff(chunk) == 1)


@given(seed=st.integers(0, 2**32 - 1), block=st.integers(1, 3))
def test_a_resampled_market_is_the_source_days_moved_and_joined_without_a_gap(seed: int, block: int) -> None:
    market = small_market(days=4, assets=("BTC", "ETH"))
    out = resample_market(market, np.random.default_rng(seed), block_days=block)
    order = day_order(4, block, np.random.default_rng(seed))  # the first thing the resampling draws
    origin = market.start_ms
    for symbol, old in market.bars.items():
        new = out.bars[symbol]
        assert len(new) == len(old) and np.all(np.diff(new.ts) > 0)
        day_old, day_new = (old.ts - origin) // MS_PER_DAY, (new.ts - origin) // MS_PER_DAY
        for d, s in enumerate(order.tolist()):
            mine, theirs = np.flatnonzero(day_new == d), np.flatnonzero(day_old == s)
            np.testing.assert_array_equal(new.ts[mine] - d * MS_PER_DAY, old.ts[theirs] - s * MS_PER_DAY)  # its hours
            scale = new.close[mine] / old.close[theirs]  # the source day's prices, all times one factor
            np.testing.assert_allclose(scale, scale[0], rtol=1e-12)
            np.testing.assert_allclose(new.low[mine] / old.low[theirs], scale[0], rtol=1e-12)
            np.testing.assert_array_equal(new.volume[mine], old.volume[theirs])
            if d > 0:  # it continues from the close before it as the source day continued from its own
                before = old.close[theirs[0] - 1] if theirs[0] > 0 else old.open[0]
                assert new.open[mine[0]] / new.close[mine[0] - 1] == pytest.approx(old.open[theirs[0]] / before,
                                                                                   rel=1e-9)
        book, book_old = out.books[symbol], market.books[symbol]
        assert len(book) == len(book_old)
        rates = [market.funding[symbol].rate[(market.funding[symbol].ts - origin) // MS_PER_DAY == s] for s in order]
        np.testing.assert_array_equal(out.funding[symbol].rate, np.concatenate(rates))
