"""One dataset's write, staged: load what is stored, check and merge the new rows, write temp files.

Kept apart from ``Catalog`` (which takes the locks and commits) so the steps of a write read
in order here: the stored file (a damaged one is never overwritten), the refusals of
``catalog_merge``, the merged file with its source record in the footer, and the stored
values a replacement overwrote, kept in a ``replaced-*.parquet`` file beside the dataset.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from quantum_trader.data import catalog_commit
from quantum_trader.data.catalog_commit import Staged
from quantum_trader.data.catalog_errors import DamagedDatasetError
from quantum_trader.data.catalog_merge import ConflictRule, Merged, check_instrument, check_new_rows, merge
from quantum_trader.data.catalog_schema import Columns, Series, columns_of, table_from_columns
from quantum_trader.data.catalog_source import DatasetSource, SourceRecord, WriteSource, encode, from_metadata
from quantum_trader.domain.market import DataKind

ROW_GROUP_ROWS = 131_072  # ~3 months of 1m bars: range reads skip whole groups via their ts statistics
UNREADABLE = (OSError, ValueError, KeyError, pa.ArrowException)
"""What reading a damaged Parquet file raises (pyarrow's errors are OSError/ValueError subclasses)."""

__all__ = ["ROW_GROUP_ROWS", "UNREADABLE", "StagedWrite", "Target", "WriteResult", "WriteRules", "dataset_label",
           "load_stored", "reason", "stage"]


def dataset_label(exchange: str, symbol: str, kind: DataKind, timeframe: str | None) -> str:
    return f"{exchange} {symbol} {kind.value}" + (f" {timeframe}" if timeframe else "")


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
    replaced_file: Path | None = None
    """Where the stored values this write replaced were kept (``conflicts='replace'`` only)."""

    @property
    def changed(self) -> bool:
        return self.rows_added + self.rows_replaced > 0

    def label(self) -> str:
        return dataset_label(self.exchange, self.symbol, self.kind, self.timeframe)


@dataclass(frozen=True, slots=True)
class Target:
    """One series and the dataset it goes to."""

    series: Series
    kind: DataKind
    timeframe: str | None
    path: Path
    label: str


@dataclass(frozen=True, slots=True)
class StagedWrite:
    """A merged dataset written to temp file(s), waiting for the commit (no files: nothing changed)."""

    result: WriteResult
    files: tuple[Staged, ...]


@dataclass(frozen=True, slots=True)
class WriteRules:
    conflicts: ConflictRule
    instrument_tolerance: float | None
    source: WriteSource | None
    now_ms: int


def stage(target: Target, exchange: str, rules: WriteRules) -> StagedWrite:
    """Check and merge ``target`` into what is stored (the caller holds the dataset's lock)."""
    new = columns_of(target.series)
    stored = load_stored(target.path, target.label) if target.path.exists() else None
    old, previous = stored if stored is not None else (None, None)
    old_ts = old["ts"] if old is not None else np.empty(0, dtype=np.int64)
    check_new_rows(target.kind, target.timeframe, old_ts, new["ts"], label=target.label, now_ms=rules.now_ms)
    if old is None:
        merged = Merged(new, int(new["ts"].size), 0, 0, None)
    else:
        if rules.instrument_tolerance is not None:
            check_instrument(target.kind, old, new, label=target.label, tolerance=rules.instrument_tolerance)
        merged = merge(old, new, label=target.label, conflicts=rules.conflicts)
    path = target.path
    archive = _archive_path(path) if merged.replaced_old is not None else None
    result = WriteResult(exchange, target.series.symbol, target.kind, target.timeframe, path, merged.added,
                         merged.replaced, merged.unchanged, int(merged.columns["ts"].size), archive)
    if old is not None and not (merged.added or merged.replaced):
        return StagedWrite(result, ())  # identical rows: the file is not touched
    path.parent.mkdir(parents=True, exist_ok=True)
    files: list[Staged] = []
    try:
        if archive is not None and merged.replaced_old is not None:
            files.append(Staged(write_temp(archive, table_from_columns(merged.replaced_old)), archive))
        table = table_from_columns(merged.columns).replace_schema_metadata(
            encode(previous, _record(rules, merged, archive)))
        files.append(Staged(write_temp(path, table), path))
    except BaseException:
        for f in files:
            f.tmp.unlink(missing_ok=True)
        raise
    return StagedWrite(result, tuple(files))


def load_stored(path: Path, label: str) -> tuple[Columns, DatasetSource | None]:
    """Stored columns and source records; a file that cannot be read is never overwritten."""
    try:
        table = pq.read_table(path)
        columns = {name: table.column(name).to_numpy() for name in table.column_names}
        if "ts" not in columns:
            raise KeyError("no 'ts' column")
    except UNREADABLE as exc:
        raise DamagedDatasetError(label, path, reason(exc)) from None
    return columns, from_metadata(table.schema.metadata)


def _archive_path(path: Path) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    return path.with_name(f"replaced-{stamp}-{os.getpid()}-{os.urandom(3).hex()}.parquet")


def write_temp(final: Path, table: pa.Table) -> Path:
    """The table in a fsynced temp file next to ``final``; removed again if writing fails."""
    tmp = catalog_commit.temp_path(final)
    try:
        with open(tmp, "wb") as handle:
            pq.write_table(table, handle, compression="zstd", row_group_size=ROW_GROUP_ROWS)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return tmp


def _record(rules: WriteRules, merged: Merged, archive: Path | None) -> SourceRecord:
    src = rules.source or WriteSource()
    old_ts = merged.replaced_old["ts"] if merged.replaced_old is not None else None
    return SourceRecord(
        at_ms=rules.now_ms, file=src.file, loader=src.loader, venue=src.venue, market_type=src.market_type,
        rows_added=merged.added, rows_replaced=merged.replaced,
        replaced_first_ts=int(old_ts[0]) if old_ts is not None else None,
        replaced_last_ts=int(old_ts[-1]) if old_ts is not None else None,
        replaced_file=archive.name if archive is not None else None,
    )


def reason(exc: BaseException) -> str:
    """The first line of a reader's error: pyarrow's can run to many lines."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else type(exc).__name__
    return first if len(first) <= 200 else first[:197] + "..."
