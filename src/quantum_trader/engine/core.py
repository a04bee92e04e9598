"""The trading kernel: handlers keyed by time, the same in backtest, paper and live.

``on_day_start`` starts the UTC risk day; ``on_decision`` asks the strategy for exits and
entry intents, sends the intents through ``risk.evaluate_batch`` as one competing batch and
sends the orders; ``on_event`` books what the venue reports (fills into the ledger and the
run's trades, funding, rejections, cancellations, expiries) and protects a new position with
its stop and take-profit; ``on_close`` lets the kill switch and the asset locks look at a
bar's close and acts on what they say. The kernel reads the market a feed delivers and sends
``Order``s through an ``ExecutionClient``: it never prices a fill and knows nothing of how
time advances (``engine.replay`` drives it over a replay, ``engine.paced`` one bar at a time
on the asyncio loop, ``engine.live`` on an exchange's closed bars).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

import numpy as np

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import F64
from quantum_trader.domain.time import MS_PER_DAY, duration_ms
from quantum_trader.domain.trading import (
    Fill,
    FundingEvent,
    Intent,
    OrderEvent,
    OrderEventKind,
    OrderPurpose,
    OrderSide,
    OrderType,
    Side,
)
from quantum_trader.engine.desk import OrderDesk
from quantum_trader.engine.equity_curve import EquityCurve
from quantum_trader.engine.fill_limits import FillLimitCheck, correlated_share
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.loss_watch import first_breach, held_positions
from quantum_trader.engine.ports import ExecutionClient, VenueEvent
from quantum_trader.engine.recorder import EVENT_NAMES, OpenTrade, Recorder
from quantum_trader.engine.strategy import Decisions, Held
from quantum_trader.engine.views import clean_correlation, correlation_summary, depth_at, identified_edge
from quantum_trader.engine.window import WindowEvent
from quantum_trader.portfolio import (
    LedgerState,
    apply_fill,
    apply_funding,
    mark,
    new_ledger,
    raise_peak,
    roll_day,
)
from quantum_trader.portfolio.state import money
from quantum_trader.risk import (
    ActionKind,
    BatchResult,
    KillSwitchAction,
    KillSwitchState,
    MarketView,
    RiskEvent,
    armed,
    build_market_view,
    compile_limits,
    drift,
    evaluate_batch,
    fixed_fraction_batch,
    update,
)
from quantum_trader.venues.simulated.slippage import finite


@dataclass
class TradingKernel:
    data: MarketData
    settings: KernelSettings
    execution: ExecutionClient
    decisions: Decisions
    run_id: str = "run"
    rec: Recorder = field(default_factory=Recorder)
    listeners: list[Callable[[OrderEvent, TradingKernel], None]] = field(default_factory=list)
    """Told of every fill once the kernel has booked it (tests and monitors watch the book there)."""
    risk_listeners: list[Callable[[TradingKernel, int, tuple[RiskEvent, ...]], None]] = field(default_factory=list)
    """Told when the kill switch or a lock changed (a trip, re-arm, lock, unlock), with the state already
    updated: a session's journal keeps the switch there, so a restart finds it as it was."""
    decision_listeners: list[Callable[[TradingKernel, int, BatchResult], None]] = field(default_factory=list)
    """Told of each decision's batch of verdicts before any of its orders is sent (a session's journal)."""
    phase_follower: Callable[[TradingKernel, int], None] | None = None
    """Asked once per decision, before the entries are filtered: may replace ``settings`` (phase, excluded) with
    the phase the journal holds now, and exit what it no longer admits (``engine.phase_follow``)."""
    symbols: tuple[str, ...] = ()
    """The feed's columns (default: the market's grid)."""
    start_ts: int | None = None
    """When the account opens: the feed's first bar (default: the grid's)."""

    def __post_init__(self) -> None:
        self.policy = self.settings.policy
        self.limits = compile_limits(self.policy)
        self.symbols = self.symbols or self.data.grid.symbols
        self.column = {s: j for j, s in enumerate(self.symbols)}
        start = int(self.data.grid.ts[0]) if self.start_ts is None else self.start_ts
        self.ledger: LedgerState = new_ledger(self.settings.initial_equity, start)
        self.switch: KillSwitchState = armed(start) if self.settings.switch is None else self.settings.switch
        self.desk = OrderDesk(self.execution, self.run_id, self.data.instruments)
        self.watches = self.limits.fixed_fraction is None
        """Whether the kill switch and the locks watch equity (not under the fixed-fraction profile)."""
        self.curve = EquityCurve(self.rec, self.policy, self.column, extremes=self.watches)
        self.corr: F64 = np.eye(len(self.symbols))
        self._corr_time: int | None = None
        self._corr_raw: F64 | None = None
        self._opened: dict[str, tuple[str, int]] = {}
        self._intents: dict[str, Intent] = {}
        self._drifting: frozenset[object] = frozenset()
        self._held_cache: tuple[object, ...] | None = None
        self._pending: tuple[F64, int] | None = None
        self._view: tuple[tuple[int, int], F64, MarketView] | None = None
        """The last decision's market view, with the matrix it was built on."""
        self._filled_since: set[str] = set()
        self.k = 0
        self.peak_seen = 0.0
        """The highest equity at any bar close so far, marked or not: the drawdown limit's reference."""
        self.chunk: MarketChunk | None = None
        self._volume_in: F64 | None = None
        """The volumes of the bar before the stretch (the previous stretch's last row)."""
        self.rec.peak = float(self.settings.initial_equity)
        fees = self.policy.venue.fees[self.policy.venue.exchange]
        self.execution_taker = Decimal(repr(fees.taker))
        if self.watches:
            self.rec.fill_limits = FillLimitCheck({
                "max_position_size": self.limits.position_size, "max_total_exposure": self.limits.total_exposure,
                "max_correlated_exposure": self.limits.correlated_exposure})

    # ------------------------------------------------------------------ helpers
    def begin(self, chunk: MarketChunk) -> None:
        if self.chunk is not None:
            self._volume_in = self.chunk.volume[-1]
        self.chunk = chunk
        self.curve.begin(chunk)

    def _chunk(self) -> MarketChunk:
        assert self.chunk is not None, "begin(chunk) first"
        return self.chunk

    def _ts(self, row: int) -> int:
        return int(self._chunk().ts[row])

    def _changed(self) -> None:
        self._held_cache = None
        self.curve.changed()

    def _remarked(self, day: int) -> None:
        """The ledger was marked (``day``: its day before): the curve prices from it again; the loss watch's
        positions (quantities, entries, day baselines) stay as they were unless a new day started."""
        if self.ledger.day_start != day:
            self._held_cache = None
        self.curve.changed()

    def held(self) -> tuple[object, ...]:
        cached = self._held_cache
        if cached is None:
            cached = self._held_cache = held_positions(self.ledger, self.column)
        return cached

    def seen(self, equity: F64 | None, rows: int) -> None:
        """Quiet closes went by: the highest of them (the first ``rows``) may be a new peak."""
        if equity is not None and rows > 0:
            self.peak_seen = max(self.peak_seen, float(np.max(equity[:rows])))

    def _mark(self, prices: F64, ts: int, *, roll: bool = False) -> None:
        """Mark held positions at ``prices`` (one per column) and let the kill switch look.

        With nothing watching equity (the fixed-fraction profile) and no day to start, the marks wait
        until the ledger is next valued (``valued``): most decisions are followed by fills that price
        their symbols anyway, and the marks a fill supersedes need never be built."""
        if not self.watches and not roll:
            self._pending = (prices, ts)
            self._filled_since.clear()
            return
        self._pending = None
        held = {s: float(prices[self.column[s]]) for s in self.ledger.positions}
        ts = max(ts, self.ledger.ts)
        day = self.ledger.day_start
        if self.peak_seen > float(self.ledger.peak_equity):
            self.ledger = raise_peak(self.ledger, self.peak_seen)
        self.ledger = mark(self.ledger, {s: p for s, p in held.items() if p == p}, ts)
        if roll:
            self.ledger = roll_day(self.ledger, ts)
        self._remarked(day)
        if not self.watches:
            return
        result = update(self.switch, self.ledger, self.limits, ts)
        self.switch = result.state
        for event in result.events:
            self.rec.event(ts, EVENT_NAMES.get(event.kind, str(event.kind)), event.reason, symbol=event.symbol or "",
                           value=event.figure, limit=event.limit)
        if result.events:
            for listener in self.risk_listeners:
                listener(self, ts, result.events)
        self.act(result.actions, ts)

    def valued(self) -> LedgerState:
        """The ledger with every held position at its latest mark (marks ``_mark`` deferred applied now, but
        for symbols a fill has priced since)."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            prices, ts = pending
            held = {s: float(prices[self.column[s]]) for s in self.ledger.positions if s not in self._filled_since}
            held = {s: p for s, p in held.items() if p == p}
            if held:
                day = self.ledger.day_start
                self.ledger = mark(self.ledger, held, max(ts, self.ledger.ts))
                self._remarked(day)
        return self.ledger

    def _before(self, row: int) -> F64:
        """Marks as of the close before ``row``."""
        chunk = self._chunk()
        if row > 0:
            marks: F64 = chunk.mark[row - 1]
        else:
            marks = chunk.mark_in if chunk.mark_in is not None else chunk.mark[0]
        return marks

    def act(self, actions: tuple[KillSwitchAction, ...], ts: int) -> None:
        """Carry out what the kill switch asks (cancel, close all, flatten a locked asset): public because an
        operator's trip, taken by ``OperatorSwitch`` between bars, must act exactly as the kernel's own trip."""
        for action in actions:
            if action.kind is ActionKind.CANCEL_ALL:
                self.cancel_all("kill_switch")
            elif action.kind is ActionKind.CLOSE_ALL:
                self.cancel_all("kill_switch")
                for position in list(self.ledger.positions.values()):
                    self.desk.exit(ts, position, "kill_switch")
            elif action.kind is ActionKind.FLATTEN_ASSET and action.symbol is not None:
                self._cancel_limit(action.symbol, "asset_lock")
                locked = self.ledger.positions.get(action.symbol)
                if locked is not None:
                    self.desk.exit(ts, locked, "asset_lock")

    def cancel_all(self, reason: str) -> None:
        for symbol in list(self.desk.limit_entry):
            self._cancel_limit(symbol, reason)

    def _cancel_limit(self, symbol: str, reason: str) -> None:
        self.desk.cancel_limit(symbol, reason)

    # ------------------------------------------------------------------ the day, the close
    def on_day_start(self, row: int) -> None:
        """Start the UTC day of ``row`` (its first bar) at the account valued at 00:00: the close of the bar
        ending then, never older marks; the kill switch re-arms and releases its locks at once."""
        ts = self._ts(row)
        day = ts - ts % MS_PER_DAY
        if day != self.ledger.day_start:
            self._mark(self._before(row), max(day, self.ledger.ts), roll=True)

    def day_starts(self, row: int) -> bool:
        ts = self._ts(row)
        return ts - ts % MS_PER_DAY != self.ledger.day_start

    def breach(self, start: int, stop: int) -> tuple[WindowEvent | None, F64 | None]:
        """The first close in [start, stop) where a loss limit is reached (None), and equity at each close."""
        if not self.watches:
            return None, None
        chunk = self._chunk()
        return first_breach(start, stop, chunk.high, chunk.low, chunk.mark, self.held(),  # type: ignore[arg-type]
                            self.ledger, self.limits, self.switch, self.peak_seen)

    def on_close(self, row: int) -> None:
        """The kill switch and the locks look at the close of ``row`` (where the scan found a limit reached)."""
        self._mark(self._chunk().mark[row], self._ts(row) + self._chunk().step)

    # ------------------------------------------------------------------ what the venue says
    def on_event(self, event: VenueEvent) -> None:
        if isinstance(event, FundingEvent):
            self.on_funding(event)
            return
        placed = self.desk.settled(event.order) if event.kind is not OrderEventKind.ACCEPTED else None
        if event.kind is OrderEventKind.FILLED and event.fill is not None:
            self._on_fill(event, event.fill)
        elif event.kind is OrderEventKind.REJECTED:
            self._on_rejected(event)
        elif event.kind in (OrderEventKind.CANCELLED, OrderEventKind.EXPIRED) and placed is not None:
            self._on_cancelled(event)

    def on_funding(self, event: FundingEvent) -> None:
        before = self.ledger.funding_paid
        self.ledger = apply_funding(self.ledger, event.symbol, event.rate, max(event.ts, self.ledger.ts),
                                    mark_price=event.price)
        trade = self.rec.open.get(event.symbol)
        if trade is not None:
            trade.funding -= float(self.ledger.funding_paid - before)
        self._changed()

    def after_funding(self, row: int) -> None:
        """A payment may take the account past a loss limit: the kill switch looks at once."""
        self._mark(self._before(row), self._ts(row))

    def _on_fill(self, event: OrderEvent, fill: Fill) -> None:
        self._book_fill(event, fill)
        for listener in self.listeners:
            listener(event, self)

    def _book_fill(self, event: OrderEvent, fill: Fill) -> None:
        order = event.order
        placed = self.desk.placed.get(order.client_order_id)
        self.rec.fills += 1
        if order.purpose is OrderPurpose.ENTRY and placed is not None and placed.intent is not None:
            self._entered(event, fill, placed.intent, placed.decision)
            return
        before = self.ledger.realised_pnl
        self.ledger = apply_fill(self.ledger, fill)
        self._filled_since.add(fill.symbol)
        realised = float(self.ledger.realised_pnl - before)
        self._changed()
        symbol = fill.symbol
        if order.purpose is OrderPurpose.REDUCE:
            reason = placed.reason if placed is not None else "reduce"
            self.rec.reduce_trade(symbol, fill.ts, float(fill.price), float(fill.quantity), float(fill.fee),
                                  realised, reason)
            return
        reason = event.reason or (placed.reason if placed is not None else "exit")
        if fill.liquidation:
            self.rec.event(fill.ts, "liquidation", f"{symbol} liquidated at {float(fill.price):.6g}",
                           symbol=symbol, value=float(fill.price))
        if symbol in self.rec.open:
            self.rec.close_trade(symbol, fill.ts, float(fill.price), float(fill.fee), realised, reason)
        if symbol not in self.ledger.positions:
            self.desk.position_closed(symbol)
            self._opened.pop(symbol, None)

    def _entered(self, event: OrderEvent, fill: Fill, intent: Intent, decision: int) -> None:
        symbol = fill.symbol
        inst = self.data.instruments[symbol]
        stop = None if intent.stop_price is None else inst.round_price(intent.stop_price)
        equity_before = float(self.valued().equity)
        self.ledger = apply_fill(self.ledger, fill, stop_price=stop)
        self._filled_since.add(symbol)
        self._changed()
        price = float(fill.price)
        qty = float(fill.quantity)
        reference = event.reference if event.reference is not None else price
        buy = intent.side is Side.LONG
        self._opened[symbol] = (intent.source, decision)
        self.rec.open[symbol] = OpenTrade(
            symbol=symbol, side=intent.side, entry_ts=fill.ts, entry_price=price, quantity=qty,
            notional_at_entry=qty * price, equity_at_entry=equity_before,
            stop=float(stop) if stop is not None else float("nan"),
            planned_risk=qty * abs(price - float(stop)) if stop is not None else qty * price, fees=float(fill.fee),
            signal=intent.source,
            entry_slippage=((price - reference) if buy else (reference - price)) / reference if reference else 0.0,
        )
        if event.order.type is OrderType.LIMIT:
            self.rec.limit_entries["filled"] += 1
        position = self.ledger.positions[symbol]
        target = None if intent.target_price is None else inst.round_price(intent.target_price)
        # A limit that filled inside a bar: the bar's high (a long's) may have come before the fill, so its
        # take-profit waits for the next bar; a market entry filled at the open can take profit in that bar.
        target_from = fill.ts + self._chunk().step if fill.is_maker else fill.ts
        self.desk.protect(fill.ts, position, stop, target, target_from)
        if self.rec.fill_limits is not None:
            f = self.ledger.figures
            self.rec.fill_limits.record({
                "max_position_size": f.notional[symbol] / f.equity if f.equity > 0 else float("inf"),
                "max_total_exposure": f.total_exposure,
                "max_correlated_exposure": correlated_share(f, symbol, self.corr, self.column,
                                                            self.limits.corr_threshold,
                                                            measure_is_risk=self.limits.measure_is_risk),
            })

    def _on_rejected(self, event: OrderEvent) -> None:
        order = event.order
        symbol = order.symbol
        if order.type is OrderType.LIMIT and event.reason.startswith("post_only"):
            self.rec.limit_entries["rejected"] += 1
            self.rec.event(event.ts, "limit_rejected", f"{symbol} {order.side} limit {float(order.price or 0):.6g}: "
                           f"{event.reason}", symbol=symbol, rule="post_only", value=event.reference,
                           limit=float(order.price or 0))
            return
        if order.purpose is OrderPurpose.ENTRY:
            rule = "no_bar" if event.reason.startswith("no bar") else "venue"
            self.rec.event(event.ts, "refused", f"{symbol}: {event.reason}", symbol=symbol, rule=rule)
            self.rec.refusals[rule] += 1
            self.rec.refused_intents += 1

    def _on_cancelled(self, event: OrderEvent) -> None:
        order = event.order
        if order.purpose is not OrderPurpose.ENTRY or order.type is not OrderType.LIMIT:
            return
        symbol = order.symbol
        limit = float(order.price or 0)
        if event.kind is OrderEventKind.EXPIRED:
            self.rec.limit_entries["expired"] += 1
            self.rec.event(event.ts, "limit_expired", f"{symbol} limit {limit:.6g} not filled by "
                           f"{self.policy.venue.entry.expiry}", symbol=symbol, limit=limit)
        elif event.reason != "refused at the fill":
            self.rec.limit_entries["cancelled"] += 1
            self.rec.event(event.ts, "limit_cancelled", f"{symbol} limit {limit:.6g}: {event.reason}",
                           symbol=symbol, rule=event.reason, limit=limit)

    # ------------------------------------------------------------------ decisions
    def _held_view(self, k: int) -> dict[str, Held]:
        held = {
            s: Held(Side.LONG if p.quantity > 0 else Side.SHORT, *self._opened.get(s, ("", k)))
            for s, p in self.ledger.positions.items()
        }
        for s, order_id in self.desk.limit_entry.items():
            placed = self.desk.placed[order_id]
            if placed.intent is not None:
                held[s] = Held(placed.intent.side, placed.intent.source, placed.decision, resting=True)
        return held

    def on_decision(self, k: int, row: int) -> None:
        """Decision ``k``, known at the open of ``row``: exits, then the entry intents as one batch."""
        ts = self._ts(row)
        self.k = k
        self._note_correlation(k)
        self._mark(self._before(row), ts)
        exits = self.decisions.exits(k, self._held_view(k))
        for symbol, reason in exits:
            if self.desk.cancel_limit(symbol, reason):
                continue
            position = self.ledger.positions.get(symbol)
            if position is not None:
                self.desk.exit(ts, position, reason)
        intents = self._admissible(row, self.decisions.intents(k))
        if intents:
            self._enter(k, row, intents)
        if self.watches:
            self._watch_drift(k, row)

    def _as_order(self, intent: Intent) -> Intent:
        """The policy's entry style applied to a strategy's intent (an explicit limit stays as it is)."""
        entry = self.policy.venue.entry
        if entry.type == "market" or intent.order_type is OrderType.LIMIT:
            return intent
        price = intent.entry_price * (1.0 - intent.side.sign * entry.limit_offset)
        return replace(intent, order_type=OrderType.LIMIT, entry_price=price)

    def _no_bar(self, row: int, symbol: str) -> bool:
        """The data has no bar of ``symbol`` where an order sent now would arrive (a gap in a replay; a live
        stretch ends at its last bar, so this is never known there)."""
        chunk = self._chunk()
        arrival = row + self.policy.venue.latency_bars - 1
        return arrival < chunk.size and not bool(chunk.valid[arrival, self.column[symbol]])

    def _admissible(self, row: int, candidates: list[Intent]) -> list[Intent]:
        """Entry intents worth sending to the risk engine; a reversal closes the held side first. An intent
        with no bar to fill at is refused (rule ``no_bar``) and a position it would reverse is kept."""
        intents = []
        ts = self._ts(row)
        if self.phase_follower is not None:
            self.phase_follower(self, ts)
        excluded = self.settings.excluded
        for intent in map(self._as_order, candidates):
            if excluded and intent.symbol in excluded:
                self.rec.outside_universe[intent.symbol] += 1
                continue
            self.desk.cancel_limit(intent.symbol, "replaced")
            # a position whose exit is on its way is going: the intent meets the flat book it leaves
            position = None if intent.symbol in self.desk.exiting else self.ledger.positions.get(intent.symbol)
            if position is not None and (position.quantity > 0) == (intent.side is Side.LONG):
                continue
            if self._no_bar(row, intent.symbol):
                self.rec.event(ts, "refused", f"{intent.symbol}: no bar to fill at", symbol=intent.symbol,
                               rule="no_bar")
                self.rec.refusals["no_bar"] += 1
                self.rec.refused_intents += 1
                continue
            if position is not None:
                self.desk.exit(ts, position, "reverse")
            intents.append(intent)
        return intents

    def _after_exits(self, ts: int) -> LedgerState:
        """The book the entries will meet: positions with an exit on its way closed at their marks, paying the
        taker fee (exits go first at the venue, so an entry reversing a position is judged against the flat
        book it will find, not the position it replaces)."""
        ledger = self.ledger
        for symbol in self.desk.exiting:
            position = ledger.positions.get(symbol)
            if position is None:
                continue
            price = ledger.marks[symbol]
            side = OrderSide.SELL if position.quantity > 0 else OrderSide.BUY
            fee = money(position.size * price * self.execution_taker)
            ledger = apply_fill(ledger, Fill(max(ts, ledger.ts), symbol, side, position.size, price, fee))
        return ledger

    def _decide(self, k: int, row: int, intents: list[Intent]) -> tuple[BatchResult, LedgerState]:
        """The risk engine's batch verdict, and the book it judged against."""
        if self.limits.fixed_fraction is not None:  # sized at the fill: neither book nor market is consulted
            result = fixed_fraction_batch(intents, self.limits.fixed_fraction, len(self.symbols))
            if any(i.order_type is OrderType.LIMIT for i in intents):
                # a limit is sized now, on the book it will meet: marked at the decision, exits paid
                self.valued()
                return result, self._after_exits(self._ts(row))
            return result, self.ledger
        market = self.market_view(k, row, intents)
        book = self._after_exits(self._ts(row))
        return evaluate_batch(intents, book, market, self.limits, switch=self.switch), book

    def _enter(self, k: int, row: int, intents: list[Intent]) -> None:
        ts = self._ts(row)
        result, book = self._decide(k, row, intents)
        for listener in self.decision_listeners:
            listener(self, ts, result)
        for index in result.ranking:
            decision = result.decisions[index]
            intent = decision.intent
            kind = "reduced" if decision.approved else "refused"
            self.rec.refused_intents += kind == "refused"
            for reason in decision.refused_by if kind == "refused" else decision.reasons:
                self.rec.event(ts, kind, reason.message, symbol=intent.symbol, rule=reason.rule,
                               value=reason.value, limit=reason.limit)
                if kind == "refused":
                    self.rec.refusals[reason.rule] += 1
            if not decision.approved:
                continue
            if intent.order_type is OrderType.LIMIT:
                quantity = decision.quantity
                if decision.equity_fraction is not None:  # a limit's price is known now: size it now
                    inst = self.data.instruments[intent.symbol]
                    budget = float(book.equity) * decision.equity_fraction
                    quantity = inst.round_qty_down(budget / (intent.entry_price * (1 + float(self.execution_taker))))
                    if not inst.is_tradable(quantity, Decimal(repr(intent.entry_price))):
                        continue
                self.rec.limit_entries["placed"] += 1
                entry = self.policy.venue.entry
                self.desk.place_limit(ts, intent, quantity, k, post_only=entry.post_only,
                                      expire_ts=ts + duration_ms(entry.expiry))
            else:
                self.desk.enter(ts, intent, decision.quantity, k, equity_fraction=decision.equity_fraction)
        self.rec.orders = self.desk.sent

    def recheck(self, order_intent: Intent, decision: int, quantity: Decimal, row: int) -> Decimal:
        """The risk engine's say when a resting limit entry fills at ``row``: the quantity allowed now, at most
        the placed one (0: refused), with the book as known before this bar; the kill switch looks too."""
        ts = self._ts(row)
        if not self.watches:
            return quantity
        self._mark(self._before(row), ts)
        market = self.market_view(decision, row, [])
        found = evaluate_batch([order_intent], self.ledger, market, self.limits,
                               switch=self.switch).decisions[0]
        symbol = order_intent.symbol
        if not found.approved:
            self.rec.limit_entries["refused_at_fill"] += 1
            self.rec.refused_intents += 1
            for reason in found.refused_by:
                self.rec.event(ts, "refused", f"at the limit fill: {reason.message}", symbol=symbol,
                               rule=reason.rule, value=reason.value, limit=reason.limit)
                self.rec.refusals[reason.rule] += 1
            return Decimal(0)
        if found.quantity < quantity:
            for reason in found.reasons:
                self.rec.event(ts, "reduced", f"at the limit fill: {reason.message}", symbol=symbol,
                               rule=reason.rule, value=reason.value, limit=reason.limit)
        return min(quantity, found.quantity)

    # ------------------------------------------------------------------ what the risk engine is shown
    def _note_correlation(self, k: int) -> None:
        """Take the matrix known at decision k; a newer one is a ``correlation_update`` event, the evidence
        that correlation monitoring kept working (expansion gate 1 -> 2)."""
        computed = self.decisions.correlation_time(k)
        n = len(self.symbols)
        if computed is None:
            raw = self.decisions.correlation(k)
            if raw is not None or self._corr_raw is not None:  # (no matrix after none: the identity stays)
                self.corr = clean_correlation(raw, n)
            self._corr_raw = raw
            return
        if computed == self._corr_time:
            return
        self._corr_time = computed
        raw = self.decisions.correlation(k)
        self.corr = clean_correlation(raw, n)
        message, mean = correlation_summary(raw, n)
        self.rec.event(computed, "correlation_update", message, value=mean)

    def market_view(self, k: int, row: int, intents: list[Intent]) -> MarketView:
        """What the risk engine knows of the market at decision ``k`` opening ``row``: built once per decision
        and correlation matrix (marks, depth, tiers and edge depend on time alone), with this cycle's expected
        entry slippage on top."""
        cached = self._view
        if cached is None or cached[0] != (k, row) or cached[1] is not self.corr:
            cached = self._view = ((k, row), self.corr, self._base_view(k, row))
        base = cached[2]
        return base.with_entry_slippage(self._entry_slippage(row, intents)) if intents else base

    def _base_view(self, k: int, row: int) -> MarketView:
        ts = self._ts(row)
        before = self._before(row)
        marks = {s: float(before[j]) for j, s in enumerate(self.symbols)}
        universe = self.data.universe
        return build_market_view(
            self.limits, ts=ts, phase=self.settings.phase, symbols=self.symbols, correlation=self.corr,
            depth_1pct=depth_at(self.symbols, self.data.depth_ts, self.data.depth, ts, self.data.book_max_age_ms),
            marks={s: p for s, p in marks.items() if p == p and p > 0},
            instruments=self.data.instruments.values(),
            edge_assets=identified_edge(self.decisions.intents(k), self.policy.asset_tiers.tier_3.min_edge_score),
            tiers=None if universe is None else universe.tiers_at(ts),
            removed=None if universe is None else universe.removed_at(ts),
        )

    def _correlation_view(self, k: int, row: int) -> MarketView:
        """Enough of the market for drift, which reads the correlation alone: the decision's view when built,
        else the matrix without the rest."""
        cached = self._view
        if cached is not None and cached[0] == (k, row) and cached[1] is self.corr:
            return cached[2]
        return build_market_view(self.limits, ts=self._ts(row), phase=self.settings.phase, symbols=self.symbols,
                                 correlation=self.corr, depth_1pct={}, marks={}, instruments=())

    def _entry_slippage(self, row: int, intents: list[Intent]) -> dict[str, float]:
        """The venue's expected slippage of each market entry, as a fraction of its price: asked of the
        slippage model at the decision (the fill bar's volume is not known yet), for the largest order the
        position limit allows, so the estimate errs on the side of a smaller position."""
        out: dict[str, float] = {}
        equity = float(self.ledger.equity)
        chunk = self._chunk()
        before = chunk.volume[row - 1] if row > 0 else chunk.volume[0] if self._volume_in is None else self._volume_in
        for intent in intents:
            if intent.order_type is not OrderType.MARKET or not intent.entry_price > 0:
                continue
            col = self.column[intent.symbol]
            price = float(intent.entry_price)
            largest = self.limits.position_size * equity / price
            volume = finite(float(before[col]))
            expected = self.execution.quote(intent.symbol, price, largest, buy=intent.side is Side.LONG,
                                            ts=self._ts(row), bar_volume=volume)
            out[intent.symbol] = min(abs(expected / price - 1.0), 0.5)
        return out

    def _watch_drift(self, k: int, row: int) -> None:
        """Limits bind at entry; prices and correlations move after it. Drift events are recorded when a
        condition starts, not again at every decision while it lasts."""
        if not self.ledger.positions:
            self._drifting = frozenset()
            return
        report = drift(self.ledger, self._correlation_view(k, row), self.limits, self._ts(row))
        kinds = frozenset(e.kind for e in report.events)
        for e in report.events:
            if e.kind not in self._drifting:
                self.rec.event(e.ts, str(e.kind), e.reason, symbol=e.symbol or "", value=e.figure, limit=e.limit)
        self._drifting = kinds
        for action in report.actions:  # drift.action: trim (the risk engine emits none under "alert")
            if action.kind is ActionKind.TRIM and action.symbol is not None and action.notional:
                self.rec.event(self._ts(row), "drift_trim", f"{action.reason}: cut {action.notional:,.2f} USD",
                               symbol=action.symbol, value=action.notional)
                self._trim(row, action.symbol, action.notional)

    def _trim(self, row: int, symbol: str, notional: float) -> None:
        """Cut ``symbol`` by at least ``notional`` with a reduce-only market order: 1% more than the excess (and
        one lot) so the cut's own costs do not leave the book above the limit."""
        position = self.ledger.positions.get(symbol)
        price = float(self._before(row)[self.column[symbol]])
        if position is None or price != price:
            return
        inst = self.data.instruments[symbol]
        wanted = inst.round_qty_down(notional * 1.01 / price) + inst.lot_size
        ts = self._ts(row)
        if wanted >= position.size:
            self.desk.exit(ts, position, "drift_trim")
        else:
            self.desk.reduce(ts, position, wanted, "drift_trim")

    # ------------------------------------------------------------------ the end
    def on_end(self, ts: int) -> None:
        """The data ends: cancel what rests, close what is held (at the last close)."""
        self.cancel_all("end_of_data")
        for position in list(self.ledger.positions.values()):
            self.desk.exit(ts, position, "end_of_data")
        self.rec.orders = self.desk.sent

