"""The kinds of dataset the catalog holds, apart from the NumPy series (a CLI option needs only the names)."""

from __future__ import annotations

from enum import StrEnum


class DataKind(StrEnum):
    """What a dataset in the catalog holds; part of its partition path."""

    CANDLES = "candles"
    MARK = "mark"
    FUNDING = "funding"
    BOOK = "book"
    TRADE_FLOW = "trade_flow"
