"""How close the synthetic market is to the real one: four statistics, stated bands, pass or fail.

A demo, a test or a stress scenario on synthetic data is only worth something if the
data behaves like the market it stands in for, in the ways the risk engine cares about:
the size of moves (volatility), how assets move together (correlation, which drives the
correlated-exposure limit), how often extreme moves come (fat tails), and whether calm
and turbulent spells cluster (volatility clustering). Each statistic is measured on log
returns at one timeframe (hourly by default, the timeframe of the real reference files).
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantum_trader.data.resample import resample_bars
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, timeframe_ms

VOL_RATIO_BAND: Final = 1.5
"""Synthetic annualised volatility within a factor 1.5 of the real one (either way)."""
CORRELATION_BAND: Final = 0.15
"""Each pairwise correlation of returns within 0.15 of the real one."""
MIN_EXCESS_KURTOSIS: Final = 1.0
"""Synthetic excess kurtosis above 1: tails clearly fatter than a normal distribution's."""
MIN_ABS_AUTOCORR: Final = 0.05
"""Synthetic lag-1 autocorrelation of absolute returns above 0.05: volatility clusters."""


class CalibrationError(ValueError):
    """Input that cannot be calibrated (too short, misaligned, malformed file)."""


@dataclass(frozen=True)
class CalibrationStats:
    """Statistics of one market, keyed by asset code (``BTC``) whatever the input keys were."""

    timeframe: str
    annual_vol: dict[str, float]
    correlation: dict[tuple[str, str], float]
    """Pairs in the order the assets were given; returns aligned on common timestamps."""
    excess_kurtosis: dict[str, float]
    abs_autocorr: dict[str, float]
    n_returns: dict[str, int]


@dataclass(frozen=True)
class ComparisonRow:
    stat: str
    subject: str
    real: float
    synthetic: float
    band: str
    passed: bool


def _log_returns(bars: BarSeries, timeframe: str) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Close-to-close log returns at ``timeframe``, stamped by the later bar; only consecutive bars."""
    if bars.timeframe != timeframe:
        bars = resample_bars(bars, timeframe)
    step = timeframe_ms(timeframe)
    if not bool(np.all(bars.close > 0)):
        raise CalibrationError(f"{bars.symbol}: non-positive close prices, no log returns")
    consecutive = np.diff(bars.ts) == step
    r = np.diff(np.log(bars.close))[consecutive]
    return bars.ts[1:][consecutive], r


def _kurtosis(r: npt.NDArray[np.float64]) -> float:
    d = r - r.mean()
    return float(np.mean(d**4) / np.mean(d**2) ** 2 - 3.0)


def _abs_autocorr(r: npt.NDArray[np.float64]) -> float:
    a = np.abs(r - r.mean())
    return float(np.corrcoef(a[1:], a[:-1])[0, 1])


def calibration_stats(bars_by_asset: dict[str, BarSeries], timeframe: str = "1h") -> CalibrationStats:
    """Volatility, correlation, tails and clustering of each asset's returns at ``timeframe``."""
    periods_per_year = 365 * MS_PER_DAY / timeframe_ms(timeframe)
    returns: dict[str, tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]] = {}
    for key, bars in bars_by_asset.items():
        ts, r = _log_returns(bars, timeframe)
        if r.size < 48:
            raise CalibrationError(f"{key}: only {r.size} {timeframe} returns; at least 48 are needed")
        returns[asset_of(key)] = (ts, r)
    corr: dict[tuple[str, str], float] = {}
    for a, b in combinations(returns, 2):
        common, ia, ib = np.intersect1d(returns[a][0], returns[b][0], assume_unique=True, return_indices=True)
        if common.size < 48:
            raise CalibrationError(f"{a} and {b} share only {common.size} {timeframe} returns; need 48")
        corr[(a, b)] = float(np.corrcoef(returns[a][1][ia], returns[b][1][ib])[0, 1])
    return CalibrationStats(
        timeframe=timeframe,
        annual_vol={k: float(r.std() * np.sqrt(periods_per_year)) for k, (_, r) in returns.items()},
        correlation=corr,
        excess_kurtosis={k: _kurtosis(r) for k, (_, r) in returns.items()},
        abs_autocorr={k: _abs_autocorr(r) for k, (_, r) in returns.items()},
        n_returns={k: int(r.size) for k, (_, r) in returns.items()},
    )


def _pair_value(stats: CalibrationStats, a: str, b: str) -> float | None:
    if (a, b) in stats.correlation:
        return stats.correlation[(a, b)]
    return stats.correlation.get((b, a))


def compare(real: CalibrationStats, synthetic: CalibrationStats) -> list[ComparisonRow]:
    """Side-by-side rows for every asset and pair present in both, each checked against its band."""
    assets = [a for a in real.annual_vol if a in synthetic.annual_vol]
    if not assets:
        raise CalibrationError(
            f"no asset in common: real has {sorted(real.annual_vol)}, "
            f"synthetic has {sorted(synthetic.annual_vol)}"
        )
    rows: list[ComparisonRow] = []
    for a in assets:
        rv, sv = real.annual_vol[a], synthetic.annual_vol[a]
        rows.append(ComparisonRow("annual vol", a, rv, sv, f"x1/{VOL_RATIO_BAND:g}..x{VOL_RATIO_BAND:g}",
                                  rv / VOL_RATIO_BAND <= sv <= rv * VOL_RATIO_BAND))
    for a, b in combinations(assets, 2):
        rc, sc = _pair_value(real, a, b), _pair_value(synthetic, a, b)
        if rc is None or sc is None:
            continue
        rows.append(ComparisonRow("correlation", f"{a}-{b}", rc, sc, f"±{CORRELATION_BAND:g}",
                                  abs(sc - rc) <= CORRELATION_BAND))
    for a in assets:
        sk = synthetic.excess_kurtosis[a]
        rows.append(ComparisonRow("excess kurtosis", a, real.excess_kurtosis[a], sk,
                                  f"> {MIN_EXCESS_KURTOSIS:g}", sk > MIN_EXCESS_KURTOSIS))
    for a in assets:
        sa = synthetic.abs_autocorr[a]
        rows.append(ComparisonRow("|r| autocorr lag 1", a, real.abs_autocorr[a], sa,
                                  f"> {MIN_ABS_AUTOCORR:g}", sa > MIN_ABS_AUTOCORR))
    return rows


def embedded_targets(assets: tuple[str, ...]) -> CalibrationStats:
    """The targets embedded in the generator (measured on real hourly data, see synthetic/params.py)."""
    from quantum_trader.data.synthetic.params import asset_params, correlation_for

    codes = tuple(asset_of(a) for a in assets)
    params = [asset_params(c) for c in codes]
    matrix = correlation_for(codes)
    return CalibrationStats(
        timeframe="1h",
        annual_vol={p.asset: p.annual_vol for p in params},
        correlation={
            (codes[i], codes[j]): float(matrix[i, j]) for i, j in combinations(range(len(codes)), 2)
        },
        excess_kurtosis={p.asset: p.ref_excess_kurtosis for p in params},
        abs_autocorr={p.asset: p.ref_abs_autocorr for p in params},
        n_returns={p.asset: 0 for p in params},
    )


def read_candle_csv(path: Path) -> BarSeries:
    """Read a ``timestamp,open,high,low,close,volume`` CSV (ISO times, oldest first) such as the
    Binance hourly reference files; the symbol comes from the file name (``BTCUSDT`` -> ``BTC/USDT``).
    """
    stem = path.name.split(".")[0].upper()
    if not stem.endswith("USDT") or stem == "USDT":
        raise CalibrationError(f"{path}: file name must be <ASSET>USDT.csv[.gz], e.g. BTCUSDT.csv.gz")
    symbol = f"{stem.removesuffix('USDT')}/USDT"
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as exc:
        raise CalibrationError(f"{path}: cannot read as CSV: {exc}") from None
    missing = {"timestamp", "open", "high", "low", "close", "volume"} - set(frame.columns)
    if missing:
        raise CalibrationError(f"{path}: missing column(s) {sorted(missing)}")
    ts = pd.to_datetime(frame["timestamp"], utc=True, errors="coerce")
    if ts.isna().any():
        row = int(np.flatnonzero(ts.isna().to_numpy())[0]) + 2
        bad = frame["timestamp"].iloc[row - 2]
        raise CalibrationError(f"{path}: row {row}: unreadable timestamp {bad!r}")
    ms = ts.dt.tz_localize(None).to_numpy(dtype="datetime64[ms]").astype(np.int64)
    step = np.diff(ms)
    timeframe = "1h" if step.size == 0 else f"{int(np.median(step)) // 60_000}m"
    if timeframe.endswith("m") and int(timeframe[:-1]) % 60 == 0:
        timeframe = f"{int(timeframe[:-1]) // 60}h"
    cols = {c: frame[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")}
    try:
        return BarSeries(
            symbol, timeframe, ms, cols["open"], cols["high"], cols["low"], cols["close"], cols["volume"]
        )
    except ValueError as exc:
        raise CalibrationError(f"{path}: {exc}") from None


def read_reference_folder(folder: Path) -> dict[str, BarSeries]:
    """Every ``*USDT.csv.gz`` / ``*USDT.csv`` candle file of ``folder``, keyed by asset code."""
    if not folder.is_dir():
        raise CalibrationError(f"{folder}: real reference folder not found")
    files = sorted([*folder.glob("*.csv.gz"), *folder.glob("*.csv")])
    if not files:
        raise CalibrationError(f"{folder}: no candle CSV files (expected e.g. BTCUSDT.csv.gz)")
    out: dict[str, BarSeries] = {}
    for f in files:
        bars = read_candle_csv(f)
        out[asset_of(bars.symbol)] = bars
    return out
