"""Limit entries in the kernel: placed at a decision, filled or lapsed inside a window.

Mixed into ``Kernel``. A limit entry is approved (and sized) by the risk engine when
the decision places it, like a market entry; but it fills later, when the book may hold
more than it did then (other entries filled since, prices moved, the kill switch
tripped). So at the fill the risk engine is asked again, with the ledger marked as it
stands just before that bar: it may refuse the order or cut its size, and the fill never
exceeds what was approved at placement. A refusal there is a ``refused`` event counted
under its rule, like any other.

A resting order and a position never share a symbol: a new intent for the symbol
replaces the order, a reversal closes the position before resting the new one, and the
kill switch or an asset lock cancels the orders it concerns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

import numpy as np

from quantum_trader.domain.time import duration_ms
from quantum_trader.domain.trading import Intent, OrderType
from quantum_trader.engine.kernel_state import KernelState
from quantum_trader.engine.resting import EntryEvent, EntryEventKind, RestingEntry, marketable, next_entry_event
from quantum_trader.engine.strategy import Decisions
from quantum_trader.risk import KillSwitchState, evaluate_batch
from quantum_trader.venues.simulated.venue import SimulatedVenue


class LimitEntries(KernelState):
    switch: KillSwitchState
    venue: SimulatedVenue
    _resting: dict[str, RestingEntry]
    _stale_held: bool
    _target_row: dict[str, int]
    _decisions: Decisions | None
    _open: Callable[..., None]
    _mark: Callable[..., None]
    _market_view: Callable[..., object]

    def _as_order(self, intent: Intent) -> Intent:
        """The policy's entry style applied to a strategy's intent (an explicit limit stays as it is).

        Under ``venue.entry.type: limit`` a market intent becomes a limit ``limit_offset``
        on the passive side of the price it was decided at; the risk engine then sizes it
        at that price.
        """
        entry = self.policy.venue.entry
        if entry.type == "market" or intent.order_type is OrderType.LIMIT:
            return intent
        price = intent.entry_price * (1.0 - intent.side.sign * entry.limit_offset)
        return replace(intent, order_type=OrderType.LIMIT, entry_price=price)

    def _place(self, row: int, intent: Intent, quantity: Decimal, k: int) -> None:
        """Send a limit entry at the open of ``row``: reject, cross as taker, or rest."""
        symbol = intent.symbol
        col = self._column_of(symbol)
        inst = self.data.instruments[symbol]
        limit = float(inst.round_price(intent.entry_price))
        entry = self.policy.venue.entry
        ts = self._ts[row]
        self.rec.orders += 1
        self.rec.limit_entries["placed"] += 1
        if marketable(intent.side.sign > 0, limit, float(self.grid.open[row, col])):
            if self.venue.post_only:
                self.rec.limit_entries["rejected"] += 1
                self.rec.event(ts, "limit_rejected", f"{symbol} {intent.side} limit {limit:.6g} would have crossed "
                               f"the open {float(self.grid.open[row, col]):.6g} (post-only)", symbol=symbol,
                               rule="post_only", value=float(self.grid.open[row, col]), limit=limit)
                return
            self.rec.limit_entries["filled"] += 1
            self._open(row, intent, quantity, cap=limit, new_order=False)
            return
        expiry = int(np.searchsorted(self.grid.ts, ts + duration_ms(entry.expiry), side="left"))
        self._resting[symbol] = RestingEntry(intent, col, quantity, limit, row, expiry, k)

    def _next_entry(self, start: int, stop: int) -> EntryEvent | None:
        if not self._resting:
            return None
        return next_entry_event(self._resting, start, stop, self.grid.high, self.grid.low,
                                through=self.venue.limit_fill == "through")

    def _on_entry_event(self, event: EntryEvent) -> None:
        order = self._resting.pop(event.symbol)
        row, symbol = event.row, event.symbol
        self._stale_held = True
        ts = self._ts[row]
        if event.kind is EntryEventKind.EXPIRY:
            self.rec.limit_entries["expired"] += 1
            self.rec.event(ts, "limit_expired", f"{symbol} {order.intent.side} limit {order.limit:.6g} "
                           f"not filled by {self.policy.venue.entry.expiry}", symbol=symbol, limit=order.limit)
            return
        quantity = order.quantity
        if not self.settings.plain:
            quantity = self._recheck(order, row)
            if quantity <= 0:
                return
        self.rec.limit_entries["filled"] += 1
        self._open(row, order.intent, quantity, price=order.limit, maker=True, new_order=False, k=order.decision)
        # The bar's high may have come before the fill: its take-profit waits for the next bar.
        self._target_row[symbol] = row + 1

    def _recheck(self, order: RestingEntry, row: int) -> Decimal:
        """The risk engine's say at the fill: the quantity allowed now, at most the placed one (0: refused)."""
        ts = self._ts[row]
        self._mark(max(row - 1, 0), ts)  # the book as known before this bar; the kill switch looks too
        assert self._decisions is not None
        market = self._market_view(order.decision, row, self._decisions)
        decision = evaluate_batch([order.intent], self.ledger, market, self.limits,  # type: ignore[arg-type]
                                  switch=self.switch).decisions[0]
        symbol = order.intent.symbol
        if not decision.approved:
            self.rec.limit_entries["refused_at_fill"] += 1
            self.rec.refused_intents += 1
            for reason in decision.refused_by:
                self.rec.event(ts, "refused", f"at the limit fill: {reason.message}", symbol=symbol,
                               rule=reason.rule, value=reason.value, limit=reason.limit)
                self.rec.refusals[reason.rule] += 1
            return Decimal(0)
        if decision.quantity < order.quantity:
            for reason in decision.reasons:
                self.rec.event(ts, "reduced", f"at the limit fill: {reason.message}", symbol=symbol,
                               rule=reason.rule, value=reason.value, limit=reason.limit)
        return min(order.quantity, decision.quantity)

    def _cancel(self, symbol: str, reason: str, ts: int) -> None:
        order = self._resting.pop(symbol, None)
        if order is None:
            return
        self.rec.limit_entries["cancelled"] += 1
        self.rec.event(ts, "limit_cancelled", f"{symbol} {order.intent.side} limit {order.limit:.6g}: {reason}",
                       symbol=symbol, rule=reason, limit=order.limit)

    def _cancel_all(self, reason: str, ts: int) -> None:
        for symbol in list(self._resting):
            self._cancel(symbol, reason, ts)
