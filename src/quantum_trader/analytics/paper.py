"""A paper run: a backtest's market, decisions and run folder, with the kernel fed bar by bar on the asyncio loop.

``open_paper`` prepares exactly what ``run_backtest`` prepares (``prepare_run``: the market,
the strategy's decisions, the universe) and composes the same kernel and simulated venue
(``Kernel.driver``), visiting every bar; ``PaperSession.run`` feeds them one bar at a time at
a pace (``engine.paced``); ``PaperSession.write`` writes the run folder as a backtest does
(``write_run``), its metrics saying ``mode: paper`` and holding the pace and the latency
measured. Run to the end at full speed, a paper replay takes a backtest's orders, fills and
trades (tests/cli/test_paper_cli.py, tests/engine/test_paper_parity.py). Stopped early
(Ctrl-C), the run ends at the last bar fed, as if the data ended there: what rests is
cancelled, what is held is closed at its close, and the run folder covers the bars that ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from quantum_trader.analytics.backtest import BacktestRequest, BacktestResult, PreparedRun, prepare_run, write_run
from quantum_trader.analytics.paper_resume import (
    FINGERPRINT_KEY,
    START_SWITCH_KEY,
    fingerprint,
    start_switch,
    unfinished,
)
from quantum_trader.domain.chunk import MarketChunk
from quantum_trader.domain.time import format_time, timeframe_ms
from quantum_trader.engine.grid import MarketGrid
from quantum_trader.engine.inputs import MarketData
from quantum_trader.engine.journaled import JournaledExecution, SwitchKeeper, restored_switch
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.operator_switch import OperatorSwitch
from quantum_trader.engine.paced import OneBarFeed, PacedReplay, PaceStats, paced
from quantum_trader.engine.paper_watch import PaperSnapshot, snapshot
from quantum_trader.engine.phase_follow import DrawdownDemotion, PhaseFollower
from quantum_trader.engine.session_record import SessionRecorder
from quantum_trader.journal import SessionMode, TradingJournal
from quantum_trader.journal.store import Journal
from quantum_trader.monitor.alerts import AlertWatcher

__all__ = ["PaperSession", "bars_up_to", "open_paper"]


@dataclass
class PaperSession:
    request: BacktestRequest
    prepared: PreparedRun
    kernel: Kernel
    replay: PacedReplay
    speed: float | None
    """Bars a second (None: as fast as the loop goes)."""
    recorder: SessionRecorder | None = None
    """Journals each bar's equity, exposure and correlation, and each decision (a session with a journal)."""
    journal: TradingJournal | None = None
    """The journal under the session's id (a resumed session's own, not the one the caller opened)."""
    alerts: AlertWatcher | None = None
    """The alert rules watching the session (with a journal); closed when the run ends, so what waits is sent."""

    @property
    def total(self) -> int:
        return int(self.prepared.data.grid.ts.size)

    async def run(self, on_bar: Callable[[MarketChunk], None] | None = None) -> PaceStats:
        """Feed the market's bars at the session's pace until they end or ``replay.stop()`` is asked."""
        data = self.prepared.data
        feed = OneBarFeed(data.grid, data.funding)
        recorder, core = self.recorder, self.replay.driver.kernel
        if recorder is None:
            return await self.replay.run(paced(feed.chunks(), self.speed), on_bar)

        def each(chunk: MarketChunk) -> None:
            recorder.on_bar(core, chunk)
            if on_bar is not None:
                on_bar(chunk)

        try:
            return await self.replay.run(paced(feed.chunks(), self.speed), each)
        finally:
            recorder.flush()
            if self.alerts is not None:
                self.alerts.close()

    def snapshot(self) -> PaperSnapshot:
        return snapshot(self.replay.driver.kernel, self.replay.activity, bars=self.replay.stats.bars,
                        total=self.total)

    def write(self) -> BacktestResult:
        """The run folder of what ran (all of it, or the bars up to a stop)."""
        stats = self.replay.stats
        if stats.bars == 0:
            raise ValueError("paper run stopped before its first bar: nothing ran, no run folder written")
        data = self.prepared.data
        if stats.bars < self.total:
            data = bars_up_to(data, stats.bars)
        paper: dict[str, object] = {"speed": "max" if self.speed is None else self.speed, **stats.summary()}
        if stats.stopped and stats.last_ts is not None:
            paper["stopped_at"] = format_time(stats.last_ts + timeframe_ms(data.grid.timeframe))
        run = write_run(self.request, self.prepared, self.kernel, stats.seconds, mode="paper", data=data,
                        extra={"paper": paper})
        return BacktestResult(run=run, metrics=run.metrics(), recorder=self.kernel.rec, seconds=stats.seconds)


def open_paper(request: BacktestRequest, speed: float | None, say: Callable[[str, float], None] | None = None,
               lines: Callable[[str], None] | None = None, *, journal: TradingJournal | None = None) -> PaperSession:
    """Prepare the run as a backtest would (``say`` and ``lines`` as ``run_backtest``'s) and compose the kernel
    for a paced replay; nothing is fed yet.

    With a ``journal`` (its ``session`` names this run): every order is journalled before it reaches the venue,
    every event and fill as the venue reports it, the kill switch and the locks as they change, and each alert
    the rules raise (``monitor.alerts``, also logged and sent to the policy's channels); and the run starts with
    the kill switch the journal holds, so one left tripped still refuses entries; it follows the journal's phase
    at each decision (``engine.phase_follow``: a promotion or demotion takes effect without a restart) and a
    drawdown trip demotes one phase when the policy says so. A session of the same run that never ended (its
    process was killed) is resumed instead (``analytics.paper_resume``)."""
    prepared = prepare_run(request, say or (lambda _msg, _fraction: None), lines)
    if journal is None:
        kernel = Kernel(prepared.data, prepared.settings, jump=False)
        return PaperSession(request, prepared, kernel, PacedReplay.of(kernel, prepared.decisions), speed)
    alerts = AlertWatcher.of_policy(request.policy, journal)  # a channel's missing token stops here, before any write
    start = int(prepared.data.grid.ts[0])
    tell = lines or (lambda _line: None)
    feed = f"replay:{prepared.data.grid.timeframe}"
    run = fingerprint(request, prepared.settings.phase)
    previous = unfinished(journal, run)
    cursor: int | None = None
    if previous is not None:
        journal = TradingJournal(journal.db, account=journal.account, session=previous.session)
        switch = start_switch(previous)
        cursor = journal.feed_cursor(feed)
        tell(f"resuming paper session {previous.session}, which did not end"
             + (f" (its last bar: {format_time(cursor)} UTC)" if cursor is not None else "")
             + ": taken again from its first bar; nothing it journalled is written twice")
    else:
        switch = restored_switch(journal, start)
    settings = prepared.settings if switch is None else replace(prepared.settings, switch=switch)
    if switch is not None and switch.tripped:
        tell(f"kill switch tripped in journal {journal.url} ({'drawdown' if switch.drawdown_tripped else 'daily'}): "
             "no entries until `quantum-trader killswitch reset`")
    if previous is None:
        journal.start_session(SessionMode.PAPER, start, detail={
            "strategy": request.strategy.name, "phase": settings.phase, "symbols": list(prepared.data.grid.symbols),
            FINGERPRINT_KEY: run, START_SWITCH_KEY: None if switch is None else switch.to_dict()})
    alerts.journal = journal
    recorder = SessionRecorder(journal, feed=feed, watchers=[alerts, OperatorSwitch(journal)], resume_after=cursor)
    store = Journal(journal.db, account=journal.account)
    kernel = Kernel(prepared.data, settings, jump=False, run_id=journal.session,
                    risk_listeners=[SwitchKeeper(journal), alerts.on_risk, DrawdownDemotion(store)],
                    decision_listeners=[recorder.on_decision])
    replay = PacedReplay.of(kernel, prepared.decisions, inner=JournaledExecution(kernel.exchange, journal,
                                                                                  forward_known=True))
    replay.driver.kernel.phase_follower = PhaseFollower(store, journal, settings.policy)
    return PaperSession(request, replace(prepared, settings=settings), kernel, replay, speed, recorder, journal,
                        alerts)


def bars_up_to(data: MarketData, rows: int) -> MarketData:
    """The market of a run that stopped after its first ``rows`` bars (what the run folder describes)."""
    g = data.grid
    grid = MarketGrid(symbols=g.symbols, timeframe=g.timeframe, ts=g.ts[:rows], open=g.open[:rows],
                      high=g.high[:rows], low=g.low[:rows], close=g.close[:rows], volume=g.volume[:rows],
                      valid=g.valid[:rows], mark=g.mark[:rows])
    return replace(data, grid=grid)
