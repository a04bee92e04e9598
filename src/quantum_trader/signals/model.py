"""Per-asset signal model: trend following gated by regime, with a comparable edge score.

Decision at each closed bar of the model timeframe (policy ``signals.model.timeframe``):

* **Gate**: only a trending regime (:mod:`quantum_trader.signals.regime`) gives a
  direction (long in an up-trend, short in a down-trend); ranging, high-volatility and
  warm-up bars emit nothing.
* **Strength**: ``z = |trend_z|``, the trend in units of the asset's own random-walk move.
* **Weights** (multiplying ``z``):
  - volume significance: the bar's volume z-score must reach the asset's threshold
    (``volume_thresholds[volume_significance]``) or the weight is
    ``VOLUME_UNCONFIRMED_WEIGHT``;
  - ``narrative_component``: each burst (volume ``VOLUME_BURST_EXTRA_Z`` beyond the
    threshold; a bar return of ``MOMENTUM_BURST_Z`` sigmas in the trade's direction) adds
    ``NARRATIVE_BURST_WEIGHT``;
  - ``btc_correlation_factor`` f: ``1 + f * BTC_ALIGNMENT_WEIGHT * d * clip(btc_z / 2, -1, 1)``
    where d is the direction and btc_z BTC's trend z: an asset that follows BTC is
    trusted more when BTC trends its way and less against it (BTC itself: f = 0).
* **Edge score**: ``edge = tanh(z_eff / EDGE_Z_SCALE)`` in [0, 1).

Why the edge is comparable across assets: ``z_eff`` is dimensionless, measured against
each asset's own volatility history, so a z of 2 on SOL is as unusual for SOL as a z of
2 on BTC is for BTC, however much more SOL moves in price. The weights are bounded
(0.75 .. 1.5x), and the same ``tanh`` maps every source (cross-asset signals too) onto
[0, 1): 0.32 at z = 1, 0.58 at z = 2, 0.76 at z = 3, so scores keep ranking power
instead of saturating the way a p-value does. The slot allocator may compare any two
intents' scores directly.

**Stop**: ``close - d * stop_atr_multiple * ATR(atr_period)``, so the risk engine can size
the position from the distance to the stop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

from quantum_trader.config.signals import AssetModelConfig, Signals
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.signals.features import FEATURE_NAMES, AssetFeatures, AssetFeaturesState, FeatureWindows
from quantum_trader.signals.regime import Regime, classify_with_thresholds, regime_thresholds

F64 = npt.NDArray[np.float64]
EDGE_Z_SCALE: Final = 3.0
"""z at which the edge reaches tanh(1) = 0.76."""
VOLUME_UNCONFIRMED_WEIGHT: Final = 0.75
VOLUME_BURST_EXTRA_Z: Final = 1.0
MOMENTUM_BURST_Z: Final = 2.0
NARRATIVE_BURST_WEIGHT: Final = 0.25
BTC_ALIGNMENT_WEIGHT: Final = 0.25
BTC_FULL_ALIGNMENT_Z: Final = 2.0
SOURCE: Final = "trend"


def edge_from_z(z: npt.ArrayLike) -> F64:
    """The one mapping from a volatility-normalised strength to an edge score in [0, 1)."""
    return np.asarray(np.tanh(np.abs(np.asarray(z, dtype=np.float64)) / EDGE_Z_SCALE), dtype=np.float64)


@dataclass(frozen=True, slots=True)
class ModelParams:
    """An asset's model parameters; fields are floats for one asset or arrays (one entry per asset) for live."""

    sensitivity: Any
    volume_threshold: Any
    btc_factor: Any
    narrative: Any
    stop_multiple: Any

    @classmethod
    def for_asset(cls, asset: str, signals: Signals) -> ModelParams:
        cfg = signals.model_for(asset)
        thresholds = signals.model.volume_thresholds
        is_baseline = asset == signals.model.baseline_asset
        return cls(
            sensitivity=float(cfg.regime_sensitivity),
            volume_threshold=float(getattr(thresholds, cfg.volume_significance)),
            btc_factor=0.0 if is_baseline or cfg.btc_correlation_factor is None else float(cfg.btc_correlation_factor),
            narrative=1.0 if cfg.narrative_component else 0.0,
            stop_multiple=float(signals.model.stop_atr_multiple),
        )

    @classmethod
    def stack(cls, params: list[ModelParams]) -> ModelParams:
        def col(name: str) -> F64:
            return np.array([float(getattr(p, name)) for p in params])

        return cls(*(col(n) for n in ("sensitivity", "volume_threshold", "btc_factor", "narrative", "stop_multiple")))

    @property
    def thresholds(self) -> tuple[Any, Any]:
        return regime_thresholds(self.sensitivity)


@dataclass(frozen=True, slots=True)
class Decision:
    regime: npt.NDArray[np.int8]
    direction: npt.NDArray[np.int8]
    edge: F64
    stop: F64


def decide(f: dict[str, F64], btc_trend_z: npt.ArrayLike | None, p: ModelParams) -> Decision:
    """The decision formulas (see module docstring) on aligned feature arrays.

    Arrays may run over time (batch) or over assets (live); either way the same code runs.
    It is written with few NumPy calls because the live path runs it on every closed bar.
    """
    trend_z, volume_z, atr = f["trend_z"], f["volume_z"], f["atr"]
    regime = classify_with_thresholds(trend_z, f["vol_ratio"], *p.thresholds)
    direction = (regime == Regime.TRENDING_UP.value) * 1.0 - (regime == Regime.TRENDING_DOWN.value) * 1.0
    direction = direction * (atr == atr)  # no stop without an ATR: no direction
    thr = p.volume_threshold
    w_vol = VOLUME_UNCONFIRMED_WEIGHT + (1.0 - VOLUME_UNCONFIRMED_WEIGHT) * (volume_z >= thr)
    bursts = (volume_z >= thr + VOLUME_BURST_EXTRA_Z) * 1.0 + (direction * f["ret1_z"] >= MOMENTUM_BURST_Z)
    w_narr = 1.0 + p.narrative * NARRATIVE_BURST_WEIGHT * bursts
    if btc_trend_z is None:
        w_btc: Any = 1.0
    else:
        bz = np.asarray(btc_trend_z, dtype=np.float64)
        bz = np.minimum(np.maximum(np.where(bz == bz, bz, 0.0) / BTC_FULL_ALIGNMENT_Z, -1.0), 1.0)
        w_btc = 1.0 + p.btc_factor * BTC_ALIGNMENT_WEIGHT * direction * bz
    z_eff = np.abs(trend_z * direction) * w_vol * w_narr * w_btc
    edge = np.tanh(np.where(z_eff == z_eff, z_eff, 0.0) / EDGE_Z_SCALE)
    stop = f["close"] - direction * p.stop_multiple * atr
    stop[direction == 0] = np.nan
    return Decision(regime, direction.astype(np.int8), edge, stop)


def explain(
    asset: str, values: dict[str, float], decision: tuple[int, int, float, float], p: ModelParams, btc_z: float
) -> tuple[str, ...]:
    """Human-readable reasons for one decision, for the journal and the CLI."""
    regime, direction, _edge, stop = decision
    trend_thr, vol_thr = regime_thresholds(float(p.sensitivity))
    tz, vr, vz = values["trend_z"], values["vol_ratio"], values["volume_z"]
    reasons = [
        f"regime {Regime(regime).label}: trend z {tz:+.2f} (threshold ±{float(trend_thr):.2f}), "
        f"vol ratio {vr:.2f} (high at {float(vol_thr):.2f})"
    ]
    if direction == 0:
        return (*reasons, "no trend-following entry in this regime")
    thr = float(p.volume_threshold)
    reasons.append(f"volume z {vz:+.2f} {'>=' if vz >= thr else '<'} {thr:.2f}: "
                   f"{'confirmed' if vz >= thr else 'unconfirmed, weight ' + str(VOLUME_UNCONFIRMED_WEIGHT)}")
    if float(p.narrative) > 0:
        bursts = [n for n, hit in (("volume", vz >= thr + VOLUME_BURST_EXTRA_Z),
                                   ("momentum", direction * values["ret1_z"] >= MOMENTUM_BURST_Z)) if hit]
        reasons.append(f"narrative asset: bursts {', '.join(bursts) if bursts else 'none'}")
    factor = float(p.btc_factor)
    if factor > 0:
        aligned = "with" if direction * btc_z > 0 else "against" if direction * btc_z < 0 else "flat"
        reasons.append(f"BTC trend z {btc_z:+.2f} ({aligned} the trade), btc_correlation_factor {factor:.2f}")
    reasons.append(f"stop {stop:.6g} = close ∓ {float(p.stop_multiple):g} x ATR {values['atr']:.6g}")
    return tuple(reasons)


@dataclass(frozen=True, slots=True)
class ModelFrame:
    """Batch output of one asset's model, aligned with its bars."""

    symbol: str
    ts: npt.NDArray[np.int64]
    features: dict[str, F64]
    decision: Decision
    params: ModelParams
    btc_trend_z: F64 | None

    def values_at(self, i: int) -> dict[str, float]:
        return {k: float(v[i]) for k, v in self.features.items()}

    def intent_at(self, i: int, min_edge: float = 0.0) -> Intent | None:
        d = self.decision
        direction = int(d.direction[i])
        if direction == 0 or float(d.edge[i]) < min_edge:
            return None
        btc_z = 0.0 if self.btc_trend_z is None else float(np.nan_to_num(self.btc_trend_z[i]))
        reasons = explain(
            asset_of(self.symbol), self.values_at(i),
            (int(d.regime[i]), direction, float(d.edge[i]), float(d.stop[i])), self.params, btc_z,
        )
        return Intent(
            ts=int(self.ts[i]), symbol=self.symbol, side=Side.LONG if direction > 0 else Side.SHORT,
            edge_score=float(d.edge[i]), entry_price=float(self.features["close"][i]),
            stop_price=float(d.stop[i]), source=SOURCE, reasons=reasons,
        )


class AssetModel:
    """One asset's regime detector and signal generator, from the policy."""

    def __init__(self, symbol: str, signals: Signals, timeframe: str | None = None) -> None:
        self.symbol = symbol
        self.asset = asset_of(symbol)
        self.config: AssetModelConfig = signals.model_for(self.asset)
        self.timeframe = timeframe or signals.model.timeframe
        self.windows = FeatureWindows.from_policy(self.asset, self.config, signals.model, self.timeframe)
        self.params = ModelParams.for_asset(self.asset, signals)
        self.features = AssetFeatures(self.windows)

    def batch(self, bars: BarSeries, btc_trend_z: F64 | None = None) -> ModelFrame:
        """Whole-history run; ``btc_trend_z`` must be aligned with ``bars`` (see ``align_asof``)."""
        if bars.timeframe != self.timeframe:
            raise ValueError(f"{self.symbol}: model runs on {self.timeframe} bars, got {bars.timeframe}")
        if btc_trend_z is not None and btc_trend_z.shape != bars.ts.shape:
            raise ValueError(f"{self.symbol}: btc_trend_z has {btc_trend_z.shape}, bars {bars.ts.shape}")
        f = self.features.batch(bars)
        return ModelFrame(self.symbol, bars.ts, f, decide(f, btc_trend_z, self.params), self.params, btc_trend_z)

    def stream(self) -> AssetFeaturesState:
        """Incremental features; feed :func:`decide` with them (one asset or all assets at once)."""
        return AssetFeaturesState(self.windows, self.symbol)


def features_row(values: tuple[float, ...]) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, values, strict=True))


def align_asof(src_ts: npt.NDArray[np.int64], values: F64, dst_ts: npt.NDArray[np.int64]) -> F64:
    """For each ``dst_ts`` the latest ``values`` at or before it (NaN before the first): causal."""
    if values.size == 0:
        return np.full(dst_ts.shape, np.nan)
    idx = np.searchsorted(src_ts, dst_ts, side="right") - 1
    out = np.where(idx >= 0, values[np.clip(idx, 0, None)], np.nan)
    return np.asarray(out, dtype=np.float64)
