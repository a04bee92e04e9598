"""The Parquet catalog: round trips, idempotent merges, atomic writes, clear errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quantum_trader.data import catalog_source
from quantum_trader.data.catalog import (
    Catalog,
    CatalogError,
    DamagedDatasetError,
    WriteRefusedError,
    WriteSource,
    default_catalog_root,
)
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries, TradeFlowSeries

MIN = 60_000
BTC = "BTC/USDT:USDT"


def bars(n: int, start: int = 0, *, price: float = 100.0, symbol: str = BTC, tf: str = "1m") -> BarSeries:
    ts = (np.arange(n, dtype=np.int64) + start) * MIN
    close = price + np.arange(n, dtype=np.float64)
    return BarSeries(symbol, tf, ts, close - 0.5, close + 1.0, close - 1.0, close, np.full(n, 2.0))


def snapshot(root: Path) -> dict[str, str]:
    """Every file under the catalog with its content hash: 'byte-identical' made checkable."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_round_trip_and_layout(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    series = bars(100)
    result = cat.write(series, exchange="binanceusdm")
    assert result.rows_added == 100 and result.kind is DataKind.CANDLES
    assert result.path == tmp_path / "exchange=binanceusdm/symbol=BTC_USDT_USDT/kind=candles/timeframe=1m/data.parquet"
    back = cat.read_bars(BTC, "1m")
    for name in ("ts", "open", "high", "low", "close", "volume"):
        np.testing.assert_array_equal(getattr(back, name), getattr(series, name))
    assert back.ts.dtype == np.int64 and back.close.dtype == np.float64


def test_rewrite_is_idempotent_and_leaves_file_untouched(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.write(bars(50), exchange="binanceusdm")
    before = snapshot(tmp_path)
    again = cat.write(bars(50), exchange="binanceusdm")
    assert (again.rows_added, again.rows_replaced, again.rows_unchanged) == (0, 0, 50)
    assert not again.changed and snapshot(tmp_path) == before


def test_overlap_new_values_win_and_are_counted(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.write(bars(10), exchange="binanceusdm")
    corrected = bars(10, start=5, price=200.0)  # ts 5..14: 5 overlap with different values, 5 new
    result = cat.write(corrected, exchange="binanceusdm")
    assert (result.rows_added, result.rows_replaced, result.rows_unchanged, result.rows_total) == (5, 5, 0, 15)
    back = cat.read_bars(BTC, "1m")
    assert back.close[4] == 104.0 and back.close[5] == 200.0 and back.close[14] == 209.0
    assert bool(np.all(np.diff(back.ts) == MIN))


def test_appending_an_earlier_range_keeps_order(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.write(bars(10, start=100), exchange="binanceusdm")
    cat.write(bars(10, start=0), exchange="binanceusdm")
    back = cat.read_bars(BTC, "1m")
    assert len(back) == 20 and back.ts[0] == 0 and back.ts[-1] == 109 * MIN


def test_start_end_filter_is_half_open(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.write(bars(100), exchange="binanceusdm")
    part = cat.read_bars(BTC, "1m", start_ms=10 * MIN, end_ms=20 * MIN)
    assert part.ts.tolist() == [i * MIN for i in range(10, 20)]
    assert len(cat.read_bars(BTC, "1m", start_ms=500 * MIN)) == 0


def test_nan_volume_rows_compare_equal_on_rewrite(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    b = bars(5)
    mark = BarSeries(BTC, "1h", b.ts * 60, b.open, b.high, b.low, b.close, np.full(5, np.nan))
    cat.write(mark, exchange="binanceusdm", kind=DataKind.MARK)
    again = cat.write(mark, exchange="binanceusdm", kind=DataKind.MARK)
    assert again.rows_unchanged == 5 and again.rows_replaced == 0
    assert np.isnan(cat.read_bars(BTC, "1h", kind=DataKind.MARK).volume).all()
    with pytest.raises(CatalogError, match="no BTC/USDT:USDT candles 1h"):
        cat.read_bars(BTC, "1h")


def test_funding_book_and_trade_flow(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    ts = np.array([0, 8 * 3_600_000], dtype=np.int64)
    cat.write(FundingSeries(BTC, ts, np.array([0.0001, -0.0002])), exchange="binanceusdm")
    np.testing.assert_array_equal(cat.read_funding(BTC).rate, [0.0001, -0.0002])

    px = np.array([[100.0, 99.0]])
    book2 = BookSeries(BTC, np.array([5], dtype=np.int64), px, np.ones((1, 2)), px + 2, np.ones((1, 2)))
    cat.write(book2, exchange="binanceusdm")
    px3 = np.array([[101.0, 100.0, 99.0]])
    book3 = BookSeries(BTC, np.array([9], dtype=np.int64), px3, np.ones((1, 3)), px3 + 2, np.ones((1, 3)))
    cat.write(book3, exchange="binanceusdm")  # deeper book later: earlier rows padded with empty levels
    book = cat.read_book(BTC)
    assert book.levels == 3 and len(book) == 2
    assert np.isnan(book.bid_px[0, 2]) and book.bid_sz[0, 2] == 0.0 and book.ask_px[1, 2] == 101.0

    flow = TradeFlowSeries(BTC, "1m", np.arange(3, dtype=np.int64) * MIN, np.ones(3), np.full(3, 2.0))
    cat.write(flow, exchange="binanceusdm")
    np.testing.assert_array_equal(cat.read_trade_flow(BTC, "1m").taker_sell_volume, [2.0, 2.0, 2.0])
    kinds = {(i.kind, i.timeframe) for i in cat.datasets()}
    assert kinds == {(DataKind.FUNDING, None), (DataKind.BOOK, None), (DataKind.TRADE_FLOW, "1m")}


def test_datasets_and_symbols(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    assert cat.datasets() == [] and cat.symbols() == []
    cat.write(bars(30, start=10), exchange="binanceusdm")
    cat.write(bars(5, symbol="ETH/USDT:USDT"), exchange="bybit")
    infos = cat.datasets()
    assert [(i.exchange, i.symbol, i.rows, i.first_ts, i.last_ts) for i in infos] == [
        ("binanceusdm", BTC, 30, 10 * MIN, 39 * MIN),
        ("bybit", "ETH/USDT:USDT", 5, 0, 4 * MIN),
    ]
    assert cat.symbols() == [BTC, "ETH/USDT:USDT"] and cat.symbols(exchange="bybit") == ["ETH/USDT:USDT"]


def test_missing_dataset_error_names_what_exists(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    with pytest.raises(CatalogError, match="catalog is empty"):
        cat.read_bars(BTC, "1m")
    cat.write(bars(3), exchange="binanceusdm")
    with pytest.raises(CatalogError, match=r"no BTC/USDT:USDT candles 5m .*it holds: binanceusdm BTC/USDT:USDT "
                                           r"candles 1m"):
        cat.read_bars(BTC, "5m")
    with pytest.raises(CatalogError, match="on bybit"):
        cat.read_bars(BTC, "1m", exchange="bybit")


def test_ambiguous_exchange_must_be_named(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.write(bars(3), exchange="binanceusdm")
    cat.write(bars(4), exchange="bybit")
    with pytest.raises(CatalogError, match=r"several exchanges \(binanceusdm, bybit\)"):
        cat.read_bars(BTC, "1m")
    assert len(cat.read_bars(BTC, "1m", exchange="bybit")) == 4


def test_failed_write_leaves_catalog_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cat = Catalog(tmp_path)
    cat.write(bars(20), exchange="binanceusdm")
    before = snapshot(tmp_path)

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError("No space left on device")

    monkeypatch.setattr(pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space"):
        cat.write(bars(20, start=20), exchange="binanceusdm")
    assert snapshot(tmp_path) == before  # no temp file left, old file intact
    monkeypatch.undo()
    assert len(cat.read_bars(BTC, "1m")) == 20


def test_write_many_is_all_or_nothing(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    good = bars(5)
    bad_kind = FundingSeries(BTC, np.array([0], dtype=np.int64), np.array([0.1]))
    with pytest.raises(ValueError, match="stored as funding, not candles"):
        cat.write_many([(good, None), (bad_kind, DataKind.CANDLES)], exchange="binanceusdm")
    assert cat.datasets() == [] and snapshot(tmp_path) == {}


def test_bad_names_are_refused(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    with pytest.raises(CatalogError, match="exchange name 'Binance USDM'"):
        cat.write(bars(2), exchange="Binance USDM")
    with pytest.raises(ValueError, match="not a ccxt unified symbol"):
        cat.read_bars("BTCUSDT", "1m")


def test_default_root_honours_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("QT_CATALOG", raising=False)
    assert default_catalog_root() == Path("catalog")
    monkeypatch.setenv("QT_CATALOG", str(tmp_path / "cat"))
    assert default_catalog_root() == tmp_path / "cat"


def test_duckdb_relation_for_ad_hoc_sql(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.write(bars(60), exchange="binanceusdm")
    rel = cat.relation(BTC, DataKind.CANDLES, "1m")
    (count, top), = rel.aggregate("count(*), max(close)").fetchall()
    assert (count, top) == (60, 159.0)


def test_a_catalog_written_before_source_records_still_opens_and_grows(tmp_path: Path) -> None:
    """Existing catalogs: a bare Parquet file (no metadata) and an old-style temp file a crash left."""
    folder = tmp_path / "exchange=binanceusdm/symbol=BTC_USDT_USDT/kind=candles/timeframe=1m"
    folder.mkdir(parents=True)
    old = bars(20)
    pq.write_table(pa.table({name: getattr(old, name) for name in ("ts", "open", "high", "low", "close", "volume")}),
                   folder / "data.parquet")
    (folder / ".data.parquet.4242.tmp").write_bytes(b"half a file")
    cat = Catalog(tmp_path)
    assert len(cat.read_bars(BTC, "1m")) == 20 and cat.source(BTC, DataKind.CANDLES, "1m") is None
    cat.write(bars(10, start=20), exchange="binanceusdm", source=WriteSource(file="more.csv", market_type="perp"))
    assert len(cat.read_bars(BTC, "1m")) == 30 and not list(folder.glob("*.tmp"))
    source = cat.source(BTC, DataKind.CANDLES, "1m")
    assert source is not None and source.files == ("more.csv",) and source.market_type == "perp"


def test_source_records_accumulate_and_a_spot_write_is_never_forgotten(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(catalog_source, "MAX_RECORDS", 6)  # the real cap (200) works the same, just slower to fill
    cat = Catalog(tmp_path)
    cat.write(bars(5), exchange="binanceusdm", source=WriteSource(file="spot.csv", market_type="spot"))
    for i in range(1, 10):
        cat.write(bars(1, start=4 + i), exchange="binanceusdm", source=WriteSource(file=f"{i}.csv", market_type="perp"))
    source = cat.source(BTC, DataKind.CANDLES, "1m")
    assert source is not None and len(source.records) == 6 and source.dropped == 4
    assert "spot.csv" not in source.files and source.market_type == "mixed"
    assert "partly spot" in (source.stand_in_note(BTC) or "")
    same = cat.write(bars(3), exchange="binanceusdm", source=WriteSource(file="again.csv"))
    assert not same.changed and "again.csv" not in cat.source(BTC, DataKind.CANDLES, "1m").files  # type: ignore[union-attr]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 200), st.integers(1, 60)), min_size=1, max_size=8))
def test_any_order_of_writes_keeps_every_row_and_refuses_only_true_conflicts(tmp_path_factory: pytest.TempPathFactory,
                                                                             ranges: list[tuple[int, int]]) -> None:
    """Invariant: with refusal on, the stored rows are exactly the union of the accepted writes."""
    cat = Catalog(tmp_path_factory.mktemp("prop"))
    expected: dict[int, float] = {}
    for k, (start, n) in enumerate(ranges):
        price = 100.0 + (k % 2)  # every other write carries other values for the rows it shares
        series = bars(n, start=start, price=price)
        clash = any(expected.get(int(t), c) != c for t, c in zip(series.ts.tolist(), series.close.tolist(),
                                                                 strict=True))
        if clash:
            with pytest.raises(WriteRefusedError, match="already stored with different values"):
                cat.write(series, exchange="binanceusdm", conflicts="refuse")
            continue
        cat.write(series, exchange="binanceusdm", conflicts="refuse")
        expected.update(zip(series.ts.tolist(), series.close.tolist(), strict=True))
    stored = cat.read_bars(BTC, "1m")
    assert stored.ts.tolist() == sorted(expected) and stored.close.tolist() == [expected[t] for t in sorted(expected)]


def test_an_unreadable_dataset_is_reported_apart_and_never_overwritten(tmp_path: Path) -> None:
    cat = Catalog(tmp_path)
    cat.write(bars(30), exchange="binanceusdm")
    cat.write(bars(30, symbol="ETH/USDT:USDT"), exchange="binanceusdm")
    eth = cat.dataset_path("binanceusdm", "ETH/USDT:USDT", DataKind.CANDLES, "1m")
    eth.write_bytes(eth.read_bytes()[:100])
    stray = tmp_path / "exchange=binanceusdm/symbol=SOL_USDT_USDT/kind=weird/data.parquet"
    stray.parent.mkdir(parents=True)
    stray.write_bytes(b"not parquet")
    healthy, damaged = cat.scan()
    assert [i.symbol for i in healthy] == [BTC] and cat.datasets() == healthy
    assert [(d.label, d.symbol) for d in damaged] == [("binanceusdm ETH/USDT:USDT candles 1m", "ETH/USDT:USDT"),
                                                      ("binanceusdm SOL/USDT:USDT weird", "SOL/USDT:USDT")]
    with pytest.raises(DamagedDatasetError, match=r"binanceusdm ETH/USDT:USDT candles 1m is damaged \(.*Parquet") as e:
        cat.read_bars("ETH/USDT:USDT", "1m")
    assert "\n" not in str(e.value)
    before = eth.read_bytes()
    with pytest.raises(DamagedDatasetError):
        cat.write(bars(5, start=30, symbol="ETH/USDT:USDT"), exchange="binanceusdm")
    assert eth.read_bytes() == before
