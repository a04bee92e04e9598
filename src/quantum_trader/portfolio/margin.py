"""Margin of a cross-margined USDT account: used, free, effective leverage, liquidation prices.

Maintenance margin follows the exchanges' bracket tables (Binance USD-M "leverage
brackets"): ``notional * rate - maintenance_amount`` for the bracket the notional falls
in, the amount making the table continuous. The policy holds brackets per asset code
with a ``default``. Liquidation prices are cross-margin: a position is liquidated when
account equity (wallet + every unrealised P&L) falls to the total maintenance margin,
other positions held at their current marks; this is Binance's published formula.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

from quantum_trader.config.limits import MaintenanceTier, MarginPolicy
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.trading import Position
from quantum_trader.portfolio.state import ZERO, LedgerError, LedgerState, money


@dataclass(frozen=True, slots=True)
class Bracket:
    max_notional: Decimal
    rate: Decimal
    amount: Decimal


def brackets_of(tiers: Sequence[MaintenanceTier]) -> tuple[Bracket, ...]:
    return tuple(
        Bracket(
            Decimal(repr(t.max_notional)),
            Decimal(repr(t.maintenance_margin_rate)),
            Decimal(repr(t.maintenance_amount)),
        )
        for t in tiers
    )


def bracket_for(notional: Decimal, brackets: Sequence[Bracket]) -> Bracket:
    for bracket in brackets:
        if notional <= bracket.max_notional:
            return bracket
    raise LedgerError(
        f"margin: notional {notional} exceeds the last maintenance bracket ({brackets[-1].max_notional})"
    )


def maintenance_margin(notional: Decimal, brackets: Sequence[Bracket]) -> Decimal:
    bracket = bracket_for(notional, brackets)
    return max(ZERO, notional * bracket.rate - bracket.amount)


@dataclass(frozen=True, slots=True)
class MarginSummary:
    """``used`` is initial margin at the policy leverage; ``free`` what is left of equity."""

    equity: Decimal
    used: Decimal
    free: Decimal
    maintenance: Decimal
    effective_leverage: Decimal
    liquidation_prices: Mapping[str, Decimal | None]
    """Per symbol; ``None`` when no positive price liquidates the position."""


def _brackets_for_symbol(policy: MarginPolicy, symbol: str) -> tuple[Bracket, ...]:
    tiers = policy.maintenance_tiers.get(asset_of(symbol)) or policy.maintenance_tiers.get("default")
    if not tiers:
        raise LedgerError(f"margin.maintenance_tiers: no brackets for {asset_of(symbol)} and no 'default'")
    return brackets_of(tiers)


@dataclass(frozen=True, slots=True)
class MarginTable:
    """The margin policy with its brackets converted to Decimal once, per asset, on first use.

    ``margin_summary`` runs after every fill; rebuilding the brackets from the policy each
    time was most of its cost.
    """

    policy: MarginPolicy
    leverage: Decimal
    _brackets: dict[str, tuple[Bracket, ...]]
    """Per symbol (each symbol's asset parsed once)."""

    def brackets(self, symbol: str) -> tuple[Bracket, ...]:
        found = self._brackets.get(symbol)
        if found is None:
            found = _brackets_for_symbol(self.policy, symbol)
            self._brackets[symbol] = found
        return found


def compile_margin(policy: MarginPolicy) -> MarginTable:
    return MarginTable(policy, Decimal(repr(policy.leverage)), {})


def _cross(
    cash: Decimal, positions: Mapping[str, Position], marks: Mapping[str, Decimal],
    unrealised: Mapping[str, Decimal], table: MarginTable,
) -> tuple[dict[str, Decimal | None], Decimal, Decimal]:
    """(liquidation price per symbol, total notional, total maintenance margin) of a cross-margined account."""
    notional = {s: p.size * marks[s] for s, p in positions.items()}
    brackets = {s: bracket_for(notional[s], table.brackets(s)) for s in positions}
    mm = {s: max(ZERO, notional[s] * b.rate - b.amount) for s, b in brackets.items()}
    total_mm = sum(mm.values(), ZERO)
    total_upnl = sum(unrealised.values(), ZERO)
    liquidation: dict[str, Decimal | None] = {}
    for symbol, pos in positions.items():
        bracket = brackets[symbol]
        others_mm = total_mm - mm[symbol]
        others_upnl = total_upnl - unrealised[symbol]
        q = pos.quantity
        numerator = others_mm - bracket.amount - cash - others_upnl + q * pos.entry_price
        denominator = q - abs(q) * bracket.rate
        price = numerator / denominator
        liquidation[symbol] = price if price > 0 else None
    return liquidation, sum(notional.values(), ZERO), total_mm


def liquidation_prices(
    cash: Decimal, positions: Mapping[str, Position], marks: Mapping[str, Decimal], table: MarginTable
) -> dict[str, Decimal | None]:
    """Cross-margin liquidation price of each position (``None``: no positive price liquidates it), for an
    account kept outside a ``LedgerState`` (the simulated exchange's own books); unrealised P&L is rounded to
    the cent's 1e-8 exactly as the ledger rounds it, so both agree to the last digit."""
    if len(positions) == 1:
        return _alone(cash, positions, marks, table)
    unrealised = {s: money(p.unrealised_at(marks[s])) for s, p in positions.items()}
    return _cross(cash, positions, marks, unrealised, table)[0]


def _alone(cash: Decimal, positions: Mapping[str, Position], marks: Mapping[str, Decimal],
           table: MarginTable) -> dict[str, Decimal | None]:
    """``_cross`` for a book of one position (most of a replay's fills): the other positions' margin and
    unrealised P&L are exactly zero, so the same operations in the same order give the same price."""
    (symbol, pos), = positions.items()
    bracket = bracket_for(pos.size * marks[symbol], table.brackets(symbol))
    q = pos.quantity
    numerator = ZERO - bracket.amount - cash - ZERO + q * pos.entry_price
    price = numerator / (q - abs(q) * bracket.rate)
    return {symbol: price if price > 0 else None}


def margin_summary(state: LedgerState, policy: MarginPolicy | MarginTable) -> MarginSummary:
    """Margin figures of ``state`` under the policy's leverage and maintenance brackets.

    Pass a :class:`MarginTable` (``compile_margin(policy.margin)``) when calling often.
    """
    table = policy if isinstance(policy, MarginTable) else compile_margin(policy)
    liquidation, total_notional, total_mm = _cross(state.cash, state.positions, state.marks, state.unrealised, table)
    used = money(total_notional / table.leverage)
    return MarginSummary(
        equity=state.equity,
        used=used,
        free=state.equity - used,
        maintenance=money(total_mm),
        effective_leverage=total_notional / state.equity if state.equity > 0 else Decimal("Infinity"),
        liquidation_prices=MappingProxyType(liquidation),
    )
