"""Small immutable value types shared by every layer; imports nothing else of ours."""

from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import (
    Bar,
    BarSeries,
    BookSeries,
    BookSnapshot,
    DataKind,
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
