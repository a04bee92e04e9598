"""A running session on an exchange and what it is asked for: ``LiveRequest`` (the settings), ``LiveSession``
(takes closed bars until stopped, drives the kernel, writes the run folder).

Split from ``analytics.live``, which composes a session (``open_live``). ``LiveSession.run`` takes bars until
``stop()`` (Ctrl-C) or ``max_bars``; at its end it flushes the bar recorder, closes the alert channels (what a
rate limit held is sent then), the feed, the client and the exchange. ``write`` writes the run folder a
backtest writes, over the bars that ran, its metrics naming the mode, the exchange, the network and every
incident. Incidents also become run events (kind ``incident``, the rule naming the incident's kind).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from quantum_trader.analytics.backtest import BacktestRequest, BacktestResult, PreparedRun, write_run
from quantum_trader.analytics.report import render_report
from quantum_trader.analytics.run_folder import RunFolder
from quantum_trader.analytics.universe_replay import AssetStanding
from quantum_trader.config import Policy
from quantum_trader.domain.chunk import FundingAt, MarketChunk
from quantum_trader.domain.clock import ReplayClock
from quantum_trader.domain.market import F64, I64, BookSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import format_time, timeframe_ms
from quantum_trader.engine.grid import MarketGrid, forward_fill
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.live import LiveDriver
from quantum_trader.engine.live_decisions import DEFAULT_WINDOW, GrowingDecisions
from quantum_trader.engine.paced import PacedReplay, PaceStats
from quantum_trader.engine.paper_watch import Activity, PaperSnapshot, snapshot
from quantum_trader.engine.session_record import SessionRecorder
from quantum_trader.engine.strategy import Strategy
from quantum_trader.journal import TradingJournal
from quantum_trader.monitor.alerts import AlertWatcher
from quantum_trader.venues.ccxt.clock import ExchangeClock
from quantum_trader.venues.ccxt.credentials import Credentials, Redactor
from quantum_trader.venues.ccxt.execution import CcxtExecutionClient, ClientSettings
from quantum_trader.venues.ccxt.feed import BarRow, FeedOptions, LiveFeed, append_book
from quantum_trader.venues.ccxt.incidents import Halts, Incident, IncidentKind

Mode = Literal["live", "paper"]
CLOCK_EVERY_S = 600.0
"""How often a running session measures the exchange's clock again."""


@dataclass(frozen=True)
class LiveRequest:
    exchange: str
    symbols: tuple[str, ...]
    strategy: Strategy
    policy: Policy
    settings: KernelSettings
    timeframe: str = "1h"
    mode: Mode = "paper"
    policy_name: str = "default"
    phase_source: str = "given"
    runs_dir: Path = Path("runs")
    testnet: bool = False
    credentials: Credentials | None = None
    warmup_bars: int = 500
    max_bars: int | None = None
    window: int = DEFAULT_WINDOW
    feed: FeedOptions = field(default_factory=FeedOptions)
    client: ClientSettings = field(default_factory=ClientSettings)
    api_url: str | None = None
    timeout_ms: int = 10_000
    recv_window_ms: int = 5_000
    rate_limit_ms: float | None = None
    """ccxt's spacing of requests (None: the exchange's published limit)."""
    report: bool = True
    journal: TradingJournal | None = None
    """Where the session keeps its orders, fills and kill switch (its ``session`` names this run); the session
    starts with the kill switch the journal holds. None: nothing is journalled."""

    def __repr__(self) -> str:
        return (f"LiveRequest({self.mode} {self.exchange}{' testnet' if self.testnet else ''}, "
                f"{', '.join(self.symbols)}, {self.timeframe})")


@dataclass
class LiveSession:
    request: LiveRequest
    exchange: Any
    feed: LiveFeed
    clock: ExchangeClock
    bar_clock: ReplayClock
    kernel: Kernel
    decisions: GrowingDecisions
    data: MarketData
    halts: Halts
    redactor: Redactor
    client: CcxtExecutionClient | None = None
    driver: LiveDriver | None = None
    replay: PacedReplay | None = None
    incidents: list[Incident] = field(default_factory=list)
    rows: list[BarRow] = field(default_factory=list)
    books: dict[str, BookSeries] = field(default_factory=dict)
    activity: Activity = field(default_factory=Activity)
    on_incident: Callable[[Incident], None] | None = None
    recorder: SessionRecorder | None = None
    """Journals each bar's equity, exposure and correlation, and each decision (a session with a journal)."""
    journal: TradingJournal | None = None
    """The journal under the session's id (a resumed session's own); the session's end is recorded there."""
    alerts: AlertWatcher | None = None
    """The alert rules' channels, closed at the session's end: what they hold is sent then, not at exit."""
    seconds: float = 0.0
    _stop: bool = False
    _stopping: asyncio.Event | None = None
    _last_price: dict[str, float] = field(default_factory=dict)
    _carry_funding: list[FundingAt] = field(default_factory=list)

    def __repr__(self) -> str:
        return f"LiveSession({self.request!r}, {len(self.rows)} bars)"

    @property
    def stats(self) -> PaceStats:
        if self.replay is not None:
            return self.replay.stats
        assert self.driver is not None
        return self.driver.stats

    def stop(self) -> None:
        """Stop after the bar being taken (Ctrl-C): the session then ends as a replay ends at its last bar. Asked
        while waiting for a bar, it ends at once (after the last bar taken), not at the next close."""
        self._stop = True
        if self._stopping is not None:
            self._stopping.set()
        if self.replay is not None:
            self.replay.stop()

    async def _next_row(self, rows: AsyncIterator[BarRow]) -> BarRow | None:
        """The next closed row, or None when a stop is asked while waiting for it."""
        if self._stop:
            return None
        if self._stopping is None:
            self._stopping = asyncio.Event()
        waiting = asyncio.ensure_future(rows.__anext__())
        stopping = asyncio.ensure_future(self._stopping.wait())
        done, _ = await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if waiting in done:
            return waiting.result()
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
            await waiting
        return None

    def incident(self, incident: Incident) -> None:
        self.incidents.append(incident)
        if self.on_incident is not None:
            self.on_incident(incident)

    def price(self, symbol: str) -> float:
        return self._last_price.get(symbol, float("nan"))

    def snapshot(self) -> PaperSnapshot:
        core = self.kernel.core
        assert core is not None
        found = snapshot(core, self.activity, bars=self.stats.bars, total=self.request.max_bars)
        if self.driver is not None and self.rows:  # live stretches end with the bar forming: show the last close
            found = replace(found, time=format_time(self.rows[-1].ts + self.feed.step))
        return found

    # ------------------------------------------------------------------ running
    async def run(self, on_bar: Callable[[MarketChunk], None] | None = None) -> PaceStats:
        started = time.perf_counter()
        on_bar = self._recorded(on_bar)
        try:
            if self.replay is not None:
                stats = await self._run_paper(on_bar)
            else:
                stats = await self._run_live(on_bar)
        finally:
            self.seconds = time.perf_counter() - started
            if self.recorder is not None:
                self.recorder.flush()
            if self.alerts is not None:
                self.alerts.close()
            await self.feed.close()
            if self.client is not None:
                await self.client.close()
            await self.exchange.close()
        stats.seconds = self.seconds
        return stats

    def _recorded(self, on_bar: Callable[[MarketChunk], None] | None) -> Callable[[MarketChunk], None] | None:
        recorder = self.recorder
        if recorder is None:
            return on_bar

        def each(chunk: MarketChunk) -> None:
            core = self.kernel.core
            if core is not None:
                recorder.on_bar(core, chunk)
            if on_bar is not None:
                on_bar(chunk)

        return each

    def _take(self, row: BarRow) -> None:
        self.rows.append(row)
        if self.journal is not None and self.request.mode == "live" and np.isfinite(row.mark).any():
            # journalled before the kernel takes the bar: a bar taken again after a crash is valued as it was
            self.journal.record_marks(row.ts, {s: float(m) for s, m in zip(self.request.symbols, row.mark,
                                                                        strict=True) if np.isfinite(m)},
                                      heard_ts=row.ts + self.feed.step)
        for j, symbol in enumerate(self.request.symbols):
            if np.isfinite(row.close[j]):
                self._last_price[symbol] = float(row.close[j])
            if symbol in row.books:
                append_book(self.books, symbol, row.ts + self.feed.step, row.books[symbol])
        self._update_depth()

    def _update_depth(self) -> None:
        from quantum_trader.analytics.replay_market import book_depth

        depth_ts, depth = self.data.depth_ts, self.data.depth
        for symbol, book in self.books.items():
            depth_ts[symbol] = book.ts  # type: ignore[index]
            depth[symbol] = book_depth(book)  # type: ignore[index]

    def _last(self) -> bool:
        limit = self.request.max_bars
        return self._stop or (limit is not None and len(self.rows) >= limit)

    async def _check_clock(self, last_check: float) -> float:
        if time.monotonic() - last_check < CLOCK_EVERY_S:
            return last_check
        await self.clock.measure()
        clock_halt(self.clock, self.halts, self.incident, self.bar_clock.now())
        return time.monotonic()

    async def _run_live(self, on_bar: Callable[[MarketChunk], None] | None) -> PaceStats:
        driver = self.driver
        assert driver is not None
        checked = time.monotonic()
        rows = self.feed.rows()
        try:
            while (row := await self._next_row(rows)) is not None:
                self._take(row)
                last = self._last()
                await driver.bar(row, decide=not last)
                if on_bar is not None and driver.kernel.chunk is not None:
                    on_bar(driver.kernel.chunk)
                if last:
                    break
                checked = await self._check_clock(checked)
        finally:
            await rows.aclose()  # type: ignore[attr-defined]
        driver.stats.stopped = self._stop
        await driver.finish()
        if self.journal is not None and self.request.mode == "live":  # ended: nothing left for a restart to resume
            if self.recorder is not None:
                self.recorder.flush()
            self.journal.end_session(self.bar_clock.now(), "stopped by the operator" if self._stop else "bars taken")
        return driver.stats

    async def _run_paper(self, on_bar: Callable[[MarketChunk], None] | None) -> PaceStats:
        replay = self.replay
        assert replay is not None

        def on_each(chunk: MarketChunk) -> None:
            if on_bar is not None:
                on_bar(chunk)
            if self._last():
                replay.stop()

        return await replay.run(self._paper_chunks(), on_each)

    async def _paper_chunks(self) -> AsyncGenerator[MarketChunk, None]:
        """Each closed row as a one-bar stretch, its decisions known before it is fed (they were taken at the
        close before it); then the row joins the history the next decisions are taken over."""
        replay = self.replay
        assert replay is not None
        driver = replay.driver
        checked = time.monotonic()
        rows = self.feed.rows()
        marks = np.full(len(self.request.symbols), np.nan)
        try:
            while (row := await self._next_row(rows)) is not None:
                self._take(row)
                active = self.decisions.active()
                driver.decision_ts = self.decisions.close_ts[active]
                driver.decision_index = active
                chunk, marks = self._paper_chunk(row, marks, len(self.rows) - 1)
                yield chunk
                valid = row.valid
                self.decisions.extend(row.ts, [(float(row.open[j]), float(row.high[j]), float(row.low[j]),
                                                float(row.close[j]), float(row.volume[j])) if valid[j] else None
                                               for j in range(len(self.request.symbols))])
                checked = await self._check_clock(checked)
        finally:
            await rows.aclose()  # type: ignore[attr-defined]

    def _paper_chunk(self, row: BarRow, carried: F64, first: int) -> tuple[MarketChunk, F64]:
        step = self.feed.step
        marks = np.where(np.isfinite(row.mark), row.mark, np.where(np.isfinite(row.close), row.close, carried))
        due = [f for f in self._carry_funding if f[1] <= row.ts]
        self._carry_funding = [f for f in self._carry_funding if f[1] > row.ts] + list(row.funding)
        chunk = MarketChunk(
            symbols=self.request.symbols, step=step, ts=np.array([row.ts], dtype=np.int64),
            open=row.open[None, :], high=row.high[None, :], low=row.low[None, :], close=row.close[None, :],
            volume=row.volume[None, :], valid=row.valid[None, :], mark=marks[None, :],
            funding={0: tuple(due)} if due else {}, mark_in=carried.copy() if first else None, first=first,
            books=dict(self.books) if self.books else None,
        )
        return chunk, marks

    # ------------------------------------------------------------------ the run folder
    def write(self) -> BacktestResult:
        if not self.rows:
            raise ValueError(f"{self.request.mode} session stopped before its first closed bar: nothing ran, "
                             "no run folder written")
        request = self.request
        grid = session_grid(self.rows, request.symbols, request.timeframe)
        data = replace(self.data, grid=grid, depth_ts=dict(self.data.depth_ts), depth=dict(self.data.depth))
        core = self.kernel.core
        assert core is not None
        for incident in self.incidents:
            core.rec.event(incident.ts, "incident", self.redactor.scrub(incident.line()), symbol=incident.symbol,
                           rule=str(incident.kind))
        live_fills = request.mode == "live"
        backtest = BacktestRequest(catalog=Path("."), symbols=request.symbols, strategy=request.strategy,
                                   policy=request.policy, policy_name=request.policy_name, exchange=request.exchange,
                                   timeframe=request.timeframe, runs_dir=request.runs_dir,
                                   settings=self.kernel.settings, report=request.report and not live_fills,
                                   phase_source=request.phase_source)
        prepared = PreparedRun(data, self.decisions, self.kernel.settings, _standings(request))
        stats = self.stats
        live: dict[str, object] = {
            "exchange": request.exchange, "network": "testnet" if request.testnet else "mainnet",
            "mode": request.mode, **stats.summary(),
            "clock_offset_ms": self.clock.offset_ms,
            "incidents": [{"time": format_time(i.ts), "kind": str(i.kind), "message": self.redactor.scrub(i.message),
                           "symbol": i.symbol, "action": i.action} for i in self.incidents],
        }
        if stats.stopped and stats.last_ts is not None:
            live["stopped_at"] = format_time(stats.last_ts + timeframe_ms(request.timeframe))
        run = write_run(backtest, prepared, self.kernel, self.seconds, mode=request.mode, data=data,
                        extra={"live": live})
        if live_fills:  # the simulated venue's notes do not apply: the exchange filled, charged and funded
            metrics = run.metrics()
            metrics["data_notes"] = self._live_notes()
            run.write_metrics(metrics)
            if request.report:
                render_report(RunFolder(run.path))
        return BacktestResult(run=run, metrics=run.metrics(), recorder=core.rec, seconds=self.seconds)

    def _live_notes(self) -> list[str]:
        request = self.request
        network = "testnet" if request.testnet else "mainnet"
        notes = [f"fills, fees and funding as {request.exchange} ({network}) reported them; bars, marks and "
                 "books read as each bar closed"]
        if not request.feed.marks:
            notes.append("no exchange marks read: positions and the kill switch were marked on bar closes")
        halting = [i for i in self.incidents if i.action == "entries halted"]
        if halting:
            notes.append(f"{len(halting)} incident(s) halted entries (events of kind incident)")
        return notes


def _standings(request: LiveRequest) -> list[AssetStanding]:
    out = []
    for symbol in request.symbols:
        asset = asset_of(symbol)
        if symbol in request.settings.excluded:
            out.append(AssetStanding(asset, False, f"not admitted in phase {request.settings.phase}"))
        else:
            out.append(AssetStanding(asset, True, f"listed on {request.exchange}"))
    return out


def session_grid(rows: list[BarRow], symbols: tuple[str, ...], timeframe: str) -> MarketGrid:
    def stack(name: str) -> F64:
        return np.vstack([getattr(r, name) for r in rows]).astype(np.float64)

    close = stack("close")
    exchange_marks = stack("mark")
    marks = forward_fill(np.where(np.isfinite(exchange_marks), exchange_marks, close))
    ts: I64 = np.array([r.ts for r in rows], dtype=np.int64)
    return MarketGrid(symbols=symbols, timeframe=timeframe, ts=ts, open=stack("open"), high=stack("high"),
                      low=stack("low"), close=close, volume=stack("volume"), valid=np.isfinite(stack("open")),
                      mark=marks)


def clock_halt(clock: ExchangeClock, halts: Halts, tell: Callable[[Incident], None], ts: int) -> None:
    if clock.skewed:
        if halts.hold("clock_skew", f"clock skew: {clock.describe()}"):
            tell(Incident(ts, IncidentKind.CLOCK_SKEW, clock.describe(), action="entries halted"))
    elif halts.lift("clock_skew"):
        tell(Incident(ts, IncidentKind.CLOCK_OK, clock.describe(), action="entries resumed" if not halts else ""))
