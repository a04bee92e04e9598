"""Small immutable value types shared by every layer; imports nothing else of ours.

The names are loaded on first use (PEP 562): ``quantum_trader.domain.symbols`` and
``.time`` are pure standard library, and a command that needs only them (``--help``,
``policy show``) should not pay for NumPy because the package re-exports the series types.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quantum_trader.domain.instrument import Instrument
    from quantum_trader.domain.kinds import DataKind
    from quantum_trader.domain.market import (
        Bar,
        BarSeries,
        BookSeries,
        BookSnapshot,
        FundingRate,
        FundingSeries,
        MarkPrice,
        TradeFlow,
        TradeFlowSeries,
    )
    from quantum_trader.domain.symbols import asset_of, parse_symbol, perp_symbol
    from quantum_trader.domain.time import timeframe_ms
    from quantum_trader.domain.trading import (
        Fill,
        Intent,
        Order,
        OrderSide,
        OrderType,
        Position,
        RiskDecision,
        RiskReason,
        Side,
        Verdict,
    )

_HOME = {
    "Instrument": "instrument",
    "DataKind": "kinds",
    **dict.fromkeys(("Bar", "BarSeries", "BookSeries", "BookSnapshot", "FundingRate", "FundingSeries",
                     "MarkPrice", "TradeFlow", "TradeFlowSeries"), "market"),
    **dict.fromkeys(("asset_of", "parse_symbol", "perp_symbol"), "symbols"),
    "timeframe_ms": "time",
    **dict.fromkeys(("Fill", "Intent", "Order", "OrderSide", "OrderType", "Position", "RiskDecision", "RiskReason",
                     "Side", "Verdict"), "trading"),
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{home}"), name)


__all__ = [
    "Bar",
    "BarSeries",
    "BookSeries",
    "BookSnapshot",
    "DataKind",
    "Fill",
    "FundingRate",
    "FundingSeries",
    "Instrument",
    "Intent",
    "MarkPrice",
    "Order",
    "OrderSide",
    "OrderType",
    "Position",
    "RiskDecision",
    "RiskReason",
    "Side",
    "TradeFlow",
    "TradeFlowSeries",
    "Verdict",
    "asset_of",
    "parse_symbol",
    "perp_symbol",
    "timeframe_ms",
]
