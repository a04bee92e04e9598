"""Shared fixtures. Real exchange data lives in ../shared/data (CI has it, a user's clone may not)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.domain.market import BarSeries

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real-data folder; tests using it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA} (present in CI, absent in a user's clone)")
    return SHARED_DATA


# Real Binance candles as BarSeries, read with pandas directly so that tests of the
# signals do not depend on the loaders they are not about.
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
