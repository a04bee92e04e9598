"""Portfolio limit breaches in a run, counted as breaches: one per episode or per entry, never per row.

An equity row is a sample, not an event: a drawdown past the limit that lasts a week spans
hundreds of rows and is still one breach. So a condition read from the equity curve counts
its stretches (``episode_starts``), a breach event counts once, and an entry above a limit
counts once per entry. Entries are measured best at the fill: a run that did so
(``limits_at_fill`` in metrics.json, per limit the entry fills that ended above it) gives
exact counts. Older runs fall back to the first equity row after each entry, marked a bar
later, with ``ENTRY_TOLERANCE`` for that bar's move.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from quantum_trader.analytics.gates_evidence import LIMIT_BREACH_KINDS, Evidence, events_of
from quantum_trader.config.policy import Policy
from quantum_trader.domain.market import I64
from quantum_trader.engine.fill_limits import RULES

ENTRY_TOLERANCE = 0.02
"""Exposure limits bind at entry (DESIGN.md), sized at the decision's price; the equity row
of an entry is marked at the close of the fill bar, after the fill's slippage and one
bar's move. Two percent of the limit (0.25 -> 0.255) covers that; a rule that let a
limit through shows far above it (a group-measure gap once showed as 35%). Drift after
entry is the drift monitor's business (alerts, optional trims), not a breach. Used only
for runs that did not measure their entries at the fill."""


def episode_starts(mask: npt.NDArray[np.bool_]) -> I64:
    """Rows where a stretch of True begins: one breach per stretch, however many rows it lasts."""
    flags = np.asarray(mask, dtype=bool)
    before = np.concatenate(([False], flags[:-1]))
    return np.flatnonzero(flags & ~before).astype(np.int64)


@dataclass
class Breaches:
    """Breaches by kind (what, how many) and the earliest dated one."""

    kinds: list[tuple[str, int]] = field(default_factory=list)
    first: tuple[int, str] | None = None
    measured: str = ""
    """How entries were judged, said on a pass too (e.g. '12 entry fills measured at the fill')."""

    @property
    def total(self) -> int:
        return sum(n for _, n in self.kinds)

    def add(self, line: str, condition: str, ts: list[int], figures: list[str]) -> None:
        """``line`` reads after the count ('stretches of drawdown <= -20%'); ``condition`` names the first."""
        if not ts:
            return
        self.kinds.append((line, len(ts)))
        at = int(np.argmin(ts))
        if self.first is None or ts[at] < self.first[0]:
            self.first = (int(ts[at]), f"{condition} ({figures[at]})")

    def detail(self, when: Callable[[int], str]) -> str:
        parts = [f"{n} {what}" for what, n in self.kinds]
        if self.first is not None:
            parts.append(f"first dated at {when(self.first[0])}: {self.first[1]}")
        if self.measured:
            parts.append(self.measured)
        return "; ".join(parts) if parts else "none"


def fills_over(metrics: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """metrics.json's ``limits_at_fill`` when it states ``fills_over`` for every limit, else None."""
    summary = None if metrics is None else metrics.get("limits_at_fill")
    if not isinstance(summary, Mapping):
        return None
    for rule in RULES:
        entry = summary.get(rule)
        if not isinstance(entry, Mapping) or not isinstance(entry.get("fills_over"), int):
            return None
    return summary


def _fill_breaches(found: Breaches, summary: Mapping[str, Any]) -> None:
    for rule in RULES:
        entry = summary[rule]
        n = int(entry["fills_over"])
        if n > 0:
            worst, limit = entry.get("worst"), entry.get("limit")
            figure = f" (limit {limit:.2%}, worst {worst:.2%})" if isinstance(worst, float | int) and isinstance(
                limit, float | int) else ""
            found.kinds.append((f"entry fill{'s' if n > 1 else ''} above {rule}{figure}", n))
    found.measured = f"{summary.get('entries', '?')} entry fills measured at the fill"


def _equity_breaches(found: Breaches, eq: pd.DataFrame, trades: pd.DataFrame | None, policy: Policy,
                     *, entries_measured: bool) -> None:
    pf = policy.portfolio
    tol = 1.0 + ENTRY_TOLERANCE
    ts = eq["ts"].to_numpy(np.int64)
    at_entry: npt.NDArray[np.bool_] | None = None
    if trades is not None:  # the first equity row at or after each entry: the book as the entry left it
        rows = np.searchsorted(ts, trades["entry_ts"].to_numpy(np.int64))
        at_entry = np.zeros(len(eq), dtype=bool)
        at_entry[rows[rows < len(eq)]] = True
    checks: list[tuple[str, Callable[[Any], Any], str, bool]] = [
        ("open_positions", lambda v: v > pf.max_positions, f"open positions > {pf.max_positions}", False),
        ("drawdown", lambda v: v <= -pf.max_drawdown_portfolio, f"drawdown <= -{pf.max_drawdown_portfolio:.0%}",
         False),
    ]
    if not entries_measured:
        checks += [
            ("total_exposure", lambda v: v > pf.max_total_exposure * tol,
             f"total exposure > {pf.max_total_exposure:.0%} at an entry", True),
            ("correlated_exposure", lambda v: v > pf.max_correlated_exposure * tol,
             f"correlated exposure > {pf.max_correlated_exposure:.0%} at an entry", True),
        ]
    for column, test, text, entries_only in checks:
        values = eq[column].to_numpy()
        over = np.asarray(test(values), dtype=bool)
        if entries_only and at_entry is not None:  # one breach per entry above the limit
            hits = np.flatnonzero(over & at_entry)
            line = f"{'entries' if hits.size > 1 else 'entry'} with {text}"
        else:  # any other condition: one per stretch of rows, however long
            hits = episode_starts(over)
            line = f"{'stretches' if hits.size > 1 else 'stretch'} of {text}"
        found.add(line, text, [int(ts[i]) for i in hits], [f"{values[i]:.4g}" for i in hits])


def find_breaches(ev: Evidence, policy: Policy) -> Breaches:
    found = Breaches()
    summary = fills_over(ev.metrics)
    if summary is not None:
        _fill_breaches(found, summary)
    if ev.equity is not None:
        _equity_breaches(found, ev.equity, ev.trades, policy, entries_measured=summary is not None)
    if ev.events is not None:
        hits = events_of(ev.events, LIMIT_BREACH_KINDS)
        for kind in sorted(set(hits["kind"])):
            own = hits[hits["kind"] == kind]
            found.add(f"{kind} event{'s' if len(own) > 1 else ''}", kind, own["ts"].astype(int).tolist(),
                      own["message"].astype(str).tolist())
    return found
