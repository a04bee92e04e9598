"""The market-data catalog: one Parquet file per dataset, read into NumPy arrays, queryable in DuckDB.

Layout under the root folder (hive-style, so DuckDB, pandas or a shell can browse it)::

    <root>/exchange=<ex>/symbol=<BTC_USDT_USDT>/kind=<candles>/timeframe=<1m>/data.parquet
    <root>/exchange=<ex>/symbol=<BTC_USDT_USDT>/kind=<funding|book>/data.parquet

One file per dataset keeps reads a single sequential scan (2.6M 1m bars load in well under
a second). Rows are stored sorted by ``ts`` with no duplicates, so readers never re-sort.

A write never loses or mixes data:

- it holds the dataset's lock (``catalog_lock``) from reading the stored rows to renaming
  the merged file, so two writers of one dataset take turns instead of overwriting each
  other's rows;
- the merged file is written to a temp file, fsynced and renamed; several datasets written
  together (candles and their trade flow) commit as one (``catalog_commit``), and a commit
  a killed writer left half-done is finished by the next reader or writer;
- re-writing identical rows is idempotent (the file is not touched); a row whose values
  differ for the same ``ts`` is a conflict: refused with ``conflicts='refuse'`` (what
  ingest uses), replaced and reported with ``conflicts='replace'`` (the old values are kept
  in a ``replaced-*.parquet`` file beside the dataset);
- the merged result must still be a series: rows on the timeframe's grid, none in the
  future, and (when asked) prices near the stored ones (``catalog_merge``);
- each write records its source in the file's metadata (``catalog_source``).

A file that cannot be read is reported as damaged (``Catalog.scan``) and never blinds the
listing of the others.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq

if TYPE_CHECKING:
    import duckdb

from quantum_trader.data import catalog_commit
from quantum_trader.data.catalog_errors import CatalogError, DamagedDatasetError, LockTimeoutError
from quantum_trader.data.catalog_lock import DEFAULT_LOCK_WAIT_S, LOCK_FILE, hold
from quantum_trader.data.catalog_merge import ConflictRule, WriteRefusedError
from quantum_trader.data.catalog_range import read_range
from quantum_trader.data.catalog_schema import Series, kind_of, series_from_columns
from quantum_trader.data.catalog_source import DatasetSource, WriteSource, from_metadata
from quantum_trader.data.catalog_write import (
    ROW_GROUP_ROWS,
    UNREADABLE,
    StagedWrite,
    Target,
    WriteResult,
    WriteRules,
    dataset_label,
    reason,
    stage,
)
from quantum_trader.domain.market import BarSeries, BookSeries, DataKind, FundingSeries, TradeFlowSeries
from quantum_trader.domain.symbols import parse_symbol, safe_symbol, symbol_from_safe
from quantum_trader.domain.time import format_time, timeframe_ms

DEFAULT_CATALOG = Path("catalog")
CATALOG_ENV = "QT_CATALOG"
DEFAULT_EXCHANGE = "binanceusdm"
DATA_FILE = "data.parquet"
_EXCHANGE_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")
_TIMEFRAMED = (DataKind.CANDLES, DataKind.MARK, DataKind.TRADE_FLOW)

__all__ = [
    "CATALOG_ENV",
    "DEFAULT_CATALOG",
    "DEFAULT_EXCHANGE",
    "ROW_GROUP_ROWS",
    "Catalog",
    "CatalogError",
    "DamagedDataset",
    "DamagedDatasetError",
    "DatasetInfo",
    "LockTimeoutError",
    "WriteRefusedError",
    "WriteResult",
    "WriteSource",
    "default_catalog_root",
]


def default_catalog_root() -> Path:
    """``$QT_CATALOG`` if set, else ``./catalog``: one place, so every command agrees on it."""
    env = os.environ.get(CATALOG_ENV, "").strip()
    return Path(env) if env else DEFAULT_CATALOG


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
        return dataset_label(self.exchange, self.symbol, self.kind, self.timeframe)


@dataclass(frozen=True, slots=True)
class DamagedDataset:
    """A dataset file that cannot be read; listed on its own line, never hiding the healthy ones."""

    path: Path
    label: str
    reason: str

    @property
    def symbol(self) -> str:
        """The unified symbol its folder names (as far as it can be read)."""
        parts = self.label.split(" ")
        return parts[1] if len(parts) > 1 else "?"

    def describe(self) -> str:
        return f"{self.label}: damaged ({self.reason}) at {self.path}"


class Catalog:
    """Parquet files partitioned exchange/symbol/kind/timeframe under a root folder.

    Typed reads (``read_bars``...) go through pyarrow straight into NumPy arrays with the
    start/end range pushed down to row groups; ``relation`` hands a dataset to DuckDB for SQL.
    A writer waits up to ``lock_wait_s`` for another writer of the same dataset, calling
    ``on_lock_wait`` once with a line saying whom it waits for.
    """

    def __init__(self, root: Path | str, *, lock_wait_s: float = DEFAULT_LOCK_WAIT_S,
                 on_lock_wait: Callable[[str], None] | None = None) -> None:
        self.root = Path(root)
        self.lock_wait_s = lock_wait_s
        self.on_lock_wait = on_lock_wait
        self._con: duckdb.DuckDBPyConnection | None = None  # opened on first query: `data list` never pays duckdb

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

    @contextmanager
    def lock(self, exchange: str, symbol: str, kind: DataKind, timeframe: str | None = None) -> Iterator[None]:
        """Hold one dataset's writer lock (maintenance scripts; every write takes it by itself)."""
        tf = timeframe if kind in _TIMEFRAMED else None
        path = self.dataset_path(exchange, symbol, kind, tf)
        with hold([(path.parent / LOCK_FILE, dataset_label(exchange, symbol, kind, tf))],
                  wait_s=self.lock_wait_s, on_wait=self.on_lock_wait):
            yield

    # ----------------------------------------------------------------- write
    def write(
        self,
        series: BarSeries | FundingSeries | BookSeries | TradeFlowSeries,
        *,
        exchange: str,
        kind: DataKind | None = None,
        conflicts: ConflictRule = "replace",
        instrument_tolerance: float | None = None,
        source: WriteSource | None = None,
    ) -> WriteResult:
        """Merge ``series`` into its dataset; see ``write_many``."""
        return self.write_many([(series, kind)], exchange=exchange, conflicts=conflicts,
                               instrument_tolerance=instrument_tolerance, source=source)[0]

    def write_many(
        self,
        items: Sequence[tuple[Series, DataKind | None]],
        *,
        exchange: str,
        conflicts: ConflictRule = "replace",
        instrument_tolerance: float | None = None,
        source: WriteSource | None = None,
    ) -> list[WriteResult]:
        """Write several datasets (e.g. candles and their trade flow) as one unit, under their locks.

        Every merge is computed and written to a temp file first; only when all succeeded are
        the files swapped in, as one commit, so a refused or failed dataset stores nothing.
        ``conflicts='refuse'`` refuses rows already stored with other values (``WriteRefusedError``);
        the default ``'replace'`` lets new values win, counts them and keeps the old ones.
        ``instrument_tolerance`` refuses prices whose median ratio to the stored overlap is off
        by more than that fraction. Rows off the timeframe grid or in the future are refused.
        """
        targets = [self._target(series, kind, exchange) for series, kind in items]
        rules = WriteRules(conflicts, instrument_tolerance, source, int(time.time() * 1000))
        locks = [(t.path.parent / LOCK_FILE, t.label) for t in targets]
        with hold(locks, wait_s=self.lock_wait_s, on_wait=self.on_lock_wait):
            catalog_commit.settle(self.root, {t.path.parent for t in targets})
            staged: list[StagedWrite] = []
            try:
                for target in targets:
                    staged.append(stage(target, exchange, rules))
                catalog_commit.commit(self.root, [f for item in staged for f in item.files])
            except BaseException:
                for item in staged:
                    for f in item.files:
                        f.tmp.unlink(missing_ok=True)
                raise
        return [item.result for item in staged]

    def _target(self, series: Series, kind: DataKind | None, exchange: str) -> Target:
        resolved = kind_of(series, kind)
        timeframe = getattr(series, "timeframe", None) if resolved in _TIMEFRAMED else None
        path = self.dataset_path(exchange, series.symbol, resolved, timeframe)
        return Target(series, resolved, timeframe, path, dataset_label(exchange, series.symbol, resolved, timeframe))

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
        label = dataset_label(path_exchange(path), symbol, kind, timeframe)
        self._finish_commit(path, label)
        # pyarrow reads the file straight into Arrow buffers; row-group statistics skip what the
        # range excludes. (DuckDB's fetchnumpy measured 3x slower for the same full-year load.)
        try:
            if start_ms is not None or end_ms is not None:
                columns = read_range(path, start_ms, end_ms)
            else:
                table = pq.read_table(path, partitioning=None)
                columns = {name: table.column(name).to_numpy() for name in table.column_names}
            return series_from_columns(kind, symbol, timeframe, columns)
        except UNREADABLE as exc:
            raise DamagedDatasetError(label, path, reason(exc)) from None

    def _finish_commit(self, path: Path, label: str) -> None:
        """Roll forward a commit a killed writer left touching this dataset, so it is read whole."""
        if not catalog_commit.touches(self.root, path.parent):
            return
        try:
            with hold([(path.parent / LOCK_FILE, label)], wait_s=self.lock_wait_s, on_wait=self.on_lock_wait):
                catalog_commit.settle(self.root, {path.parent})
        except OSError as exc:
            raise CatalogError(f"{label}: an interrupted write must be finished before it is read, and that "
                               f"needs write access to {self.root} ({exc})") from None

    def source(self, symbol: str, kind: DataKind, timeframe: str | None = None, *, exchange: str | None = None
               ) -> DatasetSource | None:
        """Where a dataset's rows came from (file, loader, venue, spot or perp), None if never recorded.

        ``DatasetSource.stand_in_note(symbol)`` says when spot data stands in for a perpetual.
        """
        tf = timeframe if kind in _TIMEFRAMED else None
        path = self._resolve(symbol, kind, tf, exchange)
        try:
            return from_metadata(pq.read_schema(path).metadata)
        except UNREADABLE as exc:
            raise DamagedDatasetError(dataset_label(path_exchange(path), symbol, kind, tf), path,
                                      reason(exc)) from None

    def relation(
        self, symbol: str, kind: DataKind, timeframe: str | None = None, *, exchange: str | None = None
    ) -> duckdb.DuckDBPyRelation:
        """A DuckDB relation over one dataset, for ad-hoc SQL in research (``.filter``, ``.aggregate``...)."""
        tf = timeframe if kind in _TIMEFRAMED else None
        path = self._resolve(symbol, kind, tf, exchange)
        self._finish_commit(path, dataset_label(path_exchange(path), symbol, kind, tf))
        return self._connection().read_parquet(str(path))

    def _connection(self) -> duckdb.DuckDBPyConnection:
        if self._con is None:
            import duckdb

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
        """Every readable dataset with its row count and first/last ts, from Parquet footers (no data scan).

        Damaged files are left out here (``scan`` and ``damaged`` report them).
        """
        return self.scan()[0]

    def damaged(self) -> list[DamagedDataset]:
        return self.scan()[1]

    def scan(self) -> tuple[list[DatasetInfo], list[DamagedDataset]]:
        """(healthy datasets, damaged ones): one unreadable file never hides the others."""
        if not self.root.is_dir():
            return [], []
        self._finish_all_commits()
        infos: list[DatasetInfo] = []
        damaged: list[DamagedDataset] = []
        for path in self.root.glob(f"exchange=*/symbol=*/kind=*/**/{DATA_FILE}"):
            try:
                infos.append(_info(path))
            except UNREADABLE as exc:
                damaged.append(DamagedDataset(path, _path_label(self.root, path), reason(exc)))
        infos.sort(key=lambda i: (i.exchange, i.symbol, i.kind.value, i.timeframe or ""))
        damaged.sort(key=lambda d: str(d.path))
        return infos, damaged

    def _finish_all_commits(self) -> None:
        """Best effort before a listing: a commit held by a live writer, or a read-only catalog, is skipped."""
        for item in catalog_commit.pending(self.root):
            folders = {s.final.parent for s in item.unfinished()}
            locks = [(folder / LOCK_FILE, _path_label(self.root, folder / DATA_FILE)) for folder in folders]
            try:
                with hold(locks, wait_s=0.0):
                    catalog_commit.settle(self.root, folders)
            except (OSError, LockTimeoutError):
                continue

    def dataset(self, symbol: str, kind: DataKind, timeframe: str | None = None, *, exchange: str | None = None
                ) -> DatasetInfo | None:
        """Metadata of one dataset, or None when absent (used to resume downloads)."""
        tf = timeframe if kind in _TIMEFRAMED else None
        exchanges = [exchange] if exchange is not None else self._exchanges()
        for ex in exchanges:
            path = self.dataset_path(ex, symbol, kind, tf)
            if path.exists():
                try:
                    return _info(path)
                except UNREADABLE as exc:
                    raise DamagedDatasetError(dataset_label(ex, symbol, kind, tf), path, reason(exc)) from None
        return None

    def symbols(self, *, exchange: str | None = None) -> list[str]:
        return sorted({i.symbol for i in self.datasets() if exchange is None or i.exchange == exchange})


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


def path_exchange(path: Path) -> str:
    return next((part.split("=", 1)[1] for part in path.parts if part.startswith("exchange=")), "?")


def _path_label(root: Path, path: Path) -> str:
    """A dataset's label from its folders, as far as they can be read (for damaged ones)."""
    parts = dict(part.split("=", 1) for part in path.parent.relative_to(root).parts if "=" in part)
    try:
        symbol = symbol_from_safe(parts.get("symbol", "?"))
    except ValueError:
        symbol = parts.get("symbol", "?")
    tf = parts.get("timeframe")
    return f"{parts.get('exchange', '?')} {symbol} {parts.get('kind', '?')}" + (f" {tf}" if tf else "")


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
