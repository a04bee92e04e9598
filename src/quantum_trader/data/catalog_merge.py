"""Merging new rows into a stored dataset, and the refusals that keep the result one true series.

Three things used to go wrong silently here: a row already stored was overwritten by a
different value (a truncated CSV cell, a 100x fat finger, a file filed under the wrong
symbol); a file of another instrument "replaced" a whole dataset; and rows off the
dataset's time grid (a file shifted by 30 minutes) made a "1h" series with 30-minute
steps. Each is now a ``WriteRefusedError`` that names the dataset, the rows (by time; ingest
adds the file's row numbers) and what to do, and nothing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from quantum_trader.data.catalog_errors import CatalogError
from quantum_trader.data.catalog_schema import Columns, equal_rows, merge_columns
from quantum_trader.domain.market import DataKind
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE, format_time, timeframe_ms

ConflictRule = Literal["replace", "refuse"]
RowOf = Callable[[int], int | None]
"""Maps a row's ``ts`` to its line in the source file, when the writer knows it."""

SAMPLE = 3
_UNTIMED_MARGIN_MS = {DataKind.FUNDING: 8 * MS_PER_HOUR, DataKind.BOOK: MS_PER_MINUTE}

__all__ = ["SAMPLE", "ConflictRule", "Merged", "RowOf", "WriteRefusedError", "check_instrument", "check_new_rows",
           "merge", "same_width"]


class WriteRefusedError(CatalogError):
    """A write refused for what it would do to a stored dataset; nothing was written.

    ``render(row_of)`` repeats the message with each sample row's line in the source file.
    """

    def __init__(self, label: str, summary: str, samples: list[tuple[int, str]], more: int, advice: str) -> None:
        self.label = label
        self.summary = summary
        self.samples = samples
        self.more = more
        self.advice = advice
        super().__init__(self.render())

    def render(self, row_of: RowOf | None = None) -> str:
        shown = []
        for ts, text in self.samples:
            row = row_of(ts) if row_of is not None else None
            where = f"row {row} ({format_time(ts)})" if row is not None else format_time(ts)
            shown.append(f"{where}: {text}" if text else where)
        more = f"; (+{self.more} more)" if self.more > 0 else ""
        rows = f": {'; '.join(shown)}{more}" if shown else ""
        return f"{self.summary}; nothing was written ({self.advice}){rows}"


@dataclass(frozen=True, slots=True)
class Merged:
    """The merged columns and what the merge did; ``replaced_old`` keeps the values it overwrote."""

    columns: Columns
    added: int
    replaced: int
    unchanged: int
    replaced_old: Columns | None


def same_width(old: Columns, new: Columns) -> tuple[Columns, Columns]:
    """Book datasets may gain depth: pad the narrower side with empty levels (NaN price, 0 size)."""
    if set(old) == set(new):
        return old, new
    names = list(dict.fromkeys([*old, *new]))

    def pad(cols: Columns) -> Columns:
        n = cols["ts"].size
        fill = {name: (np.zeros(n) if "_sz_" in name else np.full(n, np.nan)) for name in names if name not in cols}
        return {name: cols[name] if name in cols else fill[name] for name in names}

    return pad(old), pad(new)


def _shared(old_ts: npt.NDArray[np.int64], new_ts: npt.NDArray[np.int64]
            ) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Indices (in old, in new) of the timestamps both hold; both inputs sorted and unique."""
    if old_ts.size == 0 or new_ts.size == 0:
        empty = np.empty(0, dtype=np.intp)
        return empty, empty
    pos = np.searchsorted(old_ts, new_ts)
    clipped = np.minimum(pos, old_ts.size - 1)
    hit = (pos < old_ts.size) & (old_ts[clipped] == new_ts)
    return clipped[hit], np.flatnonzero(hit)


def _fmt(value: float) -> str:
    return "NaN" if np.isnan(value) else f"{value:.10g}"


def _differences(old: Columns, oi: int, new: Columns, ni: int, limit: int = 3) -> str:
    diffs = []
    for name, values in new.items():
        if name == "ts":
            continue
        a, b = float(old[name][oi]), float(values[ni])
        if not (a == b or (np.isnan(a) and np.isnan(b))):
            diffs.append(f"{name} stored {_fmt(a)}, new {_fmt(b)}")
    more = f" (+{len(diffs) - limit} more fields)" if len(diffs) > limit else ""
    return ", ".join(diffs[:limit]) + more


def merge(old: Columns, new: Columns, *, label: str, conflicts: ConflictRule) -> Merged:
    """Merge two sorted, duplicate-free column sets.

    A shared ``ts`` with equal values is unchanged; with different values it is a conflict:
    refused (``WriteRefusedError`` with the count, the share of the dataset and the first rows
    side by side) unless ``conflicts='replace'``, when the new value wins and the old one is
    returned in ``replaced_old``.
    """
    old, new = same_width(old, new)
    old_idx, new_idx = _shared(old["ts"], new["ts"])
    same = equal_rows(old, old_idx, new, new_idx)
    bad_old, bad_new = old_idx[~same], new_idx[~same]
    stored = int(old["ts"].size)
    if bad_old.size and conflicts == "refuse":
        share = bad_old.size / max(stored, 1)
        samples = [(int(new["ts"][ni]), _differences(old, int(oi), new, int(ni)))
                   for oi, ni in zip(bad_old[:SAMPLE], bad_new[:SAMPLE], strict=True)]
        raise WriteRefusedError(
            label,
            f"{bad_old.size} row(s) already stored with different values, {share:.2%} of {label} "
            f"({stored:,} rows)",
            samples, int(bad_old.size) - len(samples),
            "--replace / conflicts='replace' accepts them and keeps the old values aside",
        )
    keep_old = np.ones(stored, dtype=bool)
    keep_old[old_idx] = False
    replaced_old = {name: values[bad_old] for name, values in old.items()} if bad_old.size else None
    return Merged(
        columns=merge_columns(old, keep_old, new),
        added=int(new["ts"].size - new_idx.size),
        replaced=int(bad_old.size),
        unchanged=int(same.sum()),
        replaced_old=replaced_old,
    )


def _price(kind: DataKind, cols: Columns) -> npt.NDArray[np.float64] | None:
    if kind in (DataKind.CANDLES, DataKind.MARK):
        return cols["close"].astype(np.float64, copy=False)
    if kind is DataKind.BOOK and "bid_px_0" in cols and "ask_px_0" in cols:
        mid: npt.NDArray[np.float64] = (cols["bid_px_0"] + cols["ask_px_0"]) / 2.0
        return mid
    return None


def check_instrument(kind: DataKind, old: Columns, new: Columns, *, label: str, tolerance: float) -> None:
    """Refuse new prices whose median ratio to the stored ones over their overlap is off by more than ``tolerance``.

    The median ignores the odd bad bar (that is a conflict, shown row by row); a whole file of
    another asset moves it far from 1 (ETH under BTC: ~0.05x), a spot file against perpetual
    data only by the basis (well under 1%).
    """
    old_px, new_px = _price(kind, old), _price(kind, new)
    if old_px is None or new_px is None:
        return
    old_idx, new_idx = _shared(old["ts"], new["ts"])
    a, b = old_px[old_idx], new_px[new_idx]
    with np.errstate(divide="ignore", invalid="ignore"):
        ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0)
    if not ok.any():
        return
    ratio = float(np.median(b[ok] / a[ok]))
    if abs(ratio - 1.0) <= tolerance:
        return
    field = "close" if kind in (DataKind.CANDLES, DataKind.MARK) else "mid price"
    picks = np.flatnonzero(ok)[:SAMPLE]
    samples = [(int(new["ts"][new_idx[i]]), f"{field} stored {_fmt(float(a[i]))}, new {_fmt(float(b[i]))}")
               for i in picks]
    raise WriteRefusedError(
        label,
        f"looks like another instrument: over {int(ok.sum()):,} overlapping rows the new {field} is a median "
        f"{ratio:.4g}x the stored {label} (tolerance {tolerance:.0%})",
        samples, 0,
        "check --symbol and --exchange: another market belongs under its own symbol",
    )


def _grid_phase(timeframe: str, old_ts: npt.NDArray[np.int64], new_ts: npt.NDArray[np.int64]) -> tuple[int, int]:
    """(bar length, the offset every bar must have); sub-day bars open on the UTC grid, longer ones
    keep the stored (or the first new) bar's offset, since daily sessions may start at any hour."""
    step = timeframe_ms(timeframe)
    if step < MS_PER_DAY:
        return step, 0
    ref = old_ts[0] if old_ts.size else new_ts[0]
    return step, int(ref % step)


def check_new_rows(kind: DataKind, timeframe: str | None, old_ts: npt.NDArray[np.int64],
                   new_ts: npt.NDArray[np.int64], *, label: str, now_ms: int) -> None:
    """The merged result must still be a series: new rows on the dataset's time grid, none in the future."""
    if new_ts.size == 0:
        return
    if timeframe is not None:
        step, phase = _grid_phase(timeframe, old_ts, new_ts)
        off = np.flatnonzero(new_ts % step != phase)
        if off.size:
            sub_day = step < MS_PER_DAY
            opens = f"at multiples of {timeframe} UTC" if sub_day else f"at {format_time(phase)[11:]} UTC"
            raise WriteRefusedError(
                label,
                f"{off.size} row(s) off the {timeframe} grid of {label} (its bars open {opens})",
                [(int(new_ts[i]), "") for i in off[:SAMPLE]], int(off.size) - min(off.size, SAMPLE),
                "a shifted file would make a series with the wrong step; check the file's time column",
            )
        margin = step
    else:
        margin = _UNTIMED_MARGIN_MS.get(kind, MS_PER_MINUTE)
    late = np.flatnonzero(new_ts > now_ms + margin)
    if late.size:
        bar = f"one {timeframe} bar" if timeframe is not None else f"{margin // MS_PER_MINUTE} min"
        raise WriteRefusedError(
            label,
            f"{late.size} row(s) dated after now + {bar} (now {format_time(now_ms)} UTC)",
            [(int(new_ts[i]), "") for i in late[:SAMPLE]], int(late.size) - min(late.size, SAMPLE),
            "a timestamp in the future is a broken time column",
        )
