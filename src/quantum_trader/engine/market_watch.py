"""What the risk engine is shown at a decision: the correlation known then, and the market view.

The correlation matrix a decision reads is the strategy's, noted once per decision: a newer
one than the last is a ``correlation_update`` event (the evidence that correlation monitoring
kept working, expansion gate 1 -> 2). The market view (marks as of the close before the
decision's bar, depth within 1%, tiers, identified edge) depends on time alone, so it is built
once per decision and matrix, and this cycle's expected entry slippage is laid on top of it. The
parts that never change in a run (the symbols' index, the instruments) are made once, by
``risk.MarketViews``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from quantum_trader.domain.market import F64
from quantum_trader.domain.trading import Intent, OrderType, Side
from quantum_trader.engine.views import clean_correlation, correlation_summary, depth_at, identified_edge
from quantum_trader.risk import MarketView
from quantum_trader.risk.market import MarketViews
from quantum_trader.venues.simulated.slippage import finite

_MARKET = OrderType.MARKET
_LONG = Side.LONG

if TYPE_CHECKING:
    from quantum_trader.engine.core import TradingKernel


class MarketWatch:
    """The correlation and the market view of the kernel's decisions (``kernel.corr`` is the matrix noted last)."""

    def __init__(self, kernel: TradingKernel) -> None:
        self.kernel = kernel
        self.views = MarketViews(kernel.limits, kernel.symbols, kernel.data.instruments.values())
        self.corr: F64 = np.eye(len(kernel.symbols))
        self._corr_time: int | None = None
        self._corr_raw: F64 | None = None
        self._view: tuple[tuple[int, int], F64, MarketView] | None = None
        """The last decision's market view, with the matrix it was built on."""
        self._min_edge = kernel.policy.asset_tiers.tier_3.min_edge_score

    # ------------------------------------------------------------------ the correlation
    def note(self, k: int) -> F64:
        """Take the matrix known at decision k (and record a newer one's ``correlation_update``)."""
        decisions = self.kernel.decisions
        computed = decisions.correlation_time(k)
        n = len(self.kernel.symbols)
        if computed is None:
            raw = decisions.correlation(k)
            if raw is not None or self._corr_raw is not None:  # (no matrix after none: the identity stays)
                self.corr = clean_correlation(raw, n)
            self._corr_raw = raw
            return self.corr
        if computed == self._corr_time:
            return self.corr
        self._corr_time = computed
        raw = decisions.correlation(k)
        self.corr = clean_correlation(raw, n)
        message, mean = correlation_summary(raw, n)
        self.kernel.rec.event(computed, "correlation_update", message, value=mean)
        return self.corr

    # ------------------------------------------------------------------ the view
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
        kernel = self.kernel
        ts = kernel.ts_of(row)
        before = kernel.before(row)
        data = kernel.data
        symbols = kernel.symbols
        marks = {}
        for j, s in enumerate(symbols):
            price = float(before[j])
            if price == price and price > 0:
                marks[s] = price
        universe = data.universe
        return self.views.build(
            ts=ts, phase=kernel.settings.phase, correlation=self.corr,
            depth_1pct=depth_at(symbols, data.depth_ts, data.depth, ts, data.book_max_age_ms),
            marks=marks,
            edge_assets=identified_edge(kernel.decisions.intents(k), self._min_edge),
            tiers=None if universe is None else universe.tiers_at(ts),
            removed=None if universe is None else universe.removed_at(ts),
        )

    def correlation_view(self, k: int, row: int) -> MarketView:
        """Enough of the market for drift, which reads the correlation alone: the decision's view when built,
        else the matrix without the rest."""
        cached = self._view
        if cached is not None and cached[0] == (k, row) and cached[1] is self.corr:
            return cached[2]
        kernel = self.kernel
        return self.views.correlation_only(ts=kernel.ts_of(row), phase=kernel.settings.phase, correlation=self.corr)

    def _entry_slippage(self, row: int, intents: list[Intent]) -> dict[str, float]:
        """The venue's expected slippage of each market entry, as a fraction of its price: asked of the
        slippage model at the decision (the fill bar's volume is not known yet), for the largest order the
        position limit allows, so the estimate errs on the side of a smaller position."""
        kernel = self.kernel
        out: dict[str, float] = {}
        equity = float(kernel.ledger.equity)
        before = kernel.volume_before(row)
        ts = kernel.ts_of(row)
        position_size = kernel.limits.position_size
        for intent in intents:
            if intent.order_type is not _MARKET or not intent.entry_price > 0:
                continue
            col = kernel.column[intent.symbol]
            price = float(intent.entry_price)
            largest = position_size * equity / price
            volume = finite(float(before[col]))
            expected = kernel.execution.quote(intent.symbol, price, largest, buy=intent.side is _LONG,
                                              ts=ts, bar_volume=volume)
            out[intent.symbol] = min(abs(expected / price - 1.0), 0.5)
        return out
