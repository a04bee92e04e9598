"""A kill-switch drill on a paper ledger: open positions, trip the switch deliberately, verify the book is flat.

What is real: the policy's limits, ``risk.kill_switch.update`` deciding the trip and the
actions, and the portfolio ledger booking the closing fills, exactly the code the engine
runs. What is simulated: the positions are opened on a fresh paper ledger at the given
prices (one per asset, at ``max_position_size``), the trip is provoked by marking every
position down by the price shock that takes the day's loss just past
``max_daily_loss_portfolio``, and closes fill at that mark with the policy's fee estimate
(no venue, no exchange, no order routing). So a drill proves the decision and the
bookkeeping of a trip, not the exchange connection; a live trip recorded in a run is
the stronger evidence and the gates accept either.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal

from quantum_trader.config.policy import Policy
from quantum_trader.domain.trading import Fill, OrderSide
from quantum_trader.journal.store import DrillRecord
from quantum_trader.portfolio import LedgerState, apply_fill, mark, new_ledger
from quantum_trader.risk import ActionKind, armed, compile_limits, update
from quantum_trader.venues.simulated.instruments import instrument_for

DRILL_MARGIN = 0.01
"""The shock overshoots the daily limit by this share of equity, so rounding cannot leave it just short."""
MAX_SHOCK = 0.95


class DrillError(ValueError):
    """A drill that cannot be set up (no price, a non-positive price)."""


def _fee(policy: Policy, qty: Decimal, price: Decimal) -> Decimal:
    return (qty * price * Decimal(repr(policy.sizing.fee_estimate))).quantize(Decimal("0.00000001"))


def _open(policy: Policy, ledger: LedgerState, prices: Mapping[str, float], ts: int) -> LedgerState:
    size = Decimal(repr(policy.per_asset.max_position_size))
    for symbol, price in prices.items():
        if not price > 0:
            raise DrillError(f"drill: price of {symbol} must be > 0, got {price}")
        inst = instrument_for(symbol, price)
        px = inst.round_price(price)
        qty = inst.round_qty_down(ledger.equity * size / px)
        if qty <= 0:
            raise DrillError(f"drill: {symbol} at {price} rounds to a zero quantity")
        fill = Fill(ts, symbol, OrderSide.BUY, qty, px, _fee(policy, qty, px), client_order_id=f"drill-open-{symbol}")
        ledger = apply_fill(ledger, fill, instrument=inst)
    return ledger


def run_drill(policy: Policy, prices: Mapping[str, float], *, ts: int, phase: int, operator: str = "",
              equity: Decimal = Decimal(100_000)) -> DrillRecord:
    """Run the drill at ``ts`` on the symbols of ``prices`` (unified perpetual symbols) and return its record."""
    if not prices:
        raise DrillError("drill: no symbol to open a position on")
    limits = compile_limits(policy)
    ledger = _open(policy, new_ledger(equity, ts), prices, ts)
    before = len(ledger.positions)
    equity_before = float(ledger.equity)
    gross = sum(float(abs(p.quantity) * ledger.marks[s]) for s, p in ledger.positions.items())
    shock = min(MAX_SHOCK, (limits.daily_loss_portfolio + DRILL_MARGIN) * equity_before / gross)
    t1 = ts + 1_000
    ledger = mark(ledger, {s: float(ledger.marks[s]) * (1.0 - shock) for s in ledger.positions}, t1)
    switch = armed(ts)
    result = update(switch, ledger, limits, t1)
    closing = {a.kind.value for a in result.actions if a.kind in (ActionKind.CLOSE_ALL, ActionKind.FLATTEN_ASSET)}
    if closing:
        for symbol, position in list(ledger.positions.items()):
            px = ledger.marks[symbol]
            qty = abs(position.quantity)
            side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
            ledger = apply_fill(ledger, Fill(t1, symbol, side, qty, px, _fee(policy, qty, px),
                                             client_order_id=f"drill-close-{symbol}"))
    after = len(ledger.positions)
    trip = [e.reason for e in result.events if e.kind.value.startswith("trip")]
    details = {
        "symbols": sorted(prices), "shock": shock, "actions": [a.kind.value for a in result.actions],
        "closing_actions": sorted(closing), "events": [f"{e.kind.value}: {e.reason}" for e in result.events],
        "simulated": "paper ledger; price shock provoked the trip; closes filled at the shocked mark",
    }
    return DrillRecord(
        ts=t1, mode="paper", phase=phase, positions_before=before, positions_after=after,
        all_closed=before > 0 and after == 0, tripped=result.state.tripped,
        trip_reason=trip[0] if trip else "the kill switch did not trip", equity_before=equity_before,
        equity_after=float(ledger.equity), operator=operator, details=json.dumps(details),
    )
