"""``quantum-trader paper``: the backtest's kernel and simulated venue on the asyncio loop, fed bar by bar at a pace.

Without ``--replay`` it replays the demo's synthetic market (built as ``demo`` builds it) at
60 bars a second: an hour of 1m bars a second, a day in 24 seconds, slow enough to watch the
panel, fast enough to see trades. ``--replay`` replays the catalog with every data option of
``backtest`` and writes the same run folder; at ``--speed max`` it takes the backtest's
orders, fills and trades. Ctrl-C stops after the current bar and writes the run folder of
what ran. ``--exchange NAME`` without ``--replay`` takes that exchange's closed bars as they
close (``cli.live_cmd``, ``analytics.live``): the same kernel and simulated venue, no keys.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quantum_trader.cli.backtest_cmd import (
    DEFAULT_SYMBOLS,
    CatalogOpt,
    EndOpt,
    EntryOpt,
    EquityOpt,
    JournalOpt,
    NoSlippageOpt,
    ParamOpt,
    PhaseOpt,
    PolicyOpt,
    RunsOpt,
    SetOpt,
    StartOpt,
    StrategyOpt,
    SymbolsOpt,
    TimeframeOpt,
    print_headline,
    run_request,
)
from quantum_trader.cli.console import console
from quantum_trader.cli.demo_cmd import DEFAULT_OUT, DEMO_DAYS, DEMO_SEED, DaysOpt, OutOpt, SeedOpt
from quantum_trader.cli.errors import fail
from quantum_trader.cli.live_cmd import MaxBarsOpt, WarmupOpt

if TYPE_CHECKING:
    from asyncio import AbstractEventLoop
    from collections.abc import Callable

    from rich.console import Console

    from quantum_trader.analytics.backtest import BacktestRequest
    from quantum_trader.analytics.paper import PaperSession
    from quantum_trader.domain.chunk import MarketChunk
    from quantum_trader.engine.paced import PaceStats
    from quantum_trader.journal import TradingJournal

PaperExchangeOpt = Annotated[str | None, typer.Option(
    help="With --replay: the exchange in the catalog (default: the only one). Without: paper-trade that exchange's "
         "live closed bars (binanceusdm, bybit), no keys needed.")]
DEFAULT_SPEED = "60"
REFRESH_S = 0.25
"""The panel is redrawn four times a second, whatever the pace."""
CATALOG_OPTIONS = ("symbols", "strategy", "param", "policy", "set_", "catalog", "exchange", "start", "end",
                   "timeframe", "phase", "equity", "runs", "no_slippage", "entry")
DEMO_OPTIONS = ("days", "seed", "out")
SESSION_OPTIONS = ("max_bars", "warmup_bars")
"""Options of a session on an exchange's live bars (``paper --exchange`` without ``--replay``)."""
NOT_FOR_EXCHANGE = ("catalog", "start", "end", "speed")


def speed_option(value: str) -> float | None:
    """``--speed``: bars a second, or ``max`` (None) for as fast as the loop goes."""
    import math

    if value.strip().lower() == "max":
        return None
    try:
        speed = float(value)
    except ValueError:
        speed = math.nan
    if not (math.isfinite(speed) and speed > 0):
        raise fail(f"--speed {value!r}: bars a second (a positive number, e.g. 60) or max")
    return speed


def _given(ctx: typer.Context, names: tuple[str, ...]) -> list[str]:
    """Options among ``names`` typed on the command line (not defaults, not environment variables)."""
    flags = {p.name: p.opts[0] for p in ctx.command.params if p.name is not None}
    sources = {n: ctx.get_parameter_source(n) for n in names}
    return [flags[n] for n, source in sources.items() if source is not None and source.name == "COMMANDLINE"]


def paper(
    ctx: typer.Context,
    replay: Annotated[bool, typer.Option(
        "--replay", help="Replay the catalog (the data options of backtest) instead of the demo's synthetic "
                         "market.")] = False,
    speed: Annotated[str, typer.Option(
        help="Bars a second, or 'max' for as fast as possible (still bar by bar on the event loop).")
    ] = DEFAULT_SPEED,
    days: DaysOpt = DEMO_DAYS,
    seed: SeedOpt = DEMO_SEED,
    out: OutOpt = DEFAULT_OUT,
    symbols: SymbolsOpt = DEFAULT_SYMBOLS,
    strategy: StrategyOpt = "multi-asset",
    param: ParamOpt = [],  # noqa: B006
    policy: PolicyOpt = "default",
    set_: SetOpt = [],  # noqa: B006
    catalog: CatalogOpt = None,
    exchange: PaperExchangeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    timeframe: TimeframeOpt = None,
    phase: PhaseOpt = None,
    journal: JournalOpt = None,
    equity: EquityOpt = 100_000.0,
    runs: RunsOpt = Path("runs"),
    no_slippage: NoSlippageOpt = False,
    entry: EntryOpt = None,
    max_bars: MaxBarsOpt = None,
    warmup_bars: WarmupOpt = 500,
) -> None:
    """Paper trading: the backtest's kernel and simulated venue fed bar by bar on the event loop, with a live panel.

    Without --replay: the demo's synthetic market (--days, --seed, --out as for demo) at 60 bars a second.
    With --replay: the catalog, with backtest's data options; the run folder is a backtest's (metrics say
    mode: paper). With --exchange and no --replay: that exchange's closed bars as they close (no keys needed;
    --timeframe default 1h, --max-bars, --warmup-bars), orders filled by the simulated venue. Ctrl-C stops
    after the current bar, closes what is held at its close and writes the run folder.

    Example: quantum-trader paper --replay --symbols BTC,ETH --start 2025-01-01 --end 2025-01-08 --speed max
    """
    if exchange is not None and not replay:
        _exchange_paper(ctx, exchange=exchange, symbols=symbols, strategy=strategy, param=param, policy=policy,
                        set_=set_, timeframe=timeframe, phase=phase, journal=journal, equity=equity, runs=runs,
                        no_slippage=no_slippage, entry=entry, max_bars=max_bars, warmup_bars=warmup_bars)
        return
    wrong_session = _given(ctx, SESSION_OPTIONS)
    if wrong_session:
        raise fail(f"{', '.join(wrong_session)}: options of a session on an exchange's live bars "
                   "(paper --exchange NAME without --replay)")
    pace = speed_option(speed)
    if replay:
        wrong = _given(ctx, DEMO_OPTIONS)
        if wrong:
            raise fail(f"{', '.join(wrong)}: options of the demo market; --replay replays the catalog "
                       "(--catalog, --symbols, --start, --end ...)")
        request = run_request(symbols=symbols, strategy=strategy, param=param, policy=policy, set_=set_,
                              catalog=catalog, exchange=exchange, start=start, end=end, timeframe=timeframe,
                              phase=phase, journal=journal, equity=equity, runs=runs, no_slippage=no_slippage,
                              entry=entry, command="paper")
    else:
        wrong = _given(ctx, CATALOG_OPTIONS)
        if wrong:
            raise fail(f"{', '.join(wrong)}: options of a catalog replay; add --replay (without it paper replays "
                       "the demo's synthetic market)")
        from quantum_trader.cli.demo_cmd import demo_request
        from quantum_trader.cli.options import load_policy_or_exit, output_dir

        output_dir("--out", out)
        request = demo_request(days, seed, out, load_policy_or_exit(None))
    _paper(request, pace, journal)


def _session_journal(journal: str | None) -> TradingJournal | None:
    """The journal a paper session writes, when ``--journal`` names one (a replay journals nothing unless asked):
    a new session of the account, named by its start time."""
    if journal is None:
        return None
    import time

    from quantum_trader.cli.gates_cmd import journal_choice, journal_errors
    from quantum_trader.journal import TradingJournal

    choice = journal_choice(journal)
    session = f"paper-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{time.time_ns() % 1_000_000:06d}"
    with journal_errors():
        return TradingJournal(choice.target, account=choice.account, session=session, create_folder=choice.is_default)


def _exchange_paper(ctx: typer.Context, *, exchange: str, symbols: str, strategy: str, param: list[str],
                    policy: str, set_: list[str], timeframe: str | None, phase: int | None, journal: str | None,
                    equity: float, runs: Path, no_slippage: bool, entry: str | None, max_bars: int | None,
                    warmup_bars: int) -> None:
    """``paper --exchange NAME``: the exchange's closed bars, the simulated venue (``cli.live_cmd``)."""
    from quantum_trader.cli.live_cmd import LIVE_SYMBOLS, run_session, session_request

    wrong = _given(ctx, NOT_FOR_EXCHANGE + DEMO_OPTIONS)
    if wrong:
        raise fail(f"{', '.join(wrong)}: not options of paper --exchange (the exchange's bars arrive as they close; "
                   "add --replay to replay the catalog)")
    request = session_request(exchange=exchange, mode="paper", symbols=symbols if _given(ctx, ("symbols",)) else
                              LIVE_SYMBOLS,
                              strategy=strategy, param=param, policy=policy, set_=set_, timeframe=timeframe or "1h",
                              phase=phase, journal=journal, runs=runs, warmup_bars=warmup_bars, max_bars=max_bars,
                              equity=equity, slippage=not no_slippage, entry=entry)
    run_session(request)


def _paper(request: BacktestRequest, pace: float | None, journal: str | None = None) -> None:
    from quantum_trader.analytics.paper import open_paper
    from quantum_trader.cli.gates_cmd import journal_errors
    from quantum_trader.cli.progress import stage_progress
    from quantum_trader.data.catalog import CatalogError

    store = _session_journal(journal)
    try:
        with stage_progress("paper") as update, journal_errors():
            session = open_paper(request, pace, say=update, lines=update.say, journal=store)
    except (CatalogError, ValueError) as exc:
        raise fail(f"paper failed: {exc}") from None
    stats = watch(session)
    if stats.stopped and stats.bars:
        console.print(f"stopped at {session.snapshot().time} UTC after {stats.bars:,} of {session.total:,} bars: "
                      "what was held is closed at that close", highlight=False)
    try:
        result = session.write()
    except ValueError as exc:
        _end_session(session, stats)
        raise fail(str(exc)) from None
    _end_session(session, stats)  # after the run folder: a session that ended has written it
    print_headline(result, title="Paper", seconds_label="paced run")
    paper = result.metrics.get("paper")
    if isinstance(paper, dict):
        latency = paper["bar_to_orders_ms"]
        if latency["bars"]:
            console.print(f"bar to orders at the venue: p50 {latency['p50']:.3f} ms, p99 {latency['p99']:.3f} ms "
                          f"({latency['bars']:,} bars with orders)", highlight=False)
    console.print(f"run folder: {result.run.path}", highlight=False)


def _end_session(session: PaperSession, stats: PaceStats) -> None:
    """The journal's last word on the session: its end equity, and that it ended (a session that did not end is
    resumed by the next run of the same command)."""
    store = session.journal
    if store is None:
        return
    from quantum_trader.cli.gates_cmd import journal_errors
    from quantum_trader.journal import EquitySnapshot

    with journal_errors():
        if session.kernel.core is not None:
            store.record_equity(EquitySnapshot.of_ledger(session.kernel.core.ledger))
        store.end_session(stats.last_ts or 0, "stopped by the operator" if stats.stopped else "end of data")


def watch(session: PaperSession, console_: Console | None = None) -> PaceStats:
    """Run the session on a fresh event loop: the live panel on a terminal, a line per simulated day elsewhere;
    SIGINT (Ctrl-C) asks the session to stop after the current bar."""
    import asyncio

    from rich.console import Console

    from quantum_trader.cli.paper_panel import progress_line, render_panel

    con = console_ or Console(soft_wrap=True)
    if con.is_terminal:
        from rich.live import Live

        with Live(render_panel(session.snapshot(), session.speed), console=con, auto_refresh=False) as live:
            def repaint() -> None:
                live.update(render_panel(session.snapshot(), session.speed), refresh=True)

            return asyncio.run(_run(session, repaint=repaint))

    printed = [-1]
    """The bar count at the last line printed."""

    def line() -> None:
        con.print(progress_line(session.snapshot()), highlight=False, markup=False)
        printed[0] = session.replay.stats.bars

    def daily(chunk: MarketChunk) -> None:
        if (int(chunk.ts[-1]) + chunk.step) % 86_400_000 == 0:
            line()

    stats = asyncio.run(_run(session, on_bar=daily))
    if printed[0] != stats.bars:  # where it ended, unless a day's line just said it
        line()
    return stats


async def _run(session: PaperSession, *, repaint: Callable[[], None] | None = None,
               on_bar: Callable[[MarketChunk], None] | None = None) -> PaceStats:
    import asyncio
    import contextlib

    loop = asyncio.get_running_loop()
    restore = _take_sigint(loop, session.replay.stop)
    painter = asyncio.create_task(_repaint(repaint)) if repaint is not None else None
    try:
        return await session.run(on_bar)
    finally:
        if painter is not None:
            painter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await painter
        if repaint is not None:
            repaint()
        restore()


def _take_sigint(loop: AbstractEventLoop, stop: Callable[[], None]) -> Callable[[], object]:
    """SIGINT (Ctrl-C) calls ``stop`` instead of raising KeyboardInterrupt, which could land inside a bar; returns
    what puts the previous handling back. The loop's handler where it has one, else Python's (Windows); off the
    main thread there is no SIGINT to take."""
    import signal
    import threading

    try:
        loop.add_signal_handler(signal.SIGINT, stop)
        return lambda: loop.remove_signal_handler(signal.SIGINT)
    except NotImplementedError:
        pass
    except (RuntimeError, ValueError):
        return lambda: None
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGINT, lambda _signum, _frame: stop())
    return lambda: signal.signal(signal.SIGINT, previous)


async def _repaint(repaint: Callable[[], None]) -> None:
    import asyncio

    while True:
        await asyncio.sleep(REFRESH_S)
        repaint()
