"""Testkit-free builders of markets, ledgers and intents for the risk and portfolio tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal

import numpy as np

from quantum_trader.config.policy import Policy
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.symbols import perp_symbol
from quantum_trader.domain.trading import Fill, Intent, OrderSide, Side
from quantum_trader.portfolio import LedgerState, apply_fill, mark, new_ledger
from quantum_trader.risk import CompiledLimits, MarketView, build_market_view, compile_limits

T0 = 1_767_225_600_000
"""2026-01-01 00:00 UTC in epoch ms."""

ASSETS = ("BTC", "ETH", "SOL", "BNB", "XRP", "AVAX", "LINK", "MATIC", "DOGE", "ADA")
PRICES = {
    "BTC": 100_000.0,
    "ETH": 4_000.0,
    "SOL": 200.0,
    "BNB": 600.0,
    "XRP": 2.0,
    "AVAX": 40.0,
    "LINK": 20.0,
    "MATIC": 0.5,
    "DOGE": 0.2,
    "ADA": 1.0,
}
LOTS = {
    "BTC": "0.001",
    "ETH": "0.001",
    "SOL": "0.01",
    "BNB": "0.01",
    "XRP": "0.1",
    "AVAX": "0.01",
    "LINK": "0.01",
    "MATIC": "1",
    "DOGE": "1",
    "ADA": "1",
}
TICKS = {
    "BTC": "0.1",
    "ETH": "0.01",
    "SOL": "0.01",
    "BNB": "0.01",
    "XRP": "0.0001",
    "AVAX": "0.001",
    "LINK": "0.001",
    "MATIC": "0.0001",
    "DOGE": "0.00001",
    "ADA": "0.0001",
}


def sym(asset: str) -> str:
    return perp_symbol(asset)


def instrument(asset: str, min_notional: str = "5") -> Instrument:
    return Instrument(sym(asset), Decimal(TICKS[asset]), Decimal(LOTS[asset]), Decimal(min_notional))


def policy_with(**sections: dict[str, object]) -> Policy:
    """The default policy with sections overridden: ``sizing={"reduce_instead_of_refuse": False}``."""
    base = Policy().model_dump()
    for name, values in sections.items():
        base[name] = {**base[name], **values}
    return Policy.model_validate(base)


EXACT_FILLS = {"fill_buffer": 0.0}
"""``sizing`` overrides for tests of the rules' arithmetic at the decision price (no latency buffer)."""


def uniform_corr(n: int, value: float) -> np.ndarray:
    m = np.full((n, n), value)
    np.fill_diagonal(m, 1.0)
    return m


def market(
    policy: Policy | CompiledLimits | None = None,
    *,
    assets: Sequence[str] = ASSETS,
    corr: np.ndarray | float = 0.3,
    pairs: Mapping[tuple[str, str], float] | None = None,
    depth: float | Mapping[str, float] = 50_000_000.0,
    phase: int = 3,
    edge: Sequence[str] = ("AVAX",),
    marks: Mapping[str, float] | None = None,
    ts: int = T0,
    entry_slippage: float = 0.0,
) -> MarketView:
    """A market view; ``entry_slippage`` is the venue's expected slippage of every market entry
    (0: the rules' arithmetic at the decision price, with a policy whose ``fill_buffer`` is 0)."""
    matrix = uniform_corr(len(assets), corr) if isinstance(corr, float) else np.array(corr, dtype=float)
    for (a, b), value in (pairs or {}).items():
        i, j = assets.index(a), assets.index(b)
        matrix[i, j] = matrix[j, i] = value
    depths = {sym(a): (depth if isinstance(depth, float) else depth.get(a, 50_000_000.0)) for a in assets}
    prices = {sym(a): (marks or PRICES).get(a, PRICES[a]) for a in assets}
    return build_market_view(
        compile_limits(policy or Policy()),
        ts=ts,
        phase=phase,
        symbols=[sym(a) for a in assets],
        correlation=matrix,
        depth_1pct=depths,
        marks=prices,
        instruments=[instrument(a) for a in assets],
        edge_assets=edge,
        entry_slippage={sym(a): entry_slippage for a in assets},
    )


def intent(
    asset: str,
    side: Side = Side.LONG,
    *,
    stop_pct: float | None = 0.02,
    edge: float = 0.7,
    price: float | None = None,
    ts: int = T0,
) -> Intent:
    p = price if price is not None else PRICES[asset]
    stop = None if stop_pct is None else p * (1 - side.sign * stop_pct)
    return Intent(ts, sym(asset), side, edge, p, stop, "test")


def ledger_with(
    positions: Mapping[str, float],
    *,
    equity: str = "100000",
    side: Side = Side.LONG,
    stop_pct: float = 0.02,
    ts: int = T0,
) -> LedgerState:
    """A ledger holding ``asset -> notional USD`` positions opened at PRICES, fee-free, marked at entry."""
    state = new_ledger(Decimal(equity), ts)
    for asset, notional in positions.items():
        price = Decimal(repr(PRICES[asset]))
        qty = instrument(asset).round_qty_down(Decimal(repr(notional)) / price)
        order_side = OrderSide.BUY if side is Side.LONG else OrderSide.SELL
        stop = price * (1 - side.sign * Decimal(repr(stop_pct)))
        state = apply_fill(state, Fill(ts, sym(asset), order_side, qty, price, Decimal(0)), stop_price=stop)
    return mark(state, {sym(a): PRICES[a] for a in positions}, ts)
