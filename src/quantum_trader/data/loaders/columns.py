"""Vectorised conversion of raw columns to engine types, failing on the first bad cell by row.

Every reader funnels its cells through these helpers so that "what counts as a bad cell"
and "how the error names it" are decided once. Conversions are whole-column NumPy/pandas
operations (the C parser already did the splitting); Python only runs to find the first
offending row after a conversion has failed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantum_trader.data.loaders.table import LoaderError

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

# Epoch magnitude bands: a value below 1e11 cannot be ms (it would be 1973) and one above
# it cannot be seconds (year 5138), so the unit of each cell is unambiguous for any date
# markets have existed. The same holds between ms/us (1e14) and us/ns (1e17).
_SECONDS_BELOW = 1e11
_MILLIS_BELOW = 1e14
_MICROS_BELOW = 1e17


def find_column(columns: Iterable[str], *aliases: str) -> str | None:
    """The actual name of the first alias present, compared case- and space-insensitively."""
    by_key = {str(name).strip().lower(): str(name) for name in columns}
    for alias in aliases:
        found = by_key.get(alias.lower())
        if found is not None:
            return found
    return None


def require_column(frame: pd.DataFrame, path: Path, *aliases: str) -> str:
    """Like ``find_column`` but a missing column is a LoaderError listing what the file has."""
    found = find_column(frame.columns, *aliases)
    if found is None:
        wanted = " or ".join(repr(a) for a in aliases)
        raise LoaderError(path, f"missing column {wanted}; the file has {list(map(str, frame.columns))}")
    return found


def _first_bad(mask: npt.NDArray[np.bool_], rows: Sequence[int] | I64) -> int:
    return int(rows[int(np.argmax(mask))])


def numeric_column(series: pd.Series, path: Path, column: str, rows: I64) -> F64:
    """Float64 values; an empty cell becomes NaN (the quality layer judges it), text that is
    not a number is an error at its row."""
    if pd.api.types.is_numeric_dtype(series.dtype) and not pd.api.types.is_bool_dtype(series.dtype):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    text = series.astype("string").str.strip()
    values = pd.to_numeric(text, errors="coerce")
    bad = (values.isna() & text.notna() & (text != "")).to_numpy(dtype=bool)
    if bad.any():
        row = _first_bad(bad, rows)
        raise LoaderError(path, f"not a number: {text.iloc[int(np.argmax(bad))]!r}", row=row, field=column)
    return values.to_numpy(dtype=np.float64, na_value=np.nan)


def epoch_to_ms(values: npt.NDArray[np.generic], path: Path, column: str, rows: I64) -> I64:
    """Epoch seconds, ms, us or ns -> ms, deciding the unit per cell by magnitude.

    Per cell rather than per file because some vendors (CryptoDataDownload) switch from
    seconds to milliseconds in the middle of one file. Sub-millisecond parts are floored.
    """
    if values.dtype.kind in "iu":
        ints = values.astype(np.int64)
        mag = np.abs(ints)
        return np.select(
            [mag < _SECONDS_BELOW, mag < _MILLIS_BELOW, mag < _MICROS_BELOW],
            [ints * 1000, ints, ints // 1000],
            default=ints // 1_000_000,
        ).astype(np.int64)
    floats = values.astype(np.float64)
    bad = ~np.isfinite(floats)
    if bad.any():
        raise LoaderError(path, "missing or non-finite timestamp", row=_first_bad(bad, rows), field=column)
    mag = np.abs(floats)
    ms = np.select(
        [mag < _SECONDS_BELOW, mag < _MILLIS_BELOW, mag < _MICROS_BELOW],
        [np.round(floats * 1000.0), np.floor(floats), np.floor(floats / 1000.0)],
        default=np.floor(floats / 1_000_000.0),
    )
    return ms.astype(np.int64)


def datetimes_to_ms(values: pd.Series | pd.DatetimeIndex) -> I64:
    """Datetime values (tz-aware, or naive meaning UTC) -> int64 epoch ms, floored."""
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        index = index.tz_localize("UTC")
    return np.asarray(index.tz_convert("UTC").as_unit("ms").asi8, dtype=np.int64)


def _looks_numeric(text: pd.Series) -> bool:
    sample = text.dropna().head(50)
    return bool(len(sample)) and bool(sample.str.fullmatch(r"[+-]?\d+(\.\d*)?([eE][+-]?\d+)?").all())


def time_column(series: pd.Series, path: Path, column: str, rows: I64) -> I64:
    """Any timestamp column -> int64 epoch ms: epoch numbers (unit by magnitude), datetimes,
    or ISO-8601 text (no offset means UTC). The first unparsable cell is an error at its row."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        if series.isna().any():
            raise LoaderError(
                path, "missing timestamp", row=_first_bad(series.isna().to_numpy(), rows), field=column
            )
        return datetimes_to_ms(series)
    if pd.api.types.is_numeric_dtype(series.dtype):
        return epoch_to_ms(series.to_numpy(), path, column, rows)
    text = series.astype("string").str.strip()
    if _looks_numeric(text):
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna().to_numpy(dtype=bool)
        if bad.any():
            raise LoaderError(
                path,
                f"unparsable timestamp {text.iloc[int(np.argmax(bad))]!r}",
                row=_first_bad(bad, rows),
                field=column,
            )
        as_int = text.str.fullmatch(r"[+-]?\d+").all()
        raw = numbers.to_numpy(dtype=np.int64 if as_int else np.float64)
        return epoch_to_ms(raw, path, column, rows)
    parsed = pd.to_datetime(
        text.str.replace("Z", "+00:00", regex=False), utc=True, format="ISO8601", errors="coerce"
    )
    bad = parsed.isna().to_numpy(dtype=bool)
    if bad.any():
        raise LoaderError(
            path,
            f"unparsable timestamp {text.iloc[int(np.argmax(bad))]!r} (expected ISO-8601 or epoch s/ms/us)",
            row=_first_bad(bad, rows),
            field=column,
        )
    return datetimes_to_ms(parsed)


def infer_timeframe(ts: I64) -> str | None:
    """The ccxt timeframe of the median step between rows, or None when it is not whole minutes.

    The median (of absolute steps, so newest-first files work too) ignores the occasional
    exchange outage gap or duplicate row, which the quality layer deals with.
    """
    if ts.size < 2:
        return None
    steps = np.abs(np.diff(ts))
    steps = steps[steps > 0]
    if steps.size == 0:
        return None
    step = int(np.median(steps))
    for unit, size in (("w", 604_800_000), ("d", 86_400_000), ("h", 3_600_000), ("m", 60_000)):
        if step % size == 0:
            return f"{step // size}{unit}"
    return None
