"""The numbers behind the report's charts and tables, kept apart from HTML so each can be tested alone.

Everything here is a pure function of run-folder frames: policy limits to draw, an index
selection that shrinks a year of 1m bars to a few thousand points without hiding the worst
drawdown, monthly returns, totals per asset and per signal, and refusal counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import pandas as pd
import yaml

from quantum_trader.analytics.run_folder import POLICY_FILE, RunFolder
from quantum_trader.config import load_policy

MAX_PLOT_POINTS: Final = 5_000
REFUSAL_KINDS: Final = ("refused", "reduced")


class ReportError(ValueError):
    """A run folder that cannot be rendered; the message names the file and key."""


@dataclass(frozen=True, slots=True)
class ReportLimits:
    """The policy lines drawn on the charts, and where they came from."""

    max_total_exposure: float
    exposure_alert: float
    max_correlated_exposure: float
    total_slots: int
    high_correlation: float
    source: str


_LIMIT_KEYS: Final = {
    "max_total_exposure": ("portfolio", "max_total_exposure"),
    "exposure_alert": ("drift", "exposure_alert"),
    "max_correlated_exposure": ("portfolio", "max_correlated_exposure"),
    "total_slots": ("position_slots", "total_slots"),
    "high_correlation": ("correlation", "high_correlation_threshold"),
}


def _defaults() -> dict[str, float]:
    policy = load_policy(env={})  # the shipped defaults, never this shell's QT__ overrides
    return {
        "max_total_exposure": policy.portfolio.max_total_exposure,
        "exposure_alert": policy.drift.exposure_alert,
        "max_correlated_exposure": policy.portfolio.max_correlated_exposure,
        "total_slots": float(policy.position_slots.total_slots),
        "high_correlation": policy.correlation.high_correlation_threshold,
    }


def _lookup(data: Any, path: tuple[str, str]) -> Any:
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def read_limits(run: RunFolder) -> ReportLimits:
    """Limits from the run's own policy.yaml, each missing key falling back to the shipped default.

    The run's file wins because the report must show the limits that run was held to, not
    today's defaults; a value that is present but not a number is an error, not a fallback.
    """
    values = _defaults()
    if not run.has(POLICY_FILE):
        return ReportLimits(**_as_limits(values), source="defaults (policy.yaml not in the run folder)")
    file = run.file(POLICY_FILE)
    try:
        data = yaml.safe_load(run.policy_text())
    except yaml.YAMLError as exc:
        raise ReportError(f"{file}: not valid YAML: {exc}") from None
    used_file = False
    for name, path in _LIMIT_KEYS.items():
        raw = _lookup(data, path)
        if raw is None:
            continue
        if isinstance(raw, bool) or not isinstance(raw, int | float) or raw <= 0:
            raise ReportError(f"{file}: {'.'.join(path)} must be a positive number, got {raw!r}")
        values[name] = float(raw)
        used_file = True
    source = "policy.yaml" if used_file else "defaults (policy.yaml states none of the limits)"
    return ReportLimits(**_as_limits(values), source=source)


def _as_limits(values: dict[str, float]) -> dict[str, Any]:
    return {**values, "total_slots": round(values["total_slots"])}


def downsample_indices(series: Sequence[np.ndarray[Any, Any]], max_points: int = MAX_PLOT_POINTS) -> np.ndarray:
    """Row indices to plot: per bucket, the rows holding each series' minimum and maximum.

    Plain decimation would step over a one-minute crash; keeping every bucket's extremes
    (the M4 idea) means the deepest drawdown and the highest exposure always survive.
    The first and last rows are kept so the curve spans the whole run.
    """
    n = len(series[0]) if series else 0
    if n <= max_points:
        return np.arange(n)
    buckets = max(1, (max_points - 2) // (2 * len(series)))
    bucket = (np.arange(n, dtype=np.int64) * buckets) // n
    starts = np.searchsorted(bucket, np.arange(buckets))
    ends = np.append(starts[1:], n) - 1
    keep = [np.array([0, n - 1])]
    for values in series:
        order = np.lexsort((np.asarray(values, dtype=np.float64), bucket))
        keep.append(order[starts])  # smallest value of each bucket (lexsort sorts within bucket)
        keep.append(order[ends])  # largest
    return np.unique(np.concatenate(keep))


def monthly_returns(ts: np.ndarray[Any, Any], equity: np.ndarray[Any, Any]) -> pd.DataFrame:
    """Year x month table of returns from UTC month-end equity, plus a compounded ``Year`` column.

    The first month is measured from the run's starting equity, so a run starting mid-month
    shows that partial month rather than dropping it.
    """
    columns = [*range(1, 13), "Year"]
    if len(ts) == 0:
        return pd.DataFrame(columns=columns, dtype=float)
    index = pd.to_datetime(np.asarray(ts, dtype=np.int64), unit="ms", utc=True)
    closes = pd.Series(np.asarray(equity, dtype=np.float64), index=index).resample("ME").last().dropna()
    previous = closes.shift(1)
    previous.iloc[0] = float(equity[0])
    returns = closes / previous - 1.0
    months = pd.DatetimeIndex(returns.index)
    table = pd.DataFrame({"year": months.year, "month": months.month, "r": returns.to_numpy()})
    grid = table.pivot(index="year", columns="month", values="r").reindex(columns=range(1, 13))
    grid["Year"] = table.groupby("year")["r"].apply(lambda r: float(np.prod(1.0 + r) - 1.0))
    grid.columns = columns
    return grid


UNKNOWN_SIGNAL: Final = "(not recorded)"
"""How the report names the signal of a trade from a run that did not record it."""


def _totals(key: str, trades: pd.DataFrame, keys: Sequence[str]) -> pd.DataFrame:
    """Per ``key`` value (in ``keys`` order): trade count, win rate, net P&L, fees and funding paid,
    average P&L per trade and average entry slippage (the mean of those recorded)."""
    rows = []
    for value in keys:
        own = trades[trades[key] == value]
        pnl = own["pnl"].to_numpy(dtype=float)
        slippage = own["entry_slippage"].to_numpy(dtype=float)
        slippage = slippage[np.isfinite(slippage)]
        rows.append({
            key: value,
            "trades": int(pnl.size),
            "win_rate": float((pnl > 0).mean()) if pnl.size else float("nan"),
            "pnl": float(pnl.sum()),
            "fees": float(own["fees"].sum()),
            "funding_paid": float(own["funding_paid"].sum()),
            "avg_pnl": float(pnl.mean()) if pnl.size else float("nan"),
            "avg_entry_slippage": float(slippage.mean()) if slippage.size else float("nan"),
        })
    columns = [key, "trades", "win_rate", "pnl", "fees", "funding_paid", "avg_pnl", "avg_entry_slippage"]
    return pd.DataFrame(rows, columns=columns)


def per_asset(trades: pd.DataFrame, symbols: Sequence[str] = ()) -> pd.DataFrame:
    """Per-symbol totals (``_totals``); run symbols without trades show zeros."""
    return _totals("symbol", trades, list(dict.fromkeys([*symbols, *trades["symbol"].tolist()])))


def per_signal(trades: pd.DataFrame) -> pd.DataFrame:
    """Per opening signal, totals (``_totals``), largest net P&L first; unrecorded signals under one name."""
    named = trades.assign(signal=trades["signal"].where(trades["signal"] != "", UNKNOWN_SIGNAL))
    table = _totals("signal", named, sorted(set(named["signal"])))
    return table.sort_values("pnl", ascending=False, kind="stable").reset_index(drop=True)


def refusal_counts(events: pd.DataFrame) -> pd.DataFrame:
    """Rule x kind (refused / reduced) counts, rules ordered by total, most frequent first."""
    rows = events[events["kind"].isin(REFUSAL_KINDS)]
    if rows.empty:
        return pd.DataFrame(columns=list(REFUSAL_KINDS), dtype=int)
    rule = rows["rule"].where(rows["rule"] != "", "(no rule)")
    counts = pd.crosstab(rule, rows["kind"]).reindex(columns=list(REFUSAL_KINDS), fill_value=0)
    counts = counts.loc[counts.sum(axis=1).sort_values(ascending=False, kind="stable").index]
    counts.index.name = "rule"
    return counts.astype(int)
