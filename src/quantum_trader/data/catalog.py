"""The market-data catalog: one Parquet file per dataset, read into NumPy arrays, queryable in DuckDB.

Layout under the root folder (hive-style, so DuckDB, pandas or a shell can browse it)::

    <root>/exchange=<ex>/symbol=<BTC_USDT_USDT>/kind=<candles>/timeframe=<1m>/data.parquet
    <root>/exchange=<ex>/symbol=<BTC_USDT_USDT>/kind=<funding|book>/data.parquet

One file per dataset keeps reads a single sequential scan (2.6M 1m bars load in well under
a second) and makes every write a single atomic ``os.replace``: a reader never sees a
half-written dataset and a failed write leaves the catalog byte-identical. Rows are stored
sorted by ``ts`` with no duplicates, so readers never re-sort.

Re-writing rows that already exist is idempotent: identical rows are counted as unchanged
and the file is not touched at all; a row whose values differ for the same ``ts`` is
replaced by the NEW value (an exchange correction, or a re-download after a bad one) and
counted in ``WriteResult.rows_replaced`` so the caller can report it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow.parquet as pq

from quantum_trader.data.catalog_schema import (
    Columns,
    Series,
    columns_of,
    equal_rows,
    kind_of,
    merge_columns,
    series_from_columns,
    table_from_columns,
)
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries, TradeFlowSeries
from quantum_trader.domain.symbols import parse_symbol, safe_symbol, symbol_from_safe
from quantum_trader.domain.time import format_time, timeframe_ms

DEFAULT_CATALOG = Path("catalog")
CATALOG_ENV = "QT_CATALOG"
DEFAULT_EXCHANGE = "binanceusdm"
DATA_FILE = "data.parquet"
ROW_GROUP_ROWS = 131_072  # ~3 months of 1m bars: range reads skip whole groups via their ts statistics
_EXCHANGE_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_TIMEFRAMED = (DataKind.CANDLES, DataKind.MARK, DataKind.TRADE_FLOW)

__all__ = [
    "CATALOG_ENV",
    "DEFAULT_CATALOG",
    "DEFAULT_EXCHANGE",
    "Catalog",
    "CatalogError",
    "DatasetInfo",
    "WriteResult",
    "default_catalog_root",
]


class CatalogError(ValueError):
    """A dataset that is missing or ambiguous, or a write that does not fit the catalog."""


def default_catalog_root() -> Path:
    """``$QT_CATALOG`` if set, else ``./catalog``: one place, so every command agrees on it."""
    env = os.environ.get(CATALOG_ENV, "").strip()
    return Path(env) if env else DEFAULT_CATALOG


@dataclass(frozen=True, slots=True)
class WriteResult:
    """What a write did: the caller reports corrections instead of applying them silently."""

    exchange: str
    symbol: str
    kind: DataKind
    timeframe: str | None
    path: Path
    rows_added: int
    rows_replaced: int
    rows_unchanged: int
    rows_total: int

    @property
    def changed(self) -> bool:
        return self.rows_added + self.rows_replaced > 0


@dataclass(frozen=True, slots=True)
class DatasetInfo:
    exchange: str
    symbol: str
    kind: DataKind
    timeframe: str | None
    rows: int
    first_ts: int | None
    last_ts: int | None
    path: Path

    def label(self) -> str:
        tf = f" {self.timeframe}" if self.timeframe else ""
        return f"{self.exchange} {self.symbol} {self.kind.value}{tf}"


@dataclass(frozen=True, slots=True)
class _Staged:
    """A merged dataset written to its temp file, waiting for ``os.replace``."""

    result: WriteResult
    tmp: Path | None


class Catalog:
    """Parquet files partitioned exchange/symbol/kind/timeframe under a root folder.

    Typed reads (``read_bars``...) go through pyarrow straight into NumPy arrays with the
    start/end range pushed down to row groups; ``relation`` hands a dataset to DuckDB for SQL.
    """

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self._con: duckdb.DuckDBPyConnection | None = None

    def __repr__(self) -> str:
        return f"Catalog({str(self.root)!r})"

    # ----------------------------------------------------------------- paths
    def dataset_path(self, exchange: str, symbol: str, kind: DataKind, timeframe: str | None) -> Path:
        """Where a dataset lives; validates every part so a typo never creates a stray folder."""
        if not _EXCHANGE_RE.match(exchange):
            raise CatalogError(f"exchange name {exchange!r} must be lower-case letters, digits or '_'")
        parse_symbol(symbol)
        folder = self.root / f"exchange={exchange}" / f"symbol={safe_symbol(symbol)}" / f"kind={kind.value}"
        if kind in _TIMEFRAMED:
            if timeframe is None:
                raise CatalogError(f"{kind.value} datasets need a timeframe (e.g. '1m')")
            timeframe_ms(timeframe)
            folder = folder / f"timeframe={timeframe}"
        return folder / DATA_FILE

    # ----------------------------------------------------------------- write
    def write(
        self,
        series: BarSeries | FundingSeries | BookSeries | TradeFlowSeries,
        *,
        exchange: str,
        kind: DataKind | None = None,
    ) -> WriteResult:
        """Merge ``series`` into its dataset; same ``ts`` with different values: new data wins."""
        return self.write_many([(series, kind)], exchange=exchange)[0]

    def write_many(
        self, items: Sequence[tuple[Series, DataKind | None]], *, exchange: str
    ) -> list[WriteResult]:
        """Write several datasets (e.g. candles and their trade flow) as one unit.

        Every merge is computed and written to a temp file first; only when all succeeded
        are the files swapped in, so a bad second dataset cannot leave the first one stored.
        """
        staged: list[_Staged] = []
        try:
            for series, kind in items:
                staged.append(self._stage(series, exchange=exchange, kind=kind))
        except BaseException:
            for item in staged:
                if item.tmp is not None:
                    item.tmp.unlink(missing_ok=True)
            raise
        for item in staged:
            if item.tmp is not None:
                os.replace(item.tmp, item.result.path)
                _fsync_dir(item.result.path.parent)
        return [item.result for item in staged]

    def _stage(self, series: Series, *, exchange: str, kind: DataKind | None) -> _Staged:
        kind = kind_of(series, kind)
        timeframe = getattr(series, "timeframe", None) if kind in _TIMEFRAMED else None
        path = self.dataset_path(exchange, series.symbol, kind, timeframe)
        new = columns_of(series)
        old = self._load_columns(path) if path.exists() else None
        if old is None:
            added, replaced, unchanged, merged = len(series), 0, 0, new
        else:
            added, replaced, unchanged, merged = _merge(old, new)
        result = WriteResult(
            exchange, series.symbol, kind, timeframe, path, added, replaced, unchanged, int(merged["ts"].size)
        )
        if added == 0 and replaced == 0 and old is not None:
            return _Staged(result, None)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{DATA_FILE}.{os.getpid()}.tmp")
        try:
            with open(tmp, "wb") as handle:
                pq.write_table(table_from_columns(merged), handle, compression="zstd",
                               row_group_size=ROW_GROUP_ROWS)
                handle.flush()
                os.fsync(handle.fileno())
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return _Staged(result, tmp)

    @staticmethod
    def _load_columns(path: Path) -> Columns:
        table = pq.read_table(path)
        return {name: table.column(name).to_numpy() for name in table.column_names}

    # ------------------------------------------------------------------ read
    def read_bars(
        self,
        symbol: str,
        timeframe: str,
        *,
        exchange: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
        kind: DataKind = DataKind.CANDLES,
    ) -> BarSeries:
        """Bars with ``start_ms <= ts < end_ms``; ``kind=DataKind.MARK`` for mark-price candles."""
        if kind not in (DataKind.CANDLES, DataKind.MARK):
            raise CatalogError(f"read_bars reads candles or mark candles, not {kind.value}")
        series = self._read(symbol, kind, timeframe, exchange, start_ms, end_ms)
        assert isinstance(series, BarSeries)
        return series

    def read_funding(
        self, symbol: str, *, exchange: str | None = None, start_ms: int | None = None, end_ms: int | None = None
    ) -> FundingSeries:
        series = self._read(symbol, DataKind.FUNDING, None, exchange, start_ms, end_ms)
        assert isinstance(series, FundingSeries)
        return series

    def read_book(
        self, symbol: str, *, exchange: str | None = None, start_ms: int | None = None, end_ms: int | None = None
    ) -> BookSeries:
        series = self._read(symbol, DataKind.BOOK, None, exchange, start_ms, end_ms)
        assert isinstance(series, BookSeries)
        return series

    def read_trade_flow(
        self,
        symbol: str,
        timeframe: str,
        *,
        exchange: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> TradeFlowSeries:
        series = self._read(symbol, DataKind.TRADE_FLOW, timeframe, exchange, start_ms, end_ms)
        assert isinstance(series, TradeFlowSeries)
        return series

    def read(
        self,
        symbol: str,
        kind: DataKind,
        timeframe: str | None = None,
        *,
        exchange: str | None = None,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> Series:
        """Any dataset by kind; the typed ``read_*`` methods are the usual entry points."""
        return self._read(symbol, kind, timeframe if kind in _TIMEFRAMED else None, exchange, start_ms, end_ms)

    def _read(
        self,
        symbol: str,
        kind: DataKind,
        timeframe: str | None,
        exchange: str | None,
        start_ms: int | None,
        end_ms: int | None,
    ) -> Series:
        path = self._resolve(symbol, kind, timeframe, exchange)
        filters = []
        if start_ms is not None:
            filters.append(("ts", ">=", int(start_ms)))
        if end_ms is not None:
            filters.append(("ts", "<", int(end_ms)))
        # pyarrow reads the file straight into Arrow buffers; row-group statistics skip what the
        # range excludes. (DuckDB's fetchnumpy measured 3x slower for the same full-year load.)
        table = pq.read_table(path, filters=filters or None, partitioning=None)
        columns = {name: table.column(name).to_numpy() for name in table.column_names}
        return series_from_columns(kind, symbol, timeframe, columns)

    def relation(
        self, symbol: str, kind: DataKind, timeframe: str | None = None, *, exchange: str | None = None
    ) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation over one dataset, for ad-hoc SQL in research (``.filter``, ``.aggregate``...)."""
        path = self._resolve(symbol, kind, timeframe if kind in _TIMEFRAMED else None, exchange)
        return self._connection().read_parquet(str(path))

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            self._con = duckdb.connect(":memory:")
        return self._con

    def _resolve(self, symbol: str, kind: DataKind, timeframe: str | None, exchange: str | None) -> Path:
        """The one file holding the dataset; errors say what is missing and what the catalog has."""
        parse_symbol(symbol)
        what = f"{symbol} {kind.value}" + (f" {timeframe}" if timeframe else "")
        if exchange is not None:
            path = self.dataset_path(exchange, symbol, kind, timeframe)
            if path.exists():
                return path
            raise CatalogError(f"no {what} on {exchange} in catalog {self.root}; {self._holdings()}")
        exchanges = self._exchanges()
        found = [ex for ex in exchanges if self.dataset_path(ex, symbol, kind, timeframe).exists()]
        if not found:
            raise CatalogError(f"no {what} in catalog {self.root}; {self._holdings()}")
        if len(found) > 1:
            raise CatalogError(
                f"{what} is held for several exchanges ({', '.join(found)}); pass exchange= one of them"
            )
        return self.dataset_path(found[0], symbol, kind, timeframe)

    def _holdings(self, limit: int = 12) -> str:
        infos = self.datasets()
        if not infos:
            return "the catalog is empty"
        shown = ", ".join(info.label() for info in infos[:limit])
        more = f" and {len(infos) - limit} more" if len(infos) > limit else ""
        return f"it holds: {shown}{more}"

    # -------------------------------------------------------------- metadata
    def _exchanges(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name.split("=", 1)[1] for p in self.root.glob("exchange=*") if p.is_dir())

    def datasets(self) -> list[DatasetInfo]:
        """Every dataset with its row count and first/last ts, from Parquet footers (no data scan)."""
        if not self.root.is_dir():
            return []
        infos = [_info(path) for path in self.root.glob(f"exchange=*/symbol=*/kind=*/**/{DATA_FILE}")]
        return sorted(infos, key=lambda i: (i.exchange, i.symbol, i.kind.value, i.timeframe or ""))

    def dataset(self, symbol: str, kind: DataKind, timeframe: str | None = None, *, exchange: str | None = None
                ) -> DatasetInfo | None:
        """Metadata of one dataset, or None when absent (used to resume downloads)."""
        tf = timeframe if kind in _TIMEFRAMED else None
        exchanges = [exchange] if exchange is not None else self._exchanges()
        for ex in exchanges:
            path = self.dataset_path(ex, symbol, kind, tf)
            if path.exists():
                return _info(path)
        return None

    def symbols(self, *, exchange: str | None = None) -> list[str]:
        return sorted({i.symbol for i in self.datasets() if exchange is None or i.exchange == exchange})


def _merge(old: Columns, new: Columns) -> tuple[int, int, int, Columns]:
    """Merge two sorted, duplicate-free column sets; new values win for a shared ``ts``."""
    old_ts, new_ts = old["ts"], new["ts"]
    pos = np.searchsorted(old_ts, new_ts)
    clipped = np.minimum(pos, max(old_ts.size - 1, 0))
    shared = (pos < old_ts.size) & (old_ts[clipped] == new_ts) if old_ts.size else np.zeros(new_ts.size, bool)
    old, new = _same_width(old, new)
    same = equal_rows(old, clipped[shared], new, np.flatnonzero(shared))
    unchanged = int(same.sum())
    replaced = int(shared.sum()) - unchanged
    added = int(new_ts.size - shared.sum())
    keep_old = np.ones(old_ts.size, dtype=bool)
    keep_old[clipped[shared]] = False
    return added, replaced, unchanged, merge_columns(old, keep_old, new)


def _same_width(old: Columns, new: Columns) -> tuple[Columns, Columns]:
    """Book datasets may gain depth: pad the narrower side with empty levels (NaN price, 0 size)."""
    if set(old) == set(new):
        return old, new
    names = list(dict.fromkeys([*old, *new]))

    def pad(cols: Columns) -> Columns:
        n = cols["ts"].size
        fill = {name: (np.zeros(n) if "_sz_" in name else np.full(n, np.nan)) for name in names if name not in cols}
        return {name: cols[name] if name in cols else fill[name] for name in names}

    return pad(old), pad(new)


def _info(path: Path) -> DatasetInfo:
    parts = dict(part.split("=", 1) for part in path.parent.parts if "=" in part)
    meta = pq.ParquetFile(path).metadata
    rows = meta.num_rows
    first = last = None
    if rows:
        ts_index = meta.schema.names.index("ts")
        stats = [meta.row_group(i).column(ts_index).statistics for i in range(meta.num_row_groups)]
        if all(s is not None and s.has_min_max for s in stats):
            first = int(min(s.min for s in stats))
            last = int(max(s.max for s in stats))
        else:
            ts = pq.read_table(path, columns=["ts"]).column("ts").to_numpy()
            first, last = int(ts[0]), int(ts[-1])
    return DatasetInfo(
        exchange=parts["exchange"],
        symbol=symbol_from_safe(parts["symbol"]),
        kind=DataKind(parts["kind"]),
        timeframe=parts.get("timeframe"),
        rows=rows,
        first_ts=first,
        last_ts=last,
        path=path,
    )


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable; not every platform can open a directory."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def describe(info: DatasetInfo) -> str:
    """One human line about a dataset, used by the CLI and error messages."""
    span = "empty" if info.first_ts is None or info.last_ts is None else (
        f"{format_time(info.first_ts)} .. {format_time(info.last_ts)}"
    )
    return f"{info.label()}: {info.rows} rows, {span}"


def iter_datasets(catalog: Catalog, *, symbol: str | None = None, kinds: Iterable[DataKind] | None = None
                  ) -> list[DatasetInfo]:
    """Datasets filtered by symbol and kind, in catalog order."""
    wanted = set(kinds) if kinds is not None else None
    return [
        info
        for info in catalog.datasets()
        if (symbol is None or info.symbol == symbol) and (wanted is None or info.kind in wanted)
    ]
