"""Shared fixtures and the hypothesis profile. Real exchange data lives in ../shared/data (CI has it,
a user's clone may not).

``QT_HYPOTHESIS_PROFILE`` names the hypothesis profile (``.ci/run`` sets ``ci``); it is
loaded here, before any test module is imported, so every ``@settings(...)`` built at
import inherits it. ``ci`` is deterministic (``derandomize``: the same examples every
run, so a red build is reproducible and never a fluke of the seed), has no deadline (a
shared CI machine's pauses are not bugs) and allows 150 examples where the default
allows 100; the risk property tests scale their own budgets by the same ratio
(tests/risk/budget.py).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, settings

from quantum_trader.domain.market import BarSeries

settings.register_profile(
    "ci",
    parent=settings.get_profile("default"),
    max_examples=150,
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "local",
    parent=settings.get_profile("default"),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
"""``make test`` on a developer's machine: random examples, but no deadline either (a busy laptop's pauses
failed a YAML property test at 252 ms against hypothesis' default 200 ms). Its parent is named: with ``CI``
set, hypothesis loads a profile of its own called ``ci``, and re-registering ours reloads it, so an
unnamed parent made ``local`` inherit the CI settings."""
settings.load_profile(os.environ.get("QT_HYPOTHESIS_PROFILE", "local"))

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
