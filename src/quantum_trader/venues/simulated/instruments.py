"""Contract precision for backtests when no exchange metadata is at hand.

Binance USD-M quotes prices to about five significant digits and sizes in powers of
ten; we derive the same shape from the first price seen, so a synthetic asset trading
at 0.6 gets the tick a real 0.6 contract has, and orders are quantised like real ones.
"""

from __future__ import annotations

import math
from decimal import Decimal

from quantum_trader.domain.instrument import Instrument

MIN_NOTIONAL = Decimal("5")
"""Binance USD-M's minimum order notional for most perpetuals (USDT)."""


def _power_of_ten(exponent: int) -> Decimal:
    return Decimal(1).scaleb(exponent)


def instrument_for(symbol: str, reference_price: float) -> Instrument:
    if not reference_price > 0 or not math.isfinite(reference_price):
        raise ValueError(f"{symbol}: reference price must be a positive number, got {reference_price}")
    magnitude = math.floor(math.log10(reference_price))
    tick = _power_of_ten(magnitude - 5)
    # One lot is worth about 0.1-1 USDT: fine enough that sizing loses little to rounding.
    lot = _power_of_ten(-magnitude - 1) if magnitude >= 0 else _power_of_ten(max(-magnitude - 1, 0))
    return Instrument(symbol=symbol, tick_size=tick, lot_size=min(lot, Decimal(1)), min_notional=MIN_NOTIONAL)
