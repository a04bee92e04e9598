"""Generic OHLCV tables: a header naming a time column and open/high/low/close/volume.

This is what ccxt dumps, spreadsheets and most home-grown downloaders write, so it is
the fallback for any header-led candle file. Timestamps may be ISO-8601 text (no offset
means UTC) or epoch s/ms/us numbers; the unit of each cell is decided by magnitude.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from quantum_trader.data.loaders.columns import I64, infer_timeframe
from quantum_trader.data.loaders.frames import VolumeUnit, ohlcv_from_columns, resolve_kind
from quantum_trader.data.loaders.naming import market_of, symbol_from_name
from quantum_trader.data.loaders.source import content_bytes
from quantum_trader.data.loaders.table import LoaderError, RawTable
from quantum_trader.domain.market import DataKind

_CANDLE_KINDS = (DataKind.CANDLES, DataKind.MARK)


def read_csv_lines(
    path: Path, data: bytes, *, skiprows: int = 0, header: int | None = 0
) -> tuple[pd.DataFrame, I64]:
    """Parse CSV bytes with pandas' C parser; returns the frame and each row's line number.

    Blank lines are kept during parsing (so line numbers stay true) and dropped after.
    """
    try:
        frame = pd.read_csv(
            io.BytesIO(data),
            skiprows=skiprows,
            header=header,
            skip_blank_lines=False,
            encoding="utf-8-sig",
            low_memory=False,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise LoaderError(path, f"not a readable CSV: {exc}") from exc
    first_data_line = skiprows + (1 if header is not None else 0) + 1
    rows = np.arange(first_data_line, first_data_line + len(frame), dtype=np.int64)
    blank = frame.isna().all(axis=1).to_numpy(dtype=bool)
    if blank.any():
        frame = frame.loc[~blank].reset_index(drop=True)
        rows = rows[~blank]
    return frame, rows


def _table(path: Path, fmt: str, kind: DataKind, frame: pd.DataFrame) -> RawTable:
    ts = frame["ts"].to_numpy(dtype=np.int64)
    hint = symbol_from_name(path)
    return RawTable(
        path=path,
        format=fmt,
        kind=kind,
        frame=frame,
        symbol_hint=hint,
        timeframe_hint=infer_timeframe(ts),
        market_type=market_of(hint),
    )


def read_ohlcv_csv(
    path: Path, *, kind: DataKind | None = None, volume_unit: VolumeUnit | None = None
) -> RawTable:
    """A header-led OHLCV CSV (plain, .gz or one-member .zip)."""
    resolved = resolve_kind(path, "ohlcv_csv", kind, _CANDLE_KINDS, default=DataKind.CANDLES)
    raw, rows = read_csv_lines(path, content_bytes(path))
    if raw.empty:
        raise LoaderError(path, "no data rows after the header")
    frame = ohlcv_from_columns(path, raw, rows, kind=resolved, volume_unit=volume_unit)
    return _table(path, "ohlcv_csv", resolved, frame)


def read_ohlcv_parquet(
    path: Path, *, kind: DataKind | None = None, volume_unit: VolumeUnit | None = None
) -> RawTable:
    """An OHLCV Parquet file with the same column conventions as the CSV reader."""
    resolved = resolve_kind(path, "ohlcv_parquet", kind, _CANDLE_KINDS, default=DataKind.CANDLES)
    try:
        raw = pq.read_table(path).to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise LoaderError(path, f"not a readable Parquet file: {exc}") from exc
    if raw.index.name is not None or not isinstance(raw.index, pd.RangeIndex):
        raw = raw.reset_index()
    rows = np.arange(1, len(raw) + 1, dtype=np.int64)
    frame = ohlcv_from_columns(path, raw, rows, kind=resolved, volume_unit=volume_unit)
    return _table(path, "ohlcv_parquet", resolved, frame)
