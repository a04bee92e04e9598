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

    def brackets(self, symbol: str) -> tuple[Bracket, ...]:
        asset = asset_of(symbol)
        found = self._brackets.get(asset)
        if found is None:
            found = _brackets_for_symbol(self.policy, symbol)
            self._brackets[asset] = found
        return found


def compile_margin(policy: MarginPolicy) -> MarginTable:
    return MarginTable(policy, Decimal(repr(policy.leverage)), {})


def margin_summary(state: LedgerState, policy: MarginPolicy | MarginTable) -> MarginSummary:
    """Margin figures of ``state`` under the policy's leverage and maintenance brackets.

    Pass a :class:`MarginTable` (``compile_margin(policy.margin)``) when calling often.
    """
    table = policy if isinstance(policy, MarginTable) else compile_margin(policy)
    leverage = table.leverage
    notional = {s: state.notional(s) for s in state.positions}
    brackets = {s: table.brackets(s) for s in state.positions}
    mm = {s: maintenance_margin(notional[s], brackets[s]) for s in state.positions}
    total_notional = sum(notional.values(), ZERO)
    total_mm = sum(mm.values(), ZERO)
    used = money(total_notional / leverage)
    liquidation: dict[str, Decimal | None] = {}
    for symbol, pos in state.positions.items():
        bracket = bracket_for(notional[symbol], brackets[symbol])
        others_mm = total_mm - mm[symbol]
        others_upnl = state.total_unrealised - state.unrealised[symbol]
        q = pos.quantity
        numerator = others_mm - bracket.amount - state.cash - others_upnl + q * pos.entry_price
        denominator = q - abs(q) * bracket.rate
        price = numerator / denominator
        liquidation[symbol] = price if price > 0 else None
    return MarginSummary(
        equity=state.equity,
        used=used,
        free=state.equity - used,
        maintenance=money(total_mm),
        effective_leverage=total_notional / state.equity if state.equity > 0 else Decimal("Infinity"),
        liquidation_prices=MappingProxyType(liquidation),
    )
