"""What the ``quantum-trader research`` commands share around their studies: options read, market, output, printing.

``research_cmd`` holds the Typer commands (sweep, optimize, walk-forward) and their options; what each of them
does before and after its study is here, apart so the command module reads as the commands: the --param space
and the objective parsed (one clear error line each), the synthetic demo market when no catalog is given, the
market read once and the study's folder made (``prepare``), the Ray runner opened, the progress bar, and the
results written and the best trials printed (``finish``). ``make_strategy`` builds a trial's strategy in the
worker (Ray pickles it by this module's name).
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from quantum_trader.cli.console import console
from quantum_trader.cli.errors import fail

if TYPE_CHECKING:
    from quantum_trader.config import Policy
    from quantum_trader.engine.strategy import Strategy
    from quantum_trader.research.objective import Objective
    from quantum_trader.research.optimize import OptimizeSettings, TrialRecord
    from quantum_trader.research.runner import Runner, Shared
    from quantum_trader.research.space import Space
    from quantum_trader.research.trial import StudySetup, Window


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


def parse_space(items: list[str], default: tuple[str, ...], strategy: str) -> Space:
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


def parse_objective(name: str, cap: float) -> Objective:
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


def prepare(c: Common, space: Space, kind: str) -> Prepared:
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
def study_runner(c: Common) -> Iterator[tuple[Runner, str]]:
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
def progress_bar(label: str, total: int) -> Iterator[Callable[[], None]]:
    """A bar that advances as each backtest finishes (transient: the summary printed after it stays clean)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                        console=Console(soft_wrap=True), transient=True)
    with progress:
        task = progress.add_task(label, total=total)
        yield lambda: progress.advance(task)


def finish(kind: str, prepared: Prepared, objective: Objective, rows: list[dict[str, Any]],
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
        table.add_row(*[fmt(row[col]) for col in columns])
    console.print(table)


def fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def optimize_settings(objective: Objective, trials: int, seed: int, sampler: str, pruner: str, steps: int | None,
                      batch: int, warmup_ms: int = 0) -> OptimizeSettings:
    from quantum_trader.research.optimize import OptimizeError, OptimizeSettings

    chosen = steps if steps is not None else (4 if pruner != "none" else 1)
    try:
        return OptimizeSettings(objective=objective, trials=trials, seed=seed, sampler=sampler, pruner=pruner,
                                steps=chosen, batch=batch, warmup_ms=warmup_ms)
    except OptimizeError as exc:
        raise fail(str(exc)) from None


def duration(option: str, value: str | None) -> int | None:
    from quantum_trader.domain.time import duration_ms

    if value is None:
        return None
    try:
        return duration_ms(value)
    except ValueError as exc:
        raise fail(f"{option} {value!r}: not a duration ({exc}); e.g. 90d, 12h, 2w") from None


def records_rows(records: list[TrialRecord], window: Window, fold: int | None = None) -> list[dict[str, Any]]:
    from quantum_trader.research.results import trial_rows

    return trial_rows(records, window, fold=fold)


def shared(runner: Runner, setup: StudySetup) -> Shared[StudySetup]:
    return runner.share(setup)


def grid_size(space: Space) -> int:
    from quantum_trader.research.space import SpaceError

    try:
        return len(space.grid())
    except SpaceError as exc:
        raise fail(str(exc)) from None
