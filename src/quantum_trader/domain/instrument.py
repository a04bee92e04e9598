"""The tradable contract and its precision: where floats become exact money."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from quantum_trader.domain.symbols import asset_of, parse_symbol


@dataclass(frozen=True, slots=True)
class Instrument:
    """A USDT-margined linear perpetual (or spot pair) with its exchange precision.

    Quantities are in base units, prices in quote. Orders are quantised here, once, so
    the ledger only ever sees exact, exchange-valid values. ``contract_size`` is how many
    base units one exchange contract holds (1 on Binance and Bybit USDT perpetuals): lot
    and minimum quantity are already converted to base units with it, and it is kept so an
    order can be turned back into contracts. ``max_leverage`` is the exchange's cap, None
    where the exchange does not publish it (the policy's margin tiers then apply alone).
    """

    symbol: str
    tick_size: Decimal
    lot_size: Decimal
    min_notional: Decimal
    min_qty: Decimal = Decimal("0")
    contract_size: Decimal = Decimal("1")
    max_leverage: Decimal | None = None

    def __post_init__(self) -> None:
        parse_symbol(self.symbol)
        for name in ("tick_size", "lot_size"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{self.symbol}: {name} must be > 0, got {getattr(self, name)}")
        if self.min_notional < 0 or self.min_qty < 0:
            raise ValueError(f"{self.symbol}: min_notional and min_qty must be >= 0")
        if self.contract_size <= 0:
            raise ValueError(f"{self.symbol}: contract_size must be > 0, got {self.contract_size}")
        if self.max_leverage is not None and self.max_leverage < 1:
            raise ValueError(f"{self.symbol}: max_leverage must be >= 1 or None, got {self.max_leverage}")

    @property
    def asset(self) -> str:
        return asset_of(self.symbol)

    def round_price(self, price: float | Decimal) -> Decimal:
        value = Decimal(str(price))
        return (value / self.tick_size).to_integral_value(ROUND_HALF_EVEN) * self.tick_size

    def round_qty_down(self, qty: float | Decimal) -> Decimal:
        """Round a quantity down to the lot: sizing must never round up past a limit."""
        value = Decimal(str(qty))
        return (value / self.lot_size).to_integral_value(ROUND_DOWN) * self.lot_size

    def is_tradable(self, qty: Decimal, price: Decimal) -> bool:
        return qty > 0 and qty >= self.min_qty and qty * price >= self.min_notional


GUESSED_MIN_NOTIONAL = Decimal("5")
"""Binance USD-M's minimum order notional for most perpetuals (USDT), assumed when none is known."""


def guess_instrument(symbol: str, reference_price: float) -> Instrument:
    """Precision shaped like a real contract at this price, for when the exchange's is not known.

    Binance USD-M quotes prices to about five significant digits and sizes in powers of
    ten; the same shape derived from the first price seen quantises a synthetic asset at
    0.6 like a real 0.6 contract. A run says when it had to guess (its data notes).
    """
    if not reference_price > 0 or not math.isfinite(reference_price):
        raise ValueError(f"{symbol}: reference price must be a positive number, got {reference_price}")
    magnitude = math.floor(math.log10(reference_price))
    tick = Decimal(1).scaleb(magnitude - 5)
    # One lot is worth about 0.1-1 USDT: fine enough that sizing loses little to rounding.
    lot = Decimal(1).scaleb(-magnitude - 1 if magnitude >= 0 else max(-magnitude - 1, 0))
    return Instrument(symbol=symbol, tick_size=tick, lot_size=min(lot, Decimal(1)),
                      min_notional=GUESSED_MIN_NOTIONAL)
