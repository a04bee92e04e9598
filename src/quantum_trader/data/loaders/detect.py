"""Which reader a file needs, decided from its content, never from its extension alone.

Users rename files, and one extension covers many layouts (a .csv may be a Binance
kline dump, a tardis book or a vendor export), so detection reads magic bytes, zip
members, the Arrow/Parquet schema or the first text lines. The order of the checks goes
from the most specific signature to the generic OHLCV fallback.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from quantum_trader.data.loaders.binance_aggtrades import is_aggtrades_header, is_aggtrades_row
from quantum_trader.data.loaders.binance_depth import is_depth_header
from quantum_trader.data.loaders.binance_kline import is_kline_header, is_kline_row
from quantum_trader.data.loaders.bybit_orderbook import is_bybit_line
from quantum_trader.data.loaders.columns import find_column
from quantum_trader.data.loaders.cryptodatadownload import is_banner
from quantum_trader.data.loaders.frames import TIME_ALIASES
from quantum_trader.data.loaders.source import ARROW_MAGIC, PARQUET_MAGIC, head_lines, raw_head
from quantum_trader.data.loaders.table import LoaderError
from quantum_trader.data.loaders.tardis import is_tardis_header
from quantum_trader.data.loaders.tradingview import is_tradingview_header

FORMATS: tuple[str, ...] = (
    "ohlcv_csv",
    "ohlcv_parquet",
    "binance_kline",
    "cryptodatadownload",
    "freqtrade_feather",
    "tardis_book",
    "bybit_orderbook",
    "binance_depth",
    "binance_aggtrades",
    "tradingview",
)


def _has_ohlc(names: list[str]) -> bool:
    return find_column(names, *TIME_ALIASES) is not None and all(
        find_column(names, col) is not None for col in ("open", "high", "low", "close")
    )


def _unknown(path: Path, what: str) -> LoaderError:
    return LoaderError(path, f"unrecognised content ({what}); known formats: {', '.join(FORMATS)}")


def _detect_binary(path: Path, magic: bytes) -> str | None:
    try:
        if magic.startswith(ARROW_MAGIC):
            with pa.memory_map(str(path)) as source:
                names = ipc.open_file(source).schema.names
            if _has_ohlc(names):
                return "freqtrade_feather"
            raise _unknown(path, f"Feather file with columns {names}")
        if magic.startswith(PARQUET_MAGIC):
            names = pq.read_schema(path).names
            if _has_ohlc(names):
                return "ohlcv_parquet"
            raise _unknown(path, f"Parquet file with columns {names}")
    except (OSError, pa.ArrowException) as exc:
        raise LoaderError(path, f"unreadable Arrow/Parquet file: {exc}") from exc
    return None


def _detect_text(path: Path, lines: list[str]) -> str:
    if not lines:
        raise _unknown(path, "empty file")
    first = lines[0]
    if first.startswith("{"):
        if is_bybit_line(first):
            return "bybit_orderbook"
        raise _unknown(path, f"JSON line {first[:60]!r}")
    if is_banner(first) and len(lines) > 1 and _has_ohlc(next(csv.reader([lines[1]]))):
        return "cryptodatadownload"
    fields = next(csv.reader([first]))
    if is_tardis_header(fields):
        return "tardis_book"
    if is_depth_header(fields):
        return "binance_depth"
    if is_kline_header(fields) or is_kline_row(fields):
        return "binance_kline"
    if is_aggtrades_header(fields) or is_aggtrades_row(fields):
        return "binance_aggtrades"
    if is_tradingview_header(fields):
        return "tradingview"
    if _has_ohlc(fields):
        return "ohlcv_csv"
    raise _unknown(path, f"first line {first[:80]!r}")


def detect_format(path: Path | str) -> str:
    """The registry name of the reader for ``path``, from its content (plain, .gz or one-member .zip)."""
    path = Path(path)
    magic = raw_head(path, 8)
    binary = _detect_binary(path, magic)
    if binary is not None:
        return binary
    return _detect_text(path, head_lines(path, 3))
