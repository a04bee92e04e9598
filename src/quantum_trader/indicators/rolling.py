"""Rolling window sums and exponential smoothing, each in a batch and an incremental form.

Every rolling statistic we ship (means, variances, covariances, correlations, betas) is a
formula over a few window sums, so the sums are the one place where batch and live can
disagree. Both forms here are built to stay within ~1e-12 of the exact window sum
however long the series runs:

* batch (:func:`rolling_sum`) cuts the series into blocks of the window length; a window
  is the suffix of one block plus the prefix of the next, so each value is a sum of at
  most ``2 * window`` terms and rounding never accumulates over the history (a plain
  ``cumsum`` difference loses digits as the running total grows);
* incremental (:class:`RollingSums`, :class:`ScalarRollingSums`) keeps a ring buffer
  and adds the new value and subtracts the leaving one with Neumaier-compensated
  summation, so the live sum does not drift after millions of updates and is never
  recomputed from scratch.

Exponential smoothing (:func:`ewm` / :class:`Ewm`) is the recursion
``y[t] = a * x[t] + (1 - a) * y[t-1]`` seeded with ``y[0] = x[0]``; the batch form runs
the same recursion through ``scipy.signal.lfilter``.

Values are NaN until a window is full: a statistic over fewer bars than asked is a
different statistic, and the risk engine must not read a warm-up number as a signal.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

F64 = npt.NDArray[np.float64]


def _check_window(window: int) -> None:
    if int(window) != window or window < 1:
        raise ValueError(f"rolling window must be a whole number of bars >= 1, got {window!r}")


def rolling_sum(x: npt.ArrayLike, window: int) -> F64:
    """Sum of the last ``window`` values along axis 0; NaN until the window is full.

    Works on 1-d series and on 2-d (time x channels) arrays alike.
    """
    _check_window(window)
    arr = np.asarray(x, dtype=np.float64)
    n = arr.shape[0]
    out = np.full(arr.shape, np.nan)
    if n < window:
        return out
    n_blocks = -(-n // window)
    pad = n_blocks * window - n
    padded = np.concatenate([arr, np.zeros((pad, *arr.shape[1:]))]) if pad else arr
    blocks = padded.reshape((n_blocks, window, *arr.shape[1:]))
    prefix = np.cumsum(blocks, axis=1)
    suffix = np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1]
    j = np.arange(window - 1, n)
    b, k = j // window, j % window
    res = prefix[b, k]
    spill = k + 1 < window
    res[spill] += suffix[b[spill] - 1, k[spill] + 1]
    out[window - 1 :] = res
    return out


class RollingSums:
    """Incremental window sums of a vector of channels (NumPy), for the correlation matrix.

    ``update`` is O(width): one ring-buffer write and two compensated additions.
    """

    __slots__ = ("_buf", "_comp", "_count", "_pos", "_sum", "width", "window")

    def __init__(self, window: int, width: int) -> None:
        _check_window(window)
        self.window = int(window)
        self.width = int(width)
        self._buf = np.zeros((self.window, self.width))
        self._sum = np.zeros(self.width)
        self._comp = np.zeros(self.width)
        self._pos = 0
        self._count = 0

    def _add(self, x: F64) -> None:
        # Knuth's branch-free TwoSum: the exact rounding error of s + x goes to the compensation
        s = self._sum
        t = s + x
        z = t - s
        self._comp += (s - (t - z)) + (x - z)
        self._sum = t

    def update(self, x: F64) -> F64 | None:
        """Push one row; returns the window sums once the window is full, else None."""
        if self._count >= self.window:
            self._add(-self._buf[self._pos])
        self._buf[self._pos] = x
        self._add(x)
        self._pos = (self._pos + 1) % self.window
        self._count += 1
        return self._sum + self._comp if self._count >= self.window else None

    @property
    def full(self) -> bool:
        return self._count >= self.window


def _neumaier(s: float, c: float, x: float) -> tuple[float, float]:
    t = s + x
    c += (s - t) + x if abs(s) >= abs(x) else (x - t) + s
    return t, c


class ScalarRollingSums:
    """Incremental window sums of a few scalar channels in plain Python floats.

    For per-asset indicators with two or three channels, Python floats beat NumPy's
    per-call overhead by an order of magnitude, which is what keeps a live bar cheap.
    """

    __slots__ = ("_buf", "_comp", "_count", "_pos", "_sum", "width", "window")

    def __init__(self, window: int, width: int) -> None:
        _check_window(window)
        self.window = int(window)
        self.width = int(width)
        self._buf: list[tuple[float, ...]] = [(0.0,) * self.width] * self.window
        self._sum = [0.0] * self.width
        self._comp = [0.0] * self.width
        self._pos = 0
        self._count = 0

    def update(self, x: Sequence[float]) -> list[float] | None:
        """Push one row of ``width`` floats; returns the window sums once full, else None."""
        s, c = self._sum, self._comp
        if self._count >= self.window:
            old = self._buf[self._pos]
            for i in range(self.width):
                s[i], c[i] = _neumaier(s[i], c[i], -old[i])
        row = tuple(x)
        self._buf[self._pos] = row
        for i in range(self.width):
            s[i], c[i] = _neumaier(s[i], c[i], row[i])
        self._pos = (self._pos + 1) % self.window
        self._count += 1
        if self._count < self.window:
            return None
        return [s[i] + c[i] for i in range(self.width)]


def mean_std_from_sums(s0: float, s1: npt.ArrayLike, s2: npt.ArrayLike) -> tuple[F64, F64]:
    """Mean and sample standard deviation (ddof=1) from count, sum and sum of squares.

    The variance is clipped at 0: rounding can make a constant window a hair negative.
    """
    s1a = np.asarray(s1, dtype=np.float64)
    mean = s1a / s0
    var = (np.asarray(s2, dtype=np.float64) - s1a * mean) / (s0 - 1.0)
    return mean, np.sqrt(np.maximum(var, 0.0))


def ewm_alpha(span: float) -> float:
    """The pandas/TA convention ``alpha = 2 / (span + 1)``."""
    if span < 1:
        raise ValueError(f"EWM span must be >= 1 bar, got {span}")
    return 2.0 / (span + 1.0)


def ewm(x: npt.ArrayLike, alpha: float) -> F64:
    """Batch exponential smoothing, seeded with the first value (see module docstring)."""
    if not 0.0 < alpha <= 1.0:
        raise ValueError(f"EWM alpha must be in (0, 1], got {alpha}")
    arr = np.asarray(x, dtype=np.float64)
    if arr.size == 0:
        return arr.copy()
    y, _ = lfilter([alpha], [1.0, alpha - 1.0], arr, zi=np.array([(1.0 - alpha) * arr[0]]))
    return np.asarray(y, dtype=np.float64)


class Ewm:
    """Incremental form of :func:`ewm`: same recursion, same seed."""

    __slots__ = ("_beta", "alpha", "value")

    def __init__(self, alpha: float) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"EWM alpha must be in (0, 1], got {alpha}")
        self.alpha = alpha
        self._beta = 1.0 - alpha
        self.value = float("nan")

    def update(self, x: float) -> float:
        v = self.value
        self.value = x if v != v else self.alpha * x + self._beta * v
        return self.value
