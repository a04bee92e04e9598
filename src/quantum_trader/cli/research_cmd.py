"""``quantum-trader research sweep|optimize|walk-forward``: many backtests of one strategy, on Ray.

Each trial is a full backtest (the kernel, the simulated venue, the whole policy) of one parameter set;
the trials run as Ray tasks on a local Ray by default (``--workers``), on a cluster with
``--ray-address``, or in this process with ``--serial``. Without a catalog (no ``--catalog``, no
``$QT_CATALOG``) the study runs on the synthetic demo market, generated once into the output folder,
so a new user can try it at once. Results: ``<out>/<study>/results.parquet`` (one row per trial and per
walk-forward test fold) and ``summary.html``.

This module holds the commands and their options; what they do before and after a study (parsing --param and
the objective, the synthetic market, reading the market, the runner, the progress bar, writing and printing the
results) is ``research_setup``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer

from quantum_trader.cli.backtest_cmd import (
    CatalogOpt,
    EndOpt,
    EntryOpt,
    EquityOpt,
    ExchangeOpt,
    JournalOpt,
    NoSlippageOpt,
    PhaseOpt,
    SetOpt,
    StartOpt,
    SymbolsOpt,
)
from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail
from quantum_trader.cli.research_setup import (
    Common,
    duration,
    finish,
    fmt,
    grid_size,
    optimize_settings,
    parse_objective,
    parse_space,
    prepare,
    progress_bar,
    records_rows,
    shared,
    study_runner,
)
from quantum_trader.cli.research_setup import make_strategy as make_strategy  # where tests and benchmarks get it
from quantum_trader.cli.strategy_loader import STRATEGY_HELP

research_app = typer.Typer(
    help="Research at scale: parameter sweeps, Optuna optimisation and walk-forward, as Ray tasks.",
    no_args_is_help=True)

DEFAULT_SYMBOLS = "BTC,ETH,SOL,BNB,XRP"
DEFAULT_PARAMS = ("signals.model.stop_atr_multiple=1.5,2,3", "signals.model.atr_period=10,14,21")
"""What a study varies when no --param is given: two policy settings of the multi-asset strategy."""
DEFAULT_RANGES = ("signals.model.stop_atr_multiple=1:4", "signals.model.atr_period=7:28")
SYNTH_DAYS, SYNTH_SEED = 90, 7

ParamOpt = Annotated[list[str], typer.Option("--param", help=(
    "NAME=VALUES to vary (repeatable): a list 5,10,20, a stepped range 5:50:5, a range 5:50 (optimize), "
    "0.001:0.1:log. A dotted NAME is a policy setting (signals.model.atr_period=10,14,21); else a strategy "
    "constructor parameter (sma-cross: fast, slow). Default: "
    "signals.model.stop_atr_multiple and signals.model.atr_period."))]
StrategyOpt = Annotated[str, typer.Option(help=STRATEGY_HELP)]
PolicyOpt = Annotated[str, typer.Option(
    help="'default', 'plain' (fixed-fraction, no portfolio limits; what sma-cross trades under) or a policy YAML.")]
TimeframeOpt = Annotated[str | None, typer.Option(
    help="Bar timeframe (default: the finest the catalog holds for every symbol).", show_default=False)]
ObjectiveOpt = Annotated[str, typer.Option(
    help="What to maximise: sharpe, calmar, or return (total return of runs within --drawdown-cap).")]
CapOpt = Annotated[float, typer.Option(help="Deepest drawdown a run may have for --objective return (fraction).")]
OutOpt = Annotated[Path, typer.Option(help="Folder for studies (and the synthetic market).", envvar="QT_RESEARCH")]
WorkersOpt = Annotated[int | None, typer.Option(
    min=1, help="CPUs of the local Ray (default: all of this machine's).", show_default=False)]
AddressOpt = Annotated[str | None, typer.Option(
    "--ray-address", help="A Ray cluster to run on (ray://HEAD:10001, or 'auto' on a cluster node).",
    envvar="QT_RAY_ADDRESS", show_default=False)]
SerialOpt = Annotated[bool, typer.Option("--serial", help="Run every trial in this process, without Ray.")]
DaysOpt = Annotated[int, typer.Option(min=2, max=3650, help="Without a catalog: days of synthetic 1m market.")]
SeedOpt = Annotated[int, typer.Option(min=0, help="Seed of the sampler (and of the synthetic market).")]
TrialsOpt = Annotated[int, typer.Option(min=1, help="Trials of the optimisation (per fold in walk-forward).")]
SamplerOpt = Annotated[str, typer.Option(help="Optuna sampler: tpe, random or qmc.")]
PrunerOpt = Annotated[str, typer.Option(
    help="Optuna pruner: none, median, hyperband or successive-halving (needs --steps 2+; default 4 with one).")]
StepsOpt = Annotated[int | None, typer.Option(
    min=1, help="Parts a trial's window is run in, the pruner deciding after each (default 1, or 4 with a pruner).",
    show_default=False)]
BatchOpt = Annotated[int, typer.Option(
    min=1, help="Trials asked and run together; part of the study (same seed and batch: same results anywhere).")]


def _common(**kwargs: Any) -> Common:
    return Common(**kwargs)


@research_app.command("sweep")
def sweep_cmd(
    param: ParamOpt = [],  # noqa: B006
    strategy: StrategyOpt = "multi-asset",
    symbols: SymbolsOpt = DEFAULT_SYMBOLS,
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
    no_slippage: NoSlippageOpt = False,
    entry: EntryOpt = None,
    objective: ObjectiveOpt = "sharpe",
    drawdown_cap: CapOpt = 0.20,
    out: OutOpt = Path("research"),
    workers: WorkersOpt = None,
    ray_address: AddressOpt = None,
    serial: SerialOpt = False,
    days: DaysOpt = SYNTH_DAYS,
    seed: SeedOpt = SYNTH_SEED,
) -> None:
    """Backtest every combination of the --param grid; a heatmap of the objective over two parameters.

    Example: quantum-trader research sweep --strategy sma-cross --policy plain --param fast=5,10,20 --param slow=40,80
    """
    from quantum_trader.research.results import diagnostics
    from quantum_trader.research.sweep import sweep

    c = _common(symbols=symbols, strategy=strategy, param=param, policy=policy, set_=set_, catalog=catalog,
                exchange=exchange, start=start, end=end, timeframe=timeframe, phase=phase, journal=journal,
                equity=equity, no_slippage=no_slippage, entry=entry, objective=objective, drawdown_cap=drawdown_cap,
                out=out, workers=workers, ray_address=ray_address, serial=serial, days=days, seed=seed)
    space = parse_space(param, DEFAULT_PARAMS, strategy)
    goal = parse_objective(objective, drawdown_cap)
    grid = grid_size(space)
    prepared = prepare(c, space, "sweep")
    started = time.perf_counter()
    with study_runner(c) as (runner, where):
        console.print(f"sweep: {grid} backtests on {where}", highlight=False)
        with progress_bar("backtests", grid) as tick:
            records = sweep(space, goal, prepared.window, runner, shared(runner, prepared.setup),
                            prepared.policy_for, tick)
    prepared.facts["Ran on"] = where
    finish("sweep", prepared, goal, records_rows(records, prepared.window), [diagnostics("sweep", records)], started)


@research_app.command("optimize")
def optimize_cmd(
    param: ParamOpt = [],  # noqa: B006
    trials: TrialsOpt = 50,
    sampler: SamplerOpt = "tpe",
    pruner: PrunerOpt = "none",
    steps: StepsOpt = None,
    batch: BatchOpt = 4,
    strategy: StrategyOpt = "multi-asset",
    symbols: SymbolsOpt = DEFAULT_SYMBOLS,
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
    no_slippage: NoSlippageOpt = False,
    entry: EntryOpt = None,
    objective: ObjectiveOpt = "sharpe",
    drawdown_cap: CapOpt = 0.20,
    out: OutOpt = Path("research"),
    workers: WorkersOpt = None,
    ray_address: AddressOpt = None,
    serial: SerialOpt = False,
    days: DaysOpt = SYNTH_DAYS,
    seed: SeedOpt = SYNTH_SEED,
) -> None:
    """Search the --param ranges with Optuna (seeded sampler, optional pruner) for the best objective.

    Example: quantum-trader research optimize --strategy sma-cross --policy plain --param fast=3:30 --param slow=40:200
    --trials 50 --objective calmar --pruner median
    """
    from quantum_trader.research.optimize import optimize
    from quantum_trader.research.results import diagnostics

    c = _common(symbols=symbols, strategy=strategy, param=param, policy=policy, set_=set_, catalog=catalog,
                exchange=exchange, start=start, end=end, timeframe=timeframe, phase=phase, journal=journal,
                equity=equity, no_slippage=no_slippage, entry=entry, objective=objective, drawdown_cap=drawdown_cap,
                out=out, workers=workers, ray_address=ray_address, serial=serial, days=days, seed=seed)
    space = parse_space(param, DEFAULT_RANGES, strategy)
    settings = optimize_settings(parse_objective(objective, drawdown_cap), trials, seed, sampler, pruner, steps, batch)
    prepared = prepare(c, space, "optimize")
    started = time.perf_counter()
    with study_runner(c) as (runner, where):
        console.print(f"optimize: {trials} trials ({settings.sampler}, pruner {settings.pruner}, "
                      f"{settings.steps} step{'s' if settings.steps > 1 else ''}, batches of {batch}) on {where}",
                      highlight=False)
        with progress_bar("backtests", trials * settings.steps) as tick:
            loop = optimize(space, settings, prepared.window, runner, shared(runner, prepared.setup),
                            prepared.policy_for, prepared.window.start, tick)
    prepared.facts.update({"Ran on": where, "Sampler": f"{settings.sampler} (seed {seed})",
                           "Pruner": f"{settings.pruner}, {settings.steps} steps"})
    finish("optimize", prepared, settings.objective, records_rows(loop.records, prepared.window),
           [diagnostics("optimize", loop.records)], started)


@research_app.command("walk-forward")
def walk_forward_cmd(
    param: ParamOpt = [],  # noqa: B006
    folds: Annotated[int, typer.Option(min=1, help="Test windows, back to back up to the end of the data.")] = 4,
    train: Annotated[str | None, typer.Option(
        help="Train window length, e.g. 90d (default: three test windows).", show_default=False)] = None,
    test: Annotated[str | None, typer.Option(
        help="Test window length, e.g. 30d (default: the folds fill the data).", show_default=False)] = None,
    anchored: Annotated[bool, typer.Option(
        "--anchored", help="Train from the first bar every fold (default: a rolling train window).")] = False,
    warmup: Annotated[str | None, typer.Option(
        help="Bars before each window the strategy sees without trading, e.g. 3d.", show_default=False)] = None,
    trials: TrialsOpt = 50,
    sampler: SamplerOpt = "tpe",
    pruner: PrunerOpt = "none",
    steps: StepsOpt = None,
    batch: BatchOpt = 4,
    strategy: StrategyOpt = "multi-asset",
    symbols: SymbolsOpt = DEFAULT_SYMBOLS,
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
    no_slippage: NoSlippageOpt = False,
    entry: EntryOpt = None,
    objective: ObjectiveOpt = "sharpe",
    drawdown_cap: CapOpt = 0.20,
    out: OutOpt = Path("research"),
    workers: WorkersOpt = None,
    ray_address: AddressOpt = None,
    serial: SerialOpt = False,
    days: DaysOpt = SYNTH_DAYS,
    seed: SeedOpt = SYNTH_SEED,
) -> None:
    """Optimise on each fold's train window, trade the best on its test window; stitch the out-of-sample equity.

    Example: quantum-trader research walk-forward --folds 4 --train 60d --test 14d --trials 30
    """
    from quantum_trader.research.results import diagnostics, test_row
    from quantum_trader.research.walkforward import WalkForwardError, splits, walk_forward

    c = _common(symbols=symbols, strategy=strategy, param=param, policy=policy, set_=set_, catalog=catalog,
                exchange=exchange, start=start, end=end, timeframe=timeframe, phase=phase, journal=journal,
                equity=equity, no_slippage=no_slippage, entry=entry, objective=objective, drawdown_cap=drawdown_cap,
                out=out, workers=workers, ray_address=ray_address, serial=serial, days=days, seed=seed)
    train_ms, test_ms, warmup_ms = duration("--train", train), duration("--test", test), duration("--warmup", warmup)
    space = parse_space(param, DEFAULT_RANGES, strategy)
    settings = optimize_settings(parse_objective(objective, drawdown_cap), trials, seed, sampler, pruner, steps, batch,
                                 warmup_ms or 0)
    prepared = prepare(c, space, "walk-forward")
    window = prepared.window
    try:
        plan = splits(window.start, window.end, folds, train_ms=train_ms, test_ms=test_ms, anchored=anchored,
                      warmup_ms=warmup_ms or 0)
    except WalkForwardError as exc:
        raise fail(str(exc)) from None
    started = time.perf_counter()
    with study_runner(c) as (runner, where):
        console.print(f"walk-forward: {folds} folds ({'anchored' if anchored else 'rolling'}), {trials} trials each "
                      f"on {where}", highlight=False)
        with progress_bar("backtests", folds * (trials * settings.steps + 1)) as tick:
            result = walk_forward(space, settings, plan, runner, shared(runner, prepared.setup),
                                  prepared.policy_for, window.start, tick)
    rows: list[dict[str, Any]] = []
    for fr in result.folds:
        rows.extend(records_rows(fr.study.records, fr.fold.train, fold=fr.fold.number))
        rows.append(test_row(fr.fold.number, fr.best_params, fr.test, fr.fold.test, settings.objective, fr.why))
    prepared.facts.update({"Ran on": where, "Folds": f"{folds} ({'anchored' if anchored else 'rolling'})",
                           "Sampler": f"{settings.sampler} (seed {seed})"})
    stitched = result.stitched
    if stitched is not None:
        value = settings.objective.value(stitched.metrics)
        console.print(f"out of sample, stitched: total return {fmt(stitched.metrics.get('total_return'))}, "
                      f"Sharpe {fmt(stitched.metrics.get('sharpe'))}, max drawdown "
                      f"{fmt(stitched.metrics.get('max_drawdown'))}, {settings.objective.label} {fmt(value)}",
                      highlight=False)
    finish("walk-forward", prepared, settings.objective, rows,
           [diagnostics(f"fold {fr.fold.number} train", fr.study.records) for fr in result.folds], started,
           (stitched.equity_ts, stitched.equity) if stitched is not None else None)
