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

The session it hands back (``analytics.live_session``) runs and writes its run folder.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

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
from quantum_trader.analytics.live_session import LiveRequest, LiveSession, Mode, clock_halt, session_grid
from quantum_trader.analytics.live_wiring import RiskListener, journal_wiring, live_execution
from quantum_trader.data.markets import spec_from_ccxt
from quantum_trader.domain.clock import ReplayClock
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.market import F64, I64
from quantum_trader.domain.time import format_time
from quantum_trader.engine.core import TradingKernel
from quantum_trader.engine.inputs import MarketData
from quantum_trader.engine.journaled import JournaledExecution
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.live import LiveDriver
from quantum_trader.engine.live_decisions import GrowingDecisions
from quantum_trader.engine.paced import PacedReplay
from quantum_trader.engine.phase_follow import PhaseFollower
from quantum_trader.engine.reconcile import Reconciliation
from quantum_trader.engine.session_record import SessionRecorder
from quantum_trader.journal import SessionMode, TradingJournal
from quantum_trader.risk.batch import BatchResult
from quantum_trader.venues.ccxt.account import prepare_account
from quantum_trader.venues.ccxt.clock import ExchangeClock
from quantum_trader.venues.ccxt.connect import ExchangeSetupError, open_exchange
from quantum_trader.venues.ccxt.credentials import Redactor
from quantum_trader.venues.ccxt.execution import CcxtExecutionClient
from quantum_trader.venues.ccxt.feed import BarRow, LiveFeed
from quantum_trader.venues.ccxt.incidents import Halts, Incident
from quantum_trader.venues.ccxt.retry import read
from quantum_trader.venues.simulated.venue import SimulatedVenue

__all__ = ["LiveRequest", "LiveSession", "Mode", "open_live"]


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
        feed.replayed_marks = journal.heard_marks()
        tell(f"resuming live session {resumed.session}, which did not end: taken again from its first bar "
             f"{format_time(start_ts)} UTC; what the exchange told it comes from the journal until "
             f"{format_time(live_from)} UTC, the bar forming now")
    history = await feed.history(request.warmup_bars)
    tell(f"first bar {format_time(start_ts)} UTC (closes {format_time(start_ts + feed.step)}); warm-up "
         f"{min((len(h) for h in history.values()), default=0):,} bars")
    switch = None
    if journal is not None:
        wired = journal_wiring(journal, policy, redactor, resumed, start_ts, feed_name, on_incident, tell, history)
        keeper, recorder, follower, switch, on_incident = (wired.keeper, wired.recorder, wired.follower,
                                                          wired.switch, wired.on_incident)
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
    stub = session_grid([BarRow(start_ts, nan, nan, nan, nan, nan, nan)], symbols, request.timeframe)
    data = MarketData(grid=stub, instruments=instruments, depth_ts=depth_ts, depth=depth,
                      exchange_marks=frozenset(symbols) if options.marks else frozenset(),
                      notes=(f"bars, marks and books from {exchange.id} ({network}) as they closed",))
    decisions = GrowingDecisions(request.strategy, policy, symbols, request.timeframe, request.window)
    decisions.seed(history)
    bar_clock = ReplayClock(start_ts)
    kernel = Kernel(data, settings, jump=False, run_id=_run_name(request),
                    feed=_FeedShape(symbols, start_ts), risk_listeners=keeper, decision_listeners=listening)
    session = LiveSession(request, exchange, feed, clock, bar_clock, kernel, decisions, data, halts, redactor,
                          on_incident=on_incident, recorder=recorder, journal=journal,
                          alerts=None if journal is None else wired.alerts)
    for incident in incidents:
        session.incident(incident)
    feed.on_incident = session.incident
    clock_halt(clock, halts, session.incident, start_ts)
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
