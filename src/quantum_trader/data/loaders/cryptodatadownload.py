"""CryptoDataDownload CSVs: a URL banner line, a header, then rows NEWEST FIRST.

Newest-first is the format's convention, not damage, so the reader returns the rows
oldest first (each keeping its own line number) and no ``--repair`` is needed; a file
whose order is broken beyond that convention still reaches the quality layer as
out-of-order rows. The vendor names its files ``<Exchange>_<PAIR>_<tf>.csv``. It changed its
timestamp style over the years and its files mix them:
``unix`` in seconds or milliseconds (decided per cell by magnitude), ``date`` as
``2024-01-21 07:00:00`` or ``2024-01-21 07-AM``. ``unix`` wins when present; ``date`` fills
the rows where it is blank. Volumes come as ``Volume <BASE>`` and ``Volume <QUOTE>``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from quantum_trader.data.loaders.columns import (
    I64,
    datetimes_to_ms,
    find_column,
    infer_timeframe,
    numeric_column,
    require_column,
    time_column,
)
from quantum_trader.data.loaders.frames import candle_frame, resolve_kind
from quantum_trader.data.loaders.naming import ccxt_exchange, market_of, split_native
from quantum_trader.data.loaders.ohlcv_csv import read_csv_lines
from quantum_trader.data.loaders.source import content_bytes
from quantum_trader.data.loaders.table import LoaderError, RawTable
from quantum_trader.domain.market import DataKind

BANNER_MARKERS = ("cryptodatadownload", "http://", "https://", "www.")


def is_banner(line: str) -> bool:
    lowered = line.strip().lower()
    return any(marker in lowered for marker in BANNER_MARKERS) and "," not in lowered.rstrip(",")


def _parse_dates(series: pd.Series, path: Path, column: str, rows: I64) -> I64:
    """Both of the vendor's date styles, vectorised; the first cell matching neither is an error."""
    text = series.astype("string").str.strip()
    parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    missing = parsed.isna()
    if missing.any():
        hourly = pd.to_datetime(text[missing], utc=True, format="%Y-%m-%d %I-%p", errors="coerce")
        parsed = parsed.where(~missing, hourly)
    bad = parsed.isna().to_numpy(dtype=bool)
    if bad.any():
        index = int(np.argmax(bad))
        raise LoaderError(path, f"unparsable date {text.iloc[index]!r}", row=int(rows[index]), field=column)
    return datetimes_to_ms(parsed)


def _timestamps(raw: pd.DataFrame, path: Path, rows: I64) -> I64:
    unix_col = find_column(raw.columns, "unix", "unix timestamp", "timestamp")
    date_col = find_column(raw.columns, "date", "datetime")
    if unix_col is None:
        if date_col is None:
            require_column(raw, path, "unix", "date")
        return _parse_dates(raw[str(date_col)], path, str(date_col), rows)
    blank = raw[unix_col].isna().to_numpy(dtype=bool)
    if not blank.any() or date_col is None:
        return time_column(raw[unix_col], path, unix_col, rows)
    ts = np.empty(len(raw), dtype=np.int64)
    ts[~blank] = time_column(raw.loc[~blank, unix_col], path, unix_col, rows[~blank])
    ts[blank] = _parse_dates(raw.loc[blank, date_col], path, date_col, rows[blank])
    return ts


def _volume_names(raw: pd.DataFrame, path: Path) -> tuple[str | None, str | None, str | None]:
    """(base volume column, quote volume column, unified spot symbol) from 'Volume XXX' headers."""
    volumes = {
        str(c).strip()[7:].strip().upper(): str(c)
        for c in raw.columns
        if str(c).lower().startswith("volume ")
    }
    symbol_col = find_column(raw.columns, "symbol")
    native = None
    if symbol_col is not None and raw[symbol_col].notna().any():
        native = str(raw[symbol_col].dropna().iloc[0]).strip().upper()
    if native is None:
        return None, None, None
    pair = native.split("/") if "/" in native else split_native(native)
    if pair is None or len(pair) != 2:
        return None, None, None
    base, quote = pair[0], pair[1]
    if volumes and base not in volumes and quote not in volumes:
        raise LoaderError(path, f"volume columns {sorted(volumes.values())} do not name {base} or {quote}")
    return volumes.get(base), volumes.get(quote), f"{base}/{quote}"


def read_cryptodatadownload(path: Path, *, kind: DataKind | None = None) -> RawTable:
    """A CryptoDataDownload candle CSV; ``symbol_hint`` is the spot pair its symbol column names."""
    resolved = resolve_kind(
        path, "cryptodatadownload", kind, (DataKind.CANDLES, DataKind.MARK), default=DataKind.CANDLES
    )
    data = content_bytes(path)
    first = data.lstrip(b"\xef\xbb\xbf").split(b"\n", 1)[0].decode("utf-8", errors="replace")
    if not is_banner(first):
        raise LoaderError(
            path, f"expected a CryptoDataDownload banner on line 1, found {first.strip()[:80]!r}", row=1
        )
    raw, rows = read_csv_lines(path, data, skiprows=1)
    if raw.empty:
        raise LoaderError(path, "no data rows after the header")
    ts = _timestamps(raw, path, rows)
    prices = [
        numeric_column(raw[c], path, c, rows)
        for c in (require_column(raw, path, n) for n in ("open", "high", "low", "close"))
    ]
    base_col, quote_col, symbol = _volume_names(raw, path)
    if base_col is None and quote_col is None:
        plain = require_column(raw, path, "volume")
        base_col = plain
    frame = candle_frame(
        ts,
        (prices[0], prices[1], prices[2], prices[3]),
        rows,
        base_volume=None if base_col is None else numeric_column(raw[base_col], path, base_col, rows),
        quote_volume=None if quote_col is None else numeric_column(raw[quote_col], path, quote_col, rows),
    )
    count_col = find_column(raw.columns, "tradecount", "trade_count")
    if count_col is not None:
        frame.insert(
            len(frame.columns) - 1, "trade_count", numeric_column(raw[count_col], path, count_col, rows)
        )
    if ts.size > 1 and ts[0] > ts[-1]:
        frame = frame.iloc[::-1].reset_index(drop=True)
    return RawTable(
        path=path,
        format="cryptodatadownload",
        kind=resolved,
        frame=frame,
        symbol_hint=symbol,
        timeframe_hint=infer_timeframe(ts),
        exchange_hint=ccxt_exchange(path.name.split("_", 1)[0]),
        market_type=market_of(symbol),
    )
