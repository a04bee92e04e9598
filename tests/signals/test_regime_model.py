"""Regime gating, edge scaling across assets, stops, and per-asset tuning from the policy."""

from __future__ import annotations

import numpy as np
import pytest

from quantum_trader.config import Policy
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.trading import Side
from quantum_trader.signals.features import SignalInputError
from quantum_trader.signals.model import AssetModel, ModelParams, decide, edge_from_z
from quantum_trader.signals.regime import Regime, classify_regime
from quantum_trader.testkit.random_walk import random_walk_bars


def test_regime_rules_and_precedence() -> None:
    tz = np.array([2.0, -2.0, 0.2, 2.0, np.nan])
    vr = np.array([1.0, 1.0, 1.0, 2.5, 1.0])
    got = classify_regime(tz, vr, 1.0)
    assert [Regime(g) for g in got] == [
        Regime.TRENDING_UP, Regime.TRENDING_DOWN, Regime.RANGING, Regime.HIGH_VOLATILITY, Regime.UNKNOWN,
    ]


def test_higher_sensitivity_enters_regimes_earlier() -> None:
    # SOL (1.5) calls a trend and a volatility burst that BTC (1.0) still calls ranging
    assert classify_regime(0.8, 1.0, 1.0) == Regime.RANGING
    assert classify_regime(0.8, 1.0, 1.5) == Regime.TRENDING_UP
    assert classify_regime(0.0, 1.6, 1.0) == Regime.RANGING
    assert classify_regime(0.0, 1.6, 1.5) == Regime.HIGH_VOLATILITY


def _trend_bars(symbol: str, scale: float = 1.0, n: int = 1200, drift: float = 0.002) -> BarSeries:
    rng = np.random.default_rng(3)
    r = rng.normal(scale=0.01, size=n)
    r[-30:] += drift * 5  # a clean up-move over the last day
    close = scale * 100 * np.exp(np.cumsum(r))
    open_ = np.concatenate([[scale * 100], close[:-1]])
    high, low = np.maximum(open_, close) * 1.002, np.minimum(open_, close) * 0.998
    vol = np.exp(rng.normal(size=n))
    ts = 1_700_000_000_000 + np.arange(n, dtype=np.int64) * 3_600_000
    return BarSeries(symbol, "1h", ts, open_, high, low, close, vol)


def test_up_trend_gives_long_intent_with_atr_stop_below_entry() -> None:
    pol = Policy()
    model = AssetModel("BTC/USDT:USDT", pol.signals)
    frame = model.batch(_trend_bars("BTC/USDT:USDT"))
    i = len(frame.ts) - 1
    assert frame.decision.regime[i] == Regime.TRENDING_UP
    intent = frame.intent_at(i)
    assert intent is not None and intent.side is Side.LONG
    atr = frame.features["atr"][i]
    assert intent.stop_price == pytest.approx(intent.entry_price - 2.0 * atr)
    assert 0.0 < intent.edge_score < 1.0
    assert any(r.startswith("regime trending_up") for r in intent.reasons)


def test_edge_is_scale_free_so_assets_compare() -> None:
    # the same returns at 1000x the price (a BTC-like vs a SOL-like price level) give the same edge
    pol = Policy()
    a = AssetModel("BTC/USDT:USDT", pol.signals).batch(_trend_bars("BTC/USDT:USDT", 1.0))
    b = AssetModel("BTC/USDT:USDT", pol.signals).batch(_trend_bars("BTC/USDT:USDT", 1000.0))
    np.testing.assert_allclose(a.decision.edge, b.decision.edge, atol=1e-9)
    assert a.decision.edge.max() > 0


def test_edge_mapping_is_monotone_and_bounded() -> None:
    e = edge_from_z(np.array([0.0, 1.0, 2.0, 3.0, 50.0, -2.0]))
    assert e[0] == 0.0 and np.all(np.diff(e[:5]) > 0) and e[4] <= 1.0 and e[5] == e[2]


def test_ranging_and_high_volatility_emit_nothing() -> None:
    f = {
        "close": np.array([100.0, 100.0]), "atr": np.array([1.0, 1.0]), "trend_z": np.array([0.1, 3.0]),
        "vol_ratio": np.array([1.0, 3.0]), "volume_z": np.array([2.0, 2.0]), "ret1_z": np.array([0.0, 0.0]),
        "sigma_long": np.array([0.01, 0.01]),
    }
    d = decide(f, None, ModelParams.for_asset("BTC", Policy().signals))
    assert list(d.direction) == [0, 0] and list(d.edge) == [0.0, 0.0] and np.isnan(d.stop).all()


def _one(trend_z: float, volume_z: float, ret1_z: float = 0.0, btc_z: float | None = None, asset: str = "BTC") -> float:
    f = {k: np.array([v]) for k, v in {"close": 100.0, "atr": 1.0, "trend_z": trend_z, "vol_ratio": 1.0,
                                       "volume_z": volume_z, "ret1_z": ret1_z, "sigma_long": 0.01}.items()}
    p = ModelParams.for_asset(asset, Policy().signals)
    return float(decide(f, None if btc_z is None else np.array([btc_z]), p).edge[0])


def test_volume_confirmation_narrative_bursts_and_btc_alignment_move_the_edge() -> None:
    assert _one(2.0, 1.2) > _one(2.0, 0.0)  # BTC medium threshold 1.0: confirmed beats unconfirmed
    assert _one(2.0, 1.2, asset="SOL") < _one(2.0, 1.6, asset="SOL")  # SOL needs "high" (1.5)
    # SOL is narrative-driven: a momentum burst raises its edge, it does not for ETH
    assert _one(2.0, 1.6, ret1_z=3.0, asset="SOL") > _one(2.0, 1.6, ret1_z=0.0, asset="SOL")
    assert _one(2.0, 1.6, ret1_z=3.0, asset="ETH") == _one(2.0, 1.6, ret1_z=0.0, asset="ETH")
    # ETH follows BTC (factor 0.8): BTC trending the same way raises the edge, against lowers it
    assert _one(2.0, 1.2, btc_z=2.0, asset="ETH") > _one(2.0, 1.2, btc_z=0.0, asset="ETH") > _one(
        2.0, 1.2, btc_z=-2.0, asset="ETH")
    assert _one(2.0, 1.2, btc_z=2.0, asset="BTC") == _one(2.0, 1.2, asset="BTC")


def test_unlisted_asset_gets_the_btc_baseline() -> None:
    sig = Policy().signals
    assert ModelParams.for_asset("DOGE", sig).sensitivity == ModelParams.for_asset("BTC", sig).sensitivity
    model = AssetModel("DOGE/USDT:USDT", sig)
    assert model.windows.trend == 24 and model.config == sig.asset_models["BTC"]


def test_model_rejects_wrong_timeframe_and_bad_rows() -> None:
    model = AssetModel("BTC/USDT:USDT", Policy().signals)
    with pytest.raises(ValueError, match="runs on 1h bars"):
        model.batch(random_walk_bars("BTC/USDT:USDT", 100, timeframe="5m"))
    b = random_walk_bars("BTC/USDT:USDT", 100)
    low = b.low.copy()
    low[42] = -1.0
    with pytest.raises(SignalInputError, match="low at row 42"):
        model.batch(BarSeries(b.symbol, b.timeframe, b.ts, b.open, b.high, low, b.close, b.volume))


def test_fractional_lookback_is_a_policy_error() -> None:
    with pytest.raises(ValueError, match=r"trend_lookback_hours.*not a whole number of 5h bars"):
        AssetModel("ETH/USDT:USDT", Policy().signals, timeframe="5h")
