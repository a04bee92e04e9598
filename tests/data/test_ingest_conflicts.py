"""A bad file never silently replaces good data, and the merged dataset stays one series.

Built from the real Binance spot candles: the damage is the kind files really carry
(a row cut off mid-number, a 100x fat finger, another asset's file under this symbol,
a file shifted by half a bar, a year-2286 timestamp).
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from quantum_trader.config import load_policy
from quantum_trader.data.catalog import Catalog, WriteRefusedError
from quantum_trader.data.catalog_source import SourceRecord
from quantum_trader.data.ingest import IngestError, IngestRules, ingest_file
from quantum_trader.data.quality import QualityError
from quantum_trader.domain.market import BarSeries, DataKind
from quantum_trader.domain.time import parse_time

BTC = "BTC/USDT:USDT"
SPOT = "candles/binance_spot_1h"


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def lines_of(shared_data: Path, asset: str = "BTC") -> list[str]:
    with gzip.open(shared_data / SPOT / f"{asset}USDT.csv.gz", "rt") as fh:
        return fh.readlines()


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(lines))
    return path


@pytest.fixture
def stored(shared_data: Path, tmp_path: Path) -> Catalog:
    """The whole real BTC spot file, stored as the perpetual stand-in."""
    cat = Catalog(tmp_path / "cat")
    ingest_file(cat, shared_data / SPOT / "BTCUSDT.csv.gz", symbol=BTC, timeframe="1h")
    return cat


def test_a_row_cut_off_mid_number_is_a_conflict_not_a_replacement(
    shared_data: Path, tmp_path: Path, stored: Catalog
) -> None:
    lines = lines_of(shared_data)[:2010]
    assert lines[2000].endswith(",747.94807\n")  # file line 2001
    lines[2000] = lines[2000].replace(",747.94807", ",747")
    bad = write_lines(tmp_path / "BTCUSDT_cut.csv", lines)
    before = snapshot(stored.root)
    with pytest.raises(IngestError) as info:
        ingest_file(stored, bad, symbol=BTC, timeframe="1h")
    text = str(info.value)
    assert text.startswith(f"{bad}: 1 row(s) already stored with different values, 0.01% of binanceusdm "
                           f"{BTC} candles 1h (17,521 rows)")
    assert "row 2001 (2024-04-13 14:00:00): volume stored 747.94807, new 747" in text
    assert "--replace" in text and "nothing was written" in text and "\n" not in text
    assert isinstance(info.value.__cause__, WriteRefusedError)
    assert snapshot(stored.root) == before
    assert stored.read_bars(BTC, "1h").volume[1999] == 747.94807


def test_a_fat_finger_is_refused_then_replaced_on_request_and_the_old_value_kept(
    shared_data: Path, tmp_path: Path, stored: Catalog
) -> None:
    lines = lines_of(shared_data)[:101]
    ts, o, h, low, c, v = lines[50].strip().split(",")  # file line 51
    lines[50] = f"{ts},{o},{float(h) * 100},{low},{float(c) * 100},{v}\n"
    bad = write_lines(tmp_path / "BTCUSDT_fat.csv", lines)
    with pytest.raises(IngestError, match=r"row 51 \(2024-01-23 08:00:00\): high stored .*, new .*close stored"):
        ingest_file(stored, bad, symbol=BTC, timeframe="1h")
    result = ingest_file(stored, bad, symbol=BTC, timeframe="1h", replace=True)
    write = result.write
    assert (write.rows_added, write.rows_replaced, write.rows_unchanged) == (0, 1, 99)
    assert stored.read_bars(BTC, "1h").close[49] == float(c) * 100
    assert write.replaced_file is not None and write.replaced_file.parent == write.path.parent
    kept = pq.read_table(write.replaced_file).to_pydict()
    assert kept["ts"] == [parse_time("2024-01-23 08:00")] and kept["close"] == [float(c)]
    source = stored.source(BTC, DataKind.CANDLES, "1h")
    assert source is not None
    last: SourceRecord = source.records[-1]
    assert (last.rows_replaced, last.replaced_file, last.file) == (1, write.replaced_file.name, str(bad))
    assert last.replaced_first_ts == last.replaced_last_ts == parse_time("2024-01-23 08:00")


def test_another_assets_file_under_this_symbol_looks_like_another_instrument(
    shared_data: Path, stored: Catalog
) -> None:
    before = snapshot(stored.root)
    eth = shared_data / SPOT / "ETHUSDT.csv.gz"
    for replace in (False, True):  # --replace accepts conflicts, never another market
        with pytest.raises(IngestError, match=r"looks like another instrument: over 17,521 overlapping rows the new "
                                              r"close is a median 0\.0\d+x the stored"):
            ingest_file(stored, eth, symbol=BTC, timeframe="1h", replace=replace)
    assert snapshot(stored.root) == before


def test_the_instrument_tolerance_comes_from_the_policy(shared_data: Path, tmp_path: Path, stored: Catalog) -> None:
    policy = load_policy()
    assert IngestRules.from_policy(policy) == IngestRules()  # the library's defaults are the policy's
    lines = lines_of(shared_data)[:30]
    scaled = [lines[0]] + [",".join([f[0]] + [f"{float(x) * 1.03:.8f}" for x in f[1:5]] + [f[5]])
                           for f in (line.strip().split(",") for line in lines[1:])]
    path = write_lines(tmp_path / "BTCUSDT_3pct.csv", [line if line.endswith("\n") else line + "\n"
                                                        for line in scaled])
    strict = IngestRules(instrument_price_tolerance=0.01)
    with pytest.raises(IngestError, match="looks like another instrument"):
        ingest_file(stored, path, symbol=BTC, timeframe="1h", rules=strict, replace=True)
    # 3% off is within the default tolerance: not another instrument, but 29 conflicts
    with pytest.raises(IngestError, match="29 row"):
        ingest_file(stored, path, symbol=BTC, timeframe="1h")


def test_a_file_shifted_by_half_a_bar_is_refused_with_its_rows(shared_data: Path, tmp_path: Path) -> None:
    lines = lines_of(shared_data)[:40]
    shifted = [lines[0]] + [line.replace(":00:00+00:00", ":30:00+00:00", 1) for line in lines[1:]]
    path = write_lines(tmp_path / "BTCUSDT_shift.csv", shifted)
    cat = Catalog(tmp_path / "cat")
    ingest_file(cat, write_lines(tmp_path / "BTCUSDT.csv", lines[:20]), symbol=BTC, timeframe="1h")
    before = snapshot(cat.root)
    with pytest.raises(QualityError, match=r"BTCUSDT_shift\.csv: refused.*39 row\(s\) off the 1h grid.* at rows 2, 3"):
        ingest_file(cat, path, symbol=BTC, timeframe="1h")
    assert snapshot(cat.root) == before


def test_the_catalog_itself_refuses_rows_off_the_grid_of_stored_daily_bars(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    day = 86_400_000
    ts = parse_time("2024-01-01") + np.arange(10, dtype=np.int64) * day
    close = np.full(10, 100.0)
    cat.write(BarSeries(BTC, "1d", ts, close, close, close, close, close), exchange="binanceusdm")
    shifted = ts[:5] + 10 * day + day // 2  # noon bars appended to midnight bars
    with pytest.raises(WriteRefusedError, match=r"5 row\(s\) off the 1d grid .* open at 00:00:00 UTC"):
        cat.write(BarSeries(BTC, "1d", shifted, *[np.full(5, 100.0)] * 5), exchange="binanceusdm")
    assert len(cat.read_bars(BTC, "1d")) == 10
    sessions = Catalog(tmp_path / "other")  # daily bars of a session that opens at noon are one series too
    sessions.write(BarSeries(BTC, "1d", shifted, *[np.full(5, 100.0)] * 5), exchange="binanceusdm")
    assert len(sessions.read_bars(BTC, "1d")) == 5


def test_a_row_dated_2286_is_refused_with_its_row(shared_data: Path, tmp_path: Path) -> None:
    lines = lines_of(shared_data)[:30]
    lines[29] = lines[29].replace("2024-01-22", "2286-11-20", 1)  # file line 30
    path = write_lines(tmp_path / "BTCUSDT_2286.csv", lines)
    cat = Catalog(tmp_path / "cat")
    with pytest.raises((QualityError, IngestError), match=r"row 30"):
        ingest_file(cat, path, symbol=BTC, timeframe="1h")
    assert cat.datasets() == []
    future = np.array([parse_time("2286-11-20")], dtype=np.int64)
    one = np.ones(1)
    with pytest.raises(WriteRefusedError, match=r"1 row\(s\) dated after now \+ one 1h bar.*2286-11-20 00:00:00"):
        cat.write(BarSeries(BTC, "1h", future, one, one, one, one, one), exchange="binanceusdm")
