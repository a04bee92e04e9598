"""The dashboard's live source: a trading journal (what a paper or live session writes), shown as ``monitor.views``.

The monitor may not import the journal (DESIGN.md's layer rule), so the command line joins them here.
Prices: the journal keeps fills, not marks, so a position's mark and price chart come from the catalog the
session read (``--catalog``, the closes at or before the last journalled bar) and, without one, from the
last fill (said so in ``mark_source``). ``journal_gates`` is the one place the gate panel is filled.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

from quantum_trader.cli.dashboard_points import PointViews, correlation_frame, risk_point
from quantum_trader.config import Policy
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, utc_day_start
from quantum_trader.domain.trading import OrderType
from quantum_trader.journal import (
    Database,
    Journal,
    JournalError,
    KillSwitchChange,
    KillSwitchRecord,
    TradingJournal,
)
from quantum_trader.journal.dashboard_io import DashboardReader
from quantum_trader.monitor.background import Refreshed
from quantum_trader.monitor.figures import MANUAL_TRIP, SwitchRecord, gate_criteria, killswitch_view, slot_usage
from quantum_trader.monitor.positions import Book, FillRow, net_fills
from quantum_trader.monitor.source import ActionRefused, Scrape, SourceError
from quantum_trader.monitor.views import (
    ActionResult,
    AlertItem,
    Alerts,
    Asset,
    AssetRegime,
    CorrelationHistory,
    Gates,
    Portfolio,
    PriceChart,
    Regimes,
    RiskHistory,
)
from quantum_trader.risk.events import EventKind
from quantum_trader.risk.kill_switch import armed

Clock = Callable[[], int]
T = TypeVar("T")


def wall_ms() -> int:
    return int(time.time() * 1000)


GATES_REFRESH_S = 300.0
"""At most this often the gate verdict is judged again while the journal changes (it reads every bar)."""
GATES_WORKER = "quantum_trader.cli.dashboard_source"
"""``python -m`` this module judges the gates of the journal its standard input names (``monitor.background``)."""


def gates_request(target: str, account: str, policy: Policy) -> bytes:
    """What the gate worker reads on its standard input (the target stays off its command line: it may hold a
    database password)."""
    return json.dumps({"target": target, "account": account, "policy": policy.model_dump(mode="json")}).encode()


def _gates_worker() -> None:
    if hasattr(os, "nice"):
        os.nice(19)  # behind the dashboard's own requests for the CPU (a year's verdict takes seconds)
    request = json.loads(sys.stdin.buffer.read())
    store = Journal(Database(request["target"]), account=request["account"])
    sys.stdout.write(journal_gates(Policy.model_validate(request["policy"]), store).model_dump_json())


def journal_gates(policy: Policy, store: Journal) -> Gates:
    """The current phase and the gate out of it, each criterion judged on the journal's operation
    (``analytics.gates_progress.gate_progress``, what ``phase status`` prints)."""
    from quantum_trader.analytics.gates_progress import gate_progress

    gates = gate_criteria(policy, store.current_phase(policy.expansion.start_phase))
    progress = gate_progress(store.db, policy, phase=gates.phase, account=store.account)
    if progress.verdict is None:
        return gates
    judged = progress.verdict.criteria
    criteria = []
    for c in gates.criteria:  # the verdict names a policy field as the spec does (months_profitable_btc: 3_months_...)
        found = next((j for j in judged if j.name == c.name or j.name.endswith(f"_{c.name}")), None)
        value = None if found is None or found.value is None else float(found.value)
        criteria.append(c.model_copy(update={"status": None if found is None else found.status.value,
                                             "value": value}))
    return gates.model_copy(update={"criteria": criteria, "evaluated": True})


def switch_record(record: KillSwitchRecord | None) -> SwitchRecord | None:
    if record is None:
        return None
    state = record.state
    trips = [t for t in (state.daily_trip_ts, state.drawdown_trip_ts) if t is not None]
    return SwitchRecord(state.daily_tripped, state.drawdown_tripped, min(trips) if trips else None,
                        record.trip_reason, float(record.peak_equity), float(record.day_start_equity),
                        record.equity_day, record.ts, state.locks)


class CatalogPrices:
    """Closes of the catalog a session read, up to the journal's last bar."""

    def __init__(self, root: Path) -> None:
        from quantum_trader.data.catalog import Catalog

        self.catalog = Catalog(root)
        self.root = root

    def closes(self, symbol: str, start: int | None, end: int) -> tuple[list[int], list[float]] | None:
        from quantum_trader.data.catalog import CatalogError
        from quantum_trader.domain.kinds import DataKind
        from quantum_trader.domain.time import timeframe_ms

        infos = [i for i in self.catalog.datasets()
                 if i.symbol == symbol and i.kind is DataKind.CANDLES and i.timeframe]
        if not infos:
            return None
        info = min(infos, key=lambda i: timeframe_ms(i.timeframe or "1m"))
        step = timeframe_ms(info.timeframe or "1m")
        try:
            bars = self.catalog.read_bars(symbol, info.timeframe or "", exchange=info.exchange, start_ms=start,
                                          end_ms=end - step + 1)
        except CatalogError:
            return None
        return [int(t) + step for t in bars.ts.tolist()], [float(c) for c in bars.close.tolist()]


class JournalSource:
    """A live journal, read on every request (the session keeps writing it)."""

    def __init__(self, target: str, *, account: str, policy: Policy, catalog: Path | None = None,
                 clock: Clock = wall_ms) -> None:
        self.target = target
        self.db = Database(target)
        self.trading = TradingJournal(self.db, account=account, session="dashboard")
        self.store = Journal(self.db, account=account)
        self.reader = DashboardReader(self.db, account)
        self.policy = policy
        self.prices = CatalogPrices(catalog) if catalog is not None else None
        self.clock = clock
        self.description = f"journal {self.db.url} (account {account})"
        self._cache: dict[tuple[object, ...], object] = {}
        """Results that only new rows change, under the newest risk snapshot and fill ids they were read at."""
        self._lock = threading.Lock()
        self._portfolio: tuple[tuple[int, ...], Portfolio, int | None] | None = None
        self._alerts: dict[tuple[tuple[int, ...], int], Alerts] = {}
        self._parts: dict[str, tuple[tuple[int, ...], object]] = {}
        self.history_points = PointViews(risk_point)
        """The history chart's points by snapshot id, per range (``dashboard_points``)."""
        self.correlation_frames = PointViews(correlation_frame)
        """Figures kept under the parts of the version they show (``_kept``)."""
        self.verdicts: Refreshed[Gates] = Refreshed([sys.executable, "-m", GATES_WORKER],
                                                    gates_request(target, account, policy),
                                                    Gates.model_validate_json, min_interval_s=GATES_REFRESH_S)
        """The gate verdict, judged in a process of its own (it reads the journal's whole operation)."""

    def close(self) -> None:
        self.verdicts.close()
        self.db.close()

    def phase(self) -> Gates:
        """The current phase and its next gate's criteria as the policy states them: one read."""
        return gate_criteria(self.policy, self.store.current_phase(self.policy.expansion.start_phase))

    def version(self) -> tuple[int, ...]:
        return self.reader.version()

    # ------------------------------------------------------------------ portfolio
    def portfolio(self) -> Portfolio:
        return self._portfolio_at(self.reader.version_parts())

    def _portfolio_at(self, parts: dict[str, int]) -> Portfolio:
        """Read again only when the journal's version moved (everything it shows is in the version); the feed's lag
        is measured on the clock at each call."""
        version = tuple(parts.values())
        with self._lock:
            cached = self._portfolio
        if cached is None or cached[0] != version:
            cached = (version, *self._read_portfolio(parts))
            with self._lock:
                self._portfolio = cached
        _, found, updated = cached
        return found.model_copy(update={"feed_lag_ms": None if updated is None else max(0, self.clock() - updated)})

    def _kept(self, name: str, key: tuple[int, ...], read: Callable[[], T]) -> T:
        """``read()`` again only when ``key`` (the version's parts it shows) moved: a new bar leaves the phase, the
        positions held and the alerts as they were."""
        with self._lock:
            found = self._parts.get(name)
        if found is None or found[0] != key:
            found = (key, read())
            with self._lock:
                self._parts[name] = found
        return found[1]  # type: ignore[return-value]

    def _read_portfolio(self, parts: dict[str, int]) -> tuple[Portfolio, int | None]:
        """The portfolio, and when the feed last moved (its lag is measured at each call)."""
        rows = self.reader.bar_rows(MS_PER_DAY)
        latest, day_ago, record = rows.latest, rows.day_before, rows.killswitch
        held: list[str] = self._kept("held", (parts.get("fills", 0),), lambda: [
            asset_of(s) for s, b in self._books().items() if b.quantity != 0])
        pnl = base = None
        if latest is not None and day_ago is not None:
            pnl = float(latest.equity - day_ago.equity)
            base = pnl / float(day_ago.equity) if day_ago.equity > 0 else None
        equity = float(latest.equity) if latest is not None else None
        ks = killswitch_view(self.policy, switch_record(record), equity, latest.ts if latest else None,
                             latest.daily_loss if latest else None, latest.drawdown if latest else None)
        gates: Gates = self._kept("phase", (parts.get("phases", 0),), self.phase)
        open_alerts: int = self._kept("open_alerts", (parts.get("alerts", 0), parts.get("acknowledged", 0)),
                                      self.reader.open_alert_count)
        pf = self.policy.portfolio
        return Portfolio(
            ts=latest.ts if latest else None, equity=equity, exposure=latest.exposure if latest else None,
            exposure_limit=pf.max_total_exposure, exposure_alert=self.policy.dashboard.alerts.portfolio_exposure_above,
            correlated_exposure=latest.correlated_exposure if latest else None,
            correlated_limit=pf.max_correlated_exposure, pnl_24h=pnl, pnl_24h_fraction=base,
            positions=latest.positions if latest else len(held), max_positions=pf.max_positions,
            slots=slot_usage(self.policy, held), killswitch=ks, phase=gates.phase, phase_name=gates.phase_name,
            next_gate=gates.next_gate, open_alerts=open_alerts, feed_lag_ms=None, source=self.description
        ), rows.feed_updated

    def _cached(self, key: tuple[object, ...], read: Callable[[], T], *, fills_only: bool = False) -> T:
        """``read()`` once per newest risk snapshot and fill (per newest fill with ``fills_only``): the journal
        only appends what these show."""
        risk, fill = self.reader.newest_ids()
        full = (*key, fill) if fills_only else (*key, risk, fill)
        if full not in self._cache:
            if len(self._cache) > 64:
                self._cache.clear()
            self._cache[full] = read()
        return self._cache[full]  # type: ignore[return-value]

    def risk_history(self, since: int | None, until: int | None, points: int) -> RiskHistory:
        """Sampled again after each new bar; the points of the rows shown before are reused (``dashboard_points``)."""
        def read() -> RiskHistory:
            rows = self.reader.sampled(since, until, points)
            return RiskHistory.model_construct(points=self.history_points.views((since, until, points), rows))

        return self._cached(("history", since, until, points), read)

    def correlation_history(self, frames: int) -> CorrelationHistory:
        def read() -> CorrelationHistory:
            rows = self.reader.sampled(None, None, frames, correlation=True)
            return CorrelationHistory.model_construct(frames=self.correlation_frames.views(frames, rows))

        return self._cached(("correlation", frames), read)

    # ------------------------------------------------------------------ assets
    def _books(self) -> dict[str, Book]:
        return self._cached(("books",), self._net, fills_only=True)

    def _net(self) -> dict[str, Book]:
        return net_fills(FillRow(f.ts, f.symbol, f.side == "buy", float(f.quantity), float(f.price), float(f.fee),
                                 f.tag if f.purpose == "entry" else "")
                         for f in self.reader.fills_with_tags())

    def _mark(self, book: Book, at: int | None) -> tuple[float | None, int | None, str]:
        if self.prices is not None and at is not None:
            found = self.prices.closes(book.symbol, max(0, at - 2 * MS_PER_DAY), at)
            if found and found[0]:
                return found[1][-1], found[0][-1], f"catalog {self.prices.root}"
        if book.marks:
            last = book.marks[-1]
            return last.price, last.ts, "last fill (no catalog holds its closes)"
        return None, None, "none"

    def regimes(self) -> Regimes:
        found = self.reader.latest_regimes()
        if found is None:
            return Regimes(ts=None, items=[])
        ts, regimes = found
        return Regimes(ts=ts, items=[AssetRegime(symbol=s, asset=asset_of(s), regime=r, since=since)
                                     for s, r, since in regimes])

    def assets(self) -> list[Asset]:
        regimes = {r.symbol: r for r in self.regimes().items}
        latest = self.trading.latest_risk()
        record = self.trading.load_killswitch()
        locks = dict(record.state.locks) if record is not None else {}
        stops = {o.order.symbol: float(o.order.stop_price) for o in self.trading.open_orders()
                 if o.order.type is OrderType.STOP_MARKET and o.order.stop_price is not None}
        equity = float(latest.equity) if latest is not None else None
        day_start = (equity / (1 - latest.daily_loss) if latest is not None and equity is not None
                     and latest.daily_loss is not None and latest.daily_loss < 1 else equity)
        today = utc_day_start(latest.ts) if latest is not None else None
        out = []
        for symbol, book in sorted(self._books().items()):
            if book.quantity == 0:
                continue
            asset = self._asset(book, latest.ts if latest else None, equity, day_start, today, stops.get(symbol),
                                locks.get(asset_of(symbol)))
            regime = regimes.get(symbol)
            out.append(asset if regime is None else
                       asset.model_copy(update={"regime": regime.regime, "regime_since": regime.since}))
        return out

    def _asset(self, book: Book, at: int | None, equity: float | None, day_start: float | None, today: int | None,
               stop: float | None, locked: int | None) -> Asset:
        mark, mark_ts, mark_source = self._mark(book, at)
        unrealised = book.quantity * (mark - book.entry_price) if mark is not None else None
        direction = 1.0 if book.quantity > 0 else -1.0
        from_price = mark if mark is not None else book.entry_price
        risk = max(0.0, abs(book.quantity) * (from_price - stop) * direction) if stop is not None else None
        realised_today = book.realised_by_day.get(today, 0.0) if today is not None else 0.0
        day_pnl = realised_today + (unrealised or 0.0)
        limit = self.policy.per_asset.max_daily_loss_per_asset
        room = limit - max(0.0, -day_pnl) / day_start if day_start else None
        asset = asset_of(book.symbol)
        return Asset(
            symbol=book.symbol, asset=asset, tier=self.policy.tier_of(asset),
            side="long" if book.quantity > 0 else "short", quantity=abs(book.quantity),
            entry_price=book.entry_price, opened_ts=book.opened_ts, signal=book.signal, mark=mark, mark_ts=mark_ts,
            mark_source=mark_source, unrealised_pnl=unrealised,
            unrealised_fraction=unrealised / equity if unrealised is not None and equity else None,
            stop_price=stop, risk_to_stop=risk, risk_to_stop_fraction=risk / equity if risk is not None and equity
            else None, day_pnl=day_pnl, daily_limit=limit, daily_room=room, locked_until=locked)

    def price_chart(self, symbol: str, points: int) -> PriceChart:
        books = self._books()
        latest = self.trading.latest_risk()
        book = books.get(symbol)
        if book is None and (self.prices is None or latest is None):
            raise SourceError(f"symbol {symbol}: no fill in the journal and no --catalog to read its closes from")
        marks = book.marks if book is not None else []
        found = None
        if self.prices is not None and latest is not None:
            first = self.reader.first_risk()
            found = self.prices.closes(symbol, first.ts if first else None, latest.ts)
        if found is None:
            if book is None:
                raise SourceError(f"symbol {symbol}: neither the journal's fills nor the catalog hold it")
            ts, close, where = [m.ts for m in marks], [m.price for m in marks], "fill prices (no catalog)"
        else:
            ts, close, where = found[0], found[1], f"catalog {self.prices.root if self.prices else ''}"
        step = max(1, -(-len(ts) // points))
        keep = list(range(0, len(ts), step))
        if ts and keep[-1] != len(ts) - 1:
            keep.append(len(ts) - 1)
        return PriceChart(symbol=symbol, ts=[ts[i] for i in keep], close=[close[i] for i in keep], source=where,
                          fills=marks)

    # ------------------------------------------------------------------ alerts, gates, orders
    def alerts(self, limit: int) -> Alerts:
        """Read again only when the journal's version moved (new alerts, incidents, acknowledgements)."""
        key = (self.version(), limit)
        with self._lock:
            cached = self._alerts.get(key)
        if cached is None:
            cached = self._read_alerts(limit)
            with self._lock:
                self._alerts = {key: cached}
        return cached

    def _read_alerts(self, limit: int) -> Alerts:
        found, counts, _ = self.reader.recent_alerts(limit)
        items = [AlertItem(id=a.id or 0, ts=a.ts, kind=a.kind, severity=a.severity.value, message=a.message,
                           acknowledged_by=a.acknowledged_by, acknowledged_ts=a.acknowledged_ts) for a in found]
        items += [AlertItem(id=i.id or 0, ts=i.ts, kind=i.kind, severity="critical",
                            message=f"{i.detail} (safe action: {i.safe_action})", acknowledged_by=i.resolved_by,
                            acknowledged_ts=i.resolved_ts, category="incident")
                  for i in self.reader.recent_incidents(limit)]
        items.sort(key=lambda a: (a.ts, a.id), reverse=True)
        return Alerts(items=items[:limit], counts=counts)

    def alert_counts(self) -> dict[str, int]:
        return self._alert_counts_at(self.reader.version_parts())

    def _alert_counts_at(self, parts: dict[str, int]) -> dict[str, int]:
        """Every alert counted by kind, read again only when an alert is added (one grouped statement)."""
        return self._kept("alert_counts", (parts.get("alerts", 0),), self.reader.alert_counts)

    def gates(self) -> Gates:
        """The verdict last judged (``as_of`` says when) while it is of the current phase; else the criteria as the
        policy states them (``evaluated`` false) until the worker's first verdict is in."""
        now = self.phase()
        found = self.verdicts.get((now.phase, self.reader.version()))
        if found is None or found.value.phase != now.phase:
            return now
        return found.value.model_copy(update={"as_of": found.started_ms})

    def order_latencies_ms(self) -> list[float]:
        return self._latencies_at(self.reader.version_parts())

    def _latencies_at(self, parts: dict[str, int]) -> list[float]:
        """Read again only when an order event is journalled (an order's status and times change with one)."""
        return self._kept("latencies", (parts.get("order_events", 0),), self.reader.order_latencies_ms)

    def scrape(self) -> Scrape:
        """One read of the version for all three (the journal's figures at one version)."""
        parts = self.reader.version_parts()
        return Scrape(self._portfolio_at(parts), self._alert_counts_at(parts), self._latencies_at(parts))


class JournalControls:
    """The control actions on the same journal, each recorded with the operator and the reason."""

    def __init__(self, source: JournalSource) -> None:
        self.source = source
        self.policy = source.policy

    def _now(self) -> int:
        return self.source.clock()

    def trip(self, operator: str, reason: str) -> ActionResult:
        """A manual trip: sticky until an operator resets it (recorded as the drawdown trigger's trip, the one
        that never re-arms by itself, with the operator named)."""
        trading = self.source.trading
        now = self._now()
        record = trading.load_killswitch() or self._new_record(now)
        if record.tripped:
            raise ActionRefused(f"the kill switch is already tripped ({record.trip_reason or 'no reason recorded'})")
        text = f"{MANUAL_TRIP}{operator}: {reason.strip()}"
        state = replace(record.state, drawdown_tripped=True, drawdown_trip_ts=now)
        change = KillSwitchChange(now, EventKind.TRIP_DRAWDOWN, text, operator=operator)
        trading.save_killswitch(replace(record, state=state, trip_reason=text, ts=now), change)
        return ActionResult(ok=True, message=f"kill switch tripped by {operator}; recorded in {self.source.db.url}")

    def _new_record(self, now: int) -> KillSwitchRecord:
        latest = self.source.trading.latest_risk()
        if latest is None:
            raise ActionRefused("the journal holds no equity yet: nothing to trip against (start a session first)")
        equity = latest.equity
        peak = equity / (1 - Decimal(repr(latest.drawdown))) if latest.drawdown is not None else equity
        day = equity / (1 - Decimal(repr(latest.daily_loss))) if latest.daily_loss is not None else equity
        return KillSwitchRecord(armed(latest.ts), peak, day, utc_day_start(latest.ts), ts=now)

    def reset(self, operator: str, reason: str, force: bool) -> ActionResult:
        from quantum_trader.journal.killswitch_ops import reset, reset_refusal

        trading = self.source.trading
        record = trading.load_killswitch()
        if record is None or not record.tripped:
            raise ActionRefused("the kill switch is not tripped (armed): nothing to reset")
        equity = trading.latest_equity()
        now = self._now()
        pf = self.policy.portfolio
        refusal = reset_refusal(record, equity, drawdown_limit=pf.max_drawdown_portfolio,
                                daily_limit=pf.max_daily_loss_portfolio, now=now)
        if refusal is not None and not force:
            raise ActionRefused(refusal.replace("--force", "force"))
        new, change, notes = reset(record, equity, now=now, reason=reason, operator=operator,
                                   forced=refusal is not None)
        trading.save_killswitch(new, change)
        tag = " (FORCED)" if change.forced else ""
        return ActionResult(ok=True, message=f"kill switch reset{tag} by {operator}: armed. {' '.join(notes)}".strip())

    def promote(self, operator: str, reason: str, force: bool) -> ActionResult:
        from quantum_trader.analytics.gates import evaluate_gate
        from quantum_trader.analytics.gates_evidence import Evidence
        from quantum_trader.analytics.gates_phase import PhaseError, promote

        store = self.source.store
        current = store.current_phase(self.policy.expansion.start_phase)
        if current >= 3:
            raise ActionRefused("already in phase 3: there is no phase to promote to")
        evidence = Evidence(f"journal {store.url}", drills=tuple(store.drills()), drill_source=f"journal {store.url}")
        verdict = evaluate_gate(current, evidence, self.policy)
        try:
            change = promote(store, current, verdict, ts=self._now(), reason=reason, force=force, operator=operator)
        except PhaseError as exc:
            raise ActionRefused(str(exc).replace("--force", "force").replace("--reason", "reason")) from None
        tag = " (FORCED)" if change.forced else ""
        return ActionResult(ok=True, message=f"phase {change.from_phase} -> {change.to_phase}{tag} by {operator}",
                            id=change.id)

    def demote(self, operator: str, reason: str) -> ActionResult:
        from quantum_trader.analytics.gates_phase import PhaseError, demote

        store = self.source.store
        current = store.current_phase(self.policy.expansion.start_phase)
        try:
            change = demote(store, current, ts=self._now(), reason=reason, operator=operator)
        except PhaseError as exc:
            raise ActionRefused(str(exc).replace("--reason", "reason")) from None
        return ActionResult(ok=True, message=f"phase {change.from_phase} -> {change.to_phase} by {operator}",
                            id=change.id)

    def acknowledge(self, alert_id: int, operator: str) -> ActionResult:
        try:
            done = self.source.trading.acknowledge_alert(alert_id, ts=self._now(), by=operator)
        except JournalError as exc:
            if "no such alert" in str(exc):
                raise SourceError(str(exc)) from None
            raise
        if not done:
            return ActionResult(ok=False, message=f"alert #{alert_id} was already acknowledged", id=alert_id)
        return ActionResult(ok=True, message=f"alert #{alert_id} acknowledged by {operator}", id=alert_id)


if __name__ == "__main__":
    _gates_worker()
