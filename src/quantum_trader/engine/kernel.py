"""The one kernel: decisions -> risk engine -> orders -> venue -> fills -> ledger.

Between two decision times the kernel does not step through every bar in Python: the
window scan (``engine.window``) finds the first bar where anything must happen (a stop
or liquidation reached, an asset's daily loss limit, the kill switch) and the kernel
handles it there, then scans on. Funding settlements and UTC day starts are boundaries
of those windows. At a decision time the ledger is marked, the kill switch consulted,
the strategy's exits executed and its entry intents sent through ``risk.evaluate_batch``
as one competing batch. Live and paper feed the same handlers one bar at a time.

Prices: a decision known at a bar's close fills at the open of the bar ``latency_bars``
later (one by default), with slippage and taker fees from the venue models. Stops
fill at the stop, or at the open when the bar gaps through it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import F64, I64, BookSeries, FundingSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, timeframe_ms
from quantum_trader.domain.trading import Fill, Intent, OrderSide, Side
from quantum_trader.engine.grid import MarketGrid
from quantum_trader.engine.recorder import OpenTrade, Recorder
from quantum_trader.engine.strategy import Decisions, Held
from quantum_trader.engine.window import AccountFigures, HeldPosition, WindowEvent, WindowEventKind, scan_window
from quantum_trader.portfolio import LedgerState, apply_fill, apply_funding, margin_summary, mark, new_ledger
from quantum_trader.risk import (
    ActionKind,
    EventKind,
    KillSwitchAction,
    KillSwitchState,
    armed,
    build_market_view,
    compile_limits,
    evaluate_batch,
    update,
)
from quantum_trader.venues.simulated.fees import FeeModel
from quantum_trader.venues.simulated.matching import stop_fill
from quantum_trader.venues.simulated.slippage import NoSlippage, SpreadImpactModel, walk_book


@dataclass(frozen=True)
class MarketData:
    """Everything the kernel reads besides bars, aligned once before the loop."""

    grid: MarketGrid
    instruments: Mapping[str, Instrument]
    funding: Mapping[str, FundingSeries] = field(default_factory=dict)
    depth_ts: Mapping[str, I64] = field(default_factory=dict)
    depth: Mapping[str, F64] = field(default_factory=dict)
    """Depth within 1% of mid (smaller side, USD) per book snapshot."""
    spread: Mapping[str, float] = field(default_factory=dict)
    """Typical relative bid-ask spread per symbol, for the slippage model without a book."""
    books: Mapping[str, BookSeries] = field(default_factory=dict)
    """L2 snapshots: a fill walks the latest one at or before it (within ``BOOK_MAX_AGE_MS``)."""


@dataclass(frozen=True)
class KernelSettings:
    policy: Policy
    initial_equity: Decimal = Decimal(100_000)
    phase: int = 3
    plain: bool = False
    """Fixed-fraction sizing, no portfolio limits: for comparisons with other engines."""
    plain_fraction: float = 1.0
    slippage: bool = True
    impact: float = 0.005
    """Square-root impact coefficient per unit of participation in one bar's volume (no book)."""

    @property
    def latency_bars(self) -> int:
        return self.policy.venue.latency_bars


EVENT_NAMES = {
    EventKind.TRIP_DAILY: "kill_switch_trip",
    EventKind.TRIP_DRAWDOWN: "kill_switch_trip",
    EventKind.REARM: "kill_switch_rearm",
    EventKind.RESET: "kill_switch_reset",
    EventKind.LOCK: "asset_lock",
    EventKind.UNLOCK: "asset_unlock",
}
"""Run-folder event kinds of the risk engine's events (drift kinds keep their own names)."""

BOOK_MAX_AGE_MS = 15 * 60_000
"""A book older than this at a fill says too little about the fill's cost: use the impact model."""

UNKNOWN_DEPTH = 1e18
"""Depth used when the catalog has no book for a symbol: the liquidity rule cannot bind."""


class Kernel:
    """Runs one strategy's decisions over a market; mutable run state, pure parts below it."""

    def __init__(self, data: MarketData, settings: KernelSettings) -> None:
        self.data = data
        self.grid = data.grid
        self.settings = settings
        self.policy = settings.policy
        self.limits = compile_limits(settings.policy)
        venue = settings.policy.venue
        self.fees = FeeModel.from_policy(venue.fees[venue.exchange])
        self.step = timeframe_ms(self.grid.timeframe)
        self.ledger: LedgerState = new_ledger(settings.initial_equity, int(self.grid.ts[0]))
        self.switch: KillSwitchState = armed(int(self.grid.ts[0]))
        self.rec = Recorder()
        self._liquidation: dict[str, float | None] = {}
        self._held: tuple[HeldPosition, ...] = ()
        self._boundaries = self._boundary_rows()
        self._done_boundary = -1
        self._funding = self._funding_by_row()
        self._corr = np.eye(len(self.grid.symbols))
        self._opened: dict[str, tuple[str, int]] = {}
        self._k = 0

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
    def run(self, decisions: Decisions) -> Recorder:
        grid = self.grid
        n = grid.ts.size
        fill_rows = np.searchsorted(grid.ts, decisions.close_ts, side="left") + (self.settings.latency_bars - 1)
        row = 0
        for k in range(decisions.close_ts.size):
            r = int(fill_rows[k])
            if r >= n:
                break
            if r < row:
                continue
            self._advance(row, r)
            row = r
            self._decide(k, r, decisions)
            self._record_equity(r)
        self._advance(row, n)
        self._close_all(n - 1, "end_of_data", at_close=True)
        self._record_equity(n - 1, at_close=True)
        return self.rec

    def _advance(self, start: int, stop: int) -> None:
        """Handle every boundary and window event in grid rows [start, stop)."""
        a = start
        while a < stop:
            self._boundary(a)
            nxt = int(np.searchsorted(self._boundaries, a, side="right"))
            end = min(stop, int(self._boundaries[nxt])) if nxt < self._boundaries.size else stop
            event = None if not self._held else scan_window(
                a, end, self.grid.high, self.grid.low, self.grid.mark, self._held, self._account()
            )
            if event is None:
                a = end
                continue
            self._handle(event)
            a = event.row + 1

    def _boundary(self, row: int) -> None:
        if row <= self._done_boundary or row not in self._boundary_set:
            return
        self._done_boundary = row
        ts = int(self.grid.ts[row])
        for symbol, f_ts, rate in self._funding.get(row, ()):
            if symbol in self.ledger.positions:
                col = self.grid.index(symbol)
                before = self.ledger.funding_paid
                self.ledger = apply_funding(self.ledger, symbol, rate, max(f_ts, self.ledger.ts),
                                            mark_price=float(self.grid.open[row, col]))
                self.rec.open[symbol].funding -= float(self.ledger.funding_paid - before)
        self._mark(row, ts, use_open=True)
        self._refresh_held()

    @property
    def _boundary_set(self) -> frozenset[int]:
        cached = getattr(self, "_bset", None)
        if cached is None:
            cached = frozenset(self._boundaries.tolist())
            self._bset = cached
        return cached

    # ------------------------------------------------------------------ marks and risk state
    def _mark(self, row: int, ts: int, *, use_open: bool = False) -> None:
        """Mark held positions (at the bar's open, or at its close) and let the kill switch look."""
        prices = self.grid.open[row] if use_open else self.grid.mark[row]
        held = {s: float(prices[self.grid.index(s)]) for s in self.ledger.positions}
        held = {s: p for s, p in held.items() if p == p}
        ts = max(ts, self.ledger.ts)
        self.ledger = mark(self.ledger, held, ts) if held else self.ledger
        if self.settings.plain:
            return
        result = update(self.switch, self.ledger, self.limits, ts)
        self.switch = result.state
        for event in result.events:
            self.rec.event(ts, EVENT_NAMES.get(event.kind, str(event.kind)), event.reason, symbol=event.symbol or "",
                           value=event.figure, limit=event.limit)
        self._execute(result.actions, row, at_close=not use_open)

    def _execute(self, actions: tuple[KillSwitchAction, ...], row: int, *, at_close: bool) -> None:
        for action in actions:
            if action.kind is ActionKind.CLOSE_ALL:
                self._close_all(row, "kill_switch", at_close=at_close)
            elif action.kind is ActionKind.FLATTEN_ASSET and action.symbol in self.ledger.positions:
                self._close(row, action.symbol, "asset_lock", at_close=at_close)

    def _account(self) -> AccountFigures:
        f = self.ledger.figures
        lim = self.policy
        off = 10.0 if self.settings.plain else 1.0  # plain mode: no kill switch, no locks
        return AccountFigures(
            cash=float(self.ledger.cash), day_start_equity=f.day_start_equity, peak_equity=f.peak_equity,
            max_daily_loss=min(lim.portfolio.max_daily_loss_portfolio * off, 10.0),
            max_drawdown=min(lim.portfolio.max_drawdown_portfolio * off, 10.0),
            max_daily_loss_per_asset=lim.per_asset.max_daily_loss_per_asset * off,
        )

    def _refresh_held(self) -> None:
        held = []
        for symbol, pos in self.ledger.positions.items():
            held.append(HeldPosition(
                column=self.grid.index(symbol), quantity=float(pos.quantity), entry_price=float(pos.entry_price),
                stop_price=None if pos.stop_price is None else float(pos.stop_price),
                liquidation_price=self._liquidation.get(symbol),
                day_realised=float(self.ledger.day_realised.get(symbol, Decimal(0))),
                day_start_unrealised=float(self.ledger.day_start_unrealised.get(symbol, Decimal(0))),
            ))
        self._held = tuple(held)

    def _refresh_liquidation(self) -> None:
        summary = margin_summary(self.ledger, self.policy.margin)
        self._liquidation = {s: (None if p is None else float(p)) for s, p in summary.liquidation_prices.items()}

    # ------------------------------------------------------------------ events inside a window
    def _handle(self, event: WindowEvent) -> None:
        row = event.row
        if event.kind in (WindowEventKind.STOP, WindowEventKind.LIQUIDATION):
            symbol = self.grid.symbols[event.column]
            pos = self.ledger.positions[symbol]
            long = pos.quantity > 0
            level = pos.stop_price if event.kind is WindowEventKind.STOP else self._liquidation.get(symbol)
            assert level is not None
            exit_ = stop_fill(long, float(level), float(self.grid.open[row, event.column]),
                              float(self.grid.high[row, event.column]), float(self.grid.low[row, event.column]))
            price = float(level) if exit_ is None else exit_.price
            reason = "liquidation" if event.kind is WindowEventKind.LIQUIDATION else (
                exit_.kind.value if exit_ is not None else "stop")
            if event.kind is WindowEventKind.LIQUIDATION:
                self.rec.event(int(self.grid.ts[row]), "liquidation", f"{symbol} liquidated at {price:.6g}",
                               symbol=symbol, value=price)
            self._close(row, symbol, reason, price=price)
            return
        self._mark(row, int(self.grid.ts[row]) + self.step, use_open=False)
        self._refresh_held()

    # ------------------------------------------------------------------ decisions
    def _decide(self, k: int, row: int, decisions: Decisions) -> None:
        ts = int(self.grid.ts[row])
        self._mark(row - 1 if row > 0 else row, ts)
        held = {
            s: Held(Side.LONG if p.quantity > 0 else Side.SHORT, *self._opened.get(s, ("", k)))
            for s, p in self.ledger.positions.items()
        }
        self._k = k
        for symbol, reason in decisions.exits(k, held):
            if symbol in self.ledger.positions:
                self._close(row, symbol, reason)
        intents = []
        for intent in decisions.intents(k):
            pos = self.ledger.positions.get(intent.symbol)
            if pos is not None and (pos.quantity > 0) == (intent.side is Side.LONG):
                continue
            if pos is not None:
                self._close(row, intent.symbol, "reverse")
            col = self.grid.index(intent.symbol)
            if not self.grid.valid[row, col]:
                self.rec.event(ts, "refused", f"{intent.symbol}: no bar to fill at", symbol=intent.symbol,
                               rule="no_bar")
                self.rec.refusals["no_bar"] += 1
                continue
            intents.append(intent)
        if intents:
            if self.settings.plain:
                self._enter_plain(row, intents)
            else:
                self._enter(k, row, intents, decisions)
        self._refresh_held()

    def _market_view(self, k: int, row: int, decisions: Decisions) -> object:
        symbols = self.grid.symbols
        corr = decisions.correlation(k)
        matrix = np.eye(len(symbols)) if corr is None else np.where(np.isfinite(corr), corr, 0.0)
        np.fill_diagonal(matrix, 1.0)
        self._corr = matrix
        ts = int(self.grid.ts[row])
        depth = {}
        for s in symbols:
            times = self.data.depth_ts.get(s)
            if times is None or times.size == 0:
                depth[s] = UNKNOWN_DEPTH
                continue
            i = int(np.searchsorted(times, ts, side="right")) - 1
            depth[s] = float(self.data.depth[s][i]) if i >= 0 else UNKNOWN_DEPTH
        marks = {s: float(self.grid.mark[max(row - 1, 0), j]) for j, s in enumerate(symbols)}
        marks = {s: p for s, p in marks.items() if p == p and p > 0}
        edge_min = self.policy.asset_tiers.tier_3.min_edge_score
        edge_assets = {asset_of(i.symbol) for i in decisions.intents(k) if i.edge_score >= edge_min}
        return build_market_view(
            self.limits, ts=ts, phase=self.settings.phase, symbols=symbols, correlation=matrix,
            depth_1pct={s: max(d, 1e-9) for s, d in depth.items()}, marks=marks,
            instruments=self.data.instruments.values(), edge_assets=edge_assets,
        )

    def _enter(self, k: int, row: int, intents: list[Intent], decisions: Decisions) -> None:
        ts = int(self.grid.ts[row])
        market = self._market_view(k, row, decisions)
        result = evaluate_batch(intents, self.ledger, market, self.limits, switch=self.switch)  # type: ignore[arg-type]
        # Filled in the order the risk engine ranked them: its limits account for the fees
        # of earlier winners in that order.
        for index in result.ranking:
            decision = result.decisions[index]
            intent = decision.intent
            kind = "reduced" if decision.approved else "refused"
            if not (decision.approved and decision.verdict.value == "approved"):
                for reason in decision.reasons:
                    self.rec.event(ts, kind, reason.message, symbol=intent.symbol, rule=reason.rule,
                                   value=reason.value, limit=reason.limit)
                    if kind == "refused":
                        self.rec.refusals[reason.rule] += 1
            if decision.approved:
                self._open(row, intent, decision.quantity)

    def _enter_plain(self, row: int, intents: list[Intent]) -> None:
        for intent in intents:
            col = self.grid.index(intent.symbol)
            inst = self.data.instruments[intent.symbol]
            price = float(self.grid.open[row, col])
            budget = float(self.ledger.equity) * self.settings.plain_fraction / len(self.grid.symbols)
            qty = inst.round_qty_down(budget / (price * (1 + self.fees.taker)))
            if inst.is_tradable(qty, Decimal(repr(price))):
                self._open(row, intent, qty)

    # ------------------------------------------------------------------ orders and fills
    def _price(self, row: int, col: int, qty: float, *, buy: bool, reference: float) -> float:
        if not self.settings.slippage:
            return NoSlippage().price(reference, qty, 0.0, buy=buy)
        symbol = self.grid.symbols[col]
        book = self.data.books.get(symbol)
        if book is not None and len(book):
            ts = int(self.grid.ts[row])
            i = int(np.searchsorted(book.ts, ts, side="right")) - 1
            if i >= 0 and ts - int(book.ts[i]) <= BOOK_MAX_AGE_MS:
                mid = (float(book.bid_px[i, 0]) + float(book.ask_px[i, 0])) / 2.0
                side_px, side_sz = (book.ask_px[i], book.ask_sz[i]) if buy else (book.bid_px[i], book.bid_sz[i])
                average, _ = walk_book(side_px, side_sz, qty)
                # The snapshot's cost (half spread plus depth walked) applied to the fill's own price.
                return reference * (average / mid)
        spread = self.data.spread.get(symbol, 0.0002)
        model = SpreadImpactModel(spread=spread, impact=self.settings.impact)
        return model.price(reference, qty, float(np.nan_to_num(self.grid.volume[row, col])), buy=buy)

    def _fill(self, row: int, symbol: str, side: OrderSide, qty: Decimal, reference: float,
              stop: Decimal | None = None, ts: int | None = None) -> tuple[Fill, float]:
        col = self.grid.index(symbol)
        inst = self.data.instruments[symbol]
        price = inst.round_price(self._price(row, col, float(qty), buy=side is OrderSide.BUY, reference=reference))
        fee = self.fees.fee(float(qty * price), is_maker=False)
        fill_ts = max(int(self.grid.ts[row]) if ts is None else ts, self.ledger.ts)
        fill = Fill(fill_ts, symbol, side, qty, price, Decimal(repr(round(fee, 8))))
        before = self.ledger.realised_pnl
        self.ledger = apply_fill(self.ledger, fill, stop_price=stop)
        self.rec.orders += 1
        self.rec.fills += 1
        return fill, float(self.ledger.realised_pnl - before)

    def _open(self, row: int, intent: Intent, qty: Decimal) -> None:
        col = self.grid.index(intent.symbol)
        inst = self.data.instruments[intent.symbol]
        stop = None if intent.stop_price is None else inst.round_price(intent.stop_price)
        side = OrderSide.BUY if intent.side is Side.LONG else OrderSide.SELL
        equity_before = float(self.ledger.equity)
        fill, _ = self._fill(row, intent.symbol, side, qty, float(self.grid.open[row, col]), stop=stop)
        price = float(fill.price)
        risk = float(qty) * abs(price - float(stop)) if stop is not None else float(qty) * price
        self._opened[intent.symbol] = (intent.source, self._k)
        self.rec.open[intent.symbol] = OpenTrade(
            symbol=intent.symbol, side=intent.side, entry_ts=fill.ts, entry_price=price, quantity=float(qty),
            notional_at_entry=float(qty) * price, equity_at_entry=equity_before,
            stop=float(stop) if stop is not None else float("nan"), planned_risk=risk, fees=float(fill.fee),
        )
        self._refresh_liquidation()
        self._refresh_held()

    def _close(self, row: int, symbol: str, reason: str, *, price: float | None = None,
               at_close: bool = False) -> None:
        pos = self.ledger.positions[symbol]
        col = self.grid.index(symbol)
        side = OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY
        if price is None:
            price = float(self.grid.mark[row, col] if at_close else self.grid.open[row, col])
        ts = int(self.grid.ts[row]) + (self.step if at_close else 0)
        fill, realised = self._fill(row, symbol, side, pos.size, price, ts=ts)
        self.rec.close_trade(symbol, fill.ts, float(fill.price), float(fill.fee), realised, reason)
        self._refresh_liquidation()
        self._refresh_held()

    def _close_all(self, row: int, reason: str, *, at_close: bool = False) -> None:
        for symbol in list(self.ledger.positions):
            self._close(row, symbol, reason, at_close=at_close)

    # ------------------------------------------------------------------ recording
    def _record_equity(self, row: int, *, at_close: bool = False) -> None:
        f = self.ledger.figures
        ts = int(self.grid.ts[row]) + (self.step if at_close else 0)
        equity = f.equity
        tiers = [0, 0, 0]
        for symbol in self.ledger.positions:
            tier = self.policy.tier_of(asset_of(symbol))
            if tier is not None:
                tiers[tier - 1] += 1
        self.rec.equity.append((
            ts, equity, float(self.ledger.cash), f.total_exposure if equity > 0 else 0.0,
            self._largest_correlated(), len(self.ledger.positions), tiers[0], tiers[1], tiers[2],
            -f.drawdown,
        ))

    def _largest_correlated(self) -> float:
        """The largest notional of a held position plus those correlated with it above the threshold."""
        f = self.ledger.figures
        if not f.symbols or f.equity <= 0:
            return 0.0
        threshold = self.policy.correlation.high_correlation_threshold
        cols = [self.grid.index(s) for s in f.symbols]
        notional = [f.notional[s] for s in f.symbols]
        largest = 0.0
        for a, ca in enumerate(cols):
            group = sum(n for b, (cb, n) in enumerate(zip(cols, notional, strict=True))
                        if b == a or self._corr[ca, cb] > threshold)
            largest = max(largest, group)
        return largest / f.equity
