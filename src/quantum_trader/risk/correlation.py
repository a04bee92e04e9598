"""The spec's ``check_correlation_limit`` (section 3), kept as a readable reference.

The engine's ``CorrelatedExposureCap`` applies the same rule as a quantity cap (and
also under the ``notional`` measure); this function answers the spec's yes/no question
for positions given by their risk amounts, so the spec's sketch can be checked
number for number against the implementation.
"""

from __future__ import annotations

from collections.abc import Mapping

from quantum_trader.risk.market import MarketView


def correlated_exposure(
    new_symbol: str,
    new_amount: float,
    existing: Mapping[str, float],
    market: MarketView,
    threshold: float = 0.70,
) -> float:
    """``new_amount`` plus the amounts of ``existing`` positions correlated above ``threshold``.

    A pair missing from the matrix is an error, not "uncorrelated": guessing low would
    let correlated risk through.
    """
    total = new_amount
    for symbol, amount in existing.items():
        corr = 1.0 if symbol == new_symbol else market.corr(new_symbol, symbol)
        if corr is None:
            raise KeyError(f"correlation of {new_symbol} with {symbol} is not in the market view")
        if corr > threshold:
            total += amount
    return total


def check_correlation_limit(
    new_symbol: str,
    new_risk_amount: float,
    existing_risk_amounts: Mapping[str, float],
    market: MarketView,
    equity: float,
    threshold: float = 0.70,
    limit: float = 0.25,
) -> bool:
    """False when the new position would take correlated risk above ``limit`` of equity."""
    total = correlated_exposure(new_symbol, new_risk_amount, existing_risk_amounts, market, threshold)
    return total / equity <= limit
