"""What a paper session shows while it runs: its orders' latency, its last activity and the book now.

A paper run is watched, not only read afterwards: the operator sees equity, exposure, the
positions and the last orders, fills and refusals as bars arrive. These are plain values
taken from the kernel's own state (its ledger, recorder and order desk), so the panel never
shows a figure the run folder will not hold; drawing them is the command line's job.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from quantum_trader.domain.time import format_time
from quantum_trader.domain.trading import Order, OrderEvent, OrderPurpose, OrderType
from quantum_trader.engine.ports import ExecutionClient, VenueEvent
from quantum_trader.engine.recorder import EventRow

if TYPE_CHECKING:
    from quantum_trader.engine.core import TradingKernel

SHOWN_EVENTS = frozenset({"refused", "reduced", "kill_switch_trip", "kill_switch_rearm", "kill_switch_reset",
                          "asset_lock", "asset_unlock", "liquidation", "limit_expired", "limit_rejected",
                          "limit_cancelled", "drift_trim"})
"""Run events worth a line on the panel (correlation updates and drift alerts stay in the run folder)."""


@dataclass(frozen=True, slots=True)
class Line:
    ts: int
    kind: str
    """order, fill, or the run event's kind (refused, kill_switch_trip, ...)."""
    text: str


@dataclass
class Activity:
    """The last things the session did, newest last: orders sent, fills booked, refusals and risk events."""

    size: int = 8
    lines: deque[Line] = field(default_factory=deque)

    def _add(self, line: Line) -> None:
        self.lines.append(line)
        while len(self.lines) > self.size:
            self.lines.popleft()

    def order(self, order: Order) -> None:
        if order.purpose not in (OrderPurpose.ENTRY, OrderPurpose.EXIT, OrderPurpose.REDUCE):
            return  # a position's stop and take-profit rest with it: its fill line says they were placed
        what = str(order.purpose) if order.type is OrderType.MARKET else f"{order.purpose} {order.type}"
        quantity = "sized at the fill" if order.equity_fraction is not None else f"{float(order.quantity):g}"
        price = f" @ {float(order.price):g}" if order.price is not None else ""
        why = f" ({order.tag})" if order.tag else ""
        self._add(Line(order.ts, "order", f"{order.symbol} {order.side} {quantity}{price} {what}{why}"))

    def fill(self, event: OrderEvent, _kernel: TradingKernel) -> None:
        """A kernel listener: told of each fill once it is booked."""
        fill = event.fill
        if fill is None:
            return
        self._add(Line(fill.ts, "fill", f"{fill.symbol} {fill.side} {float(fill.quantity):g} @ "
                                        f"{float(fill.price):g} ({event.order.purpose})"))

    def events(self, rows: Sequence[EventRow]) -> None:
        """One line per intent: the rows of one refusal or reduction (an intent refused by three rules is
        three rows, same time and symbol) are joined, their rules named and the first message kept."""
        group: list[EventRow] = []
        for row in rows:
            if row[1] not in SHOWN_EVENTS:
                continue
            if group and row[:3] != group[0][:3]:
                self._group(group)
                group = []
            group.append(row)
        if group:
            self._group(group)

    def _group(self, rows: list[EventRow]) -> None:
        ts, kind, symbol, _rule, message, _value, _limit = rows[0]
        if len(rows) > 1:
            rules = ", ".join(dict.fromkeys(r[3] for r in rows if r[3]))
            message = f"{symbol} ({rules}): {message}"
        self._add(Line(ts, kind, message))


@dataclass
class TimedExecution:
    """The venue as the kernel sees it, timing each bar's orders: when the first and the last of them reached the
    venue's ``submit`` since the bar was delivered (``bar_delivered``), in ``time.perf_counter_ns``."""

    venue: ExecutionClient
    activity: Activity | None = None
    first_submit_ns: int = 0
    last_submit_ns: int = 0

    def bar_delivered(self) -> None:
        self.first_submit_ns = self.last_submit_ns = 0

    def submit(self, order: Order) -> None:
        now = time.perf_counter_ns()
        if not self.first_submit_ns:
            self.first_submit_ns = now
        self.last_submit_ns = now
        self.venue.submit(order)
        if self.activity is not None:
            self.activity.order(order)

    def cancel(self, client_order_id: str, reason: str = "cancelled") -> None:
        self.venue.cancel(client_order_id, reason)

    def drain(self) -> list[VenueEvent]:
        return self.venue.drain()

    def quote(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
              bar_volume: float) -> float:
        return self.venue.quote(symbol, reference, quantity, buy=buy, ts=ts, bar_volume=bar_volume)


@dataclass(frozen=True, slots=True)
class HeldRow:
    symbol: str
    side: str
    quantity: float
    entry: float
    mark: float
    unrealised: float


@dataclass(frozen=True)
class PaperSnapshot:
    """The session at its last bar's close: the account marked at that close, the positions, the counts."""

    time: str
    """Close time of the last bar fed (UTC), '-' before the first."""
    bars: int
    total: int | None
    """Bars the source holds (None: a live feed has no end)."""
    start_equity: float
    equity: float
    cash: float
    exposure: float
    """Notional of the positions over equity."""
    drawdown: float
    """Below the highest equity recorded so far (<= 0)."""
    positions: tuple[HeldRow, ...]
    orders: int
    fills: int
    trades: int
    refused: int
    kill_switch: str
    activity: tuple[Line, ...]

    @property
    def total_return(self) -> float:
        return self.equity / self.start_equity - 1.0 if self.start_equity else 0.0


def snapshot(kernel: TradingKernel, activity: Activity, *, bars: int, total: int | None = None) -> PaperSnapshot:
    """The kernel's book valued at the last bar's closes (the ledger itself is marked only where a bar was
    processed; between those a position's value moves with every close)."""
    ledger = kernel.ledger
    chunk = kernel.chunk
    rows = []
    unrealised_sum = notional = 0.0
    for symbol, position in ledger.positions.items():
        quantity = float(position.quantity)
        entry = float(position.entry_price)
        mark = float(chunk.mark[-1, kernel.column[symbol]]) if chunk is not None else math.nan
        if not math.isfinite(mark):
            mark = float(ledger.marks.get(symbol, position.entry_price))
        unrealised = quantity * (mark - entry)
        unrealised_sum += unrealised
        notional += abs(quantity * mark)
        rows.append(HeldRow(symbol, str(position.side), abs(quantity), entry, mark, unrealised))
    cash = float(ledger.cash)
    equity = cash + unrealised_sum
    peak = max(kernel.rec.peak, equity)
    switch = kernel.switch
    state = ("tripped (daily loss)" if switch.daily_tripped else "tripped (drawdown)" if switch.drawdown_tripped
             else "armed")
    if switch.locks:
        state += "; locked: " + ", ".join(asset for asset, _ in switch.locks)
    when = "-" if chunk is None else format_time(int(chunk.ts[-1]) + chunk.step)
    return PaperSnapshot(
        time=when, bars=bars, total=total, start_equity=float(kernel.settings.initial_equity), equity=equity,
        cash=cash, exposure=notional / equity if equity > 0 else 0.0,
        drawdown=equity / peak - 1.0 if peak > 0 else 0.0, positions=tuple(sorted(rows, key=lambda r: r.symbol)),
        orders=kernel.desk.sent, fills=kernel.rec.fills, trades=len(kernel.rec.trades),
        refused=kernel.rec.refused_intents, kill_switch=state, activity=tuple(activity.lines),
    )
