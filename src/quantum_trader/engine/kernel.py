"""The one kernel: decisions -> risk engine -> orders -> venue -> fills -> ledger.

Between two decision times the kernel does not step through every bar in Python: the
window scan (``engine.window``) finds the first bar where anything must happen (a stop
or liquidation reached, an asset's daily loss limit, the kill switch) and the kernel
handles it there, then scans on. Funding settlements and UTC day starts are boundaries
of those windows. At a decision time the ledger is marked, the kill switch consulted,
the strategy's exits executed and its entry intents sent through ``risk.evaluate_batch``
as one competing batch. Live and paper feed the same handlers one bar at a time.

Only *active* decisions are visited when the strategy names them (``Decisions.active``):
a 1m SMA cross acts at its crosses; the minutes between are window scans. The equity
curve is sampled (``engine.equity_curve``).

Prices: a decision known at a bar's close fills at the open of the bar ``latency_bars``
later (one by default), with slippage and taker fees from the venue models. Stops
fill at the stop, or at the open when the bar gaps through it. A limit entry
(``engine.limit_entries``) instead rests from that open: the window scan also looks for
its fill or expiry, and the risk engine checks it again when it fills.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import numpy as np

from quantum_trader.domain.market import I64
from quantum_trader.domain.time import MS_PER_DAY, timeframe_ms
from quantum_trader.domain.trading import Intent, OrderType, Side
from quantum_trader.engine.decision_context import DecisionContext
from quantum_trader.engine.equity_curve import EquityRecording
from quantum_trader.engine.execution import OrderExecution
from quantum_trader.engine.fill_limits import FillLimitCheck
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.level_scan import scan_levels
from quantum_trader.engine.limit_entries import LimitEntries
from quantum_trader.engine.recorder import EVENT_NAMES, Recorder
from quantum_trader.engine.resting import RestingEntry
from quantum_trader.engine.strategy import Decisions, Held, active_decisions
from quantum_trader.engine.window import (
    AccountFigures,
    HeldPosition,
    WindowEvent,
    WindowEventKind,
    scan_window_equity,
)
from quantum_trader.portfolio import (
    LedgerState,
    apply_funding,
    compile_margin,
    margin_summary,
    mark,
    new_ledger,
    roll_day,
)
from quantum_trader.risk import (
    ActionKind,
    KillSwitchAction,
    KillSwitchState,
    armed,
    compile_limits,
    evaluate_batch,
    update,
)
from quantum_trader.venues.simulated.venue import ExactPrice, SimulatedVenue

_LEVEL_EVENTS = frozenset({WindowEventKind.STOP, WindowEventKind.LIQUIDATION, WindowEventKind.TARGET})


class Kernel(OrderExecution, LimitEntries, DecisionContext, EquityRecording):
    """Runs one strategy's decisions over a market; mutable run state, pure parts below it."""

    def __init__(self, data: MarketData, settings: KernelSettings, venue: SimulatedVenue | None = None) -> None:
        """``venue``: the fill and cost models (default: the policy's simulated venue over ``data``'s
        books and spreads, with ``settings.slippage`` and ``settings.impact``)."""
        self.data = data
        self.grid = data.grid
        self.settings = settings
        self.policy = settings.policy
        self.limits = compile_limits(settings.policy)
        self.venue = venue or SimulatedVenue.from_policy(settings.policy, books=data.books, spread=data.spread,
                                                         slippage=settings.slippage, impact=settings.impact,
                                                         book_max_age_ms=data.book_max_age_ms)
        self.fees = self.venue.fees
        self._exact_prices = isinstance(self.venue.slippage, ExactPrice)
        self.step = timeframe_ms(self.grid.timeframe)
        self.ledger: LedgerState = new_ledger(settings.initial_equity, int(self.grid.ts[0]))
        self.switch: KillSwitchState = armed(int(self.grid.ts[0]))
        self.rec = Recorder()
        if not settings.plain:
            self.rec.fill_limits = FillLimitCheck({
                "max_position_size": self.limits.position_size, "max_total_exposure": self.limits.total_exposure,
                "max_correlated_exposure": self.limits.correlated_exposure})
        self._liquidation: dict[str, float | None] = {}
        self._held: tuple[HeldPosition, ...] = ()
        self._boundaries = self._boundary_rows()
        # The first boundary after each row (or the end): where a scan window must stop.
        self._window_end = np.r_[self._boundaries, self.grid.ts.size][
            np.searchsorted(self._boundaries, np.arange(self.grid.ts.size + 1), side="right")]
        self._column = {s: j for j, s in enumerate(self.grid.symbols)}
        self._ts: list[int] = self.grid.ts.tolist()
        self._done_boundary = -1
        self._boundary_set = frozenset(self._boundaries.tolist())
        self._funding = self._funding_by_row()
        self._corr = np.eye(len(self.grid.symbols))
        self._opened: dict[str, tuple[str, int]] = {}
        self._pending: dict[str, str] = {}
        self._corr_time: int | None = None
        self._drifting: frozenset[object] = frozenset()
        """Strategy exits waiting for their symbol's next bar."""
        self._margin = compile_margin(settings.policy.margin)
        self._taker = self.venue.taker_rate
        self._maker = self.venue.maker_rate
        self._targets: dict[str, float] = {}
        """Take-profit price per held symbol (a resting reduce-only limit order)."""
        self._target_row: dict[str, int] = {}
        self._resting: dict[str, RestingEntry] = {}
        """Limit entries at the venue, by symbol (never a symbol with a position)."""
        self._decisions: Decisions | None = None
        self._span_equity: np.ndarray | None = None
        """Equity at each bar close of the last full scan (from row ``_span_equity_start``)."""
        self._span_equity_start = 0
        self._k = 0
        self._init_curve()
        self._stale_liquidation = False
        self._stale_held = False
        self.rec.peak = float(settings.initial_equity)

    # ------------------------------------------------------------------ setup
    def _boundary_rows(self) -> I64:
        ts = self.grid.ts
        day = ts // MS_PER_DAY
        day_rows = np.flatnonzero(np.r_[False, day[1:] != day[:-1]])
        funding_rows = [np.searchsorted(ts, f.ts, side="left") for f in self.data.funding.values()]
        rows = np.concatenate([day_rows, *funding_rows]) if funding_rows else day_rows
        return np.unique(rows[rows < ts.size]).astype(np.int64)

    def _funding_by_row(self) -> dict[int, list[tuple[str, int, float]]]:
        out: dict[int, list[tuple[str, int, float]]] = {}
        for symbol, series in self.data.funding.items():
            if symbol not in self.grid.symbols:
                continue
            rows = np.searchsorted(self.grid.ts, series.ts, side="left")
            for row, ts, rate in zip(rows.tolist(), series.ts.tolist(), series.rate.tolist(), strict=True):
                if row < self.grid.ts.size and rate == rate:
                    out.setdefault(row, []).append((symbol, ts, rate))
        return out

    # ------------------------------------------------------------------ run
    def run(self, decisions: Decisions, on_rows: Callable[[int, int], None] | None = None) -> Recorder:
        """Visit the strategy's active decisions; the window scan covers every bar between them.

        The equity curve gets a row at every visited decision (after its fills), at every
        window event, and at the close of every UTC hour (vectorised over each quiet
        window), so its size does not grow with the bar count of a 1m strategy.
        """
        grid = self.grid
        n = grid.ts.size
        self._decisions = decisions
        visit = active_decisions(decisions)
        fill_rows = np.searchsorted(grid.ts, decisions.close_ts[visit], side="left") + (self.settings.latency_bars - 1)
        row = 0
        report_every = max(1, n // 200)
        next_report = report_every
        for k, r in zip(visit.tolist(), fill_rows.tolist(), strict=True):
            if r >= n:
                break
            if on_rows is not None and r >= next_report:
                on_rows(r, n)  # about 200 calls a run: the progress bar's, never per bar
                next_report = r + report_every
            if r < row:
                continue
            self._advance(row, r)
            row = r
            self._decide(k, r, decisions)
            self._record_equity(r)
        self._advance(row, n)
        self._cancel_all("end_of_data", self._ts[n - 1] + self.step)
        self._close_all(n - 1, "end_of_data", at_close=True)
        self._record_equity(n - 1, at_close=True)
        if on_rows is not None:
            on_rows(n, n)
        return self.rec

    def _advance(self, start: int, stop: int) -> None:
        """Handle every boundary, window event and limit entry's fill or expiry in grid rows [start, stop).

        Within one bar, the positions' events come before a limit entry's fill (the
        conservative order: losses first, then the risk engine's re-check of the entry).
        """
        a = start
        while a < stop:
            self._boundary(a)
            self._pending_exits(a)
            self._sync()
            end = min(stop, int(self._window_end[a]), self._next_pending(a, stop))
            entry = self._next_entry(a, end)
            event = self._scan(a, end if entry is None else entry.row + 1)
            if event is not None:
                self._record_span(a, event.row)
                self._handle(event)
                self._record_span(event.row, event.row + 1, every_row=True)
                # A stop, liquidation or take-profit removes its position, so the same bar is
                # scanned again: another position's level may lie in it too. Other events
                # (loss limits marked at the close) end the bar, after its limit fills.
                if event.kind in _LEVEL_EVENTS:
                    a = event.row
                    continue
                while entry is not None and entry.row == event.row:
                    self._on_entry_event(entry)
                    entry = self._next_entry(event.row, event.row + 1)
                a = event.row + 1
                continue
            if entry is not None:
                self._record_span(a, entry.row)
                self._on_entry_event(entry)
                self._record_span(entry.row, entry.row + 1, every_row=True)
                a = entry.row  # the new position's stop may lie in this very bar, another order's fill too
                continue
            self._record_span(a, end)
            a = end

    def _pending_exits(self, row: int) -> None:
        """Exits deferred because their symbol had no bar: filled at its first bar's open."""
        for symbol, reason in list(self._pending.items()):
            if symbol not in self.ledger.positions:
                del self._pending[symbol]
            elif self.grid.valid[row, self._column_of(symbol)]:
                del self._pending[symbol]
                self._close(row, symbol, reason)
                self._sync()

    def _next_pending(self, start: int, stop: int) -> int:
        """The first row after ``start`` where a deferred exit can fill (``stop`` if none)."""
        nearest = stop
        for symbol in self._pending:
            valid = self.grid.valid[start + 1:stop, self._column_of(symbol)]
            if valid.any():
                nearest = min(nearest, start + 1 + int(np.argmax(valid)))
        return nearest

    def _column_of(self, symbol: str) -> int:
        try:
            return self._column[symbol]
        except KeyError:
            return self.grid.index(symbol)  # raises the grid's error naming the symbols

    def _scan(self, start: int, stop: int) -> WindowEvent | None:
        """The first event in rows [start, stop): nothing when flat.

        Plain mode has no kill switch and no locks, so only a position's stop or
        liquidation price can act inside a window; it tests just those levels (the same
        touches ``scan_window`` tests), skipping the equity arithmetic it does not need.
        """
        self._span_equity = None
        if not self._held:
            return self._flat_trip(start, stop)
        if not self.settings.plain:
            event, equity = scan_window_equity(start, stop, self.grid.high, self.grid.low, self.grid.mark,
                                               self._held, self._account())
            self._span_equity, self._span_equity_start = equity, start
            return event
        return scan_levels(start, stop, self.grid.high, self.grid.low, self.grid.mark, self._held,
                           float(self.ledger.cash))

    def _flat_trip(self, start: int, stop: int) -> WindowEvent | None:
        """Flat, equity is cash and cannot move; but the stops that just emptied the book may have
        realised a loss past the kill switch's limits: then it trips at once, in this bar, with the
        risk engine's own comparisons (not at the next decision, and not again once tripped)."""
        if self.settings.plain or stop <= start:
            return None
        f = self.ledger.figures
        policy = self.policy.portfolio
        if not self.switch.daily_tripped and (
                f.equity - f.day_start_equity <= -policy.max_daily_loss_portfolio * f.day_start_equity):
            return WindowEvent(row=start, kind=WindowEventKind.KILL_DAILY, column=-1, equity=f.equity)
        if not self.switch.drawdown_tripped and (
                f.peak_equity - f.equity >= policy.max_drawdown_portfolio * f.peak_equity):
            return WindowEvent(row=start, kind=WindowEventKind.KILL_DRAWDOWN, column=-1, equity=f.equity)
        return None

    def _boundary(self, row: int) -> None:
        if row <= self._done_boundary or row not in self._boundary_set:
            return
        self._done_boundary = row
        ts = self._ts[row]
        self._new_day(row)
        paid = False
        for symbol, f_ts, rate in self._funding.get(row, ()):
            if symbol in self.ledger.positions:
                paid = True
                col = self._column_of(symbol)
                before = self.ledger.funding_paid
                # Funding settles on the mark price at the settlement instant: the exchange's mark
                # (as of the bar before) when the catalog has it, else the settlement bar's open;
                # without a bar there, the last known mark.
                exchange_mark = symbol in self.data.exchange_marks and row > 0
                price = float(self.grid.mark[row - 1, col] if exchange_mark else self.grid.open[row, col])
                if price != price:
                    price = float(self.grid.mark[max(row - 1, 0), col])
                self.ledger = apply_funding(self.ledger, symbol, rate, max(f_ts, self.ledger.ts), mark_price=price)
                self.rec.open[symbol].funding -= float(self.ledger.funding_paid - before)
        if paid:  # a payment may take the account past a loss limit: the kill switch looks at once
            self._mark(row - 1, ts) if row > 0 else self._mark(row, ts, use_open=True)
        self._stale_held = True

    def _new_day(self, row: int) -> None:
        """Start the UTC day of ``row`` (its first bar) if the ledger is still in an older one.

        The day starts at the account valued at 00:00: the close of the bar ending then (the
        last close before it when bars are missing), never the ledger's older marks, which may
        be a decision's or a fill's from hours before. It starts before anything of the new day
        happens (a decision's fills at 00:00 belong to the new day), and the kill switch
        re-arms and releases its locks at once.
        """
        ts = self._ts[row]
        day = ts - ts % MS_PER_DAY
        if row > 0 and day != self.ledger.day_start:
            self._mark(row - 1, max(day, self.ledger.ts), roll=True)

    # ------------------------------------------------------------------ marks and risk state
    def _mark(self, row: int, ts: int, *, use_open: bool = False, roll: bool = False) -> None:
        """Mark held positions (at the bar's open, or at its close) and let the kill switch look;
        ``roll`` starts the UTC day of ``ts`` at these marks."""
        prices = self.grid.open[row] if use_open else self.grid.mark[row]
        held = {s: float(prices[self._column_of(s)]) for s in self.ledger.positions}
        held = {s: p for s, p in held.items() if p == p}
        ts = max(ts, self.ledger.ts)
        self.ledger = mark(self.ledger, held, ts)
        if roll:
            self.ledger = roll_day(self.ledger, ts)
        if self.settings.plain:
            return
        result = update(self.switch, self.ledger, self.limits, ts)
        self.switch = result.state
        for event in result.events:
            self.rec.event(ts, EVENT_NAMES.get(event.kind, str(event.kind)), event.reason, symbol=event.symbol or "",
                           value=event.figure, limit=event.limit)
        self._execute(result.actions, row, at_close=not use_open)

    def _execute(self, actions: tuple[KillSwitchAction, ...], row: int, *, at_close: bool) -> None:
        ts = self._ts[row] + (self.step if at_close else 0)
        for action in actions:
            if action.kind is ActionKind.CANCEL_ALL:
                self._cancel_all("kill_switch", ts)
            elif action.kind is ActionKind.CLOSE_ALL:
                self._cancel_all("kill_switch", ts)
                self._close_all(row, "kill_switch", at_close=at_close)
            elif action.kind is ActionKind.FLATTEN_ASSET and action.symbol is not None:
                self._cancel(action.symbol, "asset_lock", ts)
                if action.symbol in self.ledger.positions:
                    self._close(row, action.symbol, "asset_lock", at_close=at_close)

    def _account(self) -> AccountFigures:
        f = self.ledger.figures
        lim = self.policy
        if self.settings.plain:  # plain mode: no kill switch, no locks, so nothing for the scan to find
            return AccountFigures(cash=float(self.ledger.cash), day_start_equity=f.day_start_equity,
                                  peak_equity=f.peak_equity, max_daily_loss=np.inf, max_drawdown=np.inf,
                                  max_daily_loss_per_asset=np.inf)
        return AccountFigures(
            cash=float(self.ledger.cash), day_start_equity=f.day_start_equity, peak_equity=f.peak_equity,
            max_daily_loss=lim.portfolio.max_daily_loss_portfolio,
            max_drawdown=lim.portfolio.max_drawdown_portfolio,
            max_daily_loss_per_asset=lim.per_asset.max_daily_loss_per_asset,
        )

    def _refresh_held(self) -> None:
        held = []
        for symbol, pos in self.ledger.positions.items():
            held.append(HeldPosition(
                column=self._column_of(symbol), quantity=float(pos.quantity), entry_price=float(pos.entry_price),
                stop_price=None if pos.stop_price is None else float(pos.stop_price),
                liquidation_price=self._liquidation.get(symbol),
                day_realised=float(self.ledger.day_realised.get(symbol, Decimal(0))),
                day_start_unrealised=float(self.ledger.day_start_unrealised.get(symbol, Decimal(0))),
                target_price=self._targets.get(symbol), target_row=self._target_row.get(symbol, 0),
            ))
        self._held = tuple(held)
        self._span_book = None

    def _sync(self) -> None:
        """Bring the scan's view of the account up to date, once, before the next scan.

        Fills and marks only flag it stale: a decision with several fills then pays for
        one margin summary, not one per fill.
        """
        if self._stale_liquidation:
            self._stale_liquidation = False
            self._refresh_liquidation()
        if self._stale_held:
            self._stale_held = False
            self._refresh_held()

    def _refresh_liquidation(self) -> None:
        summary = margin_summary(self.ledger, self._margin)
        self._liquidation = {s: (None if p is None else float(p)) for s, p in summary.liquidation_prices.items()}

    # ------------------------------------------------------------------ events inside a window
    def _handle(self, event: WindowEvent) -> None:
        row = event.row
        if event.kind in (WindowEventKind.STOP, WindowEventKind.LIQUIDATION):
            self._stop_out(row, self.grid.symbols[event.column], event.kind)
            return
        if event.kind is WindowEventKind.TARGET:
            self._take_profit(row, self.grid.symbols[event.column])
            return
        self._mark(row, self._ts[row] + self.step, use_open=False)
        self._stale_held = True

    # ------------------------------------------------------------------ decisions
    def _held_view(self, k: int) -> dict[str, Held]:
        """Positions, and the limit entries resting for a symbol (``resting=True``): an exit
        the strategy gives for one of those cancels the order."""
        held = {
            s: Held(Side.LONG if p.quantity > 0 else Side.SHORT, *self._opened.get(s, ("", k)))
            for s, p in self.ledger.positions.items()
        }
        for s, order in self._resting.items():
            held[s] = Held(order.intent.side, order.intent.source, order.decision, resting=True)
        return held

    def _decide(self, k: int, row: int, decisions: Decisions) -> None:
        ts = self._ts[row]
        self._k = k
        self._new_day(row)
        self._pending_exits(row)
        self._note_correlation(k, decisions)
        if self.settings.plain:
            # No kill switch to consult, so the mark cannot change what is held: ask for the
            # exits first and mark only when a position survives them (closes mark themselves).
            exits = decisions.exits(k, self._held_view(k))
            if set(self.ledger.positions) - {symbol for symbol, _ in exits}:
                self._mark(row - 1 if row > 0 else row, ts)
        else:
            self._mark(row - 1 if row > 0 else row, ts)
            exits = decisions.exits(k, self._held_view(k))
        self._exit(row, exits)
        intents = self._admissible(row, ts, decisions.intents(k))
        if intents:
            if self.settings.plain:
                self._enter_plain(row, intents)
            else:
                self._enter(k, row, intents, decisions)
        if not self.settings.plain:
            self._watch_drift(k, row, decisions)
        self._stale_held = True

    def _exit(self, row: int, exits: list[tuple[str, str]]) -> None:
        for symbol, reason in exits:
            if symbol in self._resting:
                self._cancel(symbol, reason, self._ts[row])
                continue
            if symbol not in self.ledger.positions:
                continue
            if self.grid.valid[row, self._column_of(symbol)]:
                self._close(row, symbol, reason)
            else:  # no bar to fill at: the exit waits for the symbol's next bar
                self._pending[symbol] = reason

    def _admissible(self, row: int, ts: int, candidates: list[Intent]) -> list[Intent]:
        """Entry intents worth sending to the risk engine; a reversal closes the held side first."""
        intents = []
        excluded = self.settings.excluded
        for intent in map(self._as_order, candidates):
            if excluded and intent.symbol in excluded:
                self.rec.outside_universe[intent.symbol] += 1
                continue
            if intent.symbol in self._resting:
                self._cancel(intent.symbol, "replaced", ts)
            pos = self.ledger.positions.get(intent.symbol)
            if pos is not None and (pos.quantity > 0) == (intent.side is Side.LONG):
                continue
            if not self.grid.valid[row, self._column_of(intent.symbol)]:
                self.rec.event(ts, "refused", f"{intent.symbol}: no bar to fill at", symbol=intent.symbol,
                               rule="no_bar")
                self.rec.refusals["no_bar"] += 1
                self.rec.refused_intents += 1
                continue
            if pos is not None:
                self._close(row, intent.symbol, "reverse")
            intents.append(intent)
        return intents

    def _enter(self, k: int, row: int, intents: list[Intent], decisions: Decisions) -> None:
        ts = self._ts[row]
        market = self._market_view(k, row, decisions, intents)
        result = evaluate_batch(intents, self.ledger, market, self.limits, switch=self.switch)  # type: ignore[arg-type]
        # Filled in the order the risk engine ranked them: its limits account for the fees
        # of earlier winners in that order.
        for index in result.ranking:
            decision = result.decisions[index]
            intent = decision.intent
            kind = "reduced" if decision.approved else "refused"
            self.rec.refused_intents += kind == "refused"
            # a refusal is recorded under the rules that refused it, a reduction under the caps that cut it
            for reason in decision.refused_by if kind == "refused" else decision.reasons:
                self.rec.event(ts, kind, reason.message, symbol=intent.symbol, rule=reason.rule,
                               value=reason.value, limit=reason.limit)
                if kind == "refused":
                    self.rec.refusals[reason.rule] += 1
            if decision.approved:
                if intent.order_type is OrderType.LIMIT:
                    self._place(row, intent, decision.quantity, k)
                else:
                    self._open(row, intent, decision.quantity)

    def _enter_plain(self, row: int, intents: list[Intent]) -> None:
        for intent in intents:
            col = self._column_of(intent.symbol)
            inst = self.data.instruments[intent.symbol]
            limit = intent.order_type is OrderType.LIMIT
            price = intent.entry_price if limit else float(self.grid.open[row, col])
            budget = float(self.ledger.equity) * self.settings.plain_fraction / len(self.grid.symbols)
            qty = inst.round_qty_down(budget / (price * (1 + self.fees.taker)))
            if not inst.is_tradable(qty, Decimal(repr(price))):
                continue
            if limit:
                self._place(row, intent, qty, self._k)
            else:
                self._open(row, intent, qty)

    # ------------------------------------------------------------------ orders and fills
