"""Assembly of the standard frames shared by the candle-like readers.

Several vendors ship the same five numbers with different names and units; building the
output frame in one place keeps the volume convention (base units, quote kept alongside)
and the column order identical whatever the source.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from quantum_trader.data.loaders.columns import F64, I64, numeric_column, require_column, time_column
from quantum_trader.data.loaders.naming import kind_from_name
from quantum_trader.data.loaders.table import SOURCE_ROW, LoaderError
from quantum_trader.domain.market import DataKind

VolumeUnit = Literal["base", "quote"]

TIME_ALIASES = ("timestamp", "date", "time", "open_time", "datetime", "ts", "open time", "unix")
QUOTE_VOLUME_ALIASES = ("quote_volume", "quote_asset_volume", "volume_quote", "quote volume", "quote_vol")


def resolve_kind(
    path: Path, fmt: str, requested: DataKind | None, allowed: tuple[DataKind, ...], *, default: DataKind
) -> DataKind:
    """The caller's kind if given (and legal for the format), else the file name's, else the default."""
    kind = requested if requested is not None else (kind_from_name(path) or default)
    if kind not in allowed:
        names = ", ".join(k.value for k in allowed)
        raise LoaderError(path, f"format {fmt!r} holds {names}, not {kind.value!r}")
    return kind


def candle_frame(
    ts: I64,
    ohlc: tuple[F64, F64, F64, F64],
    rows: I64,
    *,
    base_volume: F64 | None,
    quote_volume: F64 | None,
) -> pd.DataFrame:
    """Standard candle frame; volume in base units, derived as quote/close when only quote is known."""
    open_, high, low, close = ohlc
    if base_volume is None:
        if quote_volume is None:
            base_volume = np.full(ts.size, np.nan)
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                base_volume = np.where(close > 0, quote_volume / close, np.nan)
    columns: dict[str, object] = {
        "ts": ts,
        "open": open_,
        "high": high,
        "low": low,
        "close": close,
        "volume": base_volume,
    }
    if quote_volume is not None:
        columns["quote_volume"] = quote_volume
    columns[SOURCE_ROW] = rows
    return pd.DataFrame(columns)


def funding_frame(ts: I64, rate: F64, rows: I64) -> pd.DataFrame:
    return pd.DataFrame({"ts": ts, "rate": rate, SOURCE_ROW: rows})


def ohlcv_from_columns(
    path: Path, raw: pd.DataFrame, rows: I64, *, kind: DataKind, volume_unit: VolumeUnit | None
) -> pd.DataFrame:
    """Standard candle frame from a table with a time column and (case-insensitive) OHLCV columns.

    A bare ``volume`` column is base volume unless ``volume_unit='quote'`` says otherwise:
    the file cannot say it, so the caller must (e.g. the Binance perp 1m dumps in quote).
    """
    time_col = require_column(raw, path, *TIME_ALIASES)
    ts = time_column(raw[time_col], path, time_col, rows)
    prices = tuple(
        numeric_column(raw[col], path, col, rows)
        for col in (require_column(raw, path, name) for name in ("open", "high", "low", "close"))
    )
    quote_col = next((c for c in raw.columns if str(c).strip().lower() in QUOTE_VOLUME_ALIASES), None)
    volume_col = next(
        (c for c in raw.columns if str(c).strip().lower() in ("volume", "vol", "base_volume")), None
    )
    if volume_col is None and quote_col is None and kind is not DataKind.MARK:
        require_column(raw, path, "volume", *QUOTE_VOLUME_ALIASES)
    volume = None if volume_col is None else numeric_column(raw[volume_col], path, str(volume_col), rows)
    quote = None if quote_col is None else numeric_column(raw[quote_col], path, str(quote_col), rows)
    if volume_unit == "quote":
        if quote is not None:
            raise LoaderError(path, "volume_unit='quote' but the file already has a quote volume column")
        volume, quote = None, volume
    return candle_frame(
        ts, (prices[0], prices[1], prices[2], prices[3]), rows, base_volume=volume, quote_volume=quote
    )


def funding_from_columns(
    path: Path, raw: pd.DataFrame, rows: I64, rate_aliases: tuple[str, ...]
) -> pd.DataFrame:
    time_col = require_column(raw, path, *TIME_ALIASES)
    rate_col = require_column(raw, path, *rate_aliases)
    ts = time_column(raw[time_col], path, time_col, rows)
    return funding_frame(ts, numeric_column(raw[rate_col], path, rate_col, rows), rows)
