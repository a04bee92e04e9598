"""A scenario result as one flat row: what the terminal table, the Parquet file and the HTML report all show.

One place decides the columns and how a figure reads ("+1 min (daily)", "23.6% (gap 23.5%)"),
so the three views of a stress run cannot disagree.
"""

from __future__ import annotations

import math
from typing import Any

from quantum_trader.analytics.stress.measures import Figures
from quantum_trader.analytics.stress.runner import ScenarioResult
from quantum_trader.domain.time import MS_PER_MINUTE, format_time

COLUMNS = ("scenario", "worst loss", "max drawdown", "kill-switch trip", "exit slippage", "bound", "result")


def trip_text(figures: Figures, start_ms: int) -> str:
    trip = figures.trip
    if trip is None:
        return "-"
    minutes = (trip.ts - start_ms) / MS_PER_MINUTE
    when = f"+{minutes:.0f} min" if minutes < 120 else f"+{minutes / 60:.1f} h"
    return f"{when} ({trip.kind}, at {trip.figure:.2%})"


def slippage_text(figures: Figures) -> str:
    worst = figures.worst_exit
    if worst is None or worst.total <= 0:
        return "-"
    parts = [f"{worst.total:.2%}"]
    if worst.gap > 0.0005:
        parts.append(f"gap {worst.gap:.1%}")
    return f"{parts[0]} ({', '.join(parts[1:])})" if len(parts) > 1 else parts[0]


def bound_text(result: ScenarioResult) -> str:
    return "; ".join(f"{v.bound.label}: {v.figure:.2%}" for v in result.verdicts)


def display_row(result: ScenarioResult) -> dict[str, str]:
    """The row as printed (terminal and HTML)."""
    f = result.figures
    return {
        "scenario": result.name, "worst loss": f"{f.worst_loss:.2%}", "max drawdown": f"{f.window_drawdown:.2%}",
        "kill-switch trip": trip_text(f, result.window.start_ms), "exit slippage": slippage_text(f),
        "bound": bound_text(result), "result": "pass" if result.passed else "BROKEN",
    }


def _nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def data_row(result: ScenarioResult) -> dict[str, Any]:
    """The row as stored (scenarios.parquet): figures as fractions, times as epoch ms."""
    f = result.figures
    worst = f.worst_exit
    trade = f.worst_trade
    own = result.verdicts[0]
    return {
        "scenario": result.name, "in_policy": result.family.in_policy, "description": result.description,
        "placement": result.placement.note, "start_ts": result.window.start_ms, "end_ts": result.window.end_ms,
        "until_ts": result.window.until_ms, "start": format_time(result.window.start_ms),
        "exposure_at_start": f.exposure_at_start, "net_at_start": f.net_at_start,
        "worst_loss": f.worst_loss, "window_drawdown": f.window_drawdown, "run_max_drawdown": f.max_drawdown,
        "worst_day_loss": f.worst_day_loss,
        "trip_ts": -1 if f.trip is None else f.trip.ts, "trip_kind": "" if f.trip is None else f.trip.kind,
        "trip_figure": _nan(None if f.trip is None else f.trip.figure),
        "exit_slippage": f.worst_exit_slippage, "exit_gap": _nan(None if worst is None else worst.gap),
        "exit_book": _nan(None if worst is None else worst.book),
        "worst_trade_loss": _nan(None if trade is None else trade.loss),
        "correlated_exposure": f.correlated_exposure, "gross_exposure": f.gross_exposure,
        "bound": own.bound.label, "bound_limit": own.bound.limit, "bound_figure": own.figure,
        "bound_source": own.bound.source, "bounds": bound_text(result),
        "unstressed_worst_loss": result.unstressed.worst_loss,
        "unstressed_day_loss": result.unstressed.worst_day_loss,
        "passed": result.passed, "why": " | ".join(result.why),
    }
