"""The real perp 1m file states volume in USDT: ingest must store base units when told so."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quantum_trader.data.catalog import Catalog
from quantum_trader.data.ingest import ingest_file


def test_quote_volume_is_stored_as_base_units(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "candles" / "binance_perp_1m" / "BTCUSDT-PERP_2022-01.csv.gz"
    catalog = Catalog(tmp_path / "catalog")
    ingest_file(catalog, path, symbol="BTC/USDT:USDT", timeframe="1m", volume_unit="quote", repair=True)
    bars = catalog.read_bars("BTC/USDT:USDT", "1m")
    raw = pd.read_csv(path)
    assert len(bars) == len(raw) == 45_031
    np.testing.assert_allclose(bars.volume[:100], raw["volume"].to_numpy()[:100] / raw["close"].to_numpy()[:100])
