"""What the risk engine is shown at a decision, and what it says back about drift.

Mixed into ``Kernel`` (like ``EquityRecording``): it reads the kernel's grid, ledger and
market data and keeps the correlation matrix known at the latest decision.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from quantum_trader.domain.market import F64
from quantum_trader.domain.trading import Intent, OrderType, Side
from quantum_trader.engine.kernel_state import KernelState
from quantum_trader.engine.strategy import Decisions
from quantum_trader.engine.views import clean_correlation, correlation_summary, depth_at, identified_edge
from quantum_trader.risk import ActionKind, build_market_view, drift
from quantum_trader.venues.simulated.venue import SimulatedVenue


class DecisionContext(KernelState):
    venue: SimulatedVenue
    _corr: F64
    _corr_time: int | None
    _drifting: frozenset[object]
    _reduce: Callable[[int, str, float, str], None]
    """A reduce-only cut by notional (``OrderExecution._reduce``)."""

    def _note_correlation(self, k: int, decisions: Decisions) -> None:
        """Take the matrix known at decision k; a newer one is a ``correlation_update`` event,
        the evidence that correlation monitoring kept working (expansion gate 1 -> 2)."""
        when = getattr(decisions, "correlation_time", None)
        computed = None if when is None else when(k)
        if computed is None or computed == self._corr_time:
            return
        self._corr_time = computed
        n = len(self.grid.symbols)
        raw = decisions.correlation(k)
        self._corr = clean_correlation(raw, n)
        message, mean = correlation_summary(raw, n)
        self.rec.event(computed, "correlation_update", message, value=mean)


    def _entry_slippage(self, row: int, intents: list[Intent]) -> dict[str, float]:
        """The venue's expected slippage of each market entry, as a fraction of its price.

        Asked of the venue's own slippage model at the decision (the bar just closed: the fill
        bar's volume is not known yet), for the largest order the position limit allows, so
        the estimate errs on the side of a smaller position.
        """
        out: dict[str, float] = {}
        equity = float(self.ledger.equity)
        for intent in intents:
            if intent.order_type is not OrderType.MARKET or not intent.entry_price > 0:
                continue
            col = self._column_of(intent.symbol)
            price = float(intent.entry_price)
            largest = self.limits.position_size * equity / price
            volume = float(np.nan_to_num(self.grid.volume[max(row - 1, 0), col]))
            buy = intent.side is Side.LONG
            expected = self.venue.slippage.taker_price(intent.symbol, price, largest, buy=buy, ts=self._ts[row],
                                                       bar_volume=volume)
            out[intent.symbol] = min(abs(expected / price - 1.0), 0.5)
        return out

    def _market_view(self, k: int, row: int, decisions: Decisions, intents: list[Intent] | None = None) -> object:
        symbols = self.grid.symbols
        if getattr(decisions, "correlation_time", None) is None:
            self._corr = clean_correlation(decisions.correlation(k), len(symbols))
        ts = self._ts[row]
        marks = {s: float(self.grid.mark[max(row - 1, 0), j]) for j, s in enumerate(symbols)}
        return build_market_view(
            self.limits, ts=ts, phase=self.settings.phase, symbols=symbols, correlation=self._corr,
            depth_1pct=depth_at(symbols, self.data.depth_ts, self.data.depth, ts, self.data.book_max_age_ms),
            marks={s: p for s, p in marks.items() if p == p and p > 0},
            instruments=self.data.instruments.values(),
            edge_assets=identified_edge(decisions.intents(k), self.policy.asset_tiers.tier_3.min_edge_score),
            entry_slippage=self._entry_slippage(row, intents) if intents else None,
            tiers=None if self.data.universe is None else self.data.universe.tiers_at(ts),
            removed=None if self.data.universe is None else self.data.universe.removed_at(ts),
        )

    def _watch_drift(self, k: int, row: int, decisions: Decisions) -> None:
        """Limits bind at entry; after it prices and correlations move. The risk engine's drift
        events (exposure above the 35% alert or a limit, correlated groups above theirs) are
        recorded when a condition starts, not again on every decision while it lasts."""
        if not self.ledger.positions:
            self._drifting = frozenset()
            return
        report = drift(self.ledger, self._market_view(k, row, decisions), self.limits, self._ts[row])  # type: ignore[arg-type]
        kinds = frozenset(e.kind for e in report.events)
        for e in report.events:
            if e.kind not in self._drifting:
                self.rec.event(e.ts, str(e.kind), e.reason, symbol=e.symbol or "", value=e.figure, limit=e.limit)
        self._drifting = kinds
        for action in report.actions:  # drift.action: trim (the risk engine emits none under "alert")
            if action.kind is ActionKind.TRIM and action.symbol is not None and action.notional:
                self.rec.event(self._ts[row], "drift_trim", f"{action.reason}: cut {action.notional:,.2f} USD",
                               symbol=action.symbol, value=action.notional)
                self._reduce(row, action.symbol, action.notional, "drift_trim")
