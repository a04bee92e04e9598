"""Limits bind at entry; prices and correlations move after it: the held book watched at each decision.

``risk.drift`` measures the book against the exposure alert and the total and correlated exposure
limits under the correlation known now. A condition is recorded when it starts, not again at every
decision while it lasts; under ``drift.action: trim`` the excess is cut with a reduce-only market
order (or the whole position closed when the cut would take it all).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from quantum_trader.risk import ActionKind, drift

if TYPE_CHECKING:
    from quantum_trader.engine.core import TradingKernel


class DriftWatch:
    def __init__(self, kernel: TradingKernel) -> None:
        self.kernel = kernel
        self._drifting: frozenset[object] = frozenset()
        """The drift kinds reported at the last decision (recorded again only once they stopped)."""

    def check(self, k: int, row: int) -> None:
        kernel = self.kernel
        if not kernel.ledger.positions:
            self._drifting = frozenset()
            return
        ts = kernel.ts_of(row)
        report = drift(kernel.ledger, kernel.market.correlation_view(k, row), kernel.limits, ts)
        kinds = frozenset(e.kind for e in report.events)
        for e in report.events:
            if e.kind not in self._drifting:
                kernel.rec.event(e.ts, str(e.kind), e.reason, symbol=e.symbol or "", value=e.figure, limit=e.limit)
        self._drifting = kinds
        for action in report.actions:  # drift.action: trim (the risk engine emits none under "alert")
            if action.kind is ActionKind.TRIM and action.symbol is not None and action.notional:
                kernel.rec.event(ts, "drift_trim", f"{action.reason}: cut {action.notional:,.2f} USD",
                                 symbol=action.symbol, value=action.notional)
                self._trim(row, action.symbol, action.notional)

    def _trim(self, row: int, symbol: str, notional: float) -> None:
        """Cut ``symbol`` by at least ``notional`` with a reduce-only market order: 1% more than the excess (and
        one lot) so the cut's own costs do not leave the book above the limit."""
        kernel = self.kernel
        position = kernel.ledger.positions.get(symbol)
        price = float(kernel.before(row)[kernel.column[symbol]])
        if position is None or price != price:
            return
        inst = kernel.data.instruments[symbol]
        wanted = inst.round_qty_down(notional * 1.01 / price) + inst.lot_size
        ts = kernel.ts_of(row)
        if wanted >= position.size:
            kernel.desk.exit(ts, position, "drift_trim")
        else:
            kernel.desk.reduce(ts, position, wanted, "drift_trim")
