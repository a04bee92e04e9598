"""What the run folder added for attribution: prices.parquet, and trades of earlier versions still loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.analytics.test_run_folder import trade_row

from quantum_trader.analytics.run_folder import RunFolder, RunFolderError, hourly_closes
from quantum_trader.domain.time import MS_PER_HOUR, MS_PER_MINUTE, parse_time
from quantum_trader.engine.schema import PRICE_COLUMNS

T0 = parse_time("2026-01-01")


def old_trades(**overrides: object) -> pd.DataFrame:
    """A trades file as runs wrote it before funding_paid, signal and entry_slippage: ``funding`` was received."""
    row = trade_row(**overrides)
    row["funding"] = -float(row.pop("funding_paid"))  # type: ignore[arg-type]
    del row["signal"], row["entry_slippage"]
    return pd.DataFrame([row])


def test_an_old_trades_file_loads_with_funding_as_paid_and_unknown_attribution(tmp_path: Path) -> None:
    old_trades(funding_paid=0.25).to_parquet(tmp_path / "trades.parquet")  # the trade received -0.25: paid 0.25
    trades = RunFolder(tmp_path).trades()
    assert trades["funding_paid"].tolist() == [0.25]
    assert trades["signal"].tolist() == [""]
    assert np.isnan(trades["entry_slippage"].iloc[0])
    assert "funding" not in trades.columns


def test_an_old_trades_file_with_a_bad_funding_column_names_it(tmp_path: Path) -> None:
    old_trades().assign(funding="n/a").to_parquet(tmp_path / "trades.parquet")
    with pytest.raises(RunFolderError, match="trades.parquet: column funding_paid must be numeric"):
        RunFolder(tmp_path).trades()


def test_a_file_with_both_funding_columns_is_refused_not_guessed(tmp_path: Path) -> None:
    pd.DataFrame([{**trade_row(), "funding": 0.1}]).to_parquet(tmp_path / "trades.parquet")
    with pytest.raises(RunFolderError, match=r"trades.parquet: unexpected column\(s\) funding"):
        RunFolder(tmp_path).trades()


def test_prices_round_trip(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    close = np.array([[100.0, np.nan], [101.0, 20.0], [102.0, 21.0]])
    frame = hourly_closes(T0 + np.arange(3, dtype=np.int64) * MS_PER_HOUR, close, ["A", "B"], MS_PER_HOUR)
    run.write_prices(frame)
    got = run.prices()
    assert tuple(got.columns) == PRICE_COLUMNS
    assert got["symbol"].tolist() == ["A", "A", "A", "B", "B"]
    assert got["ts"].tolist() == [T0 + h * MS_PER_HOUR for h in (1, 2, 3, 2, 3)]  # each bar's close time
    assert got["close"].tolist() == [100.0, 101.0, 102.0, 20.0, 21.0]


@st.composite
def grids(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, int]:
    step = draw(st.sampled_from([MS_PER_MINUTE, 5 * MS_PER_MINUTE, 15 * MS_PER_MINUTE, MS_PER_HOUR]))
    rows = draw(st.integers(1, 400))
    offset = draw(st.integers(0, 59)) * MS_PER_MINUTE // step * step
    ts = T0 + offset + np.arange(rows, dtype=np.int64) * step
    columns = draw(st.integers(1, 3))
    present = np.array(draw(st.lists(st.booleans(), min_size=rows * columns, max_size=rows * columns)),
                       dtype=bool).reshape(rows, columns)
    close = np.where(present, 100.0 + np.arange(rows * columns).reshape(rows, columns), np.nan)
    return ts, close, step


@settings(deadline=None)
@given(grids())
def test_hourly_closes_keep_each_hour_close_and_each_symbols_first_and_last_bar(
        grid: tuple[np.ndarray, np.ndarray, int]) -> None:
    ts, close, step = grid
    symbols = [f"S{j}" for j in range(close.shape[1])]
    frame = hourly_closes(ts, close, symbols, step)
    ends = ts + step
    for j, symbol in enumerate(symbols):
        own = frame[frame["symbol"] == symbol]
        valid = np.flatnonzero(np.isfinite(close[:, j]))
        wanted = {int(i) for i in valid if ends[i] % MS_PER_HOUR == 0}
        if valid.size:
            wanted |= {int(valid[0]), int(valid[-1])}
        rows = sorted(wanted)
        assert own["ts"].tolist() == [int(ends[i]) for i in rows]
        assert own["close"].tolist() == [float(close[i, j]) for i in rows]
    assert len(frame) <= close.shape[1] * (int((ends[-1] - ends[0]) // MS_PER_HOUR) + 3)
