"""A study's results as one table (one row per trial, and per walk-forward test fold) and its diagnostics.

The table is what a user loads afterwards (``pandas.read_parquet``, DuckDB): parameters in ``param.<name>``
columns (numbers where every value is one), the objective's value, the headline metrics, the window and
the state (complete, pruned, failed, with the error). The diagnostics say how much of the best trial is
selection luck (``research.overfitting``) for each set of trials that competed on the same window.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from quantum_trader.research.objective import Objective
from quantum_trader.research.optimize import TrialRecord
from quantum_trader.research.overfitting import (
    Deflated,
    Overfitting,
    deflated_sharpe,
    probability_of_overfitting,
    sharpe,
)
from quantum_trader.research.space import typed
from quantum_trader.research.trial import HEADLINE, TrialOutcome, Window

RESULTS_FILE = "results.parquet"
SUMMARY_FILE = "summary.html"


def _row(record: TrialRecord, window: Window, *, role: str, fold: int | None) -> dict[str, object]:
    outcome = record.outcome if record.outcome is not None else (record.parts[-1] if record.parts else None)
    metrics = outcome.metrics if outcome is not None and outcome.ok else {}
    row: dict[str, object] = {"role": role, "fold": fold, "trial": record.number, "state": record.state,
                              "value": record.value}
    row.update({f"param.{k}": v for k, v in record.params.items()})
    row.update({key: metrics.get(key) for key in HEADLINE})
    row.update({"window_start": window.start, "window_end": window.end, "steps_run": len(record.parts),
                "seconds": sum(p.seconds for p in record.parts), "error": record.error})
    return row


def trial_rows(records: Sequence[TrialRecord], window: Window, *, fold: int | None = None) -> list[dict[str, object]]:
    return [_row(r, window, role="train" if fold is not None else "trial", fold=fold) for r in records]


def test_row(fold: int, params: dict[str, str] | None, outcome: TrialOutcome | None, window: Window,
             objective: Objective, why: str) -> dict[str, object]:
    ok = outcome is not None and outcome.ok
    record = TrialRecord(-1, dict(params or {}), state="complete" if ok else "failed",
                         value=objective.value(outcome.metrics) if ok and outcome is not None else None,
                         outcome=outcome if ok else None, parts=[outcome] if outcome is not None else [],
                         error=None if ok else why)
    return _row(record, window, role="test", fold=fold)


def table(rows: list[dict[str, object]]) -> pd.DataFrame:
    """The rows as the table's columns: numbers stay numbers, times are UTC timestamps."""
    frame = pd.DataFrame(rows)
    for column in [c for c in frame.columns if str(c).startswith("param.")]:
        values = [typed(str(v)) if v is not None and v == v else None for v in frame[column]]
        numeric = all(isinstance(v, int | float) for v in values if v is not None)
        frame[column] = pd.Series(values, dtype="float64" if numeric else "string")
        if numeric and all(float(v).is_integer() for v in frame[column].dropna()):
            frame[column] = frame[column].astype("Int64")
    for column in ("window_start", "window_end"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    for column in ("value", *[k for k in HEADLINE if k not in ("trades", "kill_switch_trips")]):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ("fold", "trades", "kill_switch_trips"):
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    return frame


def write_table(frame: pd.DataFrame, folder: Path) -> Path:
    """``results.parquet`` in ``folder``, written whole or not at all (temporary file, then rename)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / RESULTS_FILE
    partial = folder / f".{RESULTS_FILE}.partial"
    frame.to_parquet(partial, index=False)
    os.replace(partial, path)
    return path


@dataclass(frozen=True)
class Diagnostics:
    """Overfitting measures of one set of trials that competed on the same window."""

    label: str
    trials: int
    deflated: Deflated | None
    overfitting: Overfitting | None


def returns_matrix(outcomes: Sequence[TrialOutcome]) -> np.ndarray:
    """(days x trials) daily returns on the union of the trials' days (a day a trial has no return: 0)."""
    days = np.unique(np.concatenate([o.returns_ts for o in outcomes])) if outcomes else np.zeros(0, dtype=np.int64)
    out = np.zeros((days.size, len(outcomes)))
    for j, outcome in enumerate(outcomes):
        out[np.searchsorted(days, outcome.returns_ts), j] = outcome.returns
    return out


def diagnostics(label: str, records: Sequence[TrialRecord]) -> Diagnostics:
    """DSR of the best complete trial among all complete trials, and the PBO of their returns (CSCV)."""
    complete = [r for r in records if r.state == "complete" and r.outcome is not None and r.value is not None]
    if not complete:
        return Diagnostics(label, 0, None, None)
    matrix = returns_matrix([r.outcome for r in complete if r.outcome is not None])
    best = max(range(len(complete)), key=lambda j: (complete[j].value or -np.inf, -complete[j].number))
    sharpes = np.array([sharpe(matrix[:, j]) for j in range(matrix.shape[1])])
    deflated = deflated_sharpe(matrix[:, best], sharpes) if matrix.shape[0] > 2 else None
    return Diagnostics(label, len(complete), deflated, probability_of_overfitting(matrix))
