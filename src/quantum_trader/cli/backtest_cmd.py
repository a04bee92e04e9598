"""``quantum-trader backtest``: one kernel, a replay of the catalog, the simulated venue."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from quantum_trader.cli.bar_timeframes import (
    explicit_keys,
    finest_common_timeframe,
    fitted_for,
    policy_with_sets,
    with_entry,
)
from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.options import catalog_root, optional_time, output_dir, symbols_option, timeframe_option
from quantum_trader.cli.strategy_loader import PARAM_HELP, STRATEGY_HELP, StrategyChoice

if TYPE_CHECKING:
    from quantum_trader.analytics.backtest import BacktestRequest, BacktestResult
    from quantum_trader.config import Policy
    from quantum_trader.engine.strategy import Strategy

DEFAULT_SYMBOLS = "BTC,ETH,SOL,BNB,XRP,AVAX,LINK,MATIC"


def _params(name: str, params: list[str]) -> StrategyChoice:
    """``--strategy`` and ``--param`` checked for shape before anything is imported or read (``cli.strategy_loader``
    loads built-in and user strategies for ``backtest`` and ``paper`` alike)."""
    from quantum_trader.cli.strategy_loader import StrategyLoadError, parse_strategy

    try:
        return parse_strategy(name, params)
    except StrategyLoadError as exc:
        raise fail(str(exc)) from None


def _strategy(choice: StrategyChoice) -> Strategy:
    """The strategy chosen, imported and built: a user's module that fails to import, a class that is not a
    strategy or a parameter it refuses is one line."""
    from quantum_trader.cli.strategy_loader import StrategyLoadError, load_strategy

    try:
        return load_strategy(choice)
    except StrategyLoadError as exc:
        raise fail(str(exc)) from None


def _policy(path: str, sets: list[str]) -> tuple[Policy, str, bool]:
    """``plain`` is the default policy with fixed-fraction sizing and no portfolio limits."""
    if path in ("plain", "default"):
        return policy_with_sets(None, sets), path, path == "plain"
    return policy_with_sets(Path(path), sets), Path(path).name, False


def print_headline(result: BacktestResult, title: str = "Backtest", seconds_label: str = "kernel time") -> None:
    from rich.markup import escape
    from rich.table import Table

    m = result.metrics

    def pct(key: str) -> str:
        value = m.get(key)
        return "-" if value is None else f"{float(value):+.2%}"  # type: ignore[arg-type]

    def num(key: str, fmt: str = "{:.2f}") -> str:
        value = m.get(key)
        return "-" if value is None else fmt.format(value)

    table = Table(title=f"{title} {m['run']['run_id']}", show_header=False)  # type: ignore[index]
    table.add_column("figure", style="cyan")
    table.add_column("value", justify="right")
    for label, value in (
        ("total return", pct("total_return")), ("CAGR", pct("cagr")), ("Sharpe", num("sharpe")),
        ("Sortino", num("sortino")), ("max drawdown", pct("max_drawdown")), ("trades", num("trades", "{:,}")),
        ("win rate", "-" if m.get("win_rate") is None else f"{float(m['win_rate']):.1%}"),  # type: ignore[arg-type]
        ("profit factor", num("profit_factor")), ("fees paid", num("fees_paid", "{:,.2f}")),
        ("funding paid", num("funding_paid", "{:,.2f}")), ("kill-switch trips", num("kill_switch_trips", "{}")),
        ("refused intents", num("refused_intents", "{:,}")),
        (seconds_label, f"{result.seconds:.2f} s"),
    ):
        table.add_row(label, value)
    limits = m.get("limit_entries")
    if isinstance(limits, dict) and limits.get("placed"):
        table.add_row("limit entries filled", f"{limits['filled']:,} of {limits['placed']:,} "
                      f"({limits['expired']:,} expired, {limits['rejected']:,} post-only rejected)")
    console.print(table)
    notes = m.get("data_notes")
    for text in notes if isinstance(notes, list) else []:
        console.print(f"[yellow]data[/] {escape(str(text))}")
    console.print(f"report: {result.run.path / 'report.html'}")


# The options of a run over the catalog, shared by ``backtest`` and ``paper --replay`` (one declaration each).
SymbolsOpt = Annotated[str, typer.Option(help="Assets or symbols, comma-separated: BTC, BTCUSDT or BTC/USDT:USDT.")]
StrategyOpt = Annotated[str, typer.Option(help=STRATEGY_HELP)]
ParamOpt = Annotated[list[str], typer.Option("--param", help=PARAM_HELP)]
PolicyOpt = Annotated[
    str, typer.Option(help="'default', 'plain' (fixed-fraction, no portfolio limits) or a policy YAML file.")]
SetOpt = Annotated[list[str], typer.Option(
    "--set", help="Policy setting KEY=VALUE over the policy (repeatable), e.g. correlation.returns_timeframe=1h.")]
CatalogOpt = Annotated[Path | None, typer.Option(help="Catalog folder (default ./catalog or env QT_CATALOG).")]
ExchangeOpt = Annotated[str | None, typer.Option(help="Exchange in the catalog (default: the only one).")]
StartOpt = Annotated[str | None, typer.Option(help="First bar time (UTC), e.g. 2025-01-01.")]
EndOpt = Annotated[str | None, typer.Option(help="End time (UTC, exclusive).")]
TimeframeOpt = Annotated[str | None, typer.Option(
    help="Bar timeframe read from the catalog (default: the finest it holds for every symbol).", show_default=False)]
PhaseOpt = Annotated[int | None, typer.Option(
    min=0, max=3, help="Expansion phase in force (0-3), deciding the tradable assets; default: the journal's "
                       "current phase (`phase show`), or the policy's start phase without a journal.",
    show_default=False)]
JournalOpt = Annotated[str | None, typer.Option(
    "--journal", help="Journal to read the current phase from (default $QT_JOURNAL or journal/<account>.sqlite).",
    show_default=False)]
EquityOpt = Annotated[float, typer.Option(min=1.0, help="Starting equity in USDT.")]
RunsOpt = Annotated[Path, typer.Option(help="Folder for run folders.", envvar="QT_RUNS")]
NoSlippageOpt = Annotated[bool, typer.Option("--no-slippage", help="Fill exactly at the reference price.")]
EntryOpt = Annotated[str | None, typer.Option(
    help="Entry orders: 'market' (taker at the next open) or 'limit' (resting, maker; "
         "venue.entry in the policy sets offset, expiry and fill rule). Default: the policy's.")]
LoadWholeOpt = Annotated[bool, typer.Option(
    "--load-whole", help="Load the range whole instead of streaming it from the catalog a window at a time "
                         "(the default on 1m bars; results are identical, memory grows with the range).")]


def backtest(
    symbols: SymbolsOpt = DEFAULT_SYMBOLS,
    strategy: StrategyOpt = "multi-asset",
    param: ParamOpt = [],  # noqa: B006
    policy: PolicyOpt = "default",
    set_: SetOpt = [],  # noqa: B006
    catalog: CatalogOpt = None,
    exchange: ExchangeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    timeframe: TimeframeOpt = None,
    phase: PhaseOpt = None,
    journal: JournalOpt = None,
    equity: EquityOpt = 100_000.0,
    runs: RunsOpt = Path("runs"),
    no_slippage: NoSlippageOpt = False,
    entry: EntryOpt = None,
    load_whole: LoadWholeOpt = False,
) -> None:
    """Backtest a strategy over the catalog with the whole risk policy; writes runs/<run-id>/ with a report.

    On hourly bars the policy's 5m correlation returns become 1h (one line says so).

    Example: quantum-trader backtest --symbols BTC,ETH,SOL --start 2025-01-01 --end 2025-03-01
    """
    request = run_request(symbols=symbols, strategy=strategy, param=param, policy=policy, set_=set_,
                          catalog=catalog, exchange=exchange, start=start, end=end, timeframe=timeframe, phase=phase,
                          journal=journal, equity=equity, runs=runs, no_slippage=no_slippage, entry=entry)
    _run(replace(request, stream=False) if load_whole else request)


def run_request(*, symbols: str, strategy: str, param: list[str], policy: str, set_: list[str], catalog: Path | None,
                exchange: str | None, start: str | None, end: str | None, timeframe: str | None, phase: int | None,
                journal: str | None, equity: float, runs: Path, no_slippage: bool, entry: str | None,
                command: str = "backtest") -> BacktestRequest:
    """The options of a run over the catalog checked and resolved (policy, timeframe, phase: one line each
    says what was assumed) into the request ``backtest`` and ``paper --replay`` run."""
    import math

    if not math.isfinite(equity):
        raise fail(f"--equity {equity}: must be a finite amount of USDT")
    values = _params(strategy, param)
    if entry is not None and entry not in ("market", "limit"):
        raise fail(f"--entry {entry!r}: choose market or limit")
    syms = symbols_option("--symbols", symbols)
    start_ms, end_ms = optional_time("--start", start), optional_time("--end", end)
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise fail(f"--end {end!r} is not after --start {start!r}")
    root = catalog_root(catalog)
    output_dir("--runs", runs)
    chosen = _strategy(values)
    pol, policy_name, plain = _policy(policy, set_)
    pol = with_entry(pol, entry)
    tf = (timeframe_option("--timeframe", timeframe) if timeframe is not None
          else finest_common_timeframe(root, syms, exchange))
    pol = fitted_policy(chosen, pol, tf, policy, set_)
    number, source = resolve_phase(phase, journal, pol)
    if not plain:
        console.print(f"phase {number} ({pol.expansion.phases[number].name}, {source})", highlight=False)
    from quantum_trader.analytics.backtest import BacktestRequest, default_settings

    try:
        return BacktestRequest(
            catalog=root, symbols=syms, strategy=chosen, policy=pol, policy_name=policy_name, exchange=exchange,
            timeframe=tf, start_ms=start_ms, end_ms=end_ms, runs_dir=runs, phase_source=source,
            settings=default_settings(pol, phase=number, plain=plain, equity=equity, slippage=not no_slippage),
        )
    except ValueError as exc:
        raise fail(f"{command} failed: {exc}") from None


def fitted_policy(strategy: object, pol: Policy, timeframe: str, policy: str, set_: list[str]) -> Policy:
    """``bar_timeframes.fitted_for`` with the keys the user set kept as set, each change said in one line."""
    file = None if policy in ("plain", "default") else Path(policy)
    pol, notes = fitted_for(strategy, pol, timeframe, explicit_keys(file, set_))
    for note in notes:
        console.print(f"[yellow]policy[/] {note}", highlight=False)
    return pol


def resolve_phase(phase: int | None, journal: str | None, policy: Policy) -> tuple[int, str]:
    """The phase a run trades in and where it came from: ``--phase``, else the journal's current phase
    (read without creating anything), else the policy's start phase when there is no journal yet."""
    if phase is not None:
        return phase, "--phase"
    from quantum_trader.cli.gates_cmd import journal_target, open_journal, read_journal
    from quantum_trader.journal.store import redact_url

    target = journal_target(journal)
    if "://" not in target and not Path(target).exists():
        return policy.expansion.start_phase, f"no journal at {target}: the policy's start phase"
    store = open_journal(target)
    current = read_journal(lambda: store.current_phase(policy.expansion.start_phase))
    return current, f"the current phase in journal {redact_url(store.url)}"


def _run(request: BacktestRequest) -> None:
    from quantum_trader.analytics.backtest import run_backtest
    from quantum_trader.cli.progress import stage_progress
    from quantum_trader.data.catalog import CatalogError

    try:
        with stage_progress("backtest") as update:
            result = run_backtest(request, progress=update, lines=update.say)
    except (CatalogError, ValueError) as exc:
        raise fail(f"backtest failed: {exc}") from None
    print_headline(result)
