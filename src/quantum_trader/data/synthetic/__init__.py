"""Deterministic synthetic multi-asset perpetual market: the embedded default data set."""

from quantum_trader.data.synthetic.market import (
    SynthConfig,
    SynthConfigError,
    SyntheticMarket,
    btc_dominance,
    generate_market,
    market_caps,
    total_market_cap,
)
from quantum_trader.data.synthetic.regimes import Regime

__all__ = [
    "Regime",
    "SynthConfig",
    "SynthConfigError",
    "SyntheticMarket",
    "btc_dominance",
    "generate_market",
    "market_caps",
    "total_market_cap",
]
