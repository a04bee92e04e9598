"""The market picture: rolling correlations and their events, market cap, dominance, sectors.

Screening and tiers (a later issue) will live here too.
"""

from quantum_trader.universe.correlation import (
    CorrelationEvent,
    CorrelationHistory,
    CorrelationMonitor,
    CorrelationSnapshot,
    rolling_correlation,
)
from quantum_trader.universe.market_picture import (
    MarketPicture,
    MarketReferenceError,
    btc_dominance,
    market_caps,
    sector_returns,
    total_market_cap,
)

__all__ = [
    "CorrelationEvent",
    "CorrelationHistory",
    "CorrelationMonitor",
    "CorrelationSnapshot",
    "MarketPicture",
    "MarketReferenceError",
    "btc_dominance",
    "market_caps",
    "rolling_correlation",
    "sector_returns",
    "total_market_cap",
]
