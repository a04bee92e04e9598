"""Embedded calibration of the synthetic market: every number here was measured once, then frozen.

The generator must run on a user's machine without the real data, so the estimates live
in code. How they were obtained (scripted once over the five real files
``binance_spot_1h/{BTC,ETH,SOL,XRP,AAVE}USDT.csv.gz``, 17,520 hourly log returns each,
2024-01-21 .. 2026-01-20 UTC):

* ``annual_vol``: standard deviation of hourly log returns x sqrt(24 * 365).
* ``CORRELATION``: Pearson correlation of the same hourly log returns (3 decimals).
* ``HOUR_OF_DAY_VOL``: root mean square of per-asset standardised returns by UTC hour,
  averaged over the five assets and normalised to mean 1 (the US session is loudest).
* ``WEEKEND_VOL``: weekend / weekday ratio of that root mean square (0.756).
* ``garch_alpha``, ``garch_beta``, ``tail_df``: GARCH(1,1) with Student-t innovations,
  fitted by maximum likelihood on the de-seasonalised returns. The fit put alpha at
  0.095-0.154 and alpha + beta at 0.98-0.999; we keep alpha and set beta so that
  alpha + beta = 0.975, because the regime chain (regimes.py) already carries the slow,
  near-integrated part of the volatility, and the two stacked would double count it. The
  fitted t degrees of freedom (3.4-4.6) are floored at 4.0 so that hourly kurtosis stays
  finite and a 90-day sample does not swing wildly.
* ``ref_excess_kurtosis``, ``ref_abs_autocorr``: the real sample's excess kurtosis and
  lag-1 autocorrelation of absolute hourly returns, kept for side-by-side reports.

BNB, AVAX, LINK and MATIC have no real file. Each borrows from the closest real asset:
BNB (large-cap exchange token) takes ETH's correlations x 0.9 and a volatility between
BTC and ETH; AVAX (high-beta L1) takes SOL's row and 1.1 x SOL's volatility; LINK and
MATIC (DeFi / L2 alts) take AAVE's row and volatility (MATIC x 1.05). Two assets that
borrow from the same proxy get 0.75 between them (same-sector co-movement, below 1 so
they stay distinct). The resulting 8 x 8 matrix is positive definite (smallest
eigenvalue 0.149), which ``cholesky()`` checks at import time of the generator.

Price levels, volumes, depths and spreads are round figures of early-2025 perpetual
markets (Binance USD-M): they set the scale, the dynamics come from the model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt


@dataclass(frozen=True, slots=True)
class AssetParams:
    """Everything the generator needs to know about one asset; see the module docstring for sources."""

    asset: str
    start_price: float
    annual_vol: float
    garch_alpha: float
    garch_beta: float
    tail_df: float
    daily_usd_volume: float
    """Mean 24h perpetual volume in USD."""
    depth_1pct_usd: float
    """Median quote depth within 1% of mid, per side, in calm conditions."""
    spread: float
    """Median relative bid-ask spread."""
    funding_noise: float
    """Standard deviation of the 8h funding innovation (alts' funding is jumpier)."""
    supply_fallback: float
    """Circulating supply used only when the policy's supply table lacks the asset."""
    ref_excess_kurtosis: float
    ref_abs_autocorr: float
    proxy: str
    """The real asset the statistics come from (itself when a real file exists)."""


ASSET_ORDER: Final = ("BTC", "ETH", "SOL", "BNB", "XRP", "AVAX", "LINK", "MATIC")
REAL_ASSETS: Final = ("BTC", "ETH", "SOL", "XRP")
"""Assets whose statistics were measured directly (AAVE was measured too, used only as a proxy)."""

ASSET_PARAMS: Final[dict[str, AssetParams]] = {
    p.asset: p
    for p in (
        AssetParams("BTC", 90_000.0, 0.480, 0.154, 0.821, 4.0, 18e9, 25e6, 0.00010, 0.00005, 19.8e6,
                    9.75, 0.271, "BTC"),
        AssetParams("ETH", 3_000.0, 0.681, 0.111, 0.864, 4.0, 9e9, 15e6, 0.00012, 0.00006, 120.5e6,
                    17.40, 0.213, "ETH"),
        AssetParams("SOL", 150.0, 0.878, 0.095, 0.880, 4.6, 3e9, 9e6, 0.00020, 0.00009, 470e6,
                    9.70, 0.242, "SOL"),
        AssetParams("BNB", 600.0, 0.600, 0.111, 0.864, 4.0, 1.2e9, 7e6, 0.00025, 0.00007, 145e6,
                    17.40, 0.213, "ETH"),
        AssetParams("XRP", 0.60, 0.870, 0.139, 0.836, 4.0, 2e9, 9e6, 0.00020, 0.00009, 57e9,
                    25.97, 0.371, "XRP"),
        AssetParams("AVAX", 35.0, 0.966, 0.095, 0.880, 4.6, 0.6e9, 7e6, 0.00035, 0.00012, 410e6,
                    9.70, 0.242, "SOL"),
        AssetParams("LINK", 15.0, 1.007, 0.100, 0.875, 4.6, 0.5e9, 6e6, 0.00035, 0.00012, 630e6,
                    9.32, 0.239, "AAVE"),
        AssetParams("MATIC", 0.70, 1.057, 0.100, 0.875, 4.6, 0.3e9, 4.5e6, 0.00040, 0.00014, 9.9e9,
                    9.32, 0.239, "AAVE"),
    )
}

# Pearson correlation of hourly log returns, rows/columns in ASSET_ORDER.
# Measured: BTC-ETH .805, BTC-SOL .754, BTC-XRP .630, ETH-SOL .761, ETH-XRP .659, SOL-XRP .637,
# and with AAVE: BTC .656, ETH .768, SOL .675, XRP .608. The other entries follow the proxy rules.
_CORRELATION_ROWS: Final = (
    (1.000, 0.805, 0.754, 0.724, 0.630, 0.754, 0.656, 0.656),
    (0.805, 1.000, 0.761, 0.700, 0.659, 0.761, 0.768, 0.768),
    (0.754, 0.761, 1.000, 0.685, 0.637, 0.750, 0.675, 0.675),
    (0.724, 0.700, 0.685, 1.000, 0.593, 0.685, 0.691, 0.691),
    (0.630, 0.659, 0.637, 0.593, 1.000, 0.637, 0.608, 0.608),
    (0.754, 0.761, 0.750, 0.685, 0.637, 1.000, 0.675, 0.675),
    (0.656, 0.768, 0.675, 0.691, 0.608, 0.675, 1.000, 0.750),
    (0.656, 0.768, 0.675, 0.691, 0.608, 0.675, 0.750, 1.000),
)
CORRELATION: Final = np.array(_CORRELATION_ROWS, dtype=np.float64)

HOUR_OF_DAY_VOL: Final = np.array(
    [1.065, 1.147, 0.948, 0.833, 0.811, 0.804, 0.870, 0.837, 0.935, 0.791, 0.759, 0.808,
     0.908, 1.191, 1.361, 1.336, 1.111, 1.176, 1.064, 1.111, 1.060, 1.004, 0.945, 0.762],
    dtype=np.float64,
)
WEEKEND_VOL: Final = 0.756


class UnknownAssetError(ValueError):
    """An asset the synthetic market has no parameters for."""


def asset_params(asset: str) -> AssetParams:
    try:
        return ASSET_PARAMS[asset]
    except KeyError:
        raise UnknownAssetError(
            f"synthetic market has no parameters for asset {asset!r}; known: {', '.join(ASSET_ORDER)}"
        ) from None


def correlation_for(assets: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """The embedded target correlation sub-matrix for ``assets`` in the given order."""
    idx = [ASSET_ORDER.index(asset_params(a).asset) for a in assets]
    return CORRELATION[np.ix_(idx, idx)].copy()


def cholesky(assets: tuple[str, ...]) -> npt.NDArray[np.float64]:
    """Lower Cholesky factor of the target correlation; fails loudly if it is not positive definite."""
    corr = correlation_for(assets)
    try:
        return np.asarray(np.linalg.cholesky(corr), dtype=np.float64)
    except np.linalg.LinAlgError:
        raise ValueError(f"embedded correlation matrix for {assets} is not positive definite") from None
