"""Quality checks name the file rows of every issue; repair changes only what it reports."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from quantum_trader.data.quality import Severity, Thresholds, check_frame, repair_frame
from quantum_trader.domain.market import DataKind

MIN = 60_000


def candles(n: int = 10, *, start_row: int = 2) -> pd.DataFrame:
    """A clean 1m candle frame as a loader returns it (source_row = line in the file, header on line 1)."""
    close = 100.0 + np.sin(np.arange(n))
    return pd.DataFrame({
        "ts": np.arange(n, dtype=np.int64) * MIN + 1_700_000_000_000 - 1_700_000_000_000 % MIN,
        "open": close - 0.1, "high": close + 0.5, "low": close - 0.5, "close": close,
        "volume": np.full(n, 3.0), "source_row": np.arange(start_row, start_row + n),
    })


def test_clean_frame_has_no_issues() -> None:
    report = check_frame(candles(), DataKind.CANDLES, timeframe="1m", source="f.csv")
    assert report.ok and report.issues == () and report.rows == 10


def test_blocking_value_issues_name_their_rows() -> None:
    f = candles()
    f.loc[2, "close"] = np.nan          # file row 4
    f.loc[3, "low"] = -1.0              # row 5: non-positive
    f.loc[5, "high"] = f.loc[5, "open"] - 1  # row 7: high below open
    f.loc[6, "volume"] = -2.0           # row 8
    report = check_frame(f, DataKind.CANDLES, source="f.csv")
    by_code = {i.code: i.rows for i in report.blocking}
    assert by_code["nan"] == (4,)
    assert by_code["non_positive"] == (5,)
    assert 7 in by_code["ohlc_inconsistent"]
    assert by_code["negative_volume"] == (8,)
    assert not report.ok


def test_duplicates_exact_vs_conflicting() -> None:
    f = candles(6)
    dup_exact = f.iloc[[1]].assign(source_row=99)
    dup_conflict = f.iloc[[3]].assign(volume=7.0, source_row=100)
    frame = pd.concat([f.iloc[:2], dup_exact, f.iloc[2:4], dup_conflict, f.iloc[4:]], ignore_index=True)
    report = check_frame(frame, DataKind.CANDLES, source="f.csv")
    assert report.issue("duplicate_exact").rows == (99,)
    assert report.issue("duplicate_conflict").rows == (5, 100)
    assert report.issue("duplicate_conflict").severity is Severity.BLOCKING
    result = repair_frame(frame, DataKind.CANDLES, source="f.csv")
    # the exact copy is dropped and reported; the conflict is left for the user and still blocks
    assert [(a.code, a.rows) for a in result.actions] == [("dropped_duplicates", (99,))]
    assert result.report.codes() == {"duplicate_conflict"} and not result.report.ok
    assert 99 not in result.frame["source_row"].tolist() and 100 in result.frame["source_row"].tolist()


def test_out_of_order_rows_are_sorted_by_repair() -> None:
    f = candles(6)
    frame = f.iloc[[0, 1, 3, 2, 4, 5]].reset_index(drop=True)
    report = check_frame(frame, DataKind.CANDLES, source="f.csv")
    assert report.issue("out_of_order").rows == (4,)  # file row 4 (ts of bar 2) comes after bar 3
    result = repair_frame(frame, DataKind.CANDLES)
    assert [(a.code, a.count) for a in result.actions] == [("sorted", 1)]
    assert result.report.ok and result.frame["ts"].is_monotonic_increasing


def test_newest_first_file_is_reversed() -> None:
    frame = candles(8).iloc[::-1].reset_index(drop=True)
    report = check_frame(frame, DataKind.CANDLES)
    assert report.codes() == {"newest_first"} and report.issue("newest_first").repairable
    result = repair_frame(frame, DataKind.CANDLES)
    assert [(a.code, a.count) for a in result.actions] == [("reversed", 8)]
    pd.testing.assert_frame_equal(result.frame, candles(8))


def test_repair_without_source_row_reports_positions() -> None:
    f = candles(4).drop(columns="source_row")
    frame = pd.concat([f, f.iloc[[2]]], ignore_index=True)
    result = repair_frame(frame, DataKind.CANDLES)
    assert result.actions[0].rows == (5,) and list(result.frame.columns) == list(f.columns)
    assert len(result.frame) == 4


def test_warnings_gaps_zero_volume_outliers_do_not_block() -> None:
    f = candles(40)
    f = f.drop(index=[10, 11, 12]).reset_index(drop=True)          # 3 missing bars before file row 15
    f.loc[20:23, "volume"] = 0.0                                   # 4 zero-volume bars
    f.loc[30, ["open", "high", "low", "close"]] = [300.0, 301.0, 299.0, 300.0]
    report = check_frame(f, DataKind.CANDLES, timeframe="1m", thresholds=Thresholds(zero_volume_run=3,
                                                                                    outlier_sigma=10))
    assert report.ok
    gap = report.issue("gap")
    assert gap is not None and gap.rows == (15,) and "3 missing 1m bar" in gap.message
    assert report.issue("zero_volume_run").rows == tuple(range(25, 29))
    assert 35 in report.issue("outlier_return").rows
    assert all(i.severity is Severity.WARNING for i in report.issues)


def test_short_zero_volume_run_is_not_flagged() -> None:
    f = candles(10)
    f.loc[3:4, "volume"] = 0.0
    assert check_frame(f, DataKind.CANDLES, thresholds=Thresholds(zero_volume_run=3)).issue("zero_volume_run") is None


def test_mark_candles_may_lack_volume_and_candles_only_all_or_nothing() -> None:
    f = candles(5).assign(volume=np.nan)
    assert check_frame(f, DataKind.MARK).ok
    unknown = check_frame(f, DataKind.CANDLES, timeframe="1m")  # a file without volume (TradingView export)
    assert unknown.ok and unknown.codes() == {"volume_unknown"}
    assert "zero-volume runs not checked" in unknown.issue("volume_unknown").message
    partly = candles(5)
    partly.loc[1:2, "volume"] = np.nan  # some bars without volume: a damaged column
    assert check_frame(partly, DataKind.CANDLES).issue("nan").rows == (3, 4)


def test_book_checks() -> None:
    frame = pd.DataFrame({"ts": [1, 2, 3], "bid_px_0": [100.0, 100.0, 101.0], "bid_sz_0": [1.0, 1.0, 1.0],
                          "bid_px_1": [99.0, np.nan, 100.0], "bid_sz_1": [1.0, 0.0, 1.0],
                          "ask_px_0": [101.0, 101.0, 100.5], "ask_sz_0": [1.0, 1.0, 1.0],
                          "ask_px_1": [102.0, np.nan, np.nan], "ask_sz_1": [1.0, 0.0, 2.0]})
    report = check_frame(frame, DataKind.BOOK)
    assert report.issue("crossed_book").rows == (3,)
    assert report.issue("nan").rows == (3,)  # size 2.0 at a level without a price


def book(rows: list[tuple[list[float], list[float], list[float], list[float]]]) -> pd.DataFrame:
    """Book frame from (bid prices, bid sizes, ask prices, ask sizes) per row, rows numbered from 2."""
    levels = len(rows[0][0])
    data: dict[str, object] = {"ts": np.arange(len(rows), dtype=np.int64) + 1}
    for k, side in enumerate(("bid_px", "bid_sz", "ask_px", "ask_sz")):
        for i in range(levels):
            data[f"{side}_{i}"] = [r[k][i] for r in rows]
    data["source_row"] = np.arange(2, len(rows) + 2)
    return pd.DataFrame(data)


NAN = float("nan")


def test_an_ask_below_the_best_bid_at_any_level_is_a_crossed_book() -> None:
    frame = book([
        ([100.0, 99.0], [1.0, 1.0], [101.0, 102.0], [1.0, 1.0]),  # fine
        ([100.0, 99.0], [1.0, 1.0], [101.0, 99.5], [1.0, 1.0]),   # row 3: level-1 ask below the best bid
        ([100.0, 101.5], [1.0, 1.0], [101.0, 102.0], [1.0, 1.0]),  # row 4: level-1 bid above the best ask
    ])
    report = check_frame(frame, DataKind.BOOK, source="book.csv")
    issue = report.issue("crossed_book")
    assert issue is not None and issue.blocking and issue.rows == (3, 4)
    assert "at any level" in issue.message


def test_negative_sizes_and_one_sided_books_are_refused_with_their_rows() -> None:
    frame = book([
        ([100.0, 99.0], [1.0, -0.5], [101.0, 102.0], [1.0, 1.0]),  # row 2: negative size
        ([100.0, 99.0], [1.0, 1.0], [NAN, NAN], [0.0, 0.0]),        # row 3: no asks
        ([NAN, NAN], [0.0, 0.0], [NAN, NAN], [0.0, 0.0]),            # row 4: empty
        ([100.0, 99.0], [1.0, 1.0], [101.0, 102.0], [1.0, 1.0]),    # fine
    ])
    report = check_frame(frame, DataKind.BOOK, source="book.csv")
    assert report.issue("negative_size").rows == (2,) and report.issue("negative_size").blocking
    assert report.issue("one_sided_book").rows == (3, 4) and report.issue("one_sided_book").blocking


def test_funding_beyond_the_bound_is_refused_with_its_row() -> None:
    frame = pd.DataFrame({"ts": [1, 2, 3], "rate": [0.0001, 0.031, -0.0299], "source_row": [2, 3, 4]})
    report = check_frame(frame, DataKind.FUNDING, source="funding.csv")
    issue = report.issue("funding_out_of_bounds")
    assert issue is not None and issue.blocking and issue.rows == (3,)
    assert "3.00%" in issue.message
    assert check_frame(frame, DataKind.FUNDING, thresholds=Thresholds(max_abs_funding_rate=0.05)).ok


def test_rows_off_the_timeframe_grid_are_blocking() -> None:
    f = candles(6)
    f.loc[3:, "ts"] += 30_000  # the last three bars shifted by half a minute
    report = check_frame(f, DataKind.CANDLES, timeframe="1m", source="f.csv")
    issue = report.issue("off_grid")
    assert issue is not None and issue.blocking and issue.rows == (5, 6, 7)
    days = pd.DataFrame({"ts": np.array([0, 1, 2, 3], dtype=np.int64) * 86_400_000 + 3_600_000,
                         "open": 1.0, "high": 1.0, "low": 1.0, "close": 1.0, "volume": 1.0})
    assert check_frame(days, DataKind.CANDLES, timeframe="1d").ok  # daily bars of a session opening at 01:00
    days.loc[2, "ts"] += 3_600_000
    assert check_frame(days, DataKind.CANDLES, timeframe="1d").issue("off_grid").rows == (3,)


def test_a_timestamp_beyond_now_plus_one_bar_is_blocking() -> None:
    f = candles(4)
    now = int(f["ts"].iloc[1])
    report = check_frame(f, DataKind.CANDLES, timeframe="1m", now_ms=now)
    assert report.issue("future_timestamp").rows == (5,)  # bar 3 opens 2 min after now; bar 2 is the next bar
    assert report.issue("future_timestamp").blocking


def test_funding_and_missing_columns() -> None:
    frame = pd.DataFrame({"ts": [1, 2], "rate": [0.0001, -0.0003]})
    assert check_frame(frame, DataKind.FUNDING).ok
    with pytest.raises(ValueError, match="f.csv: missing column"):
        check_frame(frame, DataKind.CANDLES, source="f.csv")


def test_real_spot_file_is_clean(shared_data: Path) -> None:
    path = shared_data / "candles/binance_spot_1h/BTCUSDT.csv.gz"
    raw = pd.read_csv(path)
    frame = pd.DataFrame({
        "ts": pd.DatetimeIndex(pd.to_datetime(raw["timestamp"], utc=True)).as_unit("ms").asi8,
        **{c: raw[c].astype(float) for c in ("open", "high", "low", "close", "volume")},
        "source_row": np.arange(2, len(raw) + 2),
    })
    report = check_frame(frame, DataKind.CANDLES, timeframe="1h", source=str(path))
    assert report.ok, report.blocking
    assert report.issue("gap") is None and report.rows == 17_521
    reversed_ = repair_frame(frame.iloc[::-1], DataKind.CANDLES, timeframe="1h")
    assert reversed_.report.ok and reversed_.frame["ts"].tolist() == frame["ts"].tolist()
