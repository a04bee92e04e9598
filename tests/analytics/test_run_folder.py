"""The run folder round-trips what the engine writes and rejects what would break its readers."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.analytics.run_folder import (
    EQUITY_COLUMNS,
    EVENT_COLUMNS,
    RunFolder,
    RunFolderError,
    new_run_id,
)
from quantum_trader.domain.time import MS_PER_MINUTE, parse_time
from quantum_trader.engine.schema import TRADE_COLUMNS

T0 = parse_time("2026-01-01")


def equity_frame(n: int = 10) -> pd.DataFrame:
    equity = np.linspace(10_000.0, 10_500.0, n)
    return pd.DataFrame({
        "ts": T0 + np.arange(n, dtype=np.int64) * MS_PER_MINUTE,
        "equity": equity, "cash": equity, "total_exposure": np.full(n, 0.2), "correlated_exposure": np.full(n, 0.1),
        "open_positions": np.ones(n, dtype=np.int64), "slots_tier_1": np.ones(n, dtype=np.int64),
        "slots_tier_2": np.zeros(n, dtype=np.int64), "slots_tier_3": np.zeros(n, dtype=np.int64),
        "drawdown": np.zeros(n),
    })


def trade_row(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "symbol": "BTC/USDT:USDT", "side": "long", "entry_ts": T0, "exit_ts": T0 + MS_PER_MINUTE,
        "entry_price": 60_000.0, "exit_price": 61_000.0, "quantity": 0.01, "notional_at_entry": 600.0,
        "equity_at_entry": 10_000.0, "stop": 59_000.0, "planned_risk": 10.0, "pnl": 9.5, "fees": 0.4,
        "funding_paid": 0.1, "exit_reason": "target", "signal": "trend", "entry_slippage": 0.00015,
    }
    row.update(overrides)
    return row


def run_info(**overrides: object) -> dict[str, object]:
    info: dict[str, object] = {
        "run_id": "20260101-000000-test", "strategy": "test", "symbols": ["BTC/USDT:USDT"],
        "start": "2026-01-01T00:00:00+00:00", "end": "2026-01-02T00:00:00+00:00", "bars": 10,
        "policy_name": "default", "created": "2026-01-02T00:00:05+00:00", "duration_s": 1.5,
    }
    info.update(overrides)
    return info


def test_tables_round_trip_in_schema_order(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "r")
    frame = equity_frame()
    run.write_equity(frame[list(reversed(EQUITY_COLUMNS))])  # column order on write does not matter
    got = run.equity()
    assert tuple(got.columns) == EQUITY_COLUMNS
    assert got["ts"].dtype == np.int64
    pd.testing.assert_frame_equal(got, frame, check_dtype=False)
    trades = pd.DataFrame([trade_row(), trade_row(symbol="ETH/USDT:USDT", side="short", pnl=-3.0)])
    run.write_trades(trades)
    assert run.trades()["symbol"].tolist() == ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    assert run.trades()["pnl"].tolist() == [9.5, -3.0]


def test_rewrite_replaces_the_cached_read(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.write_trades(pd.DataFrame([trade_row()]))
    assert len(run.trades()) == 1
    run.write_trades(pd.DataFrame([trade_row(), trade_row()]))
    assert len(run.trades()) == 2


def test_empty_frames_from_column_names_are_accepted(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.write_trades(pd.DataFrame(columns=list(TRADE_COLUMNS)))
    run.write_events(pd.DataFrame(columns=list(EVENT_COLUMNS)))
    assert run.trades().empty and run.trades()["exit_ts"].dtype == np.int64
    assert run.events().empty


@pytest.mark.parametrize("writer, frame, file, column", [
    ("write_equity", equity_frame().drop(columns="drawdown"), "equity.parquet", "drawdown"),
    ("write_trades", pd.DataFrame([trade_row()]).drop(columns="funding_paid"), "trades.parquet", "funding_paid"),
    ("write_events", pd.DataFrame({"ts": [T0], "kind": ["refused"], "symbol": [""], "rule": ["x"],
                                   "message": ["m"], "value": [1.0]}), "events.parquet", "limit"),
])
def test_missing_column_names_file_and_column(
    tmp_path: Path, writer: str, frame: pd.DataFrame, file: str, column: str
) -> None:
    run = RunFolder(tmp_path)
    with pytest.raises(RunFolderError, match=rf"{file}: missing column\(s\) {column}"):
        getattr(run, writer)(frame)
    assert not (tmp_path / file).exists()


def test_extra_column_and_float_timestamps_are_rejected(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    with pytest.raises(RunFolderError, match=r"equity.parquet: unexpected column\(s\) leverage"):
        run.write_equity(equity_frame().assign(leverage=1.0))
    with pytest.raises(RunFolderError, match="equity.parquet: column ts must hold integers"):
        run.write_equity(equity_frame().assign(ts=lambda f: f["ts"].astype(float)))
    with pytest.raises(RunFolderError, match="trades.parquet: column symbol row 1 is empty"):
        run.write_trades(pd.DataFrame([trade_row(), trade_row(symbol=None)]))


def test_reader_names_a_file_written_by_another_schema(tmp_path: Path) -> None:
    equity_frame().drop(columns="slots_tier_3").to_parquet(tmp_path / "equity.parquet")
    with pytest.raises(RunFolderError, match=r"equity.parquet: missing column\(s\) slots_tier_3"):
        RunFolder(tmp_path).equity()
    with pytest.raises(RunFolderError, match="trades.parquet: file not found"):
        RunFolder(tmp_path).trades()


def test_failed_write_keeps_previous_file_and_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run = RunFolder(tmp_path)
    run.write_equity(equity_frame(5))
    before = (tmp_path / "equity.parquet").read_bytes()

    def crash_half_way(self: pd.DataFrame, path: Path, **_: object) -> None:
        Path(path).write_bytes(b"PAR1 half a file")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", crash_half_way)
    with pytest.raises(OSError, match="disk full"):
        run.write_equity(equity_frame(20))
    monkeypatch.undo()
    assert (tmp_path / "equity.parquet").read_bytes() == before
    assert len(run.equity()) == 5
    run.write_metrics({"total_return": 0.1, "run": run_info()})
    run.write_policy("portfolio: {max_total_exposure: 0.4}\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["equity.parquet", "metrics.json", "policy.yaml"]


def test_metrics_nan_becomes_null_and_run_keys_are_required(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    run.write_metrics({"sharpe": float("nan"), "cagr": np.float64(0.25), "run": run_info()})
    assert json.loads((tmp_path / "metrics.json").read_text())["sharpe"] is None
    assert run.metrics()["cagr"] == 0.25
    with pytest.raises(RunFolderError, match="metrics.json: run object is missing key.*bars"):
        run.write_metrics({"run": {k: v for k, v in run_info().items() if k != "bars"}})
    with pytest.raises(RunFolderError, match="metrics.json: missing object 'run'"):
        run.write_metrics({"sharpe": 1.0})


def test_correlation_round_trip_and_shape_checks(tmp_path: Path) -> None:
    run = RunFolder(tmp_path)
    symbols = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
    run.write_correlation(symbols, [[1.0, 0.8], [0.8, 1.0]])
    raw = pd.read_parquet(tmp_path / "correlation.parquet")
    assert list(raw.columns) == ["symbol", *symbols]
    matrix = run.correlation()
    assert matrix.loc["BTC/USDT:USDT", "ETH/USDT:USDT"] == 0.8
    with pytest.raises(RunFolderError, match=r"correlation.parquet: the matrix is \(2, 3\)"):
        run.write_correlation(symbols, np.zeros((2, 3)))
    with pytest.raises(RunFolderError, match=r"must lie in \[-1, 1\]"):
        run.write_correlation(symbols, [[1.0, 1.5], [1.5, 1.0]])
    run.write_correlation(symbols, [[1.0, math.nan], [math.nan, 1.0]], average=True)
    assert math.isnan(run.correlation(average=True).iloc[0, 1])


def test_run_ids_sort_by_utc_time_and_never_collide(tmp_path: Path) -> None:
    now = parse_time("2026-11-24T14:30:00Z")
    assert new_run_id("Multi Asset", now) == "20261124-143000-multi-asset"
    assert new_run_id("x", now - 1000) < new_run_id("x", now)
    (tmp_path / "20261124-143000-multi-asset").mkdir()
    assert new_run_id("multi-asset", now, tmp_path) == "20261124-143000-multi-asset-2"
    (tmp_path / "20261124-143000-multi-asset-2").mkdir()
    assert new_run_id("multi-asset", now, tmp_path) == "20261124-143000-multi-asset-3"
    with pytest.raises(ValueError, match="no letters or digits"):
        new_run_id("  //", now)
