"""Calibration statistics, bands, and the synthetic market measured against them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.data.calibration import (
    CORRELATION_BAND,
    CalibrationError,
    calibration_stats,
    compare,
    embedded_targets,
    read_candle_csv,
    read_reference_folder,
)
from quantum_trader.data.synthetic import SynthConfig, generate_market
from quantum_trader.data.synthetic.params import ASSET_ORDER, REAL_ASSETS
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.time import MS_PER_HOUR


def _bars(symbol: str, log_returns: np.ndarray, timeframe: str = "1h") -> BarSeries:
    close = 100.0 * np.exp(np.concatenate([[0.0], np.cumsum(log_returns)]))
    ts = np.arange(close.size, dtype=np.int64) * MS_PER_HOUR
    return BarSeries(symbol, timeframe, ts, close, close, close, close, np.ones(close.size))


def test_stats_on_a_known_gaussian_market() -> None:
    rng = np.random.default_rng(0)
    n = 20_000
    common = rng.standard_normal(n)
    a = 0.01 * common
    b = 0.02 * (0.6 * common + 0.8 * rng.standard_normal(n))
    stats = calibration_stats({"AAA/USDT:USDT": _bars("AAA/USDT:USDT", a), "BBB": _bars("BBB", b)})
    assert stats.annual_vol["AAA"] == pytest.approx(0.01 * np.sqrt(8760), rel=0.02)
    assert stats.annual_vol["BBB"] == pytest.approx(0.02 * np.sqrt(8760), rel=0.02)
    assert stats.correlation[("AAA", "BBB")] == pytest.approx(0.6, abs=0.02)
    assert abs(stats.excess_kurtosis["AAA"]) < 0.15  # Gaussian: no fat tails
    assert abs(stats.abs_autocorr["AAA"]) < 0.03  # iid: no clustering


def test_compare_flags_each_kind_of_miss() -> None:
    rng = np.random.default_rng(1)
    n = 5_000
    common = rng.standard_normal(n)
    cluster = np.repeat(rng.uniform(0.3, 2, n // 50), 50)  # calm and wild spells of 50 hours
    real = calibration_stats({
        "AAA": _bars("AAA", 0.01 * cluster * (0.8 * common + 0.6 * rng.standard_t(4, n) / np.sqrt(2))),
        "BBB": _bars("BBB", 0.01 * (0.9 * common + 0.44 * rng.standard_normal(n))),
    })
    # Gaussian, too volatile and uncorrelated: vol, correlation, kurtosis and clustering all miss
    synthetic = calibration_stats({
        "AAA": _bars("AAA", 0.05 * rng.standard_normal(n)),
        "BBB": _bars("BBB", 0.01 * rng.standard_normal(n)),
    })
    rows = {(r.stat, r.subject): r for r in compare(real, synthetic)}
    assert not rows[("annual vol", "AAA")].passed
    assert rows[("annual vol", "BBB")].passed
    assert not rows[("correlation", "AAA-BBB")].passed
    assert rows[("correlation", "AAA-BBB")].band == f"±{CORRELATION_BAND:g}"
    assert not rows[("excess kurtosis", "AAA")].passed
    assert not rows[("|r| autocorr lag 1", "BBB")].passed
    assert real.excess_kurtosis["AAA"] > 1 and real.abs_autocorr["AAA"] > 0.05


def test_compare_needs_a_common_asset_and_stats_need_enough_data() -> None:
    rng = np.random.default_rng(2)
    x = calibration_stats({"AAA": _bars("AAA", rng.standard_normal(100))})
    y = calibration_stats({"BBB": _bars("BBB", rng.standard_normal(100))})
    with pytest.raises(CalibrationError, match="no asset in common"):
        compare(x, y)
    with pytest.raises(CalibrationError, match="AAA: only 10 1h returns"):
        calibration_stats({"AAA": _bars("AAA", rng.standard_normal(10))})


@pytest.mark.parametrize(("days", "seed"), [(90, 7), (365, 11)])
def test_synthetic_market_is_within_bands_of_its_embedded_targets(days: int, seed: int) -> None:
    market = generate_market(SynthConfig(days=days, seed=seed))
    rows = compare(embedded_targets(ASSET_ORDER), calibration_stats(market.bars, "1h"))
    assert len(rows) == 8 + 28 + 8 + 8
    failed = [r for r in rows if not r.passed]
    assert not failed, failed


def _real_hourly(shared_data: Path) -> dict[str, BarSeries]:
    folder = shared_data / "candles" / "binance_spot_1h"
    out = {}
    for asset in REAL_ASSETS:
        frame = pd.read_csv(folder / f"{asset}USDT.csv.gz")
        stamps = pd.to_datetime(frame["timestamp"], utc=True).dt.tz_localize(None)
        ts = stamps.to_numpy(dtype="datetime64[ms]").astype(np.int64)
        cols = [frame[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")]
        out[asset] = BarSeries(f"{asset}/USDT", "1h", ts, *cols)
    return out


@pytest.mark.shared_data
@pytest.mark.parametrize(("days", "seed"), [(90, 7), (365, 11)])
def test_synthetic_market_is_within_bands_of_the_real_hourly_data(
    shared_data: Path, days: int, seed: int
) -> None:
    real = calibration_stats(_real_hourly(shared_data), "1h")
    market = generate_market(SynthConfig(days=days, seed=seed))
    rows = compare(real, calibration_stats(market.bars, "1h"))
    assert {r.subject for r in rows if r.stat == "annual vol"} == set(REAL_ASSETS)
    failed = [r for r in rows if not r.passed]
    assert not failed, failed


@pytest.mark.shared_data
def test_reference_folder_reader_matches_pandas(shared_data: Path) -> None:
    folder = shared_data / "candles" / "binance_spot_1h"
    bars = read_reference_folder(folder)
    assert set(bars) == {"BTC", "ETH", "SOL", "XRP", "AAVE"}
    btc = bars["BTC"]
    assert btc.symbol == "BTC/USDT" and btc.timeframe == "1h" and len(btc) == 17_521
    assert btc.close[0] == 41648.51


def test_reader_names_the_file_and_row_of_bad_input(tmp_path: Path) -> None:
    bad = tmp_path / "BTCUSDT.csv"
    bad.write_text("timestamp,open,high,low,close,volume\n"
                   "2024-01-01 00:00:00+00:00,1,1,1,1,1\nnot-a-time,1,1,1,1,1\n")
    with pytest.raises(CalibrationError, match=r"BTCUSDT.csv: row 3: unreadable timestamp 'not-a-time'"):
        read_candle_csv(bad)
    short = tmp_path / "ETHUSDT.csv"
    short.write_text("timestamp,open,close\n")
    missing = r"ETHUSDT.csv: missing column\(s\) \['high', 'low', 'volume'\]"
    with pytest.raises(CalibrationError, match=missing):
        read_candle_csv(short)
    with pytest.raises(CalibrationError, match="not found"):
        read_reference_folder(tmp_path / "nope")
