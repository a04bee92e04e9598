"""The medians of book depth the liquidity-drop rule compares: the depth now against its usual depth.

"Now" is the median of the snapshots of the last ``liquidity_short_window`` (1h) including the latest: one
thin snapshot in a flickering book is not a liquidity drop, and an alert for each would be a flood (a
fortnight of synthetic books raised hundreds). "Usual" is the median of the snapshots of the
``liquidity_median_window`` (7 days) strictly before the latest, none until ``min_samples`` are there (a book
seen for ten minutes has no usual depth yet). Two computations of each figure: ``trailing_medians`` over a
finished run's snapshots at once (pandas' time-based rolling median), ``TrailingMedian`` a snapshot at a time
in a session.
"""

from __future__ import annotations

import math
from bisect import bisect_left, insort
from collections import deque

import numpy as np
import numpy.typing as npt
import pandas as pd

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
MIN_SAMPLES = 12
"""Snapshots a median needs before the rule may compare with it."""


CHUNK_ROWS = 65_536
"""Snapshots ``trailing_medians`` rolls at once (half a year of 5m books): a run's whole history is rolled a
chunk at a time, each with the window before it, so its transient memory follows the chunk, not the years."""


def trailing_medians(ts: I64, depth: F64, window_ms: int, min_samples: int = MIN_SAMPLES, *,
                     current: bool = False, chunk_rows: int = CHUNK_ROWS) -> F64:
    """Per snapshot: the median depth of the snapshots in ``[ts - window_ms, ts)`` (NaN with too few); with
    ``current``, of those in ``(ts - window_ms, ts]``. ``ts`` ascending.

    Rolled ``chunk_rows`` snapshots at a time, each chunk read from the first snapshot its first row's window
    can hold: a median is one of its window's values or the mean of two, so every figure is the one of the
    whole history rolled at once, bit for bit (tested)."""
    out = np.empty(ts.size, dtype=np.float64)
    for lo in range(0, ts.size, max(1, chunk_rows)):
        hi = min(ts.size, lo + max(1, chunk_rows))
        start = int(np.searchsorted(ts, int(ts[lo]) - window_ms, side="left"))
        out[lo:hi] = _rolled(ts[start:hi], depth[start:hi], window_ms, min_samples, current)[lo - start:]
    return out


def _rolled(ts: I64, depth: F64, window_ms: int, min_samples: int, current: bool) -> F64:
    """``trailing_medians`` of these snapshots at once (pandas' time-based rolling median)."""
    series = pd.Series(np.asarray(depth, dtype=np.float64), index=pd.to_datetime(np.asarray(ts), unit="ms"))
    window = pd.Timedelta(milliseconds=window_ms)
    rolling = (series.rolling(window, closed="right", min_periods=min_samples) if current
               else series.rolling(window, closed="left", min_periods=min_samples))
    rolled = rolling.median()
    return np.asarray(rolled.to_numpy(dtype=np.float64), dtype=np.float64)


class TrailingMedian:
    """A session's version of ``trailing_medians``: ``push`` returns the median as of the snapshot.

    The window's finite values are kept sorted (``bisect``): a week of minute snapshots is ten thousand values,
    and sorting them again at every snapshot made a paper replay of twelve days take minutes."""

    def __init__(self, window_ms: int, min_samples: int = MIN_SAMPLES, *, current: bool = False) -> None:
        self.window_ms = window_ms
        self.min_samples = min_samples
        self.current = current
        self._rows: deque[tuple[int, float]] = deque()
        self._sorted: list[float] = []

    def _add(self, ts: int, value: float) -> None:
        self._rows.append((ts, value))
        if math.isfinite(value):
            insort(self._sorted, value)

    def push(self, ts: int, depth: float) -> float | None:
        if self.current:
            self._add(ts, depth)
        oldest = ts - self.window_ms + (1 if self.current else 0)
        while self._rows and self._rows[0][0] < oldest:
            _, value = self._rows.popleft()
            if math.isfinite(value):
                del self._sorted[bisect_left(self._sorted, value)]
        values = self._sorted
        n = len(values)
        median = None
        if n >= self.min_samples and n:
            median = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2.0
        if not self.current:
            self._add(ts, depth)
        return median
