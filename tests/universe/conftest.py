"""Real Binance candles as BarSeries, read with pandas from ../shared/data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.domain.market import BarSeries

SPOT_1H = ("BTC", "ETH", "SOL", "XRP", "AAVE")


def read_candles(path: Path, symbol: str, timeframe: str) -> BarSeries:
    df = pd.read_csv(path)
    ts = pd.to_datetime(df["timestamp"], utc=True).dt.as_unit("ms").astype("int64").to_numpy()
    cols = [df[c].to_numpy(dtype=np.float64) for c in ("open", "high", "low", "close", "volume")]
    return BarSeries(symbol, timeframe, ts.astype(np.int64), *cols)


@pytest.fixture(scope="session")
def real_1m(shared_data: Path) -> BarSeries:
    return read_candles(shared_data / "candles/binance_perp_1m/BTCUSDT-PERP_2022-01.csv.gz", "BTC/USDT:USDT", "1m")


@pytest.fixture(scope="session")
def real_1h(shared_data: Path) -> dict[str, BarSeries]:
    """Hourly spot candles (a stand-in for perpetuals: spot and perp differ by the basis)."""
    return {
        a: read_candles(shared_data / f"candles/binance_spot_1h/{a}USDT.csv.gz", f"{a}/USDT:USDT", "1h")
        for a in SPOT_1H
    }
