"""Optimisation with Optuna: its seeded samplers choose the parameters, its pruners stop poor trials early.

Optuna decides in the driver; the backtests run wherever the runner puts them. The study asks for a
batch of trials (TPE with the constant liar, so trials asked together spread out), the batch runs as
independent tasks, and the results are told back in trial order. The batch size is a setting of the
study, never the number of workers, so a seed gives the same trials, values and best parameters on one
process or on a cluster.

Pruning needs something to stop early: with ``steps`` > 1 the window is cut into that many consecutive
parts, a trial runs them one round at a time, reports the objective of its parts so far (joined, as one
account) after each, and the pruner may stop it there. With one step a trial is one backtest of the whole
window and no pruner applies.

``StudyLoop`` is a study one round at a time (``propose`` the round's tasks, ``record`` their outcomes), so
a walk-forward runs its folds' studies side by side in the same rounds.
"""

from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from quantum_trader.config import Policy
from quantum_trader.research.objective import Objective, chain
from quantum_trader.research.runner import Runner, Shared
from quantum_trader.research.space import Space
from quantum_trader.research.trial import StudySetup, TrialOutcome, TrialTask, Window, run_trial

SAMPLERS = ("tpe", "random", "qmc")
PRUNERS = ("none", "median", "hyperband", "successive-halving")

PolicyFor = Callable[[Mapping[str, str]], Policy | None]
"""The policy of a trial's policy settings (None: the study's own, when it varies none); a ``ValueError``
names a setting the policy refuses."""


class OptimizeError(ValueError):
    """A study setting that cannot be honoured; the message is the one line to show."""


@dataclass(frozen=True)
class OptimizeSettings:
    objective: Objective = field(default_factory=Objective)
    trials: int = 50
    seed: int = 0
    sampler: str = "tpe"
    pruner: str = "none"
    steps: int = 1
    batch: int = 4
    """Trials asked and run together (fixed by the study, not by the workers: the same seed, the same study)."""
    warmup_ms: int = 0
    """Bars before each window the strategy sees without acting (within the data)."""

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise OptimizeError(f"--trials {self.trials}: at least 1")
        if self.sampler not in SAMPLERS:
            raise OptimizeError(f"--sampler {self.sampler!r}: choose one of {', '.join(SAMPLERS)}")
        if self.pruner not in PRUNERS:
            raise OptimizeError(f"--pruner {self.pruner!r}: choose one of {', '.join(PRUNERS)}")
        if self.steps < 1:
            raise OptimizeError(f"--steps {self.steps}: at least 1")
        if self.pruner != "none" and self.steps < 2:
            raise OptimizeError(f"--pruner {self.pruner} needs --steps 2 or more (a trial is stopped between the "
                                "steps of its window; with one step there is nothing to stop)")
        if self.batch < 1:
            raise OptimizeError(f"--batch {self.batch}: at least 1")


def _sampler(settings: OptimizeSettings) -> Any:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        if settings.sampler == "random":
            return optuna.samplers.RandomSampler(seed=settings.seed)
        if settings.sampler == "qmc":
            return optuna.samplers.QMCSampler(seed=settings.seed, scramble=True, warn_independent_sampling=False)
        return optuna.samplers.TPESampler(seed=settings.seed, constant_liar=True)


def _pruner(settings: OptimizeSettings) -> Any:
    import optuna

    if settings.pruner == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=max(2, settings.batch), n_warmup_steps=0)
    if settings.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=settings.steps)
    if settings.pruner == "successive-halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1)
    return optuna.pruners.NopPruner()


def step_windows(window: Window, steps: int, warmup_ms: int = 0, data_start: int | None = None) -> list[Window]:
    """``window`` cut into ``steps`` consecutive parts, each with its warm-up (not before ``data_start``)."""
    edges = [window.start + (window.end - window.start) * i // steps for i in range(steps + 1)]
    floor = window.start if data_start is None else data_start
    return [Window(lo, hi, max(floor, lo - warmup_ms) if warmup_ms else None)
            for lo, hi in itertools.pairwise(edges)]


@dataclass
class TrialRecord:
    """One trial of a study as the table shows it."""

    number: int
    params: dict[str, str]
    state: str = "running"
    """complete, pruned or failed."""
    value: float | None = None
    outcome: TrialOutcome | None = None
    """The trial's run (its steps joined)."""
    parts: list[TrialOutcome] = field(default_factory=list)
    error: str | None = None
    policy: Policy | None = None
    handle: Any = None


class StudyLoop:
    """One Optuna study over one window, advanced a round at a time."""

    def __init__(self, space: Space, settings: OptimizeSettings, window: Window, policy_for: PolicyFor,
                 data_start: int | None = None) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.space, self.settings, self.window, self.policy_for = space, settings, window, policy_for
        self.parts = step_windows(window, settings.steps, settings.warmup_ms, data_start)
        self.study = optuna.create_study(direction="maximize", sampler=_sampler(settings), pruner=_pruner(settings))
        self.records: list[TrialRecord] = []
        self._running: list[TrialRecord] = []

    @property
    def done(self) -> bool:
        return not self._running and len(self.records) >= self.settings.trials

    def propose(self) -> list[TrialTask]:
        """This round's tasks: the next part of each running trial, else a new batch of trials."""
        if not self._running:
            self._ask()
        keep = self.settings.steps > 1
        return [TrialTask(strategy_params(self.space, r.params), self.parts[len(r.parts)], r.policy, keep_equity=keep)
                for r in self._running]

    def _ask(self) -> None:
        from optuna.trial import TrialState

        while not self._running and len(self.records) < self.settings.trials:
            for _ in range(min(self.settings.batch, self.settings.trials - len(self.records))):
                handle = self.study.ask()
                record = TrialRecord(len(self.records), self.space.suggest(handle), handle=handle)
                self.records.append(record)
                try:
                    record.policy = self.policy_for(self.space.split(record.params)[1])
                except ValueError as exc:  # a policy setting refused: the trial fails before it runs
                    record.state, record.error = "failed", str(exc)
                    self.study.tell(handle, state=TrialState.FAIL)
                    continue
                self._running.append(record)

    def record(self, outcomes: Sequence[TrialOutcome]) -> None:
        """The outcomes of the tasks ``propose`` gave, in the same order."""
        from optuna.trial import TrialState

        objective, last = self.settings.objective, self.settings.steps
        for record, outcome in zip(self._running, outcomes, strict=True):
            record.parts.append(outcome)
            if not outcome.ok:
                record.state, record.error = "failed", outcome.error
                self.study.tell(record.handle, state=TrialState.FAIL)
                continue
            record.outcome = chain(record.parts)
            value = objective.value(record.outcome.metrics)
            if value is None:
                record.state, record.error = "failed", objective.undefined(record.outcome.metrics)
                self.study.tell(record.handle, state=TrialState.FAIL)
                continue
            record.value = value
            if len(record.parts) == last:
                record.state = "complete"
                self.study.tell(record.handle, value)
                continue
            record.handle.report(value if math.isfinite(value) else -1e300, len(record.parts) - 1)
            if record.handle.should_prune():
                record.state = "pruned"
                self.study.tell(record.handle, state=TrialState.PRUNED)
        self._running = [r for r in self._running if r.state == "running"]
        for record in self.records:
            record.handle = None if record.state != "running" else record.handle

    def best(self) -> TrialRecord | None:
        """The complete trial of the highest value (the first of equals)."""
        complete = [r for r in self.records if r.state == "complete" and r.value is not None]
        return max(complete, key=lambda r: (r.value, -r.number)) if complete else None


def strategy_params(space: Space, values: Mapping[str, str]) -> dict[str, str]:
    return space.split(values)[0]


def run_rounds(loops: Sequence[StudyLoop], runner: Runner, shared: Shared[StudySetup],
               on_task: Callable[[], None] | None = None) -> None:
    """Advance every study until each is done, all their tasks of a round in one map."""
    while not all(loop.done for loop in loops):
        proposed = [(loop, loop.propose()) for loop in loops if not loop.done]
        tasks = [task for _, batch in proposed for task in batch]
        if not tasks:
            continue
        outcomes = runner.map_shared(run_trial, shared, tasks,
                                     (lambda _done, _total: on_task()) if on_task is not None else None)
        at = 0
        for loop, batch in proposed:
            loop.record(outcomes[at:at + len(batch)])
            at += len(batch)


def optimize(space: Space, settings: OptimizeSettings, window: Window, runner: Runner, shared: Shared[StudySetup],
             policy_for: PolicyFor, data_start: int | None = None,
             on_task: Callable[[], None] | None = None) -> StudyLoop:
    """One study run to its end."""
    loop = StudyLoop(space, settings, window, policy_for, data_start)
    run_rounds([loop], runner, shared, on_task)
    return loop
