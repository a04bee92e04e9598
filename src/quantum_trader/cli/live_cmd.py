"""``quantum-trader live``: the backtest's kernel trading an exchange account; and ``paper --exchange``'s session.

``live --exchange binanceusdm [--testnet] --confirm-real-money`` refuses to start, with one line and exit
code 2, without ``--confirm-real-money``, without keys for the network asked (``QT_BINANCEUSDM_API_KEY`` /
``QT_BINANCEUSDM_API_SECRET``, ``QT_BINANCEUSDM_TESTNET_API_KEY`` / ``..._TESTNET_API_SECRET``, or
``--keys-file`` readable by its owner only), with the other network's keys, when the exchange refuses the
keys, and when the account cannot be set to one-way mode with the policy's margin mode and leverage or
already holds positions or orders on the symbols. ``paper --exchange`` takes the same exchange's closed bars
without keys and fills on the simulated venue.

A line per closed bar (equity, exposure, positions, orders, fills) and one per incident as it happens;
Ctrl-C stops after the current bar, closes what is held and writes the run folder of what ran.
``--max-bars N`` ends the session after N closed bars the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quantum_trader.cli.backtest_cmd import (
    JournalOpt,
    ParamOpt,
    PhaseOpt,
    PolicyOpt,
    RunsOpt,
    SetOpt,
    StrategyOpt,
    SymbolsOpt,
)
from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail

if TYPE_CHECKING:
    from quantum_trader.analytics.live import LiveRequest, LiveSession, Mode
    from quantum_trader.engine.paced import PaceStats
    from quantum_trader.journal import TradingJournal
    from quantum_trader.venues.ccxt.credentials import Credentials, Network
    from quantum_trader.venues.ccxt.incidents import Incident

LIVE_SYMBOLS = "BTC,ETH,SOL"
LiveExchangeOpt = Annotated[str, typer.Option("--exchange", help="Exchange to trade: binanceusdm or bybit.")]
LiveTimeframeOpt = Annotated[str, typer.Option(help="Bar timeframe the session trades on (closed candles).")]
WarmupOpt = Annotated[int, typer.Option(
    min=0, max=5000, help="Closed bars fetched before the first live bar for the strategy to warm up on.")]
MaxBarsOpt = Annotated[int | None, typer.Option(
    min=1, help="End the session after this many closed bars (default: run until Ctrl-C).", show_default=False)]


def session_request(*, exchange: str, mode: Mode, symbols: str, strategy: str, param: list[str], policy: str,
                    set_: list[str], timeframe: str, phase: int | None, journal: str | None, runs: Path,
                    warmup_bars: int, max_bars: int | None, testnet: bool = False,
                    credentials: Credentials | None = None, equity: float = 100_000.0, slippage: bool = True,
                    entry: str | None = None) -> LiveRequest:
    """The options of a session on an exchange checked and resolved into the request ``open_live`` composes."""
    from quantum_trader.cli.backtest_cmd import _params, _policy, _strategy, fitted_policy, resolve_phase
    from quantum_trader.cli.bar_timeframes import with_entry
    from quantum_trader.cli.options import output_dir, symbols_option, timeframe_option
    from quantum_trader.venues.ccxt.connect import ExchangeSetupError, venue_info

    try:
        info = venue_info(exchange)
    except ExchangeSetupError as exc:
        raise fail(f"--exchange: {exc}") from None
    if mode == "live" and not info.live_orders:
        raise fail(f"--exchange {exchange}: live orders on {info.name} are not built yet (its account setup and a "
                   f"fake exchange to prove them are missing); `paper --exchange {exchange}` takes its bars")
    tf = timeframe_option("--timeframe", timeframe)
    choice = _params(strategy, param)
    syms = symbols_option("--symbols", symbols)
    output_dir("--runs", runs)
    chosen = _strategy(choice)
    pol, policy_name, plain = _policy(policy, set_)
    if entry is not None and entry not in ("market", "limit"):
        raise fail(f"--entry {entry!r}: choose market or limit")
    pol = fitted_policy(chosen, with_entry(pol, entry), tf, policy, set_)
    number, source = resolve_phase(phase, journal, pol)
    if not plain:
        console.print(f"phase {number} ({pol.expansion.phases[number].name}, {source})", highlight=False)
    from quantum_trader.analytics.backtest import default_settings
    from quantum_trader.analytics.live import LiveRequest
    from quantum_trader.analytics.universe_replay import admitted_by_phase
    from quantum_trader.domain.symbols import asset_of

    settings = default_settings(pol, phase=number, plain=plain, equity=equity, slippage=slippage)
    if not plain:
        from dataclasses import replace

        settings = replace(settings, excluded=frozenset(s for s in syms if not admitted_by_phase(pol, number,
                                                                                                 asset_of(s))))
    return LiveRequest(exchange=exchange, symbols=syms, strategy=chosen, policy=pol, settings=settings, timeframe=tf,
                       mode=mode, policy_name=policy_name, phase_source=source, runs_dir=runs, testnet=testnet,
                       credentials=credentials, warmup_bars=warmup_bars, max_bars=max_bars,
                       journal=_session_journal(mode, exchange, testnet, journal))


def _session_journal(mode: Mode, exchange: str, testnet: bool, journal: str | None) -> TradingJournal | None:
    """A live session always keeps the account's journal (``--journal``, ``$QT_JOURNAL`` or
    ``journal/<account>.sqlite``); ``paper --exchange`` only when ``--journal`` names one. Opening it writes
    nothing: the session's first row is written once the exchange has accepted the account."""
    if mode != "live" and journal is None:
        return None
    import time

    from quantum_trader.cli.gates_cmd import journal_choice, journal_errors
    from quantum_trader.journal import TradingJournal

    choice = journal_choice(journal)
    name = f"{mode}-{exchange}-{'testnet' if testnet else 'mainnet'}-{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}"
    with journal_errors():
        return TradingJournal(choice.target, account=choice.account, session=name, create_folder=choice.is_default)


def live(
    exchange: LiveExchangeOpt = "binanceusdm",
    confirm_real_money: Annotated[bool, typer.Option(
        "--confirm-real-money", help="Required: the session sends real orders to the exchange account.")] = False,
    testnet: Annotated[bool, typer.Option(
        "--testnet", help="Trade the exchange's testnet (ccxt sandbox mode) with testnet keys.")] = False,
    keys_file: Annotated[Path | None, typer.Option(
        "--keys-file", help="JSON file with exchange, network, api_key, api_secret (mode 0600); default: the "
                            "QT_<EXCHANGE>[_TESTNET]_API_KEY/_API_SECRET environment variables.",
        show_default=False)] = None,
    symbols: SymbolsOpt = LIVE_SYMBOLS,
    strategy: StrategyOpt = "multi-asset",
    param: ParamOpt = [],  # noqa: B006
    policy: PolicyOpt = "default",
    set_: SetOpt = [],  # noqa: B006
    timeframe: LiveTimeframeOpt = "1h",
    phase: PhaseOpt = None,
    journal: JournalOpt = None,
    runs: RunsOpt = Path("runs"),
    warmup_bars: WarmupOpt = 500,
    max_bars: MaxBarsOpt = None,
) -> None:
    """Trade an exchange account with the backtest's kernel and risk policy: real orders, real money.

    Refuses to start without --confirm-real-money, without keys for the network (--testnet: the exchange's
    testnet and its keys), or when the account cannot be set to one-way mode with the policy's margin mode and
    leverage. Ctrl-C stops after the current bar, closes what is held and writes the run folder.

    Example: QT_BINANCEUSDM_TESTNET_API_KEY=... QT_BINANCEUSDM_TESTNET_API_SECRET=... quantum-trader live
    --exchange binanceusdm --testnet --confirm-real-money --symbols BTC,ETH
    """
    network: Network = "testnet" if testnet else "mainnet"
    request = session_request(exchange=exchange, mode="live", symbols=symbols, strategy=strategy, param=param,
                              policy=policy, set_=set_, timeframe=timeframe, phase=phase, journal=journal, runs=runs,
                              warmup_bars=warmup_bars, max_bars=max_bars, testnet=testnet)
    if not confirm_real_money:
        raise fail(f"live sends real orders to your {exchange} {network} account: add --confirm-real-money to "
                   f"confirm (or try `quantum-trader paper --exchange {exchange}`, which sends none)")
    from dataclasses import replace

    from quantum_trader.venues.ccxt.credentials import CredentialsError, load_credentials

    try:
        credentials = load_credentials(exchange, network, keys_file=keys_file)
    except CredentialsError as exc:
        raise fail(str(exc)) from None
    run_session(replace(request, credentials=credentials))


def run_session(request: LiveRequest) -> None:
    """Open the session, take bars until Ctrl-C or --max-bars, write the run folder (``paper --exchange`` too)."""
    import asyncio

    from quantum_trader.cli.backtest_cmd import print_headline

    try:
        session, stats = asyncio.run(_session(request))
    except Exception as exc:
        if not isinstance(exc, ValueError) and not type(exc).__module__.startswith("ccxt"):
            raise
        # the exchange's words may echo what was sent: no key leaves in an error line
        what = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        kind = "" if isinstance(exc, ValueError) else f"exchange error ({type(exc).__name__}): "
        raise fail(f"{request.mode} failed: {kind}{_scrub(request, what)}") from None
    if stats.stopped and stats.bars:
        console.print(f"stopped after {stats.bars:,} bars: what was held is closed at that close", highlight=False)
    try:
        result = session.write()
    except ValueError as exc:
        raise fail(str(exc)) from None
    title = "Live" if request.mode == "live" else "Paper"
    print_headline(result, title=title, seconds_label="session")
    console.print(f"run folder: {result.run.path}", highlight=False)


def _scrub(request: LiveRequest, text: str) -> str:
    if request.credentials is None:
        return text
    for secret in request.credentials.secrets:
        text = text.replace(secret, "***")
    return text


async def _session(request: LiveRequest) -> tuple[LiveSession, PaceStats]:
    import asyncio

    from quantum_trader.analytics.live import open_live
    from quantum_trader.cli.paper_cmd import _take_sigint
    from quantum_trader.cli.paper_panel import progress_line

    def say(line: str) -> None:
        console.print(_scrub(request, line), highlight=False, markup=False)

    def incident(found: Incident) -> None:
        console.print(f"incident {_scrub(request, found.line())}", highlight=False, markup=False, style="yellow")

    session = await open_live(request, say=say, on_incident=incident)
    restore = _take_sigint(asyncio.get_running_loop(), session.stop)
    try:
        stats = await session.run(lambda _chunk: say(progress_line(session.snapshot())))
    finally:
        restore()
    return session, stats
