"""The simulated exchange: an execution client that owns its orders, matches them against bars and prices fills.

The kernel sends ``Order``s and hears ``OrderEvent``s and ``FundingEvent``s back, exactly as
from a real exchange: it never prices a fill. This venue holds

- orders on their way (a market or limit order reaches it at the open ``latency_bars`` after
  it was sent, the bar after the decision by default);
- resting limit entries (maker, post-only, expiry), each position's stop-market and
  take-profit, and the position's liquidation price from its own account (cross margin,
  the policy's maintenance brackets);
- funding settlements on what is held.

A bar is processed in the order things happen inside it: arrivals at the open (fills of
market orders, limits that cross or come to rest), funding at a settlement, then the
bar's range: each position's adverse level (liquidation, stop) or target, and resting
limits filling or lapsing. ``step`` hands back after each event so the kernel can react
(a filled entry's protective stop is in place for the rest of that bar). Prices: market
orders at the open plus slippage (``SlippageModel``), stops at the stop or at a gap's open,
targets and resting limits at their own price as maker (``matching``); every fill is rounded
to the tick and pays the exact fee.

``next_event_row`` finds, for a stretch of bars, the first where anything can happen, so a
replay may jump there; visiting every bar with ``step`` gives the same events (tested). Where a
position's exit happens, inside a bar or over a stretch, is ``exits``'.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Decimal

import numpy as np

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.clock import Clock, ReplayClock
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.trading import (
    Fill,
    FundingEvent,
    Order,
    OrderEvent,
    OrderEventKind,
    OrderPurpose,
    OrderSide,
    OrderType,
)
from quantum_trader.portfolio import MarginTable
from quantum_trader.portfolio.state import MONEY_QUANTUM, money
from quantum_trader.venues.simulated.account import VenueAccount
from quantum_trader.venues.simulated.book import (
    ADVERSE_STOP,
    TARGET,
    OpenOrders,
    Protection,
    RestingLimit,
    Traveling,
    limit_fill_offset,
)
from quantum_trader.venues.simulated.exits import Exit, exit_in_bar, first_exit_row, first_limit_row
from quantum_trader.venues.simulated.matching import ExitKind, target_fill
from quantum_trader.venues.simulated.slippage import finite
from quantum_trader.venues.simulated.venue import ExactPrice, SimulatedVenue

_CANCELLED = OrderEventKind.CANCELLED
_SELL = OrderSide.SELL
_STOP_MARKET = OrderType.STOP_MARKET
_TAKE_PROFIT = OrderType.TAKE_PROFIT
_LIMIT = OrderType.LIMIT
_BUY = OrderSide.BUY
_FILLED = OrderEventKind.FILLED

VenueEvent = OrderEvent | FundingEvent
_UNPROTECTED = Protection()
"""A position without resting exits (read only: the book's own ``Protection`` is made on the first one)."""
FillGuard = Callable[[Order, int], Decimal]
"""Asked when a resting limit entry is about to fill at a row: the quantity it may fill (0: none)."""


@dataclass
class _RowState:
    row: int = -1
    arrivals_done: bool = False
    funding_done: bool = False
    marked: bool = False


@dataclass
class SimulatedExchange:
    venue: SimulatedVenue
    instruments: Mapping[str, Instrument]
    symbols: tuple[str, ...]
    account: VenueAccount
    margin: MarginTable
    latency_bars: int = 1
    finer: Mapping[str, BarSeries] = field(default_factory=dict)
    exchange_marks: frozenset[str] = frozenset()
    guard: FillGuard | None = None
    clock: Clock = field(default_factory=ReplayClock)
    """Stamps what the venue does on request (a cancellation); fills are stamped by their bar."""
    orders: OpenOrders = field(default_factory=OpenOrders)
    _chunk: MarketChunk | None = None
    _events: list[VenueEvent] = field(default_factory=list)
    _liquidation: dict[str, float | None] = field(default_factory=dict)
    _liquidation_due: bool = False
    _funding_rows: list[int] = field(default_factory=list)
    _state: _RowState = field(default_factory=_RowState)
    _column: dict[str, int] = field(default_factory=dict)
    _hint: tuple[int | None, int] = (None, -1)
    """(time, row) of the row found last whose open is that time."""
    _last_price: tuple[str, float, Decimal] | None = None
    _last_decimal: tuple[float, Decimal] | None = None

    def __post_init__(self) -> None:
        self._column = {s: j for j, s in enumerate(self.symbols)}
        self._exact = isinstance(self.venue.slippage, ExactPrice)
        self._taker = self.venue.taker_rate
        self._maker = self.venue.maker_rate
        self._taker_float = self.venue.fees.taker

    # ------------------------------------------------------------------ the execution client
    def submit(self, order: Order) -> None:
        """Accept an order sent at ``order.ts``: a protective stop or take-profit rests at once, anything
        else travels to the open ``latency_bars`` later."""
        col = self._column.get(order.symbol)
        if col is None or order.symbol not in self.instruments:
            self._events.append(OrderEvent(order.ts, OrderEventKind.REJECTED, order, reason="unknown symbol"))
            return
        if order.type in (_STOP_MARKET, _TAKE_PROFIT):
            protection = self.orders.protection.setdefault(order.symbol, Protection())
            if order.type is _STOP_MARKET:
                protection.stop = order
            else:
                protection.target = order
                protection.target_from = order.active_from_ts or order.ts
            return
        traveling = Traveling(order, col, order.ts, self.latency_bars - 1)
        if self._chunk is not None:
            traveling.arrival = self._row_at(order.ts) + traveling.wait
        self.orders.traveling.append(traveling)

    def opening(self, row: int, ts: int) -> None:
        """The replay opens ``row`` (at ``ts``): orders sent now are sent at its open, so their row is known
        without a search."""
        self._hint = (ts, row)

    def _row_at(self, ts: int) -> int:
        """The first row at or after ``ts`` (``Traveling.resolve``'s search): the orders of one decision share
        their time, so the row found last is tried first."""
        hint = self._hint
        if ts == hint[0]:
            return hint[1]
        chunk = self._chunk
        assert chunk is not None
        times = chunk.ts
        row = int(times.searchsorted(ts, side="left"))
        if row < times.size and int(times[row]) == ts:
            self._hint = (ts, row)
        return row

    def cancel(self, client_order_id: str, reason: str = "cancelled") -> None:
        """Cancel an order of ours wherever it is; an unknown id is not an error (it filled or lapsed)."""
        order = self.orders.take(client_order_id)
        if order is not None:
            self._cancelled(order, reason)

    def quote(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
              bar_volume: float) -> float:
        """The average price a taker order of ``quantity`` would get now (the slippage model's estimate)."""
        return self.venue.slippage.taker_price(symbol, reference, quantity, buy=buy, ts=ts, bar_volume=bar_volume)

    def drain(self) -> list[VenueEvent]:
        events, self._events = self._events, []
        return events

    def _cancelled(self, order: Order, reason: str) -> None:
        self._events.append(OrderEvent(max(self.clock.now(), order.ts), _CANCELLED, order,
                                       reason=reason))

    # ------------------------------------------------------------------ the replay
    def begin(self, chunk: MarketChunk) -> None:
        """A new stretch of bars: rows are counted from its first (and its books, when the feed streams them)."""
        self._chunk = chunk
        self._funding_rows = chunk.funding_rows  # sorted once a stretch, not at every jump
        if chunk.books is not None:
            self.venue = replace(self.venue, slippage=self.venue.slippage.over_books(chunk.books))
        self._state = _RowState()
        self._hint = (None, -1)
        for t in self.orders.traveling:
            t.arrival = -1
            t.resolve(chunk.ts)

    def step(self, row: int) -> bool:
        """Process bar ``row`` up to its next event; True when events wait in ``drain`` (call again after
        the kernel has reacted, until False)."""
        chunk = self._chunk
        assert chunk is not None, "begin(chunk) first"
        state = self._state
        if state.row != row:
            state.row = row
            state.arrivals_done = state.funding_done = state.marked = False
        if not state.arrivals_done:
            state.arrivals_done = True
            self._arrivals(row)
            if self._events:
                return True
        if not state.funding_done:
            state.funding_done = True
            if row in chunk.funding:
                self._funding(row)
                if self._events:
                    return True
        self._intrabar(row)
        return bool(self._events)

    def _mark_once(self, row: int) -> None:
        """Value the account at the last closes before this bar (the liquidation price depends on them)."""
        if self._state.marked or not self.account.positions:
            return
        self._state.marked = True
        chunk = self._chunk
        assert chunk is not None
        self._liquidation_now()  # as of the books before these marks
        before = chunk.mark[row - 1] if row > 0 else chunk.mark_in if chunk.mark_in is not None else chunk.mark[0]
        column = self._column
        prices = {}
        for s in self.account.positions:
            price = float(before[column[s]])
            if price == price:
                prices[s] = price
        self.account.mark(prices, int(chunk.ts[row]))

    # ------------------------------------------------------------------ arrivals at the open
    def _arrivals(self, row: int) -> None:
        arriving = [t for t in self.orders.traveling if t.arrival == row]
        if not arriving:
            return
        self._mark_once(row)
        for t in arriving:
            self.orders.traveling.remove(t)
            self._arrive(t, row)

    def _arrive(self, t: Traveling, row: int) -> None:
        chunk = self._chunk
        assert chunk is not None
        order, col = t.order, t.column
        if not chunk.valid[row, col]:
            if order.reduce_only:  # an exit waits for the symbol's next bar
                later = np.flatnonzero(chunk.valid[row + 1:, col])
                t.arrival = row + 1 + int(later[0]) if later.size else chunk.size + 1
                t.not_before = int(chunk.ts[row]) + 1
                t.wait = 0
                self.orders.traveling.append(t)
                return
            self._events.append(OrderEvent(int(chunk.ts[row]), OrderEventKind.REJECTED, order,
                                           reason="no bar to fill at"))
            return
        bar_open = float(chunk.open[row, col])
        if order.type is _LIMIT:
            self._arrive_limit(order, col, row, bar_open)
            return
        quantity = self._market_quantity(order, bar_open)
        if quantity <= 0:
            why = "nothing to reduce" if order.reduce_only else "below the instrument minimum at the fill"
            self._events.append(OrderEvent(int(chunk.ts[row]), _CANCELLED, order, reason=why))
            return
        self._fill(order, row, quantity, bar_open)

    def _market_quantity(self, order: Order, price: float) -> Decimal:
        inst = self.instruments[order.symbol]
        if order.reduce_only:
            held = self.account.positions.get(order.symbol)
            if held is None or (held.quantity > 0) == (order.side is _BUY):
                return Decimal(0)
            return min(order.quantity, held.size) if order.quantity > 0 else held.size
        if order.equity_fraction is not None:  # sized at the fill, as engines without a risk engine do
            budget = float(self.account.equity) * order.equity_fraction
            quantity = inst.round_qty_down(budget / (price * (1 + self._taker_float)))
            return quantity if inst.is_tradable(quantity, self._decimal(price)) else Decimal(0)
        return order.quantity

    def _arrive_limit(self, order: Order, col: int, row: int, bar_open: float) -> None:
        chunk = self._chunk
        assert chunk is not None and order.price is not None
        limit = float(order.price)
        buy = order.side is _BUY
        if (bar_open <= limit) if buy else (bar_open >= limit):  # it would trade at once
            if order.post_only:
                self._events.append(OrderEvent(int(chunk.ts[row]), OrderEventKind.REJECTED, order,
                                               reason=f"post_only: would have crossed the open {bar_open:.6g}",
                                               reference=bar_open))
                return
            self._fill(order, row, order.quantity, bar_open, cap=limit)
            return
        self.orders.limits[order.symbol] = RestingLimit(order, col, limit, order.expire_ts)
        self._events.append(OrderEvent(int(chunk.ts[row]), OrderEventKind.ACCEPTED, order))

    # ------------------------------------------------------------------ funding
    def _funding(self, row: int) -> None:
        chunk = self._chunk
        assert chunk is not None
        for symbol, f_ts, rate in chunk.funding.get(row, ()):
            if symbol not in self.account.positions:
                continue
            col = self._column[symbol]
            # The mark at the settlement instant: the exchange's (as of the bar before, in this stretch or the
            # one before it) when the data has it, else the settlement bar's open; without a bar there, the last
            # known mark.
            exchange = symbol in self.exchange_marks and (row > 0 or chunk.mark_in is not None)
            price = float(chunk.mark_before(row, col) if exchange else chunk.open[row, col])
            if price != price:
                price = float(chunk.mark_before(row, col))
            ts = max(f_ts, self.account.ts)
            self.account.pay_funding(symbol, rate, price, ts)
            self._events.append(FundingEvent(ts, symbol, rate, price))
        if self._events:
            self._refresh_liquidation(row)

    # ------------------------------------------------------------------ inside the bar
    def _intrabar(self, row: int) -> None:
        """The first exit of a position in this bar, else the first limit entry filling or lapsing."""
        chunk = self._chunk
        assert chunk is not None
        best: Exit | None = None
        for symbol in self.account.positions:
            found = self._exit_at(symbol, row)
            if found is not None and (best is None or (found[0], found[1]) < (best[0], best[1])):
                best = found
        if best is not None:
            self._mark_once(row)
            priority, _, symbol, kind, price = best
            self._exit(symbol, row, priority, kind, price)
            return
        if not self.orders.limits:
            return
        for symbol, limit in sorted(self.orders.limits.items(), key=lambda item: item[1].column):
            if limit.expire_ts is not None and int(chunk.ts[row]) >= limit.expire_ts:
                del self.orders.limits[symbol]
                self._events.append(OrderEvent(int(chunk.ts[row]), OrderEventKind.EXPIRED, limit.order))
                return
            col = limit.column
            if not chunk.valid[row, col]:
                continue
            if limit_fill_offset(limit, chunk.high[row:row + 1, col], chunk.low[row:row + 1, col],
                                 through=self.venue.limit_fill == "through") == 0:
                self._mark_once(row)
                del self.orders.limits[symbol]
                allowed = limit.order.quantity if self.guard is None else min(
                    limit.order.quantity, self.guard(limit.order, row))
                if allowed <= 0:
                    self._events.append(OrderEvent(int(chunk.ts[row]), _CANCELLED, limit.order,
                                                   reason="refused at the fill"))
                else:
                    self._fill(limit.order, row, allowed, limit.limit, maker=True)
                return

    def _exit_at(self, symbol: str, row: int) -> Exit | None:
        """(priority, column, symbol, kind, price) of the position's exit in this bar, or None (``exits``)."""
        chunk = self._chunk
        assert chunk is not None
        col = self._column[symbol]
        if not chunk.valid[row, col]:
            return None
        return exit_in_bar(chunk, row, col, symbol, self.account.positions[symbol].quantity > 0,
                           self.orders.protection.get(symbol, _UNPROTECTED), self._liquidation_now().get(symbol),
                           self.finer.get(symbol))

    def _exit(self, symbol: str, row: int, priority: int, kind: ExitKind | None, price: float) -> None:
        held = self.account.positions[symbol]
        protection = self.orders.protection.get(symbol, _UNPROTECTED)
        side = _SELL if held.quantity > 0 else _BUY
        chunk = self._chunk
        assert chunk is not None
        ts = int(chunk.ts[row])
        if priority == TARGET:
            order = protection.target
            assert order is not None
            bar = (float(chunk.open[row, self._column[symbol]]), float(chunk.high[row, self._column[symbol]]),
                   float(chunk.low[row, self._column[symbol]]))
            hit = target_fill(held.quantity > 0, price, *bar)
            reason = (hit.kind if hit is not None else ExitKind.TARGET).value
            self._fill(order, row, held.size, price, maker=True, reason=reason)
        elif priority == ADVERSE_STOP:
            order = protection.stop
            assert order is not None and kind is not None
            self._fill(order, row, held.size, price, reason=kind.value)
        else:
            order = Order(f"liquidation-{symbol}-{ts}", ts, symbol, side, OrderType.MARKET, held.size,
                          reduce_only=True, purpose=OrderPurpose.EXIT, tag="liquidation")
            self._fill(order, row, held.size, price, reason="liquidation", liquidation=True)

    # ------------------------------------------------------------------ fills
    def _fill(self, order: Order, row: int, quantity: Decimal, reference: float, *, maker: bool = False,
              cap: float | None = None, reason: str = "", liquidation: bool = False) -> None:
        chunk = self._chunk
        assert chunk is not None
        symbol = order.symbol
        buy = order.side is _BUY
        bar_ts = int(chunk.ts[row])
        raw = reference if maker or self._exact else self.venue.slippage.taker_price(
            symbol, reference, float(quantity), buy=buy, ts=bar_ts,
            bar_volume=finite(float(chunk.volume[row, self._column[symbol]])))
        if cap is not None:
            raw = min(raw, cap) if buy else max(raw, cap)
        price = self._price(symbol, raw)
        fee = (quantity * price * (self._maker if maker else self._taker)).quantize(MONEY_QUANTUM, ROUND_HALF_EVEN)
        account = self.account
        ts = bar_ts if bar_ts >= account.ts else account.ts
        fill = Fill(ts, symbol, order.side, quantity, price, fee, order.client_order_id, maker, liquidation)
        account.fill(fill)
        self._events.append(OrderEvent(ts, _FILLED, order, fill, reason, reference))
        if symbol not in account.positions:
            self._lapse_protection(symbol, ts, order.client_order_id)
        self._liquidation_due = True  # (``_refresh_liquidation``)

    def _price(self, symbol: str, raw: float) -> Decimal:
        """``raw`` rounded to the symbol's tick; a reversal's exit and entry fill at one open, so the price
        rounded last is kept."""
        last = self._last_price
        if last is not None and last[0] == symbol and last[1] == raw:
            return last[2]
        price = self.instruments[symbol].round_price(self._decimal(raw))  # (the float's shortest repr, as before)
        self._last_price = (symbol, raw, price)
        return price

    def _decimal(self, value: float) -> Decimal:
        """``Decimal(repr(value))``, the last one kept: a fill's sizing and its price read one open twice."""
        last = self._last_decimal
        if last is not None and last[0] == value and value != 0.0:
            return last[1]
        exact = Decimal(repr(value))
        self._last_decimal = (value, exact)
        return exact

    def _lapse_protection(self, symbol: str, ts: int, filled: str) -> None:
        """A flat position's reduce-only exits have nothing left to reduce: they lapse (but the one that filled)."""
        protection = self.orders.protection.pop(symbol, None)
        if protection is None:
            return
        for order in (protection.stop, protection.target):
            if order is not None and order.client_order_id != filled:
                self._events.append(OrderEvent(ts, _CANCELLED, order, reason="position closed"))

    def _refresh_liquidation(self, row: int) -> None:
        """The account changed: its liquidation prices are due again, computed when first read (a reversal's
        exit and entry fill at one open; only the book after both is ever matched against)."""
        self._liquidation_due = True

    def _liquidation_now(self) -> dict[str, float | None]:
        """The liquidation prices of the account as it was at the last refresh (computed now if due; the
        account's marks and fills that are not followed by a refresh compute them first)."""
        if self._liquidation_due:
            self._liquidation_due = False
            self._liquidation = self.account.liquidation(self.margin)
        return self._liquidation

    # ------------------------------------------------------------------ jumping
    def next_event_row(self, start: int, stop: int) -> int:
        """The first row in [start, stop) where this venue has anything to do (``stop`` if none)."""
        chunk = self._chunk
        assert chunk is not None
        best = stop
        for t in self.orders.traveling:
            if start <= t.arrival < best:
                best = t.arrival
        positions = self.account.positions
        if positions and self._funding_rows:
            rows = self._funding_rows
            for i in range(bisect_left(rows, start), len(rows)):
                row = rows[i]
                if row >= best:
                    break
                if any(s in positions for s, _, _ in chunk.funding[row]):
                    best = row
                    break
        for symbol in self.account.positions:
            best = min(best, self._first_exit_row(symbol, start, best))
        for limit in self.orders.limits.values():
            best = min(best, self._first_limit_row(limit, start, best))
        return best

    def _first_exit_row(self, symbol: str, start: int, stop: int) -> int:
        chunk = self._chunk
        assert chunk is not None
        if stop <= start:
            return stop
        return first_exit_row(chunk, self._column[symbol], self.account.positions[symbol].quantity > 0,
                              self.orders.protection.get(symbol, _UNPROTECTED), self._liquidation_now().get(symbol),
                              start, stop)

    def _first_limit_row(self, limit: RestingLimit, start: int, stop: int) -> int:
        chunk = self._chunk
        assert chunk is not None
        if stop <= start:
            return stop
        return first_limit_row(chunk, limit, start, stop, through=self.venue.limit_fill == "through")

    # ------------------------------------------------------------------ the end
    def settle_at_close(self, row: int) -> None:
        """The data ends: market orders still traveling fill at the last bar's close (there is no next open)."""
        chunk = self._chunk
        assert chunk is not None
        self._state = _RowState(row, arrivals_done=True, funding_done=True)
        for t in list(self.orders.traveling):
            self.orders.traveling.remove(t)
            col = t.column
            price = float(chunk.close[row, col])
            if price != price:
                price = float(chunk.mark[row, col])
            quantity = self._market_quantity(t.order, price)
            if quantity > 0:
                self._fill_at(t.order, row, quantity, price, int(chunk.ts[row]) + chunk.step)

    def _fill_at(self, order: Order, row: int, quantity: Decimal, reference: float, ts: int) -> None:
        """A fill stamped ``ts`` (the end of the data), priced like any taker fill."""
        chunk = self._chunk
        assert chunk is not None
        inst = self.instruments[order.symbol]
        col = self._column[order.symbol]
        buy = order.side is _BUY
        raw = reference if self._exact else self.venue.slippage.taker_price(
            order.symbol, reference, float(quantity), buy=buy, ts=ts,
            bar_volume=finite(float(chunk.volume[row, col])))
        price = inst.round_price(raw)
        fee = money(quantity * price * self._taker)
        fill = Fill(max(ts, self.account.ts), order.symbol, order.side, quantity, price, fee,
                    client_order_id=order.client_order_id)
        self._liquidation_now()  # as of the books before this fill (it is not refreshed after)
        self.account.fill(fill)
        self._events.append(OrderEvent(fill.ts, _FILLED, order, fill=fill, reference=reference))
        if order.symbol not in self.account.positions:
            self._lapse_protection(order.symbol, fill.ts, order.client_order_id)
