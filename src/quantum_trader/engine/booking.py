"""What the venue reports, booked: fills into the ledger and the run's trades, funding, rejections, cancellations.

A fill is booked once, where it lands: an entry opens the run's trade (with the equity before
it, its slippage from the reference price) and puts the position's stop and take-profit at the
venue; an exit or a liquidation closes the trade; a reduce-only cut splits off a trade row of its
own. Funding is charged to the ledger and to the open trade. A rejected entry is a refusal (rule
``venue`` or ``no_bar``); a limit entry's rejection, cancellation or expiry is counted and recorded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantum_trader.domain.trading import (
    Fill,
    FundingEvent,
    Intent,
    OrderEvent,
    OrderEventKind,
    OrderPurpose,
    OrderType,
    Side,
)
from quantum_trader.engine.desk import Placed
from quantum_trader.engine.fill_limits import correlated_share
from quantum_trader.engine.ports import VenueEvent
from quantum_trader.engine.recorder import OpenTrade
from quantum_trader.portfolio import apply_fill, apply_funding

_ENTRY = OrderPurpose.ENTRY
_REDUCE = OrderPurpose.REDUCE
_LIMIT = OrderType.LIMIT
_LONG = Side.LONG

if TYPE_CHECKING:
    from quantum_trader.engine.core import TradingKernel

_FILLED = OrderEventKind.FILLED
_REJECTED = OrderEventKind.REJECTED
_ACCEPTED = OrderEventKind.ACCEPTED
_PARTIAL = OrderEventKind.PARTIALLY_FILLED
_ENDED = (OrderEventKind.CANCELLED, OrderEventKind.EXPIRED)


def on_event(kernel: TradingKernel, event: VenueEvent) -> None:
    if isinstance(event, FundingEvent):
        on_funding(kernel, event)
        return
    kind = event.kind
    if kind is _ACCEPTED:
        return
    placed = kernel.desk.settled(event.order, final=kind is not _PARTIAL)
    if kind is _FILLED:
        fill = event.fill
        if fill is not None:
            _book_fill(kernel, event, fill, placed)
            for listener in kernel.listeners:
                listener(event, kernel)
    elif kind is _REJECTED:
        _on_rejected(kernel, event)
    elif kind in _ENDED and placed is not None:
        _on_cancelled(kernel, event)


def on_funding(kernel: TradingKernel, event: FundingEvent) -> None:
    ledger = kernel.ledger
    before = ledger.funding_paid
    ledger = kernel.ledger = apply_funding(ledger, event.symbol, event.rate, max(event.ts, ledger.ts),
                                           mark_price=event.price)
    trade = kernel.rec.open.get(event.symbol)
    if trade is not None:
        trade.funding -= float(ledger.funding_paid - before)
    kernel.changed()


def _book_fill(kernel: TradingKernel, event: OrderEvent, fill: Fill, placed: Placed | None) -> None:
    order = event.order
    rec = kernel.rec
    rec.fills += 1
    purpose = order.purpose
    if purpose is _ENTRY and placed is not None and placed.intent is not None:
        _entered(kernel, event, fill, placed.intent, placed.decision)
        return
    before = kernel.ledger.realised_pnl
    ledger = kernel.ledger = apply_fill(kernel.ledger, fill)
    symbol = fill.symbol
    kernel.filled_since.add(symbol)
    realised = float(ledger.realised_pnl - before)
    kernel.changed()
    if purpose is _REDUCE:
        reason = placed.reason if placed is not None else "reduce"
        rec.reduce_trade(symbol, fill.ts, float(fill.price), float(fill.quantity), float(fill.fee), realised, reason)
        return
    reason = event.reason or (placed.reason if placed is not None else "exit")
    if fill.liquidation:
        rec.event(fill.ts, "liquidation", f"{symbol} liquidated at {float(fill.price):.6g}", symbol=symbol,
                  value=float(fill.price))
    if symbol in rec.open:
        rec.close_trade(symbol, fill.ts, float(fill.price), float(fill.fee), realised, reason)
    if symbol not in ledger.positions:
        kernel.desk.position_closed(symbol)
        kernel.opened.pop(symbol, None)


def _entered(kernel: TradingKernel, event: OrderEvent, fill: Fill, intent: Intent, decision: int) -> None:
    symbol = fill.symbol
    inst = kernel.data.instruments[symbol]
    stop = None if intent.stop_price is None else inst.round_price(intent.stop_price)
    equity_before = float(kernel.valued().equity)
    ledger = kernel.ledger = apply_fill(kernel.ledger, fill, stop_price=stop)
    kernel.filled_since.add(symbol)
    kernel.changed()
    price = float(fill.price)
    qty = float(fill.quantity)
    reference = event.reference if event.reference is not None else price
    buy = intent.side is _LONG
    kernel.opened[symbol] = (intent.source, decision)
    rec = kernel.rec
    rec.open[symbol] = OpenTrade(
        symbol, intent.side, fill.ts, price, qty, qty * price, equity_before,
        float(stop) if stop is not None else float("nan"),
        qty * abs(price - float(stop)) if stop is not None else qty * price, float(fill.fee), 0.0, intent.source,
        ((price - reference) if buy else (reference - price)) / reference if reference else 0.0,
    )
    if event.order.type is _LIMIT:
        rec.limit_entries["filled"] += 1
    position = ledger.positions[symbol]
    target = None if intent.target_price is None else inst.round_price(intent.target_price)
    # A limit that filled inside a bar: the bar's high (a long's) may have come before the fill, so its
    # take-profit waits for the next bar; a market entry filled at the open can take profit in that bar.
    target_from = fill.ts + kernel.step if fill.is_maker else fill.ts
    kernel.desk.protect(fill.ts, position, stop, target, target_from)
    if rec.fill_limits is not None:
        f = ledger.figures
        limits = kernel.limits
        rec.fill_limits.record({
            "max_position_size": f.notional[symbol] / f.equity if f.equity > 0 else float("inf"),
            "max_total_exposure": f.total_exposure,
            "max_correlated_exposure": correlated_share(f, symbol, kernel.corr, kernel.column, limits.corr_threshold,
                                                        measure_is_risk=limits.measure_is_risk),
        })


def _on_rejected(kernel: TradingKernel, event: OrderEvent) -> None:
    order = event.order
    symbol = order.symbol
    rec = kernel.rec
    if order.type is _LIMIT and event.reason.startswith("post_only"):
        rec.limit_entries["rejected"] += 1
        rec.event(event.ts, "limit_rejected", f"{symbol} {order.side} limit {float(order.price or 0):.6g}: "
                  f"{event.reason}", symbol=symbol, rule="post_only", value=event.reference,
                  limit=float(order.price or 0))
        return
    if order.purpose is _ENTRY:
        rule = "no_bar" if event.reason.startswith("no bar") else "venue"
        rec.event(event.ts, "refused", f"{symbol}: {event.reason}", symbol=symbol, rule=rule)
        rec.refusals[rule] += 1
        rec.refused_intents += 1


def _on_cancelled(kernel: TradingKernel, event: OrderEvent) -> None:
    order = event.order
    if order.purpose is not _ENTRY or order.type is not _LIMIT:
        return
    symbol = order.symbol
    limit = float(order.price or 0)
    rec = kernel.rec
    if event.kind is OrderEventKind.EXPIRED:
        rec.limit_entries["expired"] += 1
        rec.event(event.ts, "limit_expired", f"{symbol} limit {limit:.6g} not filled by "
                  f"{kernel.policy.venue.entry.expiry}", symbol=symbol, limit=limit)
    elif event.reason != "refused at the fill":
        rec.limit_entries["cancelled"] += 1
        rec.event(event.ts, "limit_cancelled", f"{symbol} limit {limit:.6g}: {event.reason}",
                  symbol=symbol, rule=event.reason, limit=limit)

