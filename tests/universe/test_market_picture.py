"""Total market cap, BTC dominance and sector performance."""

from __future__ import annotations

import math

import numpy as np
import pytest

from quantum_trader.config import Policy
from quantum_trader.domain.market import BarSeries
from quantum_trader.universe.market_picture import (
    MarketPicture,
    MarketReferenceError,
    btc_dominance,
    market_caps,
    sector_returns,
    total_market_cap,
)


def test_caps_total_and_dominance_from_the_supply_table() -> None:
    ref = Policy().market_reference
    caps = market_caps({"BTC": 100_000.0, "ETH": 4_000.0}, ref)
    assert caps["BTC"] == pytest.approx(100_000.0 * 19_800_000)
    total = total_market_cap(caps)
    assert btc_dominance(caps, total) == pytest.approx(1.98e12 / (1.98e12 + 4_000.0 * 120_500_000))
    assert btc_dominance(caps, total_market_cap(caps, 3.96e12)) == pytest.approx(0.5)  # external total wins


def test_unknown_asset_names_the_policy_key() -> None:
    with pytest.raises(MarketReferenceError, match=r"circulating_supply has no entry for DOGE"):
        market_caps({"DOGE": 0.1}, Policy().market_reference)
    with pytest.raises(MarketReferenceError, match="needs BTC"):
        btc_dominance({"ETH": 1.0}, 1.0)


def test_sector_returns_are_equal_weighted_and_skip_missing_members() -> None:
    sectors = {"L1": ("BTC", "ETH", "SOL"), "DeFi": ("LINK",), "none": ("ZZZ",)}
    out = sector_returns({"BTC": 0.01, "ETH": 0.03, "SOL": math.nan}, sectors)
    assert out["L1"] == pytest.approx(0.02) and math.isnan(out["DeFi"]) and math.isnan(out["none"])
    arr = sector_returns({"BTC": np.array([0.01, np.nan]), "ETH": np.array([0.03, 0.05])}, sectors)
    np.testing.assert_allclose(arr["L1"], [0.02, 0.05])


def test_batch_equals_live() -> None:
    rng = np.random.default_rng(0)
    assets = ("BTC", "ETH", "SOL", "BNB", "XRP")
    closes = {a: 10.0 * (j + 1) * np.exp(np.cumsum(rng.normal(scale=0.01, size=500))) for j, a in enumerate(assets)}
    pic = MarketPicture(assets, Policy().market_reference, lookback=24)
    batch = pic.batch(closes)
    state = pic.stream()
    live = [state.update({a: float(closes[a][i]) for a in assets}) for i in range(500)]
    np.testing.assert_allclose([f.btc_dominance for f in live], batch.btc_dominance, rtol=1e-12)
    np.testing.assert_allclose([f.total_market_cap for f in live], batch.total_market_cap, rtol=1e-12)
    for sector in ("L1", "exchange_tokens", "payments"):
        np.testing.assert_allclose([f.sector_returns[sector] for f in live], batch.sector_returns[sector],
                                   rtol=1e-12, equal_nan=True)
    assert np.isnan(batch.sector_returns["L1"][23]) and np.isfinite(batch.sector_returns["L1"][24])


@pytest.mark.shared_data
def test_dominance_on_real_data_is_a_share(real_1h: dict[str, BarSeries]) -> None:
    assets = ("BTC", "ETH", "SOL", "XRP")
    pic = MarketPicture(assets, Policy().market_reference, lookback=24)
    frame = pic.batch({a: real_1h[a].close for a in assets})
    dom = np.asarray(frame.btc_dominance)
    assert ((dom > 0.5) & (dom < 1.0)).all()  # BTC is most of these four by cap
