"""tardis.dev ``book_snapshot_N`` CSVs: one row per snapshot, levels as ``asks[i].price`` etc.

Times are MICROseconds; ``timestamp`` is the exchange's time and ``local_timestamp`` is
when tardis received it. The engine keys on exchange time (what a live feed would stamp),
and the receive lag stays available as ``local_ts`` for latency studies.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from quantum_trader.data.loaders.columns import F64, numeric_column, require_column, time_column
from quantum_trader.data.loaders.naming import ccxt_exchange, market_of, venue_symbol
from quantum_trader.data.loaders.ohlcv_csv import read_csv_lines
from quantum_trader.data.loaders.source import content_bytes
from quantum_trader.data.loaders.table import SOURCE_ROW, LoaderError, RawTable, book_columns
from quantum_trader.domain.market import DataKind

_LEVEL_RE = re.compile(r"^(asks|bids)\[(\d+)\]\.(price|amount)$")
TARDIS_HEAD = ("exchange", "symbol", "timestamp", "local_timestamp")


def is_tardis_header(fields: list[str]) -> bool:
    names = [f.strip().lower() for f in fields]
    return tuple(names[:4]) == TARDIS_HEAD and any(_LEVEL_RE.match(n) for n in names[4:])


def _depth(raw: pd.DataFrame, path: Path) -> int:
    found: set[tuple[str, int, str]] = set()
    for col in raw.columns:
        match = _LEVEL_RE.match(str(col).strip())
        if match:
            found.add((match.group(1), int(match.group(2)), match.group(3)))
    depth = 1 + max((level for _, level, _ in found), default=-1)
    expected = {
        (side, i, field) for side in ("asks", "bids") for i in range(depth) for field in ("price", "amount")
    }
    missing = sorted(expected - found)
    if depth == 0 or missing:
        first = missing[0] if missing else ("asks", 0, "price")
        raise LoaderError(path, f"missing column '{first[0]}[{first[1]}].{first[2]}'")
    return depth


def read_tardis_book(path: Path, *, levels: int | None = None) -> RawTable:
    """Book snapshots with every level the file has, or the best ``levels`` of them."""
    raw, rows = read_csv_lines(path, content_bytes(path))
    if raw.empty:
        raise LoaderError(path, "no snapshot rows after the header")
    depth = _depth(raw, path)
    keep = depth if levels is None else min(levels, depth)
    ts_col = require_column(raw, path, "timestamp")
    columns: dict[str, object] = {"ts": time_column(raw[ts_col], path, ts_col, rows)}
    sides: dict[str, F64] = {}
    for side, out in (("bids", "bid"), ("asks", "ask")):
        for i in range(keep):
            px = numeric_column(raw[f"{side}[{i}].price"], path, f"{side}[{i}].price", rows)
            sz = numeric_column(raw[f"{side}[{i}].amount"], path, f"{side}[{i}].amount", rows)
            empty = np.isnan(px) | np.isnan(sz) | (sz == 0)  # a negative size stays: quality refuses its row
            sides[f"{out}_px_{i}"] = np.where(empty, np.nan, px)
            sides[f"{out}_sz_{i}"] = np.where(empty, 0.0, sz)
    columns.update({name: sides[name] for name in book_columns(keep)[1:]})
    local = require_column(raw, path, "local_timestamp")
    columns["local_ts"] = time_column(raw[local], path, local, rows)
    columns[SOURCE_ROW] = rows
    frame = pd.DataFrame(columns)
    exchanges = raw["exchange"].dropna().astype(str).unique()
    symbols = raw["symbol"].dropna().astype(str).unique()
    if len(exchanges) > 1 or len(symbols) > 1:
        raise LoaderError(path, f"one market per file expected, found {list(exchanges)} x {list(symbols)}")
    hint = venue_symbol(exchanges[0], symbols[0]) if len(exchanges) and len(symbols) else None
    venue = ccxt_exchange(exchanges[0]) if len(exchanges) else None
    return RawTable(path=path, format="tardis_book", kind=DataKind.BOOK, frame=frame, symbol_hint=hint,
                    exchange_hint=venue, market_type=market_of(hint))
