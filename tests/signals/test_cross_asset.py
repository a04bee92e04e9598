"""btc_divergence, sector_momentum and correlation_breakdown, batch == live and their decisions."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantum_trader.config import Policy
from quantum_trader.config.signals import CorrelationBreakdown
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.signals.cross_asset import BtcDivergence, SectorMomentum, apply_correlation_breakdown
from quantum_trader.testkit.random_walk import random_walk_market


@pytest.mark.shared_data
def test_divergence_batch_equals_incremental_on_real_1h(real_1h: dict[str, BarSeries]) -> None:
    div = BtcDivergence(Policy().signals.cross_asset.btc_divergence, "1h")
    btc = real_1h["BTC"].close
    for asset in ("ETH", "SOL"):
        close = real_1h[asset].close
        batch = div.batch(close, btc)
        state = div.stream()
        live = np.array([state.update(a, b) for a, b in zip(close, btc, strict=True)])
        for k, name in enumerate(("beta", "spread", "z")):
            assert np.array_equal(np.isnan(live[:, k]), np.isnan(batch[name]))
            np.testing.assert_allclose(live[:, k], batch[name], rtol=1e-9, atol=1e-12, equal_nan=True)
        assert np.isfinite(batch["z"]).sum() > 10_000
        # ETH follows BTC with a beta near 1 on hourly data
        assert 0.5 < np.nanmedian(batch["beta"]) < 1.8


def test_divergence_beyond_two_sigma_bets_on_reversion() -> None:
    m = random_walk_market(["BTC/USDT:USDT", "ETH/USDT:USDT"], 2000, "1h", seed=5, vol=0.01)
    btc, eth = m["BTC/USDT:USDT"].close, m["ETH/USDT:USDT"].close.copy()
    eth[-1] *= 1.15  # ETH jumps 15% in the last hour while BTC does not
    pol = Policy().signals.cross_asset.btc_divergence
    div = BtcDivergence(pol, "1h")
    z = div.batch(eth, btc)["z"]
    assert z[-1] > 2.0
    direction, edge = div.decide(z)
    assert direction[-1] == -1 and 0 < edge[-1] < 1  # ran ahead of BTC: short, expecting reversion
    follow = BtcDivergence(pol.model_copy(update={"expected_reversion": False}), "1h")
    assert follow.decide(z)[0][-1] == 1
    inside = np.abs(z) < 2.0
    assert (direction[inside] == 0).all()


def _sector() -> SectorMomentum:
    pol = Policy()
    return SectorMomentum(pol.signals.cross_asset.sector_momentum, pol.market_reference, "1h")


def test_strongest_sector_gives_momentum_longs_to_members_moving_with_it() -> None:
    sm = _sector()
    rets = {"SOL": 0.08, "AVAX": 0.05, "MATIC": -0.01, "BTC": 0.01, "ETH": 0.015, "BNB": 0.0, "XRP": 0.002,
            "LINK": 0.01}
    sig = dict.fromkeys(rets, 0.01)
    watched, out = sm.decide(rets, sig)
    assert watched == pytest.approx((0.08 + 0.05 - 0.01) / 3)
    assert out["SOL"][0] == 1 and out["AVAX"][0] == 1 and out["MATIC"][0] == 0
    assert 0 < out["SOL"][1] < 1


def test_sector_below_min_return_or_not_strongest_gives_nothing() -> None:
    sm = _sector()
    sig = dict.fromkeys(("SOL", "AVAX", "BTC", "LINK"), 0.01)
    _, weak = sm.decide({"SOL": 0.01, "AVAX": 0.01, "BTC": 0.0}, sig)  # below min_sector_return (2%)
    assert all(d == 0 for d, _ in weak.values())
    _, beaten = sm.decide({"SOL": 0.03, "AVAX": 0.03, "LINK": 0.10}, sig)  # DeFi is stronger
    assert all(d == 0 for d, _ in beaten.values())
    _, falling = sm.decide({"SOL": -0.05, "AVAX": -0.04, "BTC": 0.0, "LINK": 0.0}, sig)
    assert falling["SOL"][0] == -1


def test_correlation_breakdown_moves_edge_as_the_policy_says() -> None:
    it = Intent(0, "ETH/USDT:USDT", Side.LONG, 0.5, 100.0, 95.0, "trend", ("x",))
    cfg = Policy().signals.cross_asset.correlation_breakdown
    up = apply_correlation_breakdown(it, "ETH", 0.3, cfg)
    assert up.edge_score == pytest.approx(0.6) and "correlation breakdown" in up.reasons[-1]
    assert apply_correlation_breakdown(it, "ETH", 0.6, cfg) is it  # 0.6 >= 0.7 - 0.2: normal
    assert apply_correlation_breakdown(it, "ETH", math.nan, cfg) is it
    assert apply_correlation_breakdown(it, "BTC", 0.1, cfg) is it  # BTC cannot break from itself
    lower = CorrelationBreakdown(edge_adjustment=-0.7)
    assert apply_correlation_breakdown(it, "ETH", 0.3, lower).edge_score == 0.0
    off = CorrelationBreakdown(signal_on_breakdown=False)
    assert apply_correlation_breakdown(it, "ETH", 0.3, off) is it
