"""Walk-forward analysis: optimise on a train window, trade the best parameters on the test window after it.

The history is cut into ``folds`` test windows that follow each other up to the end of the data, each
preceded by its train window: of a fixed length that rolls forward with the folds (``rolling``), or
from the first bar (``anchored``). A test window never overlaps its own train window and the test
windows never overlap each other, so the stitched test equity is out of sample bar by bar: what the
procedure would have earned had it been followed, re-optimising at each fold. The parameters chosen
per fold (the parameter path) show whether the optimum is stable or wanders.

The folds' studies run side by side (``optimize.run_rounds``): a round holds a batch of every fold's
trials, so the workers stay busy even when one fold's batch is smaller than the cluster.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from quantum_trader.domain.time import format_time
from quantum_trader.research.objective import chain
from quantum_trader.research.optimize import OptimizeSettings, PolicyFor, StudyLoop, run_rounds, strategy_params
from quantum_trader.research.runner import Runner, Shared
from quantum_trader.research.space import Space
from quantum_trader.research.trial import StudySetup, TrialOutcome, TrialTask, Window, run_trial

TRAIN_TO_TEST = 3
"""Without lengths given, a train window is this many test windows long."""


class WalkForwardError(ValueError):
    """Folds that do not fit the data; the message is the one line to show."""


@dataclass(frozen=True)
class Fold:
    number: int
    train: Window
    test: Window


def splits(start: int, end: int, folds: int, *, train_ms: int | None = None, test_ms: int | None = None,
           anchored: bool = False, warmup_ms: int = 0) -> list[Fold]:
    """The folds over ``start <= ts < end``: test windows back to back up to ``end``, each after its train
    window (rolling: ``train_ms`` long; anchored: from ``start``). Without lengths, a train window is three
    test windows long and the folds fill the data."""
    if folds < 1:
        raise WalkForwardError(f"--folds {folds}: at least 1")
    span = end - start
    if test_ms is None and train_ms is None:
        test_ms = span // (folds + TRAIN_TO_TEST)
        train_ms = TRAIN_TO_TEST * test_ms
    elif test_ms is None:
        test_ms = (span - (train_ms or 0)) // folds
    elif train_ms is None:
        train_ms = span - folds * test_ms
    assert train_ms is not None and test_ms is not None
    if test_ms <= 0 or train_ms <= 0:
        raise WalkForwardError(f"--folds {folds}: the data ({format_time(start)} .. {format_time(end)}) leaves no "
                               "room for a train and a test window; give fewer folds or shorter windows")
    need = train_ms + folds * test_ms
    if need > span:
        raise WalkForwardError(
            f"--train and --test: {folds} folds need {need / 86_400_000:.1f} days (train + {folds} x test) but the "
            f"data spans {span / 86_400_000:.1f} days ({format_time(start)} .. {format_time(end)})")
    out = []
    first_test = end - folds * test_ms
    for k in range(folds):
        test_start = first_test + k * test_ms
        train_start = start if anchored else test_start - train_ms
        warm = max(start, test_start - warmup_ms) if warmup_ms else None
        out.append(Fold(k, Window(train_start, test_start), Window(test_start, test_start + test_ms, warm)))
    return out


@dataclass
class FoldResult:
    fold: Fold
    study: StudyLoop
    best_params: dict[str, str] | None
    test: TrialOutcome | None
    """The test window's run with the fold's best parameters (None when no train trial completed)."""
    why: str = ""


@dataclass
class WalkForward:
    folds: list[FoldResult]
    stitched: TrialOutcome | None
    """The test windows' runs joined as one account (None when a fold could not be tested)."""


def walk_forward(space: Space, settings: OptimizeSettings, folds: list[Fold], runner: Runner,
                 shared: Shared[StudySetup], policy_for: PolicyFor, data_start: int,
                 on_task: Callable[[], None] | None = None) -> WalkForward:
    """Optimise every fold on its train window, then run each fold's best parameters on its test window."""
    loops = [StudyLoop(space, settings, fold.train, policy_for, data_start) for fold in folds]
    run_rounds(loops, runner, shared, on_task)
    results = []
    tasks: list[TrialTask] = []
    for fold, loop in zip(folds, loops, strict=True):
        best = loop.best()
        if best is None:
            results.append(FoldResult(fold, loop, None, None, "no train trial completed"))
            continue
        results.append(FoldResult(fold, loop, dict(best.params), None))
        tasks.append(TrialTask(strategy_params(space, best.params), fold.test, best.policy, keep_equity=True))
    outcomes = iter(runner.map_shared(run_trial, shared, tasks,
                                      (lambda _d, _t: on_task()) if on_task is not None else None))
    for result in results:
        if result.best_params is not None:
            result.test = next(outcomes)
            if not result.test.ok:
                result.why = f"test run failed: {result.test.error}"
    tested = [r.test for r in results if r.test is not None and r.test.ok]
    stitched = chain(tested) if tested and len(tested) == len(results) else None
    return WalkForward(results, stitched)
