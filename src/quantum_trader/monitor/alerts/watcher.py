"""The alert rules in a paper or live session: fed bar by bar, each alert journalled, logged and sent.

``AlertWatcher`` is three listeners on one ``AlertRuleBook``: a ``SessionRecorder`` watcher (each bar's
journalled risk snapshot: exposure, the correlation matrix when it was updated; and the market the kernel
holds: the universe's tiers, the new book snapshots' depth and spread), a kernel risk listener (kill-switch
trips, locks) and a live session's incident listener (stale feed, reconciliation). Each alert is written to
the journal (``record_alert``), logged on ``quantum_trader.alerts`` and handed to the dispatcher, whose
delivery runs on its own threads: a bar never waits for a channel.

The kernel, the journal and the snapshot are read by shape (``shapes``): the monitor layer imports neither
the engine nor the journal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np

from quantum_trader.config.policy import Policy
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.market import F64, I64, BookSeries
from quantum_trader.monitor.alerts.channels import channels_of
from quantum_trader.monitor.alerts.delivery import AlertDispatcher, DeliverySettings
from quantum_trader.monitor.alerts.liquidity import TrailingMedian
from quantum_trader.monitor.alerts.model import Alert, Severity
from quantum_trader.monitor.alerts.rules import AlertRuleBook, IncidentLike, RuleSettings
from quantum_trader.monitor.alerts.run_alerts import mean_pairwise
from quantum_trader.monitor.alerts.shapes import AlertJournal, KernelLike, MarketLike, SnapshotLike
from quantum_trader.risk import RiskEvent
from quantum_trader.universe.schedule import UniverseSchedule

log = logging.getLogger("quantum_trader.alerts")
IncidentT = TypeVar("IncidentT", bound=IncidentLike)
LEVEL = {Severity.INFO: logging.INFO, Severity.WARNING: logging.WARNING, Severity.CRITICAL: logging.ERROR}


class AlertWatcher:
    """See the module docstring. ``alerts`` keeps every alert raised, in order."""

    def __init__(self, policy: Policy, journal: AlertJournal | None = None,
                 dispatcher: AlertDispatcher | None = None, scrub: Callable[[str], str] | None = None) -> None:
        self.settings = RuleSettings.of_policy(policy)
        self.book = AlertRuleBook(self.settings)
        self.journal = journal
        self.dispatcher = dispatcher
        self.scrub = scrub
        """Applied to each message before it is journalled, logged or sent (a live session's key redactor)."""
        self.alerts: list[Alert] = []
        self._tiers: dict[str, int] | None = None
        self._depth_seen: dict[str, int] = {}
        self._spread_seen: dict[str, int] = {}
        self._medians: dict[str, TrailingMedian] = {}
        self._spreads: dict[str, tuple[BookSeries, F64]] = {}

    @classmethod
    def of_policy(cls, policy: Policy, journal: AlertJournal | None = None, env: Mapping[str, str] | None = None,
                  scrub: Callable[[str], str] | None = None) -> AlertWatcher:
        """The watcher a session runs: the policy's rules, and its channels when any are configured (their
        settings are checked here, before the first bar: a missing token is one error line, not a silent loss)."""
        config = policy.dashboard.alerts.channels
        channels = channels_of(config, env)
        dispatcher = AlertDispatcher(channels, DeliverySettings.of(config)) if channels else None
        return cls(policy, journal, dispatcher, scrub)

    # ------------------------------------------------------------------ listeners
    def __call__(self, kernel: KernelLike, chunk: MarketChunk, snapshot: SnapshotLike) -> None:
        """A ``SessionRecorder`` watcher: one bar's journalled snapshot."""
        ts = snapshot.ts
        found = self.book.exposure(ts, snapshot.exposure)
        if snapshot.correlation is not None:
            found += self._correlation(ts, snapshot.symbols, snapshot.correlation)
        data = kernel.data
        if data.universe is not None:
            found += self._tier_changes(ts, data.universe)
        for symbol in kernel.symbols:
            found += self._liquidity(symbol, ts, data)
        self.emit(found)

    def on_risk(self, kernel: object, ts: int, events: tuple[RiskEvent, ...]) -> None:
        """A kernel risk listener (``TradingKernel.risk_listeners``)."""
        found: list[Alert] = []
        for event in events:
            found += self.book.risk_event(event)
        self.emit(found)

    def on_incident(self, incident: IncidentLike) -> None:
        """A live session's incident listener."""
        self.emit(self.book.incident(incident))

    def incidents_then(self, then: Callable[[IncidentT], None] | None) -> Callable[[IncidentT], None]:
        """One incident listener: this watcher's, then ``then`` (the session's own, when it has one)."""

        def both(incident: IncidentT) -> None:
            self.on_incident(incident)
            if then is not None:
                then(incident)

        return both

    # ------------------------------------------------------------------ inputs
    def _correlation(self, ts: int, symbols: tuple[str, ...], rows: tuple[tuple[float, ...], ...]) -> list[Alert]:
        """The kernel's matrix holds 0 for a pair still warming up (``clean_correlation``; the identity before the
        first matrix), and a measured correlation is never exactly 0: those pairs are unknown, not uncorrelated
        (else the first real matrix is a jump from 0 of every pair)."""
        matrix = np.array(rows, dtype=np.float64)
        off = ~np.eye(len(symbols), dtype=bool)
        matrix[off & (matrix == 0.0)] = np.nan
        if not np.isfinite(matrix[off]).any():
            return []
        return self.book.correlation(ts, symbols, matrix.tolist(), mean_pairwise(matrix))

    def _tier_changes(self, ts: int, universe: UniverseSchedule) -> list[Alert]:
        now = universe.tiers_at(ts)
        before, self._tiers = self._tiers, now
        if before == now:
            return []
        removed = universe.removed_at(ts)
        found: list[Alert] = []
        for asset in sorted(set(now) | set(before or {})):
            if before is None or before.get(asset) != now.get(asset):
                found += self.book.tier(ts, asset, now.get(asset), removed.get(asset, "screened out"))
        return found

    def _liquidity(self, symbol: str, ts: int, data: MarketLike) -> list[Alert]:
        found: list[Alert] = []
        times, depth = data.depth_ts.get(symbol), data.depth.get(symbol)
        if times is not None and depth is not None:
            usual = self._medians.setdefault(symbol, TrailingMedian(self.settings.median_window_ms))
            recent = self._medians.setdefault(f"{symbol} now", self._short())
            for i in _new_rows(times, self._depth_seen.get(symbol), ts):
                row_ts, value = int(times[i]), float(depth[i])
                found += self.book.liquidity(row_ts, symbol, recent.push(row_ts, value), usual.push(row_ts, value))
                self._depth_seen[symbol] = row_ts
        book = data.books.get(symbol)
        if book is not None and len(book.ts):
            spreads = self._book_spreads(symbol, book)
            recent = self._medians.setdefault(f"{symbol} spread", self._short())
            for i in _new_rows(book.ts, self._spread_seen.get(symbol), ts):
                row_ts = int(book.ts[i])
                found += self.book.liquidity(row_ts, symbol, None, None, recent.push(row_ts, float(spreads[i])))
                self._spread_seen[symbol] = row_ts
        return found

    def _short(self) -> TrailingMedian:
        return TrailingMedian(self.settings.short_window_ms, 1, current=True)

    def _book_spreads(self, symbol: str, book: BookSeries) -> F64:
        cached = self._spreads.get(symbol)
        if cached is None or cached[0] is not book or cached[1].size != len(book.ts):
            cached = self._spreads[symbol] = (book, _spreads(book))
        return cached[1]

    # ------------------------------------------------------------------ output
    def emit(self, alerts: Sequence[Alert]) -> None:
        for raised in alerts:
            alert = raised if self.scrub is None else replace(raised, message=self.scrub(raised.message))
            self.alerts.append(alert)
            if self.journal is not None:
                self.journal.record_alert(str(alert.kind), alert.severity, alert.message, ts=alert.ts)
            log.log(LEVEL[alert.severity], "alert %s", alert.line())
            if self.dispatcher is not None:
                self.dispatcher.submit(alert)

    def close(self) -> None:
        """Deliver what waits and stop the channels' threads (the session's end)."""
        if self.dispatcher is not None:
            self.dispatcher.close()


def _new_rows(times: I64, seen: int | None, now: int) -> range:
    """Indices of the snapshots after ``seen`` up to ``now`` (the first call: only the latest few days are
    worth reading, the median's window, but a session starts with none: all up to now)."""
    lo = 0 if seen is None else int(np.searchsorted(times, seen, side="right"))
    hi = int(np.searchsorted(times, now, side="right"))
    return range(lo, hi)


def _spreads(book: BookSeries) -> F64:
    bid, ask = book.bid_px[:, 0], book.ask_px[:, 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray((ask - bid) / ((ask + bid) / 2.0), dtype=np.float64)

