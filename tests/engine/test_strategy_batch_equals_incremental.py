"""A strategy's batch accelerator (``prepare``) decides exactly what its ``on_bar`` decides, at every decision.

Both built-in strategies are run both ways over the same market and asked, decision by decision in
the kernel's order, for the correlation, the exits given a varied map of held positions (every
side, opening signal, age, and resting limit entries) and the intents: on the golden replay's
market (five assets, 20 days of 1m bars, with the golden policies) and on hypothesis-generated
markets whose assets have gaps, start late and end early. The multi-asset signals agree to the
float noise of running sums against block sums (the signals layer's own live = batch proof);
sma-cross agrees bit for bit (its incremental average repeats pandas' running sum).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.engine.strategy_cases import OnBarOnly, assert_same_decisions, fast_policy, gapped, held_script
from tests.engine.test_golden_replay import CASES, CONFIG

from quantum_trader.config import Policy
from quantum_trader.data.synthetic import generate_market
from quantum_trader.domain.market import BarSeries
from quantum_trader.engine.incremental import IncrementalDecisions, decisions_for
from quantum_trader.engine.strategies import MultiAssetStrategy, SmaCrossStrategy
from quantum_trader.engine.strategies.multi_asset import MultiAssetDecisions
from quantum_trader.engine.strategies.sma_cross import RollingMean, SmaCrossDecisions
from quantum_trader.testkit import policy_with
from quantum_trader.testkit.random_walk import random_walk_market

SYMBOLS = ("BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT", "AVAX/USDT:USDT")


@pytest.fixture(scope="module")
def golden() -> dict[str, BarSeries]:
    return dict(generate_market(CONFIG).bars)


def _both(strategy: MultiAssetStrategy | SmaCrossStrategy, bars: dict[str, BarSeries], policy: Policy
          ) -> tuple[MultiAssetDecisions | SmaCrossDecisions, IncrementalDecisions]:
    return strategy.prepare(bars, policy), IncrementalDecisions.replay(strategy, bars, policy)


@pytest.mark.parametrize("case", sorted(CASES))
def test_multi_asset_on_the_golden_market(golden: dict[str, BarSeries], case: str) -> None:
    policy = policy_with(CASES[case])
    batch, incremental = _both(MultiAssetStrategy(), golden, policy)
    acted = assert_same_decisions(batch, incremental, held_script(tuple(golden), seed=len(case)))
    assert acted > 100
    assert incremental.correlation_time(int(batch.close_ts.size) - 1) is not None


def test_sma_cross_on_the_golden_market(golden: dict[str, BarSeries]) -> None:
    batch, incremental = _both(SmaCrossStrategy(12, 40), golden, policy_with())
    assert assert_same_decisions(batch, incremental, held_script(tuple(golden), seed=5)) > 1000
    assert incremental.correlation_time(0) is None, "sma-cross asks for no correlation monitor"


@st.composite
def gappy_market(draw: st.DrawFn) -> dict[str, BarSeries]:
    """Four assets, 15m bars over 4-6 days; any of them with holes, a late start or an early end."""
    n = draw(st.integers(4 * 96, 6 * 96))
    bars = random_walk_market(SYMBOLS, n, "15m", seed=draw(st.integers(0, 10_000)), vol=0.004)
    stretch = st.tuples(st.integers(0, n - 1), st.integers(1, 30))
    gaps = {s: draw(st.lists(stretch, max_size=4)) for s in SYMBOLS}
    for s in SYMBOLS[1:]:
        if draw(st.booleans()):
            gaps[s].append((0, draw(st.integers(1, n // 3))))  # starts late
        if draw(st.booleans()):
            gaps[s].append((n - draw(st.integers(1, n // 4)), n))  # ends early
    return gapped(bars, gaps)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(market=gappy_market(), seed=st.integers(0, 1000))
def test_multi_asset_on_markets_with_gaps(market: dict[str, BarSeries], seed: int) -> None:
    batch, incremental = _both(MultiAssetStrategy(), market, fast_policy())
    assert_same_decisions(batch, incremental, held_script(SYMBOLS, seed))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(market=gappy_market(), seed=st.integers(0, 1000), fast=st.integers(1, 8), longer=st.integers(1, 20))
def test_sma_cross_on_markets_with_gaps(market: dict[str, BarSeries], seed: int, fast: int, longer: int) -> None:
    batch, incremental = _both(SmaCrossStrategy(fast, fast + longer), market, policy_with())
    assert_same_decisions(batch, incremental, held_script(SYMBOLS, seed))


def test_the_gappy_markets_act() -> None:
    """The generated markets are not idle: with the fast policy every source of intents and both exit reasons
    occur on them, so the comparisons above compare something."""
    bars = random_walk_market(SYMBOLS, 6 * 96, "15m", seed=4, vol=0.004)
    market = gapped(bars, {SYMBOLS[1]: [(100, 9)], SYMBOLS[2]: [(0, 50)], SYMBOLS[3]: [(500, 76)]})
    _, incremental = _both(MultiAssetStrategy(), market, fast_policy())
    held = held_script(SYMBOLS, 1)
    sources, reasons = set(), set()
    for k in range(incremental.close_ts.size):
        reasons |= {reason for _, reason in incremental.exits(k, held(k))}
        sources |= {i.source for i in incremental.intents(k)}
    assert sources == {"trend", "btc_divergence", "sector_momentum"}
    assert reasons == {"signal", "horizon"}


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.one_of(st.floats(-1e6, 1e6, allow_nan=False), st.sampled_from([0.1, 0.2, 0.3, 1.0])),
                       min_size=1, max_size=80),
       window=st.integers(1, 12))
def test_the_incremental_average_is_pandas_rolling_mean_bit_for_bit(values: list[float], window: int) -> None:
    mean = RollingMean(window)
    got = np.array([mean.update(v) for v in values])
    np.testing.assert_array_equal(got, pd.Series(values).rolling(window).mean().to_numpy())


def test_a_backtest_uses_the_batch_accelerator_only_when_declared(golden: dict[str, BarSeries]) -> None:
    bars = {s: golden[s] for s in list(golden)[:2]}
    assert isinstance(decisions_for(SmaCrossStrategy(), bars, policy_with()), SmaCrossDecisions)
    assert isinstance(decisions_for(OnBarOnly(SmaCrossStrategy()), bars, policy_with()), IncrementalDecisions)


def test_intents_asked_ahead_then_the_run_decide_the_same(golden: dict[str, BarSeries]) -> None:
    """A backtest measures edge from every decision's intents before the kernel runs: the strategy runs ahead
    with nothing held, then starts afresh for the run, which decides as if it had never run ahead."""
    policy = policy_with(CASES["multi_asset_20d_seed3_short_lookback"])
    batch, incremental = _both(MultiAssetStrategy(), golden, policy)
    ahead = [incremental.intents(k) for k in range(incremental.close_ts.size)]
    assert sum(map(len, ahead)) > 50
    assert_same_decisions(batch, incremental, held_script(tuple(golden), seed=9))
