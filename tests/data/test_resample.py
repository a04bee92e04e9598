"""Resampling equals an independent pandas resample of the real Binance 1m file, bar for bar."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.data.resample import ResampleError, resample_bars, resample_trade_flow
from quantum_trader.domain.market import BarSeries, TradeFlowSeries

MIN = 60_000
HOUR = 60 * MIN


def _real_1m(shared_data: Path) -> tuple[pd.DataFrame, BarSeries]:
    raw = pd.read_csv(shared_data / "candles/binance_perp_1m/BTCUSDT-PERP_2022-01.csv.gz")
    index = pd.to_datetime(raw["timestamp"], utc=True)
    frame = raw.drop(columns="timestamp").astype(float).set_index(index)
    ts = pd.DatetimeIndex(index).as_unit("ms").asi8
    bars = BarSeries("BTC/USDT:USDT", "1m", ts, *(frame[c].to_numpy() for c in ("open", "high", "low", "close",
                                                                               "volume")))
    return frame, bars


def _pandas(frame: pd.DataFrame, rule: str) -> pd.DataFrame:
    agg = {"open": "first", "high": "max", "low": "min", "close": "last", "volume": "sum"}
    out = frame.resample(rule, label="left", closed="left").agg(agg)
    return out[frame["open"].resample(rule, label="left", closed="left").count() > 0]


@pytest.mark.parametrize(("timeframe", "rule"), [("5m", "5min"), ("1h", "1h"), ("4h", "4h"), ("15m", "15min")])
def test_matches_pandas_on_real_file(shared_data: Path, timeframe: str, rule: str) -> None:
    frame, bars = _real_1m(shared_data)
    ours = resample_bars(bars, timeframe, keep_partial=True)
    theirs = _pandas(frame, rule)
    np.testing.assert_array_equal(ours.ts, pd.DatetimeIndex(theirs.index).as_unit("ms").asi8)
    for col in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(ours, col), theirs[col].to_numpy(), err_msg=col)
    # sums in a different order may differ in the last ulp; reduceat adds left to right like pandas
    np.testing.assert_array_equal(ours.volume, theirs["volume"].to_numpy())


def test_trailing_partial_bucket_is_dropped_by_default(shared_data: Path) -> None:
    _, bars = _real_1m(shared_data)  # ends 2022-02-01 05:31: the 05:00 hour is incomplete
    hourly = resample_bars(bars, "1h")
    with_partial = resample_bars(bars, "1h", keep_partial=True)
    assert len(with_partial) == len(hourly) + 1
    assert hourly.ts[-1] == with_partial.ts[-2] == (bars.ts[-1] // HOUR - 1) * HOUR


def test_chained_equals_direct(shared_data: Path) -> None:
    _, bars = _real_1m(shared_data)
    direct = resample_bars(bars, "1h")
    chained = resample_bars(resample_bars(bars, "5m"), "1h")
    for col in ("ts", "open", "high", "low", "close"):
        np.testing.assert_array_equal(getattr(chained, col), getattr(direct, col))
    np.testing.assert_allclose(chained.volume, direct.volume, rtol=1e-12)


def test_epoch_alignment_and_gaps() -> None:
    ts = np.array([3, 4, 5, 6, 7, 9, 20, 21, 22, 23, 24], dtype=np.int64) * MIN
    n = ts.size
    price = np.arange(1.0, n + 1)
    bars = BarSeries("X/USDT:USDT", "1m", ts, price, price + 1, price - 1, price + 0.5, np.ones(n))
    out = resample_bars(bars, "5m")
    # buckets [0,5) [5,10) [20,25); empty [10,20) produce no bars; the last bucket is complete at 24
    assert out.ts.tolist() == [0, 5 * MIN, 20 * MIN]
    assert out.open.tolist() == [1.0, 3.0, 7.0] and out.close.tolist() == [2.5, 6.5, 11.5]
    assert out.high.tolist() == [3.0, 7.0, 12.0] and out.low.tolist() == [0.0, 2.0, 6.0]
    assert out.volume.tolist() == [2.0, 4.0, 5.0]


def test_trade_flow_sums() -> None:
    ts = np.arange(10, dtype=np.int64) * MIN
    flow = TradeFlowSeries("X/USDT:USDT", "1m", ts, np.ones(10), np.arange(10.0))
    out = resample_trade_flow(flow, "5m")
    assert out.taker_buy_volume.tolist() == [5.0, 5.0] and out.taker_sell_volume.tolist() == [10.0, 35.0]
    assert len(resample_trade_flow(flow.__class__("X/USDT:USDT", "1m", ts[:7], np.ones(7), np.ones(7)), "5m")) == 1


def test_target_must_be_a_multiple() -> None:
    bars = BarSeries("X/USDT:USDT", "5m", np.array([0], dtype=np.int64), *(np.ones(1) for _ in range(5)))
    with pytest.raises(ResampleError, match="cannot resample 5m to 7m"):
        resample_bars(bars, "7m")
    with pytest.raises(ResampleError, match="cannot resample 5m to 1m"):
        resample_bars(bars, "1m")
    assert resample_bars(bars, "5m") is bars
