"""The market around the traded assets: total market cap, BTC dominance, sector performance.

* Market cap of an asset = close x circulating supply from ``market_reference.
  circulating_supply`` (a static table: supply moves slowly next to price). The total is
  the sum over the assets we are given, so "dominance" is BTC's share of the tracked
  universe, not of every coin in existence; pass ``external_total`` (e.g. a catalog series
  of total crypto market cap) to measure against the whole market instead.
* Sector performance = the equal-weighted mean of the members' log returns over a
  lookback, for each sector of ``market_reference.sectors``; members without data are
  left out, a sector with none is NaN. Equal weights keep one large member from being
  the whole sector.

Every function is elementwise over assets, so the same code serves one bar (floats,
live) and a whole history (aligned arrays, batch).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from quantum_trader.config.operations import MarketReference
from quantum_trader.indicators.bar_indicators import LogReturn, LogReturnState

F64 = npt.NDArray[np.float64]
Num = F64 | float


class MarketReferenceError(ValueError):
    """An asset the reference tables do not cover; names the policy key to extend."""


def market_caps(closes: Mapping[str, Num], ref: MarketReference) -> dict[str, Num]:
    """Close x circulating supply for every asset given."""
    caps: dict[str, Num] = {}
    for asset, close in closes.items():
        supply = ref.circulating_supply.get(asset)
        if supply is None:
            raise MarketReferenceError(
                f"market_reference.circulating_supply has no entry for {asset}; add its supply to the policy"
            )
        caps[asset] = close * supply
    return caps


def total_market_cap(caps: Mapping[str, Num], external_total: Num | None = None) -> Num:
    """Sum of the given caps, or the external series when one is supplied."""
    if external_total is not None:
        return external_total
    if not caps:
        raise MarketReferenceError("total market cap of no assets: pass at least one asset or an external series")
    total: Num = 0.0
    for cap in caps.values():
        total = total + cap
    return total


def btc_dominance(caps: Mapping[str, Num], total: Num, btc: str = "BTC") -> Num:
    """BTC's share of ``total`` in [0, 1] (of the tracked universe unless ``total`` is external)."""
    if btc not in caps:
        raise MarketReferenceError(f"BTC dominance needs {btc} among the assets, got {sorted(caps)}")
    return caps[btc] / total


def sector_returns(returns: Mapping[str, Num], sectors: Mapping[str, tuple[str, ...]]) -> dict[str, Num]:
    """Equal-weighted mean return of each sector's members that have a finite return."""
    out: dict[str, Num] = {}
    for sector, members in sectors.items():
        vals = [returns[a] for a in members if a in returns]
        if not vals:
            out[sector] = math.nan
            continue
        if all(isinstance(v, float) for v in vals):  # one bar (live): plain floats, same formula
            good = [float(v) for v in vals if math.isfinite(v)]
            out[sector] = sum(good) / len(good) if good else math.nan
            continue
        stacked = np.asarray(vals, dtype=np.float64)
        finite = np.isfinite(stacked)
        count = finite.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(finite, stacked, 0.0).sum(axis=0) / np.where(count > 0, count, np.nan)
        out[sector] = float(mean) if mean.ndim == 0 else np.asarray(mean, dtype=np.float64)
    return out


@dataclass(frozen=True, slots=True)
class MarketPictureFrame:
    total_market_cap: Num
    btc_dominance: Num
    sector_returns: dict[str, Num]


class MarketPicture:
    """Dominance, total cap and sector returns over ``lookback`` bars, batch or live."""

    def __init__(self, assets: tuple[str, ...] | list[str], ref: MarketReference, lookback: int,
                 btc: str = "BTC") -> None:
        self.assets = tuple(assets)
        self.ref = ref
        self.btc = btc
        self.returns = LogReturn(lookback)
        market_caps(dict.fromkeys(self.assets, 1.0), ref)  # fail at construction on a missing supply

    def batch(self, closes: Mapping[str, F64], external_total: F64 | None = None) -> MarketPictureFrame:
        caps = market_caps({a: closes[a] for a in self.assets}, self.ref)
        total = total_market_cap(caps, external_total)
        rets = {a: self.returns.batch(closes[a]) for a in self.assets}
        return MarketPictureFrame(total, btc_dominance(caps, total, self.btc), sector_returns(rets, self.ref.sectors))

    def stream(self) -> MarketPictureState:
        return MarketPictureState(self)


class MarketPictureState:
    def __init__(self, picture: MarketPicture) -> None:
        self.p = picture
        self._rets: dict[str, LogReturnState] = {a: picture.returns.stream() for a in picture.assets}

    def update(self, closes: Mapping[str, float], external_total: float | None = None) -> MarketPictureFrame:
        p = self.p
        caps = market_caps({a: closes[a] for a in p.assets}, p.ref)
        total = total_market_cap(caps, external_total)
        rets: dict[str, Num] = {a: self._rets[a].update(closes[a]) for a in p.assets}
        return MarketPictureFrame(total, btc_dominance(caps, total, p.btc), sector_returns(rets, p.ref.sectors))
