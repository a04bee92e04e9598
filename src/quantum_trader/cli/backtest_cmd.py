"""``quantum-trader backtest``: one kernel, a replay of the catalog, the simulated venue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from quantum_trader.analytics.backtest import BacktestRequest, BacktestResult, default_settings, run_backtest
from quantum_trader.cli.console import console
from quantum_trader.cli.progress import stage_progress
from quantum_trader.config import Policy, PolicyError, load_policy
from quantum_trader.data.catalog import CatalogError, default_catalog_root
from quantum_trader.domain.symbols import perp_symbol
from quantum_trader.domain.time import parse_time
from quantum_trader.engine.strategy import MultiAssetStrategy, SmaCrossStrategy, Strategy

DEFAULT_SYMBOLS = "BTC,ETH,SOL,BNB,XRP,AVAX,LINK,MATIC"
STRATEGIES = ("multi-asset", "sma-cross")


def _strategy(name: str, params: list[str]) -> Strategy:
    values: dict[str, int] = {}
    for item in params:
        key, sep, value = item.partition("=")
        if not sep or not value.strip().isdigit():
            raise typer.BadParameter(f"--param {item!r}: expected NAME=INTEGER, e.g. fast=10")
        values[key.strip()] = int(value)
    if name == "multi-asset":
        if values:
            raise typer.BadParameter(f"multi-asset takes no --param (its settings are in the policy), got {values}")
        return MultiAssetStrategy()
    if name == "sma-cross":
        unknown = set(values) - {"fast", "slow"}
        if unknown:
            raise typer.BadParameter(f"sma-cross takes fast and slow, not {sorted(unknown)}")
        return SmaCrossStrategy(**values)
    raise typer.BadParameter(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}")


def _policy(path: str) -> tuple[Policy, str, bool]:
    """``plain`` is the default policy with fixed-fraction sizing and no portfolio limits."""
    if path == "plain":
        return load_policy(), "plain", True
    try:
        if path == "default":
            return load_policy(), "default", False
        return load_policy(Path(path)), Path(path).name, False
    except PolicyError as exc:
        console.print(f"[bold red]invalid policy[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None


def print_headline(result: BacktestResult) -> None:
    m = result.metrics

    def pct(key: str) -> str:
        value = m.get(key)
        return "-" if value is None else f"{float(value):+.2%}"  # type: ignore[arg-type]

    def num(key: str, fmt: str = "{:.2f}") -> str:
        value = m.get(key)
        return "-" if value is None else fmt.format(value)

    table = Table(title=f"Backtest {m['run']['run_id']}", show_header=False)  # type: ignore[index]
    table.add_column("figure", style="cyan")
    table.add_column("value", justify="right")
    for label, value in (
        ("total return", pct("total_return")), ("CAGR", pct("cagr")), ("Sharpe", num("sharpe")),
        ("Sortino", num("sortino")), ("max drawdown", pct("max_drawdown")), ("trades", num("trades", "{:,}")),
        ("win rate", "-" if m.get("win_rate") is None else f"{float(m['win_rate']):.1%}"),  # type: ignore[arg-type]
        ("profit factor", num("profit_factor")), ("fees paid", num("fees_paid", "{:,.2f}")),
        ("funding paid", num("funding_paid", "{:,.2f}")), ("kill-switch trips", num("kill_switch_trips", "{}")),
        ("refused intents", num("refused_intents", "{:,}")),
        ("kernel time", f"{result.seconds:.2f} s"),
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


def backtest(
    symbols: Annotated[str, typer.Option(help="Assets or unified symbols, comma-separated.")] = DEFAULT_SYMBOLS,
    strategy: Annotated[str, typer.Option(help=f"One of: {', '.join(STRATEGIES)}.")] = "multi-asset",
    param: Annotated[list[str], typer.Option("--param", help="Strategy parameter NAME=VALUE (repeatable).")] = [],  # noqa: B006
    policy: Annotated[
        str, typer.Option(help="'default', 'plain' (fixed-fraction, no portfolio limits) or a policy YAML file.")
    ] = "default",
    catalog: Annotated[Path | None, typer.Option(help="Catalog folder (default ./catalog or env QT_CATALOG).")] = None,
    exchange: Annotated[str | None, typer.Option(help="Exchange in the catalog (default: the only one).")] = None,
    start: Annotated[str | None, typer.Option(help="First bar time (UTC), e.g. 2025-01-01.")] = None,
    end: Annotated[str | None, typer.Option(help="End time (UTC, exclusive).")] = None,
    timeframe: Annotated[str, typer.Option(help="Bar timeframe read from the catalog.")] = "1m",
    phase: Annotated[int, typer.Option(help="Expansion phase in force (0-3): decides the tradable assets.")] = 3,
    equity: Annotated[float, typer.Option(help="Starting equity in USDT.")] = 100_000.0,
    runs: Annotated[Path, typer.Option(help="Folder for run folders.", envvar="QT_RUNS")] = Path("runs"),
    no_slippage: Annotated[bool, typer.Option("--no-slippage", help="Fill exactly at the reference price.")] = False,
    entry: Annotated[str | None, typer.Option(
        help="Entry orders: 'market' (taker at the next open) or 'limit' (resting, maker; "
             "venue.entry in the policy sets offset, expiry and fill rule). Default: the policy's.")] = None,
) -> None:
    """Backtest a strategy over the catalog with the whole risk policy; writes runs/<run-id>/ with a report.

    Example: quantum-trader backtest --symbols BTC,ETH,SOL --start 2025-01-01 --end 2025-03-01
    """
    chosen = _strategy(strategy, param)
    pol, policy_name, plain = _policy(policy)
    if entry is not None:
        if entry not in ("market", "limit"):
            raise typer.BadParameter(f"--entry {entry!r}: choose market or limit")
        venue = pol.venue.model_copy(update={"entry": pol.venue.entry.model_copy(update={"type": entry})})
        pol = pol.model_copy(update={"venue": venue})
    syms = tuple(perp_symbol(s.strip()) for s in symbols.split(",") if s.strip())
    try:
        request = BacktestRequest(
            catalog=catalog or default_catalog_root(), symbols=syms, strategy=chosen, policy=pol,
            policy_name=policy_name, exchange=exchange, timeframe=timeframe,
            start_ms=parse_time(start) if start else None, end_ms=parse_time(end) if end else None, runs_dir=runs,
            settings=default_settings(pol, phase=phase, plain=plain, equity=equity, slippage=not no_slippage),
        )
        with stage_progress("backtest") as update:
            result = run_backtest(request, progress=update)
    except (CatalogError, ValueError) as exc:
        console.print(f"[bold red]backtest failed[/] {exc}", highlight=False)
        raise typer.Exit(code=2) from None
    print_headline(result)
