"""A parameter sweep: every combination of the grid, each a full backtest over the same window."""

from __future__ import annotations

from collections.abc import Callable

from quantum_trader.research.objective import Objective
from quantum_trader.research.optimize import PolicyFor, TrialRecord, strategy_params
from quantum_trader.research.runner import Runner, Shared
from quantum_trader.research.space import Space
from quantum_trader.research.trial import StudySetup, TrialTask, Window, run_trial


def sweep(space: Space, objective: Objective, window: Window, runner: Runner, shared: Shared[StudySetup],
          policy_for: PolicyFor, on_task: Callable[[], None] | None = None) -> list[TrialRecord]:
    """One record per combination, in grid order (the first parameter varying slowest); a combination the
    strategy or the policy refuses is a failed record with the reason, the others still run."""
    records = [TrialRecord(number, values) for number, values in enumerate(space.grid())]
    runnable = []
    for record in records:
        try:
            record.policy = policy_for(space.split(record.params)[1])
        except ValueError as exc:
            record.state, record.error = "failed", str(exc)
            continue
        runnable.append(record)
    tasks = [TrialTask(strategy_params(space, r.params), window, r.policy) for r in runnable]
    outcomes = runner.map_shared(run_trial, shared, tasks,
                                 (lambda _d, _t: on_task()) if on_task is not None else None)
    for record, outcome in zip(runnable, outcomes, strict=True):
        record.parts.append(outcome)
        if not outcome.ok:
            record.state, record.error = "failed", outcome.error
            continue
        record.outcome = outcome
        record.value = objective.value(outcome.metrics)
        if record.value is None:
            record.state, record.error = "failed", objective.undefined(outcome.metrics)
        else:
            record.state = "complete"
    return records
