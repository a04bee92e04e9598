"""``quantum-trader research sweep|optimize|walk-forward``: many backtests of one strategy, on Ray.

Each trial is a full backtest (the kernel, the simulated venue, the whole policy) of one parameter set;
the trials run as Ray tasks on a local Ray by default (``--workers``), on a cluster with
``--ray-address``, or in this process with ``--serial``. Without a catalog (no ``--catalog``, no
``$QT_CATALOG``) the study runs on the synthetic demo market, generated once into the output folder,
so a new user can try it at once. Results: ``<out>/<study>/results.parquet`` (one row per trial and per
walk-forward test fold) and ``summary.html``.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

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
from quantum_trader.cli.strategy_loader import STRATEGY_HELP

if TYPE_CHECKING:
    from quantum_trader.config import Policy
    from quantum_trader.engine.strategy import Strategy
    from quantum_trader.research.objective import Objective
    from quantum_trader.research.optimize import OptimizeSettings, TrialRecord
    from quantum_trader.research.runner import Runner, Shared
    from quantum_trader.research.space import Space
    from quantum_trader.research.trial import StudySetup, Window

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


@dataclass(frozen=True)
class Common:
    """The options every research command shares."""

    symbols: str
    strategy: str
    param: list[str]
    policy: str
    set_: list[str]
    catalog: Path | None
    exchange: str | None
    start: str | None
    end: str | None
    timeframe: str | None
    phase: int | None
    journal: str | None
    equity: float
    no_slippage: bool
    entry: str | None
    objective: str
    drawdown_cap: float
    out: Path
    workers: int | None
    ray_address: str | None
    serial: bool
    days: int
    seed: int


def make_strategy(spec: str, params: Mapping[str, str]) -> Strategy:
    """The strategy of ``--strategy`` with one trial's parameters, built in the worker (a refusal: ValueError)."""
    from quantum_trader.cli.strategy_loader import load_strategy, parse_strategy

    return load_strategy(parse_strategy(spec, [f"{k}={v}" for k, v in params.items()]))


def _space(items: list[str], default: tuple[str, ...], strategy: str) -> Space:
    from quantum_trader.research.space import Space, SpaceError

    if not items and strategy != "multi-asset":
        raise fail(f"--param: give the parameters of {strategy} to vary, e.g. --param fast=5,10,20 "
                   "--param slow=40,80,160")
    if not items:
        console.print(f"no --param: varying {' and '.join(default)}", highlight=False)
    try:
        return Space.parse(items or list(default))
    except SpaceError as exc:
        raise fail(str(exc)) from None


def _objective(name: str, cap: float) -> Objective:
    from quantum_trader.research.objective import Objective, ObjectiveError

    try:
        return Objective(name, cap)
    except ObjectiveError as exc:
        raise fail(str(exc)) from None


def _sample(space: Space) -> list[str]:
    """One value of each strategy parameter, so the options are checked before any data is read."""
    out = []
    for d in space.dimensions:
        if not d.is_policy:
            value = d.choices[0] if d.choices else (str(int(d.low)) if d.integer else repr(d.low))
            out.append(f"{d.name}={value}")
    return out


def _synthetic_catalog(out: Path, days: int, seed: int) -> Path:
    """The demo's synthetic market in ``out``, generated once per length and seed (written whole, then renamed)."""
    import shutil

    from quantum_trader.cli.synth_cmd import generate_into, print_summary
    from quantum_trader.data.synthetic import SynthConfig

    root = out / f"synthetic-{days}d-seed{seed}"
    if (root / ".complete").is_file():
        console.print(f"market: the synthetic market in {root} (no --catalog)", highlight=False)
        return root
    partial = out / f".synthetic-{days}d-seed{seed}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    console.print(f"market: generating the synthetic demo market ({days} days, seed {seed}) into {root} "
                  "(no --catalog; give one or set $QT_CATALOG for real data)", highlight=False)
    print_summary(generate_into(SynthConfig(days=days, seed=seed), partial))
    (partial / ".complete").write_text("synthetic market written whole\n", encoding="utf-8")
    shutil.rmtree(root, ignore_errors=True)
    partial.rename(root)
    return root


def _policy_for(c: Common, timeframe: str, strategy: Strategy) -> Callable[[Mapping[str, str]], Policy | None]:
    """Builds a trial's policy from its policy settings (the study's file and --set first), fitted to the bars
    as the backtest fits it; a value the policy refuses is a ValueError naming the --param."""
    from quantum_trader.cli.bar_timeframes import env_key, explicit_keys, fitted_for, with_entry
    from quantum_trader.config import PolicyError, load_policy

    file = None if c.policy in ("plain", "default") else Path(c.policy)
    base = {env_key(k.strip()): v.strip() for k, _, v in (s.partition("=") for s in c.set_)}

    def build(values: Mapping[str, str]) -> Policy | None:
        if not values:
            return None
        overrides = {env_key(k): v for k, v in values.items()}
        try:
            pol = load_policy(file, env={**os.environ, **base, **overrides})
        except PolicyError as exc:
            message = str(exc)
            for key, value in values.items():
                message = message.replace(f"{env_key(key)}:", f"--param {key}={value}:")
            raise ValueError(message) from None
        return fitted_for(strategy, with_entry(pol, c.entry), timeframe,
                          explicit_keys(file, [*c.set_, *(f"{k}={v}" for k, v in values.items())]))[0]

    return build


@dataclass(frozen=True)
class Prepared:
    setup: StudySetup
    window: Window
    policy_for: Callable[[Mapping[str, str]], Policy | None]
    facts: dict[str, str]
    folder: Path


def _prepare(c: Common, space: Space, kind: str) -> Prepared:
    """Options checked, the market read once, the study's setup and output folder."""
    from quantum_trader.cli.backtest_cmd import run_request
    from quantum_trader.cli.options import output_dir
    from quantum_trader.data.catalog import Catalog, CatalogError
    from quantum_trader.research.market import read_inputs
    from quantum_trader.research.report import window_text
    from quantum_trader.research.trial import StudySetup, Window

    output_dir("--out", c.out)
    catalog, exchange = c.catalog, c.exchange
    phase = c.phase
    if catalog is None and not os.environ.get("QT_CATALOG"):
        catalog, exchange = _synthetic_catalog(c.out, c.days, c.seed), exchange or "synthetic"
        if phase is None:
            from quantum_trader.cli.demo_cmd import DEMO_PHASE

            phase = DEMO_PHASE
            console.print(f"phase {phase} on the synthetic market, as the demo runs it (--phase N for another)",
                          highlight=False)
    request = run_request(symbols=c.symbols, strategy=c.strategy, param=_sample(space), policy=c.policy, set_=c.set_,
                          catalog=catalog, exchange=exchange, start=c.start, end=c.end, timeframe=c.timeframe,
                          phase=phase, journal=c.journal, equity=c.equity, runs=c.out, no_slippage=c.no_slippage,
                          entry=c.entry, command=f"research {kind}")
    settings = request.settings
    assert settings is not None
    try:
        inputs = read_inputs(Catalog(request.catalog), request.symbols, timeframe=request.timeframe,
                             exchange=request.exchange, start_ms=request.start_ms, end_ms=request.end_ms)
    except CatalogError as exc:
        raise fail(f"research {kind} failed: {exc}") from None
    setup = StudySetup(market=inputs, policy=request.policy, settings=settings,
                       make_strategy=functools.partial(make_strategy, c.strategy),
                       plain=settings.policy.fixed_fraction)
    window = Window(inputs.start_ms, inputs.end_ms)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    name = c.strategy.rpartition(":")[2].replace("/", "_") or "strategy"
    folder = c.out / f"{kind}-{name}-{stamp}"
    suffix = 1
    while folder.exists():
        suffix += 1
        folder = c.out / f"{kind}-{name}-{stamp}-{suffix}"
    facts = {"Strategy": c.strategy, "Policy": request.policy_name, "Symbols": ", ".join(inputs.bars),
             "Bars": inputs.timeframe, "Data": window_text(window.start, window.end),
             "Parameters": "; ".join(f"{d.name}={d.describe()}" for d in space.dimensions)}
    return Prepared(setup, window, _policy_for(c, request.timeframe, request.strategy), facts, folder)


@contextmanager
def _runner(c: Common) -> Iterator[tuple[Runner, str]]:
    from quantum_trader.research.runner import open_runner

    backend = "serial" if c.serial else "ray"
    if c.serial and c.ray_address:
        raise fail("--serial and --ray-address: choose one")
    try:
        with open_runner(backend, num_cpus=c.workers, address=c.ray_address) as runner:
            where = ("this process (--serial)" if c.serial else
                     f"Ray cluster {c.ray_address}" if c.ray_address else "local Ray")
            yield runner, f"{where}, {runner.workers} worker{'s' if runner.workers != 1 else ''}"
    except ConnectionError as exc:
        raise fail(f"--ray-address {c.ray_address}: cannot connect ({exc})") from None


@contextmanager
def _progress(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A bar that advances as each backtest finishes (transient: the summary printed after it stays clean)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(soft_wrap=True), transient=True)
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def _finish(kind: str, prepared: Prepared, objective: Objective, rows: list[dict[str, Any]],
            diagnostics: list[Any], started: float, equity: tuple[Any, Any] | None = None) -> None:
    """Write the table and the summary, print the best trials and where the files are; every trial failed: exit 2."""
    from quantum_trader.research.report import StudyPage, render
    from quantum_trader.research.results import table, write_table

    frame = table(rows)
    path = write_table(frame, prepared.folder)
    facts = {**prepared.facts, "Objective": objective.label, "Wall time": f"{time.perf_counter() - started:.1f} s"}
    page = StudyPage(kind, facts, objective.label, frame, diagnostics,
                     *(equity if equity is not None else ()))
    summary = render(page, prepared.folder)
    _print_best(frame, objective.label)
    for d in diagnostics:
        dsr = "-" if d.deflated is None else f"{d.deflated.dsr:.3f}"
        pbo = "-" if d.overfitting is None else f"{d.overfitting.pbo:.2f}"
        console.print(f"{d.label}: {d.trials} complete trials, deflated Sharpe ratio {dsr}, PBO {pbo}",
                      highlight=False)
    console.print(f"results: {path}\nsummary: {summary}", highlight=False)
    trials = frame[frame["role"] != "test"]
    if not (trials["state"] == "complete").any():
        first = trials["error"].dropna()
        raise fail(f"research {kind}: no trial completed; the first failure: "
                   f"{first.iloc[0] if len(first) else 'unknown'} (see {path})")


def _print_best(frame: Any, label: str) -> None:
    from rich.table import Table

    trials = frame[(frame["role"] != "test") & (frame["state"] == "complete")]
    best = trials.sort_values("value", ascending=False, kind="stable").head(5)
    table = Table(title=f"Best trials by {label}")
    params = [c for c in frame.columns if str(c).startswith("param.")]
    columns = (["fold"] if frame["fold"].notna().any() else []) + ["trial", *params, "value", "total_return",
                                                                    "sharpe", "max_drawdown", "trades"]
    for column in columns:
        table.add_column(column.removeprefix("param.").rpartition(".")[2], justify="right")
    for _, row in best.iterrows():
        table.add_row(*[_fmt(row[col]) for col in columns])
    console.print(table)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _common(**kwargs: Any) -> Common:
    return Common(**kwargs)


def _optimize_settings(objective: Objective, trials: int, seed: int, sampler: str, pruner: str, steps: int | None,
                       batch: int, warmup_ms: int = 0) -> OptimizeSettings:
    from quantum_trader.research.optimize import OptimizeError, OptimizeSettings

    chosen = steps if steps is not None else (4 if pruner != "none" else 1)
    try:
        return OptimizeSettings(objective=objective, trials=trials, seed=seed, sampler=sampler, pruner=pruner,
                                steps=chosen, batch=batch, warmup_ms=warmup_ms)
    except OptimizeError as exc:
        raise fail(str(exc)) from None


def _duration(option: str, value: str | None) -> int | None:
    from quantum_trader.domain.time import duration_ms

    if value is None:
        return None
    try:
        return duration_ms(value)
    except ValueError as exc:
        raise fail(f"{option} {value!r}: not a duration ({exc}); e.g. 90d, 12h, 2w") from None


def _records_rows(records: list[TrialRecord], window: Window, fold: int | None = None) -> list[dict[str, Any]]:
    from quantum_trader.research.results import trial_rows

    return trial_rows(records, window, fold=fold)


def _shared(runner: Runner, setup: StudySetup) -> Shared[StudySetup]:
    return runner.share(setup)


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
    space = _space(param, DEFAULT_PARAMS, strategy)
    goal = _objective(objective, drawdown_cap)
    grid = _grid_size(space)
    prepared = _prepare(c, space, "sweep")
    started = time.perf_counter()
    with _runner(c) as (runner, where):
        console.print(f"sweep: {grid} backtests on {where}", highlight=False)
        with _progress("backtests", grid) as tick:
            records = sweep(space, goal, prepared.window, runner, _shared(runner, prepared.setup),
                            prepared.policy_for, tick)
    prepared.facts["Ran on"] = where
    _finish("sweep", prepared, goal, _records_rows(records, prepared.window), [diagnostics("sweep", records)], started)


def _grid_size(space: Space) -> int:
    from quantum_trader.research.space import SpaceError

    try:
        return len(space.grid())
    except SpaceError as exc:
        raise fail(str(exc)) from None


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
    space = _space(param, DEFAULT_RANGES, strategy)
    settings = _optimize_settings(_objective(objective, drawdown_cap), trials, seed, sampler, pruner, steps, batch)
    prepared = _prepare(c, space, "optimize")
    started = time.perf_counter()
    with _runner(c) as (runner, where):
        console.print(f"optimize: {trials} trials ({settings.sampler}, pruner {settings.pruner}, "
                      f"{settings.steps} step{'s' if settings.steps > 1 else ''}, batches of {batch}) on {where}",
                      highlight=False)
        with _progress("backtests", trials * settings.steps) as tick:
            loop = optimize(space, settings, prepared.window, runner, _shared(runner, prepared.setup),
                            prepared.policy_for, prepared.window.start, tick)
    prepared.facts.update({"Ran on": where, "Sampler": f"{settings.sampler} (seed {seed})",
                           "Pruner": f"{settings.pruner}, {settings.steps} steps"})
    _finish("optimize", prepared, settings.objective, _records_rows(loop.records, prepared.window),
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
    train_ms, test_ms, warmup_ms = _duration("--train", train), _duration("--test", test), _duration("--warmup", warmup)
    space = _space(param, DEFAULT_RANGES, strategy)
    settings = _optimize_settings(_objective(objective, drawdown_cap), trials, seed, sampler, pruner, steps, batch,
                                  warmup_ms or 0)
    prepared = _prepare(c, space, "walk-forward")
    window = prepared.window
    try:
        plan = splits(window.start, window.end, folds, train_ms=train_ms, test_ms=test_ms, anchored=anchored,
                      warmup_ms=warmup_ms or 0)
    except WalkForwardError as exc:
        raise fail(str(exc)) from None
    started = time.perf_counter()
    with _runner(c) as (runner, where):
        console.print(f"walk-forward: {folds} folds ({'anchored' if anchored else 'rolling'}), {trials} trials each "
                      f"on {where}", highlight=False)
        with _progress("backtests", folds * (trials * settings.steps + 1)) as tick:
            result = walk_forward(space, settings, plan, runner, _shared(runner, prepared.setup),
                                  prepared.policy_for, window.start, tick)
    rows: list[dict[str, Any]] = []
    for fr in result.folds:
        rows.extend(_records_rows(fr.study.records, fr.fold.train, fold=fr.fold.number))
        rows.append(test_row(fr.fold.number, fr.best_params, fr.test, fr.fold.test, settings.objective, fr.why))
    prepared.facts.update({"Ran on": where, "Folds": f"{folds} ({'anchored' if anchored else 'rolling'})",
                           "Sampler": f"{settings.sampler} (seed {seed})"})
    stitched = result.stitched
    if stitched is not None:
        value = settings.objective.value(stitched.metrics)
        console.print(f"out of sample, stitched: total return {_fmt(stitched.metrics.get('total_return'))}, "
                      f"Sharpe {_fmt(stitched.metrics.get('sharpe'))}, max drawdown "
                      f"{_fmt(stitched.metrics.get('max_drawdown'))}, {settings.objective.label} {_fmt(value)}",
                      highlight=False)
    _finish("walk-forward", prepared, settings.objective, rows,
            [diagnostics(f"fold {fr.fold.number} train", fr.study.records) for fr in result.folds], started,
            (stitched.equity_ts, stitched.equity) if stitched is not None else None)
