"""The embedded calibration constants agree with the real data they were measured on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.data.synthetic.params import (
    ASSET_ORDER,
    ASSET_PARAMS,
    CORRELATION,
    REAL_ASSETS,
    cholesky,
    correlation_for,
)

pytestmark = pytest.mark.shared_data


def _hourly_log_returns(folder: Path, asset: str) -> pd.Series:
    frame = pd.read_csv(folder / f"{asset}USDT.csv.gz", parse_dates=["timestamp"])
    close = frame.set_index("timestamp")["close"]
    return pd.Series(np.log(close).diff().dropna())


def test_embedded_matrix_is_a_positive_definite_correlation_matrix() -> None:
    assert CORRELATION.shape == (len(ASSET_ORDER), len(ASSET_ORDER))
    np.testing.assert_array_equal(CORRELATION, CORRELATION.T)
    np.testing.assert_array_equal(np.diag(CORRELATION), 1.0)
    chol = cholesky(ASSET_ORDER)
    np.testing.assert_allclose(chol @ chol.T, CORRELATION, atol=1e-12)
    assert np.linalg.eigvalsh(CORRELATION).min() > 0.1


def test_embedded_correlation_and_vol_match_the_real_hourly_files(shared_data: Path) -> None:
    folder = shared_data / "candles" / "binance_spot_1h"
    returns = pd.DataFrame({a: _hourly_log_returns(folder, a) for a in REAL_ASSETS}).dropna()
    real = returns.corr().to_numpy()
    embedded = correlation_for(REAL_ASSETS)
    assert np.max(np.abs(real - embedded)) <= 0.05
    for asset in REAL_ASSETS:
        real_vol = returns[asset].std() * np.sqrt(24 * 365)
        assert ASSET_PARAMS[asset].annual_vol == pytest.approx(real_vol, rel=0.05)


def test_proxied_assets_take_their_proxy_from_a_real_file(shared_data: Path) -> None:
    folder = shared_data / "candles" / "binance_spot_1h"
    for params in ASSET_PARAMS.values():
        assert (folder / f"{params.proxy}USDT.csv.gz").is_file(), params.asset
    aave = _hourly_log_returns(folder, "AAVE")
    aave_vol = aave.std() * np.sqrt(24 * 365)
    assert ASSET_PARAMS["LINK"].annual_vol == pytest.approx(aave_vol, rel=0.05)
