"""The history charts' points, built once per risk snapshot and kept by its id between requests.

A live session journals a bar a minute and the page asks for the year's chart after each; the sampled rows are
those of the request before but for the newest few (``journal.sampled_history`` keeps its picks), yet building
the 300 to 600 views of them again cost about two-thirds of a history request. The journal's risk snapshots are
only ever appended (nothing updates or deletes one), so an id names the same values for good: a point is built
when its row is first sampled and reused while a chart of the same range still shows it. What a chart shows is
still decided by the sampling alone; this only spares rebuilding the views of rows already shown.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Generic, TypeVar

from quantum_trader.journal import RiskSnapshot
from quantum_trader.monitor.views import CorrelationFrame, RiskPoint

V = TypeVar("V")
KEPT = 32
"""Ranges whose points are kept (as ``journal.sampled_history`` keeps their picks): a few hundred points each."""


def risk_point(s: RiskSnapshot) -> RiskPoint:
    """Built without validation: the journal's own typed row."""
    return RiskPoint.model_construct(ts=s.ts, equity=float(s.equity), exposure=s.exposure,
                                     correlated_exposure=s.correlated_exposure, daily_loss=s.daily_loss,
                                     drawdown=s.drawdown, positions=s.positions)


def correlation_frame(s: RiskSnapshot) -> CorrelationFrame:
    return CorrelationFrame(ts=s.ts, symbols=list(s.symbols), matrix=[list(r) for r in s.correlation or ()],
                            mean=s.mean_correlation)


class PointViews(Generic[V]):
    """The views of the rows a range showed last, by row id, per range (the least recently asked dropped beyond
    ``KEPT``). The views are frozen models, shared by the responses that show them."""

    def __init__(self, build: Callable[[RiskSnapshot], V], kept: int = KEPT) -> None:
        self.build = build
        self.kept = kept
        self.built = 0
        """Views built so far (what a request cost: tests read it)."""
        self._ranges: OrderedDict[Hashable, dict[int, V]] = OrderedDict()
        self._lock = threading.Lock()

    def views(self, key: Hashable, rows: Iterable[RiskSnapshot]) -> list[V]:
        """``rows``' views in their order: those of the rows ``key`` showed last reused, the others built."""
        with self._lock:
            before = self._ranges.get(key, {})
        now: dict[int, V] = {}
        out: list[V] = []
        for row in rows:
            view = before.get(row.id) if row.id is not None else None
            if view is None:
                view = self.build(row)
                self.built += 1
            if row.id is not None:
                now[row.id] = view
            out.append(view)
        with self._lock:
            self._ranges[key] = now
            self._ranges.move_to_end(key)
            while len(self._ranges) > self.kept:
                self._ranges.popitem(last=False)
        return out
