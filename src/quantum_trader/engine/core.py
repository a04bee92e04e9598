"""The trading kernel: handlers keyed by time, the same in backtest, paper and live.

``on_day_start`` starts the UTC risk day; ``on_decision`` asks the strategy for exits and
entry intents, sends the intents through ``risk.evaluate_batch`` as one competing batch and
sends the orders; ``on_event`` books what the venue reports (``engine.booking``: fills into
the ledger and the run's trades, funding, rejections, cancellations, expiries) and protects a
new position with its stop and take-profit; ``on_close`` lets the kill switch and the asset
locks look at a bar's close and acts on what they say. The kernel reads the market a feed
delivers and sends ``Order``s through an ``ExecutionClient``: it never prices a fill and knows
nothing of how time advances (``engine.replay`` drives it over a replay, ``engine.paced`` one
bar at a time on the asyncio loop, ``engine.live`` on an exchange's closed bars).

Its collaborators: the order desk (``engine.desk``), what the risk engine is shown
(``engine.market_watch``: the correlation and the market view), the drift watch after entry
(``engine.drift_watch``), the equity curve (``engine.equity_curve``) and the run's record.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal

from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import F64
from quantum_trader.domain.time import MS_PER_DAY, duration_ms
from quantum_trader.domain.trading import (
    Fill,
    FundingEvent,
    Intent,
    OrderEvent,
    OrderSide,
    OrderType,
    Side,
)
from quantum_trader.engine import booking
from quantum_trader.engine.desk import OrderDesk
from quantum_trader.engine.drift_watch import DriftWatch
from quantum_trader.engine.equity_curve import EquityCurve
from quantum_trader.engine.fill_limits import FillLimitCheck
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.loss_watch import first_breach, held_positions
from quantum_trader.engine.market_watch import MarketWatch
from quantum_trader.engine.ports import ExecutionClient, VenueEvent
from quantum_trader.engine.recorder import EVENT_NAMES, Recorder
from quantum_trader.engine.strategy import Decisions, Held
from quantum_trader.engine.window import WindowEvent
from quantum_trader.portfolio import (
    LedgerState,
    apply_fill,
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
    compile_limits,
    evaluate_batch,
    fixed_fraction_batch,
    update,
)

_LIMIT = OrderType.LIMIT

_LONG, _SHORT = Side.LONG, Side.SHORT


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
        self.market = MarketWatch(self)
        self.corr: F64 = self.market.corr
        """The correlation matrix known at the last decision (``market.note``)."""
        self.drift = DriftWatch(self)
        self.opened: dict[str, tuple[str, int]] = {}
        """Symbol -> (source, decision) of the entry that opened its position."""
        self.filled_since: set[str] = set()
        """Symbols a fill priced since the marks ``_mark`` deferred (``valued`` leaves them as the fill left them)."""
        self._held_cache: tuple[object, ...] | None = None
        self._pending: tuple[F64, int] | None = None
        self.k = 0
        self.peak_seen = 0.0
        """The highest equity at any bar close so far, marked or not: the drawdown limit's reference."""
        self.chunk: MarketChunk | None = None
        self.step = 0
        """Milliseconds per bar of the stretch."""
        self._volume_in: F64 | None = None
        """The volumes of the bar before the stretch (the previous stretch's last row)."""
        self.rec.peak = float(self.settings.initial_equity)
        fees = self.policy.venue.fees[self.policy.venue.exchange]
        self.execution_taker = Decimal(repr(fees.taker))
        venue = self.policy.venue
        self._entry = venue.entry
        self._latency = venue.latency_bars
        self._expiry_ms = duration_ms(venue.entry.expiry)
        if self.watches:
            self.rec.fill_limits = FillLimitCheck({
                "max_position_size": self.limits.position_size, "max_total_exposure": self.limits.total_exposure,
                "max_correlated_exposure": self.limits.correlated_exposure})

    # ------------------------------------------------------------------ the stretch of bars
    def begin(self, chunk: MarketChunk) -> None:
        if self.chunk is not None:
            self._volume_in = self.chunk.volume[-1]
        self.chunk = chunk
        self.step = chunk.step
        self.curve.begin(chunk)

    def _chunk(self) -> MarketChunk:
        assert self.chunk is not None, "begin(chunk) first"
        return self.chunk

    def ts_of(self, row: int) -> int:
        """Open time of ``row``."""
        chunk = self.chunk
        assert chunk is not None, "begin(chunk) first"
        return int(chunk.ts[row])

    def before(self, row: int) -> F64:
        """Marks as of the close before ``row``."""
        chunk = self.chunk
        assert chunk is not None, "begin(chunk) first"
        if row > 0:
            marks: F64 = chunk.mark[row - 1]
        else:
            marks = chunk.mark_in if chunk.mark_in is not None else chunk.mark[0]
        return marks

    def volume_before(self, row: int) -> F64:
        """Volumes of the bar before ``row`` (the previous stretch's last for its first)."""
        chunk = self.chunk
        assert chunk is not None, "begin(chunk) first"
        if row > 0:
            volumes: F64 = chunk.volume[row - 1]
        else:
            volumes = chunk.volume[0] if self._volume_in is None else self._volume_in
        return volumes

    # ------------------------------------------------------------------ the book and its marks
    def changed(self) -> None:
        """Positions or cash changed (a fill, funding)."""
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
            self.peak_seen = max(self.peak_seen, float(equity[:rows].max()))

    def _mark(self, prices: F64, ts: int, *, roll: bool = False) -> None:
        """Mark held positions at ``prices`` (one per column) and let the kill switch look.

        With nothing watching equity (the fixed-fraction profile) and no day to start, the marks wait
        until the ledger is next valued (``valued``): most decisions are followed by fills that price
        their symbols anyway, and the marks a fill supersedes need never be built."""
        if not self.watches and not roll:
            self._pending = (prices, ts)
            self.filled_since.clear()
            return
        self._pending = None
        ledger = self.ledger
        column = self.column
        held = {}
        for s in ledger.positions:
            price = float(prices[column[s]])
            if price == price:
                held[s] = price
        ts = max(ts, ledger.ts)
        day = ledger.day_start
        if self.peak_seen > float(ledger.peak_equity):
            ledger = raise_peak(ledger, self.peak_seen)
        ledger = mark(ledger, held, ts)
        if roll:
            ledger = roll_day(ledger, ts)
        self.ledger = ledger
        self._remarked(day)
        if not self.watches:
            return
        result = update(self.switch, ledger, self.limits, ts)
        self.switch = result.state
        if result.events:
            for event in result.events:
                self.rec.event(ts, EVENT_NAMES.get(event.kind, str(event.kind)), event.reason,
                               symbol=event.symbol or "", value=event.figure, limit=event.limit)
            for listener in self.risk_listeners:
                listener(self, ts, result.events)
        if result.actions:
            self.act(result.actions, ts)

    def valued(self) -> LedgerState:
        """The ledger with every held position at its latest mark (marks ``_mark`` deferred applied now, but
        for symbols a fill has priced since)."""
        pending = self._pending
        if pending is not None:
            self._pending = None
            prices, ts = pending
            column, filled = self.column, self.filled_since
            held = {}
            for s in self.ledger.positions:
                if s not in filled:
                    price = float(prices[column[s]])
                    if price == price:
                        held[s] = price
            if held:
                day = self.ledger.day_start
                self.ledger = mark(self.ledger, held, max(ts, self.ledger.ts))
                self._remarked(day)
        return self.ledger

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
                self.desk.cancel_limit(action.symbol, "asset_lock")
                locked = self.ledger.positions.get(action.symbol)
                if locked is not None:
                    self.desk.exit(ts, locked, "asset_lock")

    def cancel_all(self, reason: str) -> None:
        for symbol in list(self.desk.limit_entry):
            self.desk.cancel_limit(symbol, reason)

    # ------------------------------------------------------------------ the day, the close
    def on_day_start(self, row: int) -> None:
        """Start the UTC day of ``row`` (its first bar) at the account valued at 00:00: the close of the bar
        ending then, never older marks; the kill switch re-arms and releases its locks at once."""
        ts = self.ts_of(row)
        day = ts - ts % MS_PER_DAY
        if day != self.ledger.day_start:
            self._mark(self.before(row), max(day, self.ledger.ts), roll=True)

    def day_starts(self, row: int) -> bool:
        ts = self.ts_of(row)
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
        chunk = self._chunk()
        self._mark(chunk.mark[row], int(chunk.ts[row]) + chunk.step)

    # ------------------------------------------------------------------ what the venue says
    def on_event(self, event: VenueEvent) -> None:
        booking.on_event(self, event)

    def on_funding(self, event: FundingEvent) -> None:
        booking.on_funding(self, event)

    def after_funding(self, row: int) -> None:
        """A payment may take the account past a loss limit: the kill switch looks at once."""
        self._mark(self.before(row), self.ts_of(row))

    # ------------------------------------------------------------------ decisions
    def _held_view(self, k: int) -> dict[str, Held]:
        opened = self.opened
        held = {
            s: Held(_LONG if p.quantity > 0 else _SHORT, *opened.get(s, ("", k)))
            for s, p in self.ledger.positions.items()
        }
        desk = self.desk
        for s, order_id in desk.limit_entry.items():
            placed = desk.placed[order_id]
            if placed.intent is not None:
                held[s] = Held(placed.intent.side, placed.intent.source, placed.decision, resting=True)
        return held

    def on_decision(self, k: int, row: int) -> None:
        """Decision ``k``, known at the open of ``row``: exits, then the entry intents as one batch."""
        ts = self.ts_of(row)
        self.k = k
        self.corr = self.market.note(k)
        self._mark(self.before(row), ts)
        desk = self.desk
        for symbol, reason in self.decisions.exits(k, self._held_view(k)):
            if desk.cancel_limit(symbol, reason):
                continue
            position = self.ledger.positions.get(symbol)
            if position is not None:
                desk.exit(ts, position, reason)
        intents = self._admissible(row, ts, self.decisions.intents(k))
        if intents:
            self._enter(k, row, ts, intents)
        if self.watches:
            self.drift.check(k, row)

    def _as_order(self, intent: Intent) -> Intent:
        """The policy's entry style applied to a strategy's intent (an explicit limit stays as it is)."""
        entry = self._entry
        if entry.type == "market" or intent.order_type is _LIMIT:
            return intent
        price = intent.entry_price * (1.0 - intent.side.sign * entry.limit_offset)
        return replace(intent, order_type=_LIMIT, entry_price=price)

    def _no_bar(self, row: int, symbol: str) -> bool:
        """The data has no bar of ``symbol`` where an order sent now would arrive (a gap in a replay; a live
        stretch ends at its last bar, so this is never known there)."""
        chunk = self._chunk()
        arrival = row + self._latency - 1
        return arrival < chunk.ts.size and not chunk.valid[arrival, self.column[symbol]]

    def _admissible(self, row: int, ts: int, candidates: list[Intent]) -> list[Intent]:
        """Entry intents worth sending to the risk engine; a reversal closes the held side first. An intent
        with no bar to fill at is refused (rule ``no_bar``) and a position it would reverse is kept."""
        intents = []
        if self.phase_follower is not None:
            self.phase_follower(self, ts)
        excluded = self.settings.excluded
        desk = self.desk
        for candidate in candidates:
            intent = self._as_order(candidate)
            symbol = intent.symbol
            if excluded and symbol in excluded:
                self.rec.outside_universe[symbol] += 1
                continue
            desk.cancel_limit(symbol, "replaced")
            # a position whose exit is on its way is going: the intent meets the flat book it leaves
            position = None if symbol in desk.exiting else self.ledger.positions.get(symbol)
            if position is not None and (position.quantity > 0) == (intent.side is _LONG):
                continue
            if self._no_bar(row, symbol):
                self.rec.event(ts, "refused", f"{symbol}: no bar to fill at", symbol=symbol, rule="no_bar")
                self.rec.refusals["no_bar"] += 1
                self.rec.refused_intents += 1
                continue
            if position is not None:
                desk.exit(ts, position, "reverse")
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

    def _decide(self, k: int, row: int, ts: int, intents: list[Intent]) -> tuple[BatchResult, LedgerState]:
        """The risk engine's batch verdict, and the book it judged against."""
        if self.limits.fixed_fraction is not None:  # sized at the fill: neither book nor market is consulted
            result = fixed_fraction_batch(intents, self.limits.fixed_fraction, len(self.symbols))
            for intent in intents:
                if intent.order_type is _LIMIT:
                    # a limit is sized now, on the book it will meet: marked at the decision, exits paid
                    self.valued()
                    return result, self._after_exits(ts)
            return result, self.ledger
        market = self.market_view(k, row, intents)
        book = self._after_exits(ts)
        return evaluate_batch(intents, book, market, self.limits, switch=self.switch), book

    def _enter(self, k: int, row: int, ts: int, intents: list[Intent]) -> None:
        result, book = self._decide(k, row, ts, intents)
        for listener in self.decision_listeners:
            listener(self, ts, result)
        rec, desk = self.rec, self.desk
        decisions = result.decisions
        for index in result.ranking:
            decision = decisions[index]
            intent = decision.intent
            approved = decision.approved
            reasons = decision.reasons if approved else decision.refused_by
            if reasons:
                kind = "reduced" if approved else "refused"
                for reason in reasons:
                    rec.event(ts, kind, reason.message, symbol=intent.symbol, rule=reason.rule, value=reason.value,
                              limit=reason.limit)
                    if not approved:
                        rec.refusals[reason.rule] += 1
            if not approved:
                rec.refused_intents += 1
                continue
            if intent.order_type is _LIMIT:
                quantity = decision.quantity
                if decision.equity_fraction is not None:  # a limit's price is known now: size it now
                    inst = self.data.instruments[intent.symbol]
                    budget = float(book.equity) * decision.equity_fraction
                    quantity = inst.round_qty_down(budget / (intent.entry_price * (1 + float(self.execution_taker))))
                    if not inst.is_tradable(quantity, Decimal(repr(intent.entry_price))):
                        continue
                rec.limit_entries["placed"] += 1
                desk.place_limit(ts, intent, quantity, k, post_only=self._entry.post_only,
                                 expire_ts=ts + self._expiry_ms)
            else:
                desk.enter(ts, intent, decision.quantity, k, equity_fraction=decision.equity_fraction)
        rec.orders = desk.sent

    def recheck(self, order_intent: Intent, decision: int, quantity: Decimal, row: int) -> Decimal:
        """The risk engine's say when a resting limit entry fills at ``row``: the quantity allowed now, at most
        the placed one (0: refused), with the book as known before this bar; the kill switch looks too."""
        ts = self.ts_of(row)
        if not self.watches:
            return quantity
        self._mark(self.before(row), ts)
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

    def market_view(self, k: int, row: int, intents: list[Intent]) -> MarketView:
        """What the risk engine knows of the market at decision ``k`` opening ``row`` (``engine.market_watch``)."""
        return self.market.market_view(k, row, intents)

    # ------------------------------------------------------------------ the end
    def on_end(self, ts: int) -> None:
        """The data ends: cancel what rests, close what is held (at the last close)."""
        self.cancel_all("end_of_data")
        for position in list(self.ledger.positions.values()):
            self.desk.exit(ts, position, "end_of_data")
        self.rec.orders = self.desk.sent
