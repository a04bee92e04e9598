"""A session's journal at the kernel's seams: orders written before they leave, what the venue says as it says
it, and the kill switch as it changes.

Nothing in the kernel knows a journal exists. ``JournaledExecution`` stands between the kernel
and any execution client (the simulated venue, an exchange): an order is committed to the
journal before ``submit`` passes it on, and every order event and fill the venue reports is
committed before the kernel books it. A decision replayed after a crash derives the same client
order id, the journal already holds it, and the order is not sent again. ``SwitchKeeper``
listens to the kernel's risk events and stores the kill switch with the two baselines its
triggers are measured from (peak and day-start equity), and each lock; ``restored_switch``
hands a new session the switch the last one left, so a trip survives a restart until an
operator resets it (``quantum-trader killswitch reset``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from quantum_trader.domain.clock import Clock
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import utc_day_start
from quantum_trader.domain.trading import Order, OrderEvent
from quantum_trader.engine.catch_up import FOREIGN_PREFIX
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.crash_points import crash_point
from quantum_trader.engine.ports import ExecutionClient, VenueEvent
from quantum_trader.journal import EquitySnapshot, KillSwitchChange, KillSwitchRecord, TradingJournal
from quantum_trader.journal.records import KILLSWITCH_CHANGES
from quantum_trader.risk import EventKind, KillSwitchState, RiskEvent

if TYPE_CHECKING:
    from quantum_trader.engine.live import LiveExecution


class JournaledExecution:
    """An execution client that journals what crosses it (module docstring).

    ``forward_known``: an order the journal already holds (a decision taken again after a restart) still goes
    to the client, which must recognise it itself: the ccxt client asks the exchange for that client order id
    before any send, so it reaches the exchange at most once; a resumed paper replay's simulated venue is new
    and has never seen it. Off, the journal's word is final and the order is not sent again."""

    def __init__(self, inner: ExecutionClient, journal: TradingJournal, *, forward_known: bool = False) -> None:
        self.inner = inner
        self.journal = journal
        self.forward_known = forward_known
        self.resends = 0
        """Orders the journal already held (a replayed decision)."""
        self._fills: Counter[str] = Counter()

    def submit(self, order: Order) -> None:
        if not self.journal.record_order(order):
            self.resends += 1
            if not self.forward_known:
                return
        crash_point("order-journalled")
        self.inner.submit(order)

    def cancel(self, client_order_id: str, reason: str = "cancelled") -> None:
        self.inner.cancel(client_order_id, reason)

    def drain(self) -> list[VenueEvent]:
        events = self.inner.drain()
        for event in events:
            if isinstance(event, OrderEvent):
                if event.fill is not None:
                    crash_point("fill-heard")
                self.journal.record_order_event(event, fill_id=self._fill_id(event))
        return events

    def quote(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
              bar_volume: float) -> float:
        return self.inner.quote(symbol, reference, quantity, buy=buy, ts=ts, bar_volume=bar_volume)

    def _fill_id(self, event: OrderEvent) -> str | None:
        """A fill's id: its order's id and its number among that order's fills (the simulated venue has no trade
        ids; an exchange client's events carry the order's, and the count keeps partial fills apart)."""
        if event.fill is None:
            return None
        cid = event.order.client_order_id
        self._fills[cid] += 1
        return f"{cid}/{self._fills[cid]}"


class JournaledLiveExecution(JournaledExecution):
    """The journal around an exchange's client in the live loop (``engine.live.LiveExecution``): orders go
    out, and events come back, in ``settle``. Each event and funding payment is journalled with the market time
    it was heard (``clock``), which a resumed session's catch-up hands them back at (``engine.catch_up``); a
    fill of an order the session did not send (a liquidation) is journalled with the order the client names it by."""

    def __init__(self, inner: LiveExecution, journal: TradingJournal, clock: Clock) -> None:
        super().__init__(inner, journal, forward_known=True)
        self.live = inner
        self.clock = clock

    def drain(self) -> list[VenueEvent]:
        events = self.inner.drain()
        heard = self.clock.now()
        for event in events:
            if isinstance(event, OrderEvent):
                if event.fill is not None:
                    crash_point("fill-heard")
                if event.order.client_order_id.startswith(FOREIGN_PREFIX):
                    self.journal.record_order(event.order)
                self.journal.record_heard(event, heard_ts=heard, fill_id=self._fill_id(event))
            else:
                self.journal.record_heard(event, heard_ts=heard)
        return events

    async def settle(self) -> None:
        await self.live.settle()

    def expire(self, now: int) -> None:
        self.live.expire(now)


class SwitchKeeper:
    """Stores the kill switch and the locks whenever the kernel's risk events change them."""

    def __init__(self, journal: TradingJournal) -> None:
        self.journal = journal

    def __call__(self, kernel: TradingKernel, ts: int, events: tuple[RiskEvent, ...]) -> None:
        ledger = kernel.ledger
        with self.journal.transaction():
            trips = [e for e in events if e.kind in (EventKind.TRIP_DAILY, EventKind.TRIP_DRAWDOWN)]
            reason = trips[-1].reason if trips else ""
            for event in events:
                if event.kind is EventKind.LOCK and event.symbol:
                    until = next((u for a, u in kernel.switch.locks if a == asset_of(event.symbol)), ts)
                    self.journal.record_lock(event.symbol, ts=ts, until=until, reason=event.reason)
                elif event.kind is EventKind.UNLOCK and event.symbol:
                    self.journal.clear_lock(event.symbol, ts=ts, reason=event.reason)
            change = next((KillSwitchChange(ts, e.kind, e.reason) for e in reversed(events)
                           if e.kind in KILLSWITCH_CHANGES), None)
            self.journal.save_killswitch(KillSwitchRecord.of_ledger(kernel.switch, ledger, ts=ts, trip_reason=reason),
                                         change)
            self.journal.record_equity(EquitySnapshot.of_ledger(ledger))


def restored_switch(journal: TradingJournal, start_ts: int) -> KillSwitchState | None:
    """The switch a new session starts with: as the journal left it (None: never stored, or armed).

    A switch saved on a later day than the session's first bar (a replay of older history) starts on the
    session's own day; a daily trip then belongs to another day and does not carry over, a drawdown trip and
    nothing else does."""
    record = journal.load_killswitch()
    if record is None or not record.tripped:
        return None
    state = record.state
    day = utc_day_start(start_ts)
    if state.day_start > day:
        state = KillSwitchState(day_start=day, drawdown_tripped=state.drawdown_tripped,
                                drawdown_trip_ts=state.drawdown_trip_ts if state.drawdown_tripped else None)
        return state if state.tripped else None
    return state
