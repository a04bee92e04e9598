"""``quantum-trader stress``: the spec's risk scenarios through the whole engine, and Monte Carlo over them.

With no arguments every scenario runs on the synthetic demo market; ``--catalog`` (or
``--symbols``/``--start``/``--end``, read from the default catalog) runs them on real data.
A broken bound is printed loudly with what broke it and makes the exit code 1.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from quantum_trader.cli.backtest_cmd import (
    DEFAULT_SYMBOLS,
    CatalogOpt,
    EndOpt,
    EquityOpt,
    ExchangeOpt,
    RunsOpt,
    SetOpt,
    StartOpt,
    TimeframeOpt,
)
from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.options import catalog_root, optional_time, output_dir, symbols_option, timeframe_option

if TYPE_CHECKING:
    from quantum_trader.analytics.stress.market import StressMarket
    from quantum_trader.analytics.stress.montecarlo import MonteCarloConfig
    from quantum_trader.analytics.stress.runner import StressOutcome
    from quantum_trader.config import Policy

T = TypeVar("T")
R = TypeVar("R")

DEMO_DAYS, DEMO_SEED, DEMO_PHASE = 90, 7, 3
"""The demo's market and phase (``cli.demo_cmd``): what ``stress`` runs on with no arguments."""

ScenarioOpt = Annotated[list[str], typer.Option(
    "--scenario", help="Run only this scenario (repeatable), named as the policy names it: correlated_crash, "
                       "single_asset_anomaly, liquidity_crisis, flash_crash, funding_spike, exchange_outage, "
                       "correlation_to_one, asset_delisted.")]
StressSymbolsOpt = Annotated[str | None, typer.Option(
    "--symbols", help=f"Assets to read from the catalog (default {DEFAULT_SYMBOLS}); implies real data.",
    show_default=False)]
DaysOpt = Annotated[int, typer.Option(min=3, max=3650, help="Days of the synthetic market (without --catalog).")]
MarketSeedOpt = Annotated[int, typer.Option(min=0, help="Seed of the synthetic market (without --catalog).")]
MonteCarloOpt = Annotated[int | None, typer.Option(
    "--monte-carlo", min=1, help="Run N randomised scenarios on block-bootstrapped markets instead of the named "
                                 "ones: breach probabilities with 95% intervals.", show_default=False)]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of the Monte Carlo draws (same seed, same draws).")]
BlockOpt = Annotated[int, typer.Option(min=1, help="Monte Carlo: days per bootstrap block (resampled together).")]
PolicyOpt = Annotated[str, typer.Option(help="'default' or a policy YAML file (the whole policy: stress runs never "
                                             "use the plain profile).")]
PhaseOpt = Annotated[int | None, typer.Option(
    min=0, max=3, help="Expansion phase in force; default 3 on the synthetic market, else the journal's "
                       "current phase (as backtest).", show_default=False)]


def _policy(path: str, sets: list[str]) -> tuple[Policy, str]:
    from quantum_trader.cli.bar_timeframes import policy_with_sets

    if path == "plain":
        raise fail("--policy plain: a stress test is about the limits; use 'default' or a policy file")
    if path == "default":
        return policy_with_sets(None, sets), "default"
    return policy_with_sets(Path(path), sets), Path(path).name


def _real_market(catalog: Path | None, symbols: str | None, exchange: str | None, start: str | None,
                 end: str | None, timeframe: str | None, policy: Policy, sets: list[str], policy_path: str
                 ) -> tuple[StressMarket, Policy]:
    from quantum_trader.analytics.stress.market import load_catalog_market
    from quantum_trader.cli.bar_timeframes import explicit_keys, finest_common_timeframe, fit_policy
    from quantum_trader.data.catalog import CatalogError

    syms = symbols_option("--symbols", symbols or DEFAULT_SYMBOLS)
    start_ms, end_ms = optional_time("--start", start), optional_time("--end", end)
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise fail(f"--end {end!r} is not after --start {start!r}")
    root = catalog_root(catalog)
    tf = (timeframe_option("--timeframe", timeframe) if timeframe is not None
          else finest_common_timeframe(root, syms, exchange))
    file = None if policy_path == "default" else Path(policy_path)
    policy, notes = fit_policy(policy, tf, explicit_keys(file, sets))
    for note in notes:
        console.print(f"[yellow]policy[/] {note}", highlight=False)
    try:
        return load_catalog_market(root, syms, timeframe=tf, exchange=exchange, start_ms=start_ms,
                                   end_ms=end_ms), policy
    except (CatalogError, ValueError) as exc:
        raise fail(f"stress failed: {exc}") from None


def _synthetic_market(days: int, seed: int) -> StressMarket:
    from quantum_trader.analytics.stress.market import from_synthetic
    from quantum_trader.data.synthetic import SynthConfig, generate_market

    console.print(f"generating the synthetic market ({days} d of 1m bars, seed {seed})", highlight=False)
    return from_synthetic(generate_market(SynthConfig(days=days, seed=seed)),
                          source=f"synthetic market ({days} d, seed {seed})")


def _progress_map(update: Callable[[str, int, int], None]) -> Callable[[Callable[[T], R], Sequence[T]], list[R]]:
    """The serial mapper with the progress bar ticking after each draw."""
    def mapper(fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        out = []
        for done, item in enumerate(items):
            update(f"draw {done + 1} of {len(items)}", done, len(items))
            out.append(fn(item))
        update("done", len(items), len(items))
        return out
    return mapper


def _bar() -> Any:
    """A transient progress bar over the runs (the table printed after it stays clean)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=Console(soft_wrap=True), transient=True)


def _print_outcome(outcome: StressOutcome) -> None:
    from rich.markup import escape
    from rich.table import Table

    from quantum_trader.analytics.stress.rows import COLUMNS, display_row

    table = Table(title=f"Stress scenarios on {outcome.market.source}")
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in ("worst loss", "max drawdown") else "left",
                         overflow="fold")
    for result in outcome.results:
        row = display_row(result)
        verdict = "[green]pass[/]" if result.passed else "[bold red]BROKEN[/]"
        table.add_row(*(escape(row[c]) if c != "result" else verdict for c in COLUMNS))
    console.print(table)
    for name in outcome.not_run:
        console.print(f"[yellow]not run[/] {escape(name)}: in the policy's scenario table, no injection for it here")
    for result in outcome.broken:
        console.print(f"[bold red]BROKEN {escape(result.name)}[/] ({escape(result.description)}):")
        for line in result.why:
            console.print(f"  [red]-[/] {escape(line)}", highlight=False)


def _names(policy: Policy, wanted: list[str]) -> list[str]:
    """The scenarios to run, checked before any market is made (or NumPy imported)."""
    from quantum_trader.analytics.stress.names import UnknownScenarioError, choose

    try:
        return choose(policy, wanted)
    except UnknownScenarioError as exc:
        raise fail(f"--scenario: {exc}") from None


def _run_scenarios(market: StressMarket, policy: Policy, chosen: list[str], *, phase: int, equity: float,
                   runs: Path, policy_name: str) -> None:
    from quantum_trader.analytics.stress.output import REPORT_FILE, write_stress
    from quantum_trader.analytics.stress.runner import run_scenarios
    from quantum_trader.engine.strategies import MultiAssetStrategy

    with _bar() as bar:
        task = bar.add_task("stress", total=len(chosen) + 1)

        def update(label: str, done: int, total: int) -> None:
            bar.update(task, description=f"stress: {label}", completed=done, total=total)

        try:
            outcome = run_scenarios(market, policy, MultiAssetStrategy(), names=chosen, phase=phase, equity=equity,
                                    progress=update)
        except ValueError as exc:
            raise fail(f"stress failed: {exc}") from None
    _print_outcome(outcome)
    folder = write_stress(runs, outcome, policy, policy_name=policy_name, phase=phase)
    console.print(f"report: {folder / REPORT_FILE}", highlight=False)
    if outcome.broken:
        console.print(f"[bold red]{len(outcome.broken)} of {len(outcome.results)} scenarios broke a bound[/]")
        raise typer.Exit(code=1)
    console.print(f"[green]all {len(outcome.results)} scenarios held their bounds[/]")


def _print_rates(results: Sequence[Any], rates: Sequence[Any]) -> None:
    from rich.table import Table

    from quantum_trader.analytics.stress.summary import own_rate, quantiles

    table = Table(title=f"Monte Carlo: {len(results)} draws, probability of breaching each bound")
    for column in ("bound", "breaches", "probability", "95% interval (Wilson)"):
        table.add_column(column)
    for r in rates:
        colour = "bold red" if r.breaches else "green"
        table.add_row(r.bound.label, f"{r.breaches} / {r.runs}", f"[{colour}]{r.rate:.1%}[/]",
                      f"{r.low:.1%} .. {r.high:.1%}")
    console.print(table)
    q = quantiles(results)
    losses = Table(title="Losses over the draws (fraction of equity)")
    losses.add_column("figure")
    for column in q.columns:
        losses.add_column(str(column), justify="right")
    for name, values in q.iterrows():
        losses.add_row(str(name), *(f"{float(v):.2%}" for v in values))
    console.print(losses)
    broke, low, high = own_rate(results)
    console.print(f"scenarios' own bounds broken in {broke} of {len(results)} draws ({low:.1%} .. {high:.1%})",
                  highlight=False)


def _run_monte_carlo(market: StressMarket, policy: Policy, config: MonteCarloConfig, *, runs: Path,
                     policy_name: str, workers: int | None = None, ray_address: str | None = None) -> None:
    from quantum_trader.analytics.stress.montecarlo import run_monte_carlo
    from quantum_trader.analytics.stress.output import REPORT_FILE, write_monte_carlo
    from quantum_trader.analytics.stress.summary import breach_rates
    from quantum_trader.engine.strategies import MultiAssetStrategy

    with _bar() as bar:
        task = bar.add_task("monte carlo", total=config.runs)

        def update(label: str, done: int, total: int) -> None:
            bar.update(task, description=f"monte carlo: {label}", completed=done, total=total)

        try:
            if workers is None and ray_address is None:
                results = run_monte_carlo(market, policy, MultiAssetStrategy, config, mapper=_progress_map(update))
            else:
                from quantum_trader.research.runner import open_runner

                try:
                    with open_runner("ray", num_cpus=workers, address=ray_address) as runner:
                        console.print(f"draws as Ray tasks on {ray_address or 'local Ray'}, {runner.workers} "
                                      f"worker{'s' if runner.workers != 1 else ''}", highlight=False)
                        results = run_monte_carlo(market, policy, MultiAssetStrategy, config, runner=runner,
                                                  progress=lambda done, total: update(
                                                      f"{done} of {total} draws", done, total))
                except ConnectionError as exc:
                    raise fail(f"--ray-address {ray_address}: cannot connect ({exc})") from None
        except ValueError as exc:
            raise fail(f"stress failed: {exc}") from None
    rates = breach_rates(results, policy)
    _print_rates(results, rates)
    folder = write_monte_carlo(runs, results, rates, config, policy, market_source=market.source,
                               policy_name=policy_name)
    console.print(f"report: {folder / REPORT_FILE}", highlight=False)
    broken = [r for r in results if r.own_broken]
    if broken:
        console.print(f"[bold red]{len(broken)} of {len(results)} draws broke their scenario's bound[/] "
                      f"(draws {', '.join(str(r.index) for r in broken[:20])}{' ...' if len(broken) > 20 else ''})")
        raise typer.Exit(code=1)


RayWorkersOpt = Annotated[int | None, typer.Option(
    "--workers", min=1, help="With --monte-carlo: run the draws as tasks of a local Ray with this many CPUs "
                             "(default: serially in this process).", show_default=False)]
RayAddressOpt = Annotated[str | None, typer.Option(
    "--ray-address", help="With --monte-carlo: run the draws on this Ray cluster (ray://HEAD:10001, or 'auto').",
    envvar="QT_RAY_ADDRESS", show_default=False)]


def stress(
    scenario: ScenarioOpt = [],  # noqa: B006
    catalog: CatalogOpt = None,
    symbols: StressSymbolsOpt = None,
    exchange: ExchangeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    timeframe: TimeframeOpt = None,
    days: DaysOpt = DEMO_DAYS,
    market_seed: MarketSeedOpt = DEMO_SEED,
    monte_carlo: MonteCarloOpt = None,
    seed: SeedOpt = 0,
    block_days: BlockOpt = 1,
    policy: PolicyOpt = "default",
    set_: SetOpt = [],  # noqa: B006
    phase: PhaseOpt = None,
    equity: EquityOpt = 100_000.0,
    runs: RunsOpt = Path("runs"),
    workers: RayWorkersOpt = None,
    ray_address: RayAddressOpt = None,
) -> None:
    """Run the spec's risk scenarios through the whole engine and policy; exit 1 when a bound breaks.

    Writes runs/<time>-stress/ (or -monte-carlo/) with a table, the equity paths and an offline HTML report.

    Example: quantum-trader stress --scenario flash_crash --scenario correlated_crash
    """
    import math

    if not math.isfinite(equity):
        raise fail(f"--equity {equity}: must be a finite amount of USDT")
    output_dir("--runs", runs)
    pol, policy_name = _policy(policy, set_)
    names = _names(pol, scenario)
    real = any(v is not None for v in (catalog, symbols, start, end, exchange, timeframe))
    if real:
        from quantum_trader.cli.backtest_cmd import resolve_phase

        market, pol = _real_market(catalog, symbols, exchange, start, end, timeframe, pol, set_, policy)
        number, source = resolve_phase(phase, None, pol)
    else:
        market = _synthetic_market(days, market_seed)
        number, source = (phase, "--phase") if phase is not None else (DEMO_PHASE, "the demo's")
    console.print(f"phase {number} ({pol.expansion.phases[number].name}, {source}); policy {policy_name}",
                  highlight=False)
    if monte_carlo is None:
        if workers is not None or ray_address is not None:
            raise fail("--workers and --ray-address run Monte Carlo draws on Ray: add --monte-carlo N")
        _run_scenarios(market, pol, names, phase=number, equity=equity, runs=runs, policy_name=policy_name)
        return
    from quantum_trader.analytics.stress.montecarlo import MonteCarloConfig

    config = MonteCarloConfig(runs=monte_carlo, seed=seed, families=tuple(names), block_days=block_days,
                              phase=number, equity=equity)
    _run_monte_carlo(market, pol, config, runs=runs, policy_name=policy_name, workers=workers,
                     ray_address=ray_address)
