"""The one result type every reader returns, and the one error type every reader raises.

Readers stop at "what the file holds": rows stay in file order with duplicates and gaps,
because deciding what to repair (and recording that it was repaired) is the quality
layer's job. ``source_row`` survives so that layer can point a user back at the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from quantum_trader.domain.market import DataKind

SOURCE_ROW = "source_row"
CANDLE_COLUMNS = ("ts", "open", "high", "low", "close", "volume")
FUNDING_COLUMNS = ("ts", "rate")
TRADE_FLOW_COLUMNS = ("ts", "taker_buy_volume", "taker_sell_volume")


class LoaderError(ValueError):
    """A file that cannot be read as claimed; the message names the file and, when known, row and field.

    One error per file, raised before anything is returned, so a caller never stores half a file.
    """

    def __init__(self, path: Path | str, message: str, *, row: int | None = None, field: str | None = None):
        self.path = Path(path)
        self.row = row
        self.field = field
        where = f"{self.path}"
        if row is not None:
            where += f", row {row}"
        if field is not None:
            where += f", field {field!r}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class RawTable:
    """What a file holds, parsed but not yet quality-checked (rows in FILE order, duplicates kept).

    ``frame`` has the standard columns of its ``kind`` (``ts`` is int64 epoch ms UTC) plus
    ``source_row``: the 1-based line number in a text file (the header, if any, is line 1;
    for a zip or gzip it is the line in the decompressed member) or the 1-based record
    number in a binary (Feather/Parquet) file.

    Candles and mark candles: ``ts, open, high, low, close, volume`` float64 with ``volume``
    in BASE units. When the file carries quote volume it is kept as ``quote_volume``; when
    the file has only quote volume, ``volume`` is derived as ``quote_volume / close`` (an
    approximation: the bar's VWAP is unknown) so every consumer can rely on base units.
    Funding: ``ts, rate``. Book: ``ts, bid_px_0.., bid_sz_0.., ask_px_0.., ask_sz_0..`` with
    NaN price / 0 size for missing levels. Trade flow: ``ts, taker_buy_volume, taker_sell_volume``.

    ``exchange_hint`` and ``market_type`` say where the rows come from; ingest records them as
    the dataset's source, so spot data filed under a perpetual symbol is never forgotten.
    """

    path: Path
    format: str
    kind: DataKind
    frame: pd.DataFrame
    symbol_hint: str | None = None
    timeframe_hint: str | None = None
    extra: dict[str, pd.DataFrame] = field(default_factory=dict)
    exchange_hint: str | None = None
    """The ccxt id of the venue the file comes from, when it says (a Bybit archive, a tardis venue)."""
    market_type: str | None = None
    """``spot`` or ``perp`` when the content, name or folders say which market the rows are from."""

    def __len__(self) -> int:
        return len(self.frame)


def book_columns(levels: int) -> list[str]:
    """Column order of a BOOK frame: all bid prices, bid sizes, ask prices, ask sizes, best first."""
    names = ["ts"]
    for prefix in ("bid_px", "bid_sz", "ask_px", "ask_sz"):
        names.extend(f"{prefix}_{i}" for i in range(levels))
    return names
