"""A session on an exchange: ``paper --exchange`` (its closed bars, the simulated venue) or ``live`` (its orders).

``open_live`` composes, in this order: the ccxt exchange (keys for ``live`` only), its markets (the
instruments the kernel quantises to), the clock offset (a skew past the policy's bound halts entries from
the start), the feed (where the session starts: the bar forming now; the warm-up history before it), for
``live`` the account (one-way mode, margin mode and leverage set and verified; the starting equity is the
account's), the strategy's decisions over the history (``engine.live_decisions``), and the kernel:

- paper: the backtest's kernel and simulated venue, fed each closed bar as a one-bar stretch, exactly as
  ``paper --replay`` feeds the catalog (``engine.paced``): each order fills at the bar after its decision
  once that bar has closed, so the results are a backtest's of the same bars;
- live: the same kernel with the ccxt execution client, driven by ``engine.live.LiveDriver``.

``LiveSession.run`` takes bars until ``stop()`` (Ctrl-C) or ``max_bars``; ``write`` writes the run folder a
backtest writes, over the bars that ran, its metrics naming the mode, the exchange, the network and every
incident. Incidents also become run events (kind ``incident``, the rule naming the incident's kind).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from quantum_trader.analytics.backtest import BacktestRequest, BacktestResult, PreparedRun, write_run
from quantum_trader.analytics.live_resume import (
    EQUITY_KEY,
    FINGERPRINT_KEY,
    START_SWITCH_KEY,
    held_by,
    live_fingerprint,
    reconciled_start,
    resumable,
    start_equity,
)
from quantum_trader.analytics.live_wiring import RiskListener, journal_wiring, live_execution
from quantum_trader.analytics.report import render_report
from quantum_trader.analytics.run_folder import RunFolder
from quantum_trader.analytics.universe_replay import AssetStanding
from quantum_trader.config import Policy
from quantum_trader.data.markets import spec_from_ccxt
from quantum_trader.domain.chunk import FundingAt, MarketChunk
from quantum_trader.domain.clock import ReplayClock
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import F64, I64, BookSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import format_time, timeframe_ms
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.grid import MarketGrid, forward_fill
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.journaled import JournaledExecution
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.live import LiveDriver
from quantum_trader.engine.live_decisions import DEFAULT_WINDOW, GrowingDecisions
from quantum_trader.engine.paced import PacedReplay, PaceStats
from quantum_trader.engine.paper_watch import Activity, PaperSnapshot, snapshot
from quantum_trader.engine.phase_follow import PhaseFollower
from quantum_trader.engine.reconcile import Reconciliation
from quantum_trader.engine.session_record import SessionRecorder
from quantum_trader.engine.strategy import Strategy
from quantum_trader.journal import SessionMode, TradingJournal
from quantum_trader.risk.batch import BatchResult
from quantum_trader.venues.ccxt.account import prepare_account
from quantum_trader.venues.ccxt.clock import ExchangeClock
from quantum_trader.venues.ccxt.connect import ExchangeSetupError, open_exchange
from quantum_trader.venues.ccxt.credentials import Credentials, Redactor
from quantum_trader.venues.ccxt.execution import CcxtExecutionClient, ClientSettings
from quantum_trader.venues.ccxt.feed import BarRow, FeedOptions, LiveFeed, append_book
from quantum_trader.venues.ccxt.incidents import Halts, Incident, IncidentKind
from quantum_trader.venues.ccxt.retry import read
from quantum_trader.venues.simulated.venue import SimulatedVenue

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
        _clock_halt(self.clock, self.halts, self.incident, self.bar_clock.now())
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
        grid = _grid(self.rows, request.symbols, request.timeframe)
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


def _grid(rows: list[BarRow], symbols: tuple[str, ...], timeframe: str) -> MarketGrid:
    def stack(name: str) -> F64:
        return np.vstack([getattr(r, name) for r in rows]).astype(np.float64)

    close = stack("close")
    exchange_marks = stack("mark")
    marks = forward_fill(np.where(np.isfinite(exchange_marks), exchange_marks, close))
    ts: I64 = np.array([r.ts for r in rows], dtype=np.int64)
    return MarketGrid(symbols=symbols, timeframe=timeframe, ts=ts, open=stack("open"), high=stack("high"),
                      low=stack("low"), close=close, volume=stack("volume"), valid=np.isfinite(stack("open")),
                      mark=marks)


def _clock_halt(clock: ExchangeClock, halts: Halts, tell: Callable[[Incident], None], ts: int) -> None:
    if clock.skewed:
        if halts.hold("clock_skew", f"clock skew: {clock.describe()}"):
            tell(Incident(ts, IncidentKind.CLOCK_SKEW, clock.describe(), action="entries halted"))
    elif halts.lift("clock_skew"):
        tell(Incident(ts, IncidentKind.CLOCK_OK, clock.describe(), action="entries resumed" if not halts else ""))


def _instruments(exchange: Any, symbols: tuple[str, ...]) -> dict[str, Instrument]:
    out = {}
    for symbol in symbols:
        market = exchange.markets.get(symbol)
        if market is None:
            raise ExchangeSetupError(f"{exchange.id} lists no market {symbol}")
        instrument = spec_from_ccxt(market, int(exchange.precisionMode)).instrument()
        if instrument is None:
            raise ExchangeSetupError(f"{exchange.id} {symbol}: not a linear perpetual with a known tick and lot")
        out[symbol] = instrument
    return out


class _FeedShape:
    """What ``Kernel`` reads of a feed before the first bar: the columns and when the account opens."""

    def __init__(self, symbols: tuple[str, ...], start_ts: int) -> None:
        self.symbols, self.start_ts, self.total_rows = symbols, start_ts, 0

    def chunks(self) -> Any:
        raise RuntimeError("a live session hands the kernel its bars itself (LiveSession.run); this feed only "
                           "tells the kernel its columns and start")


async def open_live(request: LiveRequest, say: Callable[[str], None] | None = None,
                    on_incident: Callable[[Incident], None] | None = None) -> LiveSession:
    """Everything before the first bar (see the module docstring); ``say`` hears one line per step."""
    tell = say or (lambda _line: None)
    redactor = Redactor()
    if request.credentials is not None:
        redactor.add(request.credentials.secrets)
    redactor.install([logging.getLogger("ccxt"), logging.getLogger("aiohttp"), logging.getLogger("asyncio")])
    exchange = open_exchange(request.exchange, request.credentials if request.mode == "live" else None,
                             testnet=request.testnet, api_url=request.api_url, timeout_ms=request.timeout_ms,
                             recv_window_ms=request.recv_window_ms, rate_limit_ms=request.rate_limit_ms,
                             streams=request.policy.venue.live.streams)
    try:
        return await _compose(request, exchange, redactor, tell, on_incident)
    except BaseException:
        await exchange.close()
        raise


async def _compose(request: LiveRequest, exchange: Any, redactor: Redactor, tell: Callable[[str], None],
                   on_incident: Callable[[Incident], None] | None) -> LiveSession:
    import ccxt

    policy, symbols = request.policy, request.symbols
    network = "testnet" if request.testnet else "mainnet"
    await read(lambda: exchange.load_markets(), request.client.backoff)
    instruments = _instruments(exchange, symbols)
    incidents: list[Incident] = []
    halts = Halts()
    clock = ExchangeClock(exchange, policy.venue.live.max_clock_skew_ms, request.client.backoff)
    await clock.measure()
    tell(f"{exchange.id} ({network}): {clock.describe()}")
    options = replace(request.feed, stale_bars=policy.venue.live.stale_after_bars,
                      funding_hours_utc=tuple(policy.venue.funding_hours_utc), streams=policy.venue.live.streams)
    feed = LiveFeed(exchange, symbols, request.timeframe, clock, options, halts, incidents.append,
                    request.client.backoff)
    start_ts = await feed.start()
    settings = request.settings
    journal = request.journal
    keeper: list[RiskListener] = []
    recorder: SessionRecorder | None = None
    follower: PhaseFollower | None = None
    live_from = start_ts
    resumed = resumable(request, exchange.id, settings.phase, journal)
    feed_name = f"{exchange.id}:{request.timeframe}"
    if resumed is not None:
        assert journal is not None
        journal = TradingJournal(journal.db, account=journal.account, session=resumed.session)
        start_ts = feed.next_open = resumed.started_ts
        feed.replayed_until = live_from
        tell(f"resuming live session {resumed.session}, which did not end: taken again from its first bar "
             f"{format_time(start_ts)} UTC; what the exchange told it comes from the journal until "
             f"{format_time(live_from)} UTC, the bar forming now")
    history = await feed.history(request.warmup_bars)
    tell(f"first bar {format_time(start_ts)} UTC (closes {format_time(start_ts + feed.step)}); warm-up "
         f"{min((len(h) for h in history.values()), default=0):,} bars")
    switch = None
    if journal is not None:
        wired = journal_wiring(journal, policy, redactor, resumed, start_ts, feed_name, on_incident, tell, history)
        keeper, recorder, follower, switch, on_incident = wired
        if switch is not None:
            settings = replace(settings, switch=switch)
    listening: list[Callable[[TradingKernel, int, BatchResult], None]] = (
        [] if recorder is None else [recorder.on_decision])
    found: Reconciliation | None = None
    if request.mode == "live":
        leverage = max(1, round(policy.margin.leverage))
        try:
            if journal is not None:
                found = await reconciled_start(exchange, journal, symbols, clock.now(), request.client.backoff, tell,
                                          live_from=live_from, heard_ts=live_from - feed.step)
            account = await prepare_account(exchange, symbols, leverage=leverage,
                                            margin_mode=policy.venue.live.margin_mode, backoff=request.client.backoff,
                                            held=held_by(found, resumed, journal, exchange.id, request))
        except ccxt.AuthenticationError as exc:
            source = request.credentials.source if request.credentials is not None else "no keys"
            raise ExchangeSetupError(f"{exchange.id} refused the API key ({source}) on {network}: "
                                     f"{redactor.scrub(str(exc).splitlines()[0])[:160]}; keys work only on the "
                                     "network they were made for (testnet keys need --testnet)") from None
        equity = start_equity(resumed) if resumed is not None else None
        settings = replace(settings, initial_equity=account.equity if equity is None else equity)
        tell(f"account: {float(account.equity):,.2f} USDT, {account.margin_mode} margin at leverage "
             f"{account.leverage} on {', '.join(symbols)}, one-way mode")
    else:
        account = None
    if journal is not None and resumed is None:
        detail: dict[str, Any] = {"network": network, "symbols": list(symbols), "phase": settings.phase}
        if request.mode == "live":
            detail |= {FINGERPRINT_KEY: live_fingerprint(request, exchange.id, settings.phase),
                       START_SWITCH_KEY: None if switch is None else switch.to_dict(),
                       EQUITY_KEY: str(settings.initial_equity)}
        journal.start_session(SessionMode.LIVE if request.mode == "live" else SessionMode.PAPER, start_ts,
                              exchange=exchange.id, detail=detail)
    depth_ts: dict[str, I64] = {}
    depth: dict[str, F64] = {}
    nan = np.full(len(symbols), np.nan)
    stub = _grid([BarRow(start_ts, nan, nan, nan, nan, nan, nan)], symbols, request.timeframe)
    data = MarketData(grid=stub, instruments=instruments, depth_ts=depth_ts, depth=depth,
                      exchange_marks=frozenset(symbols) if options.marks else frozenset(),
                      notes=(f"bars, marks and books from {exchange.id} ({network}) as they closed",))
    decisions = GrowingDecisions(request.strategy, policy, symbols, request.timeframe, request.window)
    decisions.seed(history)
    bar_clock = ReplayClock(start_ts)
    kernel = Kernel(data, settings, jump=False, run_id=_run_name(request),
                    feed=_FeedShape(symbols, start_ts), risk_listeners=keeper, decision_listeners=listening)
    session = LiveSession(request, exchange, feed, clock, bar_clock, kernel, decisions, data, halts, redactor,
                          on_incident=on_incident, recorder=recorder, journal=journal)
    for incident in incidents:
        session.incident(incident)
    feed.on_incident = session.incident
    _clock_halt(clock, halts, session.incident, start_ts)
    if request.mode == "paper":  # the chunks carry the live books to the simulated venue
        session.replay = PacedReplay.of(kernel, decisions, inner=None if journal is None else
                                        JournaledExecution(kernel.exchange, journal))
        session.activity = session.replay.activity
        session.replay.driver.kernel.phase_follower = follower
        return session
    assert account is not None
    models = SimulatedVenue.from_policy(policy, books=session.books, slippage=settings.slippage,
                                        impact=settings.impact)
    client_settings = replace(request.client, taker_fee=float(models.taker_rate),
                              funding_hours_utc=tuple(policy.venue.funding_hours_utc),
                              streams=policy.venue.live.streams)
    client = CcxtExecutionClient(exchange, _venue(request.exchange), models.slippage.taker_price, bar_clock,
                                 session.price, client_settings, max_notional=dict(account.max_notional),
                                 on_incident=session.incident, halts=halts,
                                 log=lambda line: tell(redactor.scrub(line)), redact=redactor.scrub)
    client.trades_from = start_ts + feed.step  # the account's earlier trades are not this session's
    client.booked_until = client.trades_from - 1
    execution = live_execution(client, journal, bar_clock, resumed, live_from, found, session)
    core = TradingKernel(data, settings, execution, decisions, kernel.run_id, symbols=symbols, start_ts=start_ts,
                         risk_listeners=keeper, decision_listeners=listening, phase_follower=follower)
    core.listeners.append(session.activity.fill)
    kernel.core = core
    session.client = client
    session.driver = LiveDriver(core, execution, decisions, bar_clock, feed.step)
    return session


def _venue(exchange_id: str) -> Any:
    from quantum_trader.venues.ccxt.connect import venue_info

    return venue_info(exchange_id)


def _run_name(request: LiveRequest) -> str:
    """The kernel's run id, the root of every client order id. The same for every session of this mode on this
    exchange and network, so a decision taken again after a restart carries the id the exchange already holds
    (``domain.trading.client_order_id``)."""
    return f"{request.mode}-{request.exchange}-{'testnet' if request.testnet else 'mainnet'}"


__all__ = ["LiveRequest", "LiveSession", "Mode", "open_live"]
