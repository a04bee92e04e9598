"""A resumed live session's execution: the journal's word until the bar forming now, the exchange's from then on.

After a crash the session is run again from its first bar (``analytics.live_resume``). Until it reaches the
bar that was forming when it restarted (``live_from``), nothing goes to the exchange: the orders the kernel
decides again are the orders the journal holds under the same client ids, and what the exchange said of them
comes from the journal (``TradingJournal.heard``), each event handed over at the market time the session
first heard it, so the kernel books it at the same bar, in the same order, as before. Funding payments too.

A decision the journal never held at a bar before ``live_from`` was never sent (the process died between
taking it and journalling it) and its moment has passed: it is refused (REJECTED, journalled) and an incident
says so, never sent late at another price. From ``live_from`` on every call goes to the exchange's client
(through the journal); at that moment the client adopts the orders the journal holds open (it then follows
their fills as if it had placed them), the cancels the kernel asked for meanwhile go out, and it learns the
positions and where its reading of trades and funding starts, so nothing heard before is heard twice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from quantum_trader.domain.clock import Clock
from quantum_trader.domain.trading import FundingEvent, Order, OrderEvent, OrderEventKind
from quantum_trader.engine.ports import VenueEvent
from quantum_trader.journal import OrderRecord, TradingJournal
from quantum_trader.journal.heard_io import Heard
from quantum_trader.journal.records import OrderStatus

MISSED = "not sent: the session was down when it was due"
FOREIGN_PREFIX = "exchange-"
"""How the exchange client names an order the session did not send (a liquidation, a manual trade)."""


class Adopting(Protocol):
    """What the exchange's client does to take over a resumed session's orders (``CcxtExecutionClient``)."""

    def adopt(self, order: Order, *, exchange_id: str | None, accepted: bool) -> None: ...

    def resume(self, *, positions: Mapping[str, Decimal], trades_from: int, funding_from: int | None) -> None: ...


class LiveSide(Protocol):
    """The journalled client the session trades through once live (``engine.journaled.JournaledLiveExecution``)."""

    def submit(self, order: Order) -> None: ...

    def cancel(self, client_order_id: str, reason: str = "cancelled") -> None: ...

    def drain(self) -> list[VenueEvent]: ...

    def quote(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
              bar_volume: float) -> float: ...

    async def settle(self) -> None: ...

    def expire(self, now: int) -> None: ...


@dataclass
class CatchUpExecution:
    inner: LiveSide
    client: Adopting
    journal: TradingJournal
    clock: Clock
    live_from: int
    """Market time of the first live moment: the open of the bar forming when the session restarted."""
    resting: Mapping[str, str]
    """Client order id (the journal's) -> exchange order id, for the orders reconciliation found resting."""
    on_missed: Callable[[Order], None] = lambda _order: None
    live: bool = False
    missed: list[Order] = field(default_factory=list)
    _known: dict[str, OrderRecord] = field(default_factory=dict)
    _heard: list[Heard] = field(default_factory=list)
    _heard_orders: set[str] = field(default_factory=set)
    _from_journal: dict[str, Order] = field(default_factory=dict)
    _final: set[str] = field(default_factory=set)
    _cancels: list[tuple[str, str]] = field(default_factory=list)
    _events: list[VenueEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._known = {r.order.client_order_id: r for r in self.journal.orders(session=self.journal.session)}
        self._heard = self.journal.heard()
        for h in self._heard:
            if isinstance(h.event, OrderEvent):
                cid = h.event.order.client_order_id
                self._heard_orders.add(cid)
                if h.event.kind is not OrderEventKind.ACCEPTED:
                    self._final.add(cid)

    def __repr__(self) -> str:
        return (f"CatchUpExecution({'live' if self.live else 'catching up'}, {len(self._heard)} heard to hand over, "
                f"live from {self.live_from})")

    @property
    def present(self) -> bool:
        return self.clock.now() >= self.live_from

    # ------------------------------------------------------------------ the kernel's side
    def submit(self, order: Order) -> None:
        cid = order.client_order_id
        known = self._known[cid].order if cid in self._known else order
        if cid in self._heard_orders:  # the exchange's word on it is in the journal: handed over as heard
            self._from_journal[cid] = known
            if self.live and cid not in self._final:
                self._adopt(cid)
            return
        if self.live or self.present:  # the bar forming now: the client asks the exchange for this id before sending
            self.inner.submit(order)
            return
        if cid in self.resting:  # resting at the exchange, its acceptance never heard: the client adopts it
            self._from_journal[cid] = known
            return
        self._miss(known)

    def cancel(self, client_order_id: str, reason: str = "cancelled") -> None:
        if client_order_id not in self._from_journal:
            self.inner.cancel(client_order_id, reason)
        elif client_order_id not in self._final:
            if self.live:
                self.inner.cancel(client_order_id, reason)
            else:
                self._cancels.append((client_order_id, reason))

    def drain(self) -> list[VenueEvent]:
        now = self.clock.now()
        out, self._events = self._events, []
        keep: list[Heard] = []
        for h in self._heard:
            if h.heard_ts <= now and self._due(h.event):
                out.append(h.event)
            else:
                keep.append(h)
        self._heard = keep
        if self.live:
            out.extend(self.inner.drain())
        return out

    def _due(self, event: OrderEvent | FundingEvent) -> bool:
        if isinstance(event, FundingEvent):
            return True
        cid = event.order.client_order_id
        return cid in self._from_journal or cid.startswith(FOREIGN_PREFIX)

    def quote(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
              bar_volume: float) -> float:
        return self.inner.quote(symbol, reference, quantity, buy=buy, ts=ts, bar_volume=bar_volume)

    # ------------------------------------------------------------------ the driver's side
    async def settle(self) -> None:
        if not self.live and self.present:
            self._go_live()
        if self.live:
            await self.inner.settle()

    def expire(self, now: int) -> None:
        if not self.live and now >= self.live_from:
            self._go_live()
        if self.live:
            self.inner.expire(now)

    def _go_live(self) -> None:
        """The client takes over: what rests is adopted, the cancels asked meanwhile go out, and its reading of
        trades and funding starts after the last the journal holds."""
        self.live = True
        for cid in self._from_journal:
            if cid not in self._final:
                self._adopt(cid)
        fills = [r.fill for r in self.journal.fills_since(0) if r.session == self.journal.session]
        held: dict[str, Decimal] = {}
        for fill in fills:
            held[fill.symbol] = held.get(fill.symbol, Decimal(0)) + fill.quantity * fill.side.sign
        funding = [h.event.ts for h in self.journal.heard() if isinstance(h.event, FundingEvent)]
        first_fill = min((f.ts for f in fills), default=None)
        self.client.resume(positions=held, trades_from=max([f.ts for f in fills], default=0),
                           funding_from=max(funding) + 1 if funding else first_fill)
        for cid, reason in self._cancels:
            self.inner.cancel(cid, reason)
        self._cancels.clear()

    def _adopt(self, cid: str) -> None:
        record = self.journal.order(cid)
        if record is None or not record.status.is_open:
            return
        self.client.adopt(record.order, exchange_id=self.resting.get(cid),
                          accepted=record.status is not OrderStatus.PENDING)

    def _miss(self, order: Order) -> None:
        """A decision whose moment passed while the session was down: refused, journalled, told."""
        self.journal.record_order(order)
        event = OrderEvent(max(order.ts, self.clock.now()), OrderEventKind.REJECTED, order, reason=MISSED)
        self.journal.record_heard(event, heard_ts=self.clock.now())
        self.missed.append(order)
        self._events.append(event)
        self.on_missed(order)
