"""Signals that read several assets at once; parameters from ``signals.cross_asset``.

* ``btc_divergence``: spread = asset's log return over ``lookback`` (4h) minus beta x
  BTC's, where beta is the rolling OLS beta of bar returns over ``zscore_window`` (30d);
  the spread is z-scored against its own mean and std over the same window. At
  ``|z| >= threshold_std`` (2 sigma) the signal bets on reversion (``expected_reversion``:
  short an asset that ran ahead of BTC, long one that lagged) or, when reversion is
  switched off, on continuation.
* ``sector_momentum``: the equal-weighted ``lookback`` (24h) return of
  ``assets_in_sector`` is ranked against every sector of ``market_reference.sectors``; when
  it is the strongest and at least ``min_sector_return``, members moving with the sector
  get long intents (symmetrically: weakest and below ``-min_sector_return``, shorts).
* ``correlation_breakdown``: when an asset's real-time correlation to BTC falls below
  ``normal_correlation - breakdown_margin``, its intents carry a flag and their edge moves
  by ``edge_adjustment`` (positive raises, negative lowers), clipped to [0, 1].

Edges use :func:`quantum_trader.signals.model.edge_from_z` on a z-score (the divergence z;
the sector return in units of its members' random-walk move), so they rank against
trend intents on the same scale.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import numpy.typing as npt

from quantum_trader.config.operations import MarketReference
from quantum_trader.config.signals import BtcDivergence as BtcDivergencePolicy
from quantum_trader.config.signals import CorrelationBreakdown
from quantum_trader.config.signals import SectorMomentum as SectorMomentumPolicy
from quantum_trader.domain.time import duration_ms
from quantum_trader.domain.trading import Intent, Side
from quantum_trader.indicators.bar_indicators import LogReturn, RollingMoments
from quantum_trader.indicators.rolling import ScalarRollingSums, rolling_sum
from quantum_trader.signals.features import bars_in
from quantum_trader.signals.model import edge_from_z
from quantum_trader.universe.market_picture import sector_returns

_LONG, _SHORT = Side.LONG, Side.SHORT

F64 = npt.NDArray[np.float64]
Num = F64 | float
WATCHED_SECTOR = "sector_momentum"


def _cov_var(sab: Num, sa: Num, sb: Num, sbb: Num, w: float) -> tuple[Num, Num]:
    """Window co-moment of (a, b) and moment of b from window sums; beta = cov / var."""
    return sab - sa * sb / w, sbb - sb * sb / w


class BtcDivergence:
    def __init__(self, cfg: BtcDivergencePolicy, timeframe: str) -> None:
        self.cfg = cfg
        key = "signals.cross_asset.btc_divergence"
        self.lookback = bars_in(duration_ms(cfg.lookback), timeframe, f"{key}.lookback")
        self.window = bars_in(duration_ms(cfg.zscore_window), timeframe, f"{key}.zscore_window")
        if self.window < 2:
            raise ValueError(f"{key}.zscore_window must span >= 2 {timeframe} bars")

    def batch(self, close: F64, btc_close: F64) -> dict[str, F64]:
        """Beta, spread and z aligned with the closes (both on the same bar clock)."""
        if close.shape != btc_close.shape:
            raise ValueError(f"btc_divergence: asset closes {close.shape} and BTC closes {btc_close.shape} differ")
        ra, rb = LogReturn(1).batch(close), LogReturn(1).batch(btc_close)
        beta = np.full(close.shape, np.nan)
        if close.size > 1:
            x, y = ra[1:], rb[1:]
            s = rolling_sum(np.stack([x * y, x, y, y * y], axis=1), self.window)
            cov, var = _cov_var(s[:, 0], s[:, 1], s[:, 2], s[:, 3], float(self.window))
            with np.errstate(invalid="ignore", divide="ignore"):
                beta[1:] = np.where(var > 0.0, cov / np.where(var > 0.0, var, 1.0), np.nan)
        spread = LogReturn(self.lookback).batch(close) - beta * LogReturn(self.lookback).batch(btc_close)
        mean, std = RollingMoments(self.window).batch(spread)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = np.where(std > 0.0, (spread - mean) / np.where(std > 0.0, std, 1.0), np.nan)
        return {"beta": beta, "spread": spread, "z": np.where(np.isnan(mean), np.nan, z)}

    def stream(self) -> BtcDivergenceState:
        return BtcDivergenceState(self)

    def decide(self, z: Num) -> tuple[npt.NDArray[np.int8], F64]:
        """(direction, edge) from the divergence z: 0 and 0.0 inside the threshold."""
        za = np.asarray(z, dtype=np.float64)
        hit = np.abs(za) >= self.cfg.threshold_std
        sign = -np.sign(za) if self.cfg.expected_reversion else np.sign(za)
        direction = np.where(hit, sign, 0).astype(np.int8)
        return direction, np.where(hit, edge_from_z(np.nan_to_num(za)), 0.0)


class BtcDivergenceState:
    __slots__ = ("_a1", "_al", "_b1", "_beta", "_bl", "_moments", "_w")

    def __init__(self, d: BtcDivergence) -> None:
        self._a1, self._b1 = LogReturn(1).stream(), LogReturn(1).stream()
        self._al, self._bl = LogReturn(d.lookback).stream(), LogReturn(d.lookback).stream()
        self._beta = ScalarRollingSums(d.window, 4)
        self._moments = RollingMoments(d.window).stream()
        self._w = float(d.window)

    def update(self, close: float, btc_close: float) -> tuple[float, float, float]:
        x, y = self._a1.update(close), self._b1.update(btc_close)
        beta = math.nan
        if x == x:
            sums = self._beta.update((x * y, x, y, y * y))
            if sums is not None:
                cov, var = _cov_var(sums[0], sums[1], sums[2], sums[3], self._w)
                beta = float(cov / var) if var > 0.0 else math.nan
        spread = self._al.update(close) - beta * self._bl.update(btc_close)
        mean, std = self._moments.update(spread)
        z = (spread - mean) / std if std > 0.0 else math.nan
        return beta, spread, z


class SectorMomentum:
    def __init__(self, cfg: SectorMomentumPolicy, ref: MarketReference, timeframe: str) -> None:
        self.cfg = cfg
        self.sectors = {k: v for k, v in ref.sectors.items() if tuple(v) != tuple(cfg.assets_in_sector)}
        self.lookback = bars_in(duration_ms(cfg.lookback), timeframe, "signals.cross_asset.sector_momentum.lookback")
        self.returns = LogReturn(self.lookback)

    def decide(
        self, returns: Mapping[str, Num], sigmas: Mapping[str, Num]
    ) -> tuple[Num, dict[str, tuple[npt.NDArray[np.int8], F64]]]:
        """(watched sector return, {member: (direction, edge)}) from lookback returns and bar sigmas.

        Elementwise: floats for one bar, aligned arrays for a history.
        """
        cfg = self.cfg
        all_rets = sector_returns(returns, {**self.sectors, WATCHED_SECTOR: tuple(cfg.assets_in_sector)})
        shape = np.broadcast_shapes(*(np.shape(v) for v in returns.values()))
        watched_raw = all_rets.pop(WATCHED_SECTOR)
        lim = cfg.min_sector_return
        if shape == ():  # one bar (live): plain floats; NaN sectors are ignored as np.fmax does below
            finite = [float(v) for v in all_rets.values() if v == v]
            best: Any = max(finite, default=-math.inf)
            worst: Any = min(finite, default=math.inf)
            watched: Any = float(watched_raw)
        else:
            stack = np.array([np.broadcast_to(np.asarray(v, dtype=np.float64), shape) for v in all_rets.values()])
            best = np.fmax.reduce(stack, axis=0, initial=-np.inf) if len(stack) else -np.inf
            worst = np.fmin.reduce(stack, axis=0, initial=np.inf) if len(stack) else np.inf
            watched = np.broadcast_to(np.asarray(watched_raw, dtype=np.float64), shape)
        sector_dir = ((watched >= lim) & (watched >= best)) * 1 - ((watched <= -lim) & (watched <= worst)) * 1
        members = [a for a in cfg.assets_in_sector if a in returns]
        sig = sector_returns({a: sigmas[a] for a in members if a in sigmas}, {"s": tuple(members)})["s"]
        den = sig * math.sqrt(self.lookback)
        if shape == ():
            z = watched / den if den > 0 else math.nan
        else:
            with np.errstate(invalid="ignore", divide="ignore"):
                z = watched / np.where(den > 0, den, np.nan)
        edge = edge_from_z(np.where(z == z, z, 0.0))
        out: dict[str, tuple[npt.NDArray[np.int8], F64]] = {}
        for a in members:
            r = returns[a]
            d = sector_dir * (((r > 0) * 1 - (r < 0) * 1) == sector_dir)
            out[a] = (np.asarray(d, dtype=np.int8), edge * (d != 0))
        return watched, out


def breakdown_applies(asset: str, corr_to_btc: float, cfg: CorrelationBreakdown, baseline: str = "BTC") -> bool:
    return (
        cfg.signal_on_breakdown and asset != baseline and corr_to_btc == corr_to_btc
        and corr_to_btc < cfg.normal_correlation - cfg.breakdown_margin
    )


def apply_correlation_breakdown(
    intent: Intent, asset: str, corr_to_btc: float, cfg: CorrelationBreakdown, baseline: str = "BTC"
) -> Intent:
    """The intent with its edge moved by ``edge_adjustment`` when the asset's BTC correlation broke."""
    if not breakdown_applies(asset, corr_to_btc, cfg, baseline):
        return intent
    edge = min(1.0, max(0.0, intent.edge_score + cfg.edge_adjustment))
    reason = (
        f"correlation breakdown: correlation to {baseline} {corr_to_btc:.2f} < "
        f"{cfg.normal_correlation - cfg.breakdown_margin:.2f}; edge {cfg.edge_adjustment:+.2f}"
    )
    return replace(intent, edge_score=edge, reasons=(*intent.reasons, reason))


def cross_intent(
    ts: int, symbol: str, direction: int, edge: float, close: float, atr: float, stop_multiple: float,
    source: str, reasons: tuple[str, ...],
) -> Intent | None:
    """An intent of a cross-asset signal with the same ATR stop as the per-asset model."""
    if direction == 0 or atr != atr:
        return None
    return Intent(
        ts=ts, symbol=symbol, side=_LONG if direction > 0 else _SHORT, edge_score=edge,
        entry_price=close, stop_price=close - direction * stop_multiple * atr, source=source, reasons=reasons,
    )
