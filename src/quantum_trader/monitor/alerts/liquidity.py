"""The trailing median of book depth the liquidity-drop rule compares each snapshot with.

Two computations of one figure: ``trailing_medians`` over a finished run's snapshots at once (pandas'
time-based rolling median), and ``TrailingMedian`` a snapshot at a time in a session. Both take the median
of the snapshots strictly before the current one within the window, and none until ``min_samples`` are
there (a book seen for ten minutes has no "usual" depth yet).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt
import pandas as pd

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
MIN_SAMPLES = 12
"""Snapshots a median needs before the rule may compare with it."""


def trailing_medians(ts: I64, depth: F64, window_ms: int, min_samples: int = MIN_SAMPLES) -> F64:
    """Per snapshot: the median depth of the snapshots in ``[ts - window_ms, ts)`` (NaN with too few)."""
    if ts.size == 0:
        return np.zeros(0)
    series = pd.Series(np.asarray(depth, dtype=np.float64), index=pd.to_datetime(np.asarray(ts), unit="ms"))
    rolled = series.rolling(pd.Timedelta(milliseconds=window_ms), closed="left", min_periods=min_samples).median()
    return np.asarray(rolled.to_numpy(dtype=np.float64), dtype=np.float64)


class TrailingMedian:
    """A session's version of ``trailing_medians``: ``push`` returns the median before adding the snapshot."""

    def __init__(self, window_ms: int, min_samples: int = MIN_SAMPLES) -> None:
        self.window_ms = window_ms
        self.min_samples = min_samples
        self._rows: deque[tuple[int, float]] = deque()

    def push(self, ts: int, depth: float) -> float | None:
        while self._rows and self._rows[0][0] < ts - self.window_ms:
            self._rows.popleft()
        finite = [d for _, d in self._rows if np.isfinite(d)]
        median = float(np.median(finite)) if len(finite) >= self.min_samples else None
        self._rows.append((ts, depth))
        return median
