"""The rolling cross-asset correlation picture: matrix, BTC correlation, spike and breakdown.

Inputs are closes of ``n`` assets sampled on one clock (``correlation.returns_timeframe``,
5m by default); correlations are of log returns. The matrix over ``correlation.window``
(24h = 288 five-minute returns) and each asset's correlation to BTC over
``correlation.btc_correlation_window`` (90d, used by screening) are both formulas over
window sums of ``x`` and of ``x x^T``:

* live (:class:`CorrelationMonitorState`): a ring buffer of returns and compensated running
  sums, O(n^2) per bar, never recomputed from scratch (see
  :mod:`quantum_trader.indicators.rolling` for how drift is prevented);
* batch (:meth:`CorrelationMonitor.batch`): block window sums over the whole history.

Events (edge-triggered: raised on the bar a condition starts, not on every bar it holds):

* ``correlation_spike``: the average pairwise correlation is at or above
  ``correlation.spike_threshold``, or has risen by ``correlation.spike_jump`` or more
  since one window earlier;
* ``correlation_breakdown``: an asset's 24h correlation to BTC falls below
  ``signals.cross_asset.correlation_breakdown.normal_correlation - breakdown_margin``.

A missing bar of one asset must be forward-filled by the caller (a zero return): the
sums assume every asset contributes to every row, which keeps the matrix a true
correlation matrix.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from quantum_trader.config.policy import Policy
from quantum_trader.domain.time import duration_ms, timeframe_ms
from quantum_trader.indicators.rolling import RollingSums, rolling_sum

F64 = npt.NDArray[np.float64]
SPIKE = "correlation_spike"
BREAKDOWN = "correlation_breakdown"


def corr_from_sums(s1: F64, sxx: F64, window: int) -> F64:
    """Correlation matrix (or stack of them) from window sums; NaN where a variance is 0."""
    cov = sxx - s1[..., :, None] * s1[..., None, :] / window
    var = np.diagonal(cov, axis1=-2, axis2=-1)
    inv = 1.0 / np.sqrt(np.where(var > 0.0, var, np.nan))
    corr = cov * inv[..., :, None] * inv[..., None, :]
    return np.minimum(np.maximum(corr, -1.0), 1.0)


def _channels(r: F64) -> F64:
    """Rows of [x, vec(x x^T)]: the only quantities the window needs to remember."""
    n = r.shape[-1]
    outer = r[..., :, None] * r[..., None, :]
    return np.concatenate([r, outer.reshape((*r.shape[:-1], n * n))], axis=-1)


BLOCK_ROWS = 65_536
"""Rows of returns per block of the batch correlation: ~50 MB of window sums for five assets."""


def _blocked_correlation(returns: F64, window: int, block_rows: int) -> Iterator[tuple[int, F64]]:
    """``rolling_correlation(returns, window)`` a block at a time: (first row, matrices of the block's rows).

    ``rolling_sum`` adds within blocks of ``window`` rows counted from the array's start; a block here starts
    on such a boundary and reads the ``window`` rows before it, so every sum is formed from the very same
    numbers in the very same order as over the whole array."""
    size = returns.shape[0]
    step = max(window, block_rows - block_rows % window)
    for lo in range(0, size, step):
        start = max(0, lo - window)
        hi = min(size, lo + step)
        yield lo, rolling_correlation(returns[start:hi], window)[lo - start:]


def _put(target: F64, at: npt.NDArray[np.int64] | None, rows: slice, values: F64) -> None:
    """``values`` of history rows ``rows`` into ``target``: at those rows, or (``at``: the rows ``target`` holds,
    ascending) at the ones of them in ``rows``."""
    if at is None:
        target[rows] = values
        return
    a, b = np.searchsorted(at, [rows.start, rows.stop], side="left")
    target[a:b] = values[at[a:b] - rows.start]


class _Breakdowns:
    """A compact batch's breakdown flags at every row (a byte per asset and row) and the BTC correlation at each
    onset, gathered a block at a time in row order: the events without the whole (T, n) float columns."""

    def __init__(self, rows: int, n: int, btc: int, below: float) -> None:
        self.flags = np.zeros((rows, n), dtype=bool)
        self.btc = btc
        self.below = below
        self._onsets: dict[tuple[int, int], float] = {}

    def add(self, rows: slice, btc_corr: F64) -> None:
        flags = btc_corr < self.below
        flags[:, self.btc] = False
        self.flags[rows] = flags
        before = self.flags[rows.start - 1] if rows.start > 0 else np.zeros(flags.shape[1], dtype=bool)
        onset = flags & ~np.vstack([before[None, :], flags[:-1]])
        for i, j in np.argwhere(onset):
            self._onsets[(rows.start + int(i), int(j))] = float(btc_corr[i, j])

    def onset_value(self, row: int, column: int) -> float:
        return self._onsets[(row, column)]


def rolling_correlation(returns: F64, window: int) -> F64:
    """Batch: correlation matrices (T, n, n) over the last ``window`` rows; NaN until full."""
    n = returns.shape[1]
    sums = rolling_sum(_channels(returns), window)
    return corr_from_sums(sums[:, :n], sums[:, n:].reshape((-1, n, n)), window)


@lru_cache(maxsize=16)
def _upper(n: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    iu = np.triu_indices(n, 1)
    return iu[0], iu[1]


def average_pairwise(corr: F64) -> F64:
    """Mean of the off-diagonal correlations (the market's "everything moves together")."""
    n = corr.shape[-1]
    if n < 2:
        return np.full(corr.shape[:-2], np.nan)
    rows, cols = _upper(n)
    pairs = corr[..., rows, cols]
    if not np.isnan(pairs).any():
        return np.asarray(_sum_pairs(pairs) / pairs.shape[-1], dtype=np.float64)
    # Pairs with an asset whose history has not begun are unknown, not zero: average the known ones.
    known = np.isfinite(pairs)
    count = known.sum(axis=-1)
    total = _sum_pairs(np.where(known, pairs, 0.0))
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _sum_pairs(pairs: F64) -> F64:
    """Each row's sum of its pairs, added left to right: ``sum(axis=-1)`` picks its order of additions by the
    array's shape (pairwise within a row, or column by column across rows), so a history averaged a block of
    rows at a time differed from the whole in the last bit (found by hypothesis)."""
    total = pairs[..., 0].copy()
    for k in range(1, pairs.shape[-1]):
        total += pairs[..., k]
    return total


@dataclass(frozen=True, slots=True)
class CorrelationEvent:
    ts: int
    kind: str
    asset: str | None
    value: float
    threshold: float
    message: str


@dataclass(frozen=True, slots=True)
class CorrelationHistory:
    """Batch output, row-aligned with the input closes (row 0 has no return: NaN)."""

    assets: tuple[str, ...]
    ts: npt.NDArray[np.int64]
    matrix: F64
    average: F64
    btc_corr: F64
    btc_corr_long: F64
    spike: npt.NDArray[np.bool_]
    breakdown: npt.NDArray[np.bool_]
    events: tuple[CorrelationEvent, ...]
    kept: npt.NDArray[np.int64] | None = None
    """The rows of ``ts`` whose matrix ``matrix`` holds, ascending (None: every row)."""

    def matrix_at(self, row: int) -> F64:
        """The correlation matrix at history row ``row`` (one of ``kept`` when only some are kept)."""
        if self.kept is None:
            return np.asarray(self.matrix[row], dtype=np.float64)
        index = int(np.searchsorted(self.kept, row))
        if index >= self.kept.size or int(self.kept[index]) != row:
            raise KeyError(f"correlation history: the matrix at row {row} was not kept")
        return np.asarray(self.matrix[index], dtype=np.float64)


@dataclass(frozen=True, slots=True)
class CorrelationSnapshot:
    """Live output of one bar."""

    ts: int
    matrix: F64 | None
    average: float
    btc_corr: F64
    btc_corr_long: F64
    events: tuple[CorrelationEvent, ...]


class CorrelationMonitor:
    """Parameters of the picture, from the policy; ``batch`` and ``stream`` share them."""

    def __init__(self, assets: list[str] | tuple[str, ...], policy: Policy, baseline: str | None = None) -> None:
        if len(set(assets)) != len(assets) or not assets:
            raise ValueError(f"correlation monitor: assets must be distinct and non-empty, got {list(assets)}")
        self.assets = tuple(assets)
        base = baseline or policy.signals.model.baseline_asset
        if base not in self.assets:
            raise ValueError(f"correlation monitor: baseline asset {base} is not among {list(self.assets)}")
        self.btc = self.assets.index(base)
        cp = policy.correlation
        step = timeframe_ms(cp.returns_timeframe)
        for key, text in (("window", cp.window), ("btc_correlation_window", cp.btc_correlation_window)):
            if duration_ms(text) % step or duration_ms(text) // step < 2:
                raise ValueError(
                    f"correlation.{key} ({text}) must be >= 2 whole bars of returns_timeframe {cp.returns_timeframe}"
                )
        self.window = duration_ms(cp.window) // step
        self.long_window = duration_ms(cp.btc_correlation_window) // step
        self.spike_threshold = cp.spike_threshold
        self.spike_jump = cp.spike_jump
        cb = policy.signals.cross_asset.correlation_breakdown
        self.breakdown_below = cb.normal_correlation - cb.breakdown_margin

    def _check(self, closes: F64, where: str, *, missing_ok: bool = False) -> None:
        """In a batch, NaN is an asset without a bar yet (its pairs stay unknown); live, where a NaN
        would stay in the running sums for good, every close must be a price."""
        bad = (np.isinf(closes) if missing_ok else ~np.isfinite(closes)) | (closes <= 0)
        if bad.any():
            row, col = (int(v) for v in np.argwhere(bad)[0]) if closes.ndim == 2 else (0, int(np.argmax(bad)))
            raise ValueError(
                f"correlation monitor: close of {self.assets[col]} at {where}{row if closes.ndim == 2 else ''} "
                f"is {closes[bad][0]!r}; forward-fill gaps before feeding the monitor"
            )

    def batch(self, ts: npt.NDArray[np.int64], closes: F64, *, keep: npt.NDArray[np.int64] | None = None,
              block_rows: int = BLOCK_ROWS, compact: bool = False) -> CorrelationHistory:
        """Whole history: ``closes`` is (T, n) on the returns timeframe, columns in ``assets`` order.

        ``keep`` (ascending rows of ``ts``) keeps the full matrix only at those rows (a strategy reads it at its
        decisions, a twelfth of the 5m rows for hourly ones); the average, the BTC columns, spikes and
        breakdowns are kept at every row. The windows are summed a block of about ``block_rows`` rows at a
        time, cut where ``rolling_sum`` cuts its own blocks, so the figures are the whole-history ones to the
        last bit while the memory follows the block: five years of 5m returns on five assets would need
        2 GB of (T, n, n) arrays at once.

        ``compact`` (with ``keep``): every figure at the kept rows only (the events still those of every row),
        the history a strategy reads at its decisions (``engine.strategies.multi_asset.decision_rows`` of the
        full one, bit for bit): the BTC columns of five years of 5m returns are never held whole (about 9 MB a
        year).
        """
        if closes.ndim != 2 or closes.shape != (ts.size, len(self.assets)):
            raise ValueError(f"correlation monitor: closes must be ({ts.size}, {len(self.assets)}), got {closes.shape}")
        self._check(closes, "row ", missing_ok=True)
        t, n = closes.shape
        kept = None if keep is None else np.asarray(keep, dtype=np.int64)
        if compact and kept is None:
            raise ValueError("correlation monitor: a compact history needs the rows to keep")
        # the rows the per-row figures are held at (compact: the kept ones; their row i in ``at[i]``)
        at = kept if compact and kept is not None else None
        held = t if at is None else at.size
        matrix = np.full((t if kept is None else kept.size, n, n), np.nan)
        avg = np.full(t, np.nan)  # every row: a spike compares with the average ``window`` rows before
        btc_corr = np.full((held, n), np.nan)
        long_btc = np.full((held, n), np.nan)
        every = _Breakdowns(t, n, self.btc, self.breakdown_below)  # compact: every row's flags, for the events
        if t > 1:
            r = np.log(closes[1:] / closes[:-1])
            for lo, block in _blocked_correlation(r, self.window, block_rows):
                rows = slice(lo + 1, lo + 1 + block.shape[0])  # history row i + 1 is the return ending at close i + 1
                avg[rows] = average_pairwise(block)
                _put(btc_corr, at, rows, block[:, :, self.btc])
                if at is not None:
                    every.add(rows, block[:, :, self.btc])
                if kept is None:
                    matrix[rows] = block
                else:
                    a, b = np.searchsorted(kept, [rows.start, rows.stop], side="left")
                    matrix[a:b] = block[kept[a:b] - rows.start]
            for lo, block in _blocked_correlation(r, self.long_window, block_rows):
                _put(long_btc, at, slice(lo + 1, lo + 1 + block.shape[0]), block[:, :, self.btc])
            del r
        prior = np.full(t, np.nan)
        if t > self.window:
            prior[self.window :] = avg[: -self.window]
        spike = (avg >= self.spike_threshold) | (avg - prior >= self.spike_jump)
        breakdown = btc_corr < self.breakdown_below
        breakdown[:, self.btc] = False
        if at is not None:
            events = self._events(ts, avg, every.onset_value, spike, every.flags)
            return CorrelationHistory(self.assets, ts[at], matrix, avg[at], btc_corr, long_btc, spike[at], breakdown,
                                      tuple(events), None)
        return CorrelationHistory(
            self.assets, ts, matrix, avg, btc_corr, long_btc, spike, breakdown,
            tuple(self._events(ts, avg, lambda i, j: float(btc_corr[i, j]), spike, breakdown)), kept,
        )

    def _events(self, ts: npt.NDArray[np.int64], avg: F64, btc: Callable[[int, int], float],
                spike: npt.NDArray[np.bool_], breakdown: npt.NDArray[np.bool_]) -> list[CorrelationEvent]:
        """The spike and breakdown onsets; ``btc(row, column)``: the BTC correlation at a breakdown's onset."""
        events: list[CorrelationEvent] = []
        onset = spike & ~np.concatenate([[False], spike[:-1]])
        for i in np.flatnonzero(onset):
            events.append(self.spike_event(int(ts[i]), float(avg[i])))
        b_onset = breakdown & ~np.vstack([np.zeros((1, breakdown.shape[1]), bool), breakdown[:-1]])
        for i, j in np.argwhere(b_onset):
            events.append(self.breakdown_event(int(ts[i]), self.assets[j], btc(int(i), int(j))))
        # the order live emits them in: per bar, a spike first, then breakdowns in asset order
        order = {a: j for j, a in enumerate(self.assets)}
        events.sort(key=lambda e: (e.ts, e.kind != SPIKE, order.get(e.asset or "", -1)))
        return events

    def spike_event(self, ts: int, avg: float) -> CorrelationEvent:
        return CorrelationEvent(
            ts, SPIKE, None, avg, self.spike_threshold,
            f"average pairwise correlation {avg:.2f} (spike at >= {self.spike_threshold:.2f} "
            f"or a rise of {self.spike_jump:.2f} within {self.window} bars)",
        )

    def breakdown_event(self, ts: int, asset: str, corr: float) -> CorrelationEvent:
        return CorrelationEvent(
            ts, BREAKDOWN, asset, corr, self.breakdown_below,
            f"{asset} correlation to {self.assets[self.btc]} {corr:.2f} fell below {self.breakdown_below:.2f}",
        )

    def stream(self) -> CorrelationMonitorState:
        return CorrelationMonitorState(self)


class CorrelationMonitorState:
    """Live monitor: ``update`` is O(n^2) per bar of the returns timeframe."""

    def __init__(self, monitor: CorrelationMonitor) -> None:
        self.m = monitor
        n = len(monitor.assets)
        self._n = n
        self._prev: F64 | None = None
        self._short = RollingSums(monitor.window, n + n * n)
        self._long = RollingSums(monitor.long_window, n + n * n)
        self._avgs: deque[float] = deque(maxlen=monitor.window)
        self._spiking = False
        self._broken = np.zeros(n, dtype=bool)
        self._nan = np.full(n, np.nan)
        self.matrix: F64 | None = None

    def update(self, ts: int, closes: F64) -> CorrelationSnapshot:
        m, n = self.m, self._n
        m._check(closes, f"ts {ts}")
        prev, self._prev = self._prev, closes.copy()
        if prev is None:
            self._avgs.append(np.nan)
            return CorrelationSnapshot(ts, None, np.nan, self._nan, self._nan, ())
        r = np.log(closes / prev)
        row = _channels(r)
        short, long = self._short.update(row), self._long.update(row)
        self.matrix = None if short is None else corr_from_sums(short[:n], short[n:].reshape(n, n), m.window)
        long_btc = (
            self._nan if long is None else corr_from_sums(long[:n], long[n:].reshape(n, n), m.long_window)[:, m.btc]
        )
        avg = float(average_pairwise(self.matrix)) if self.matrix is not None else np.nan
        prior = self._avgs[0] if len(self._avgs) == m.window else np.nan
        self._avgs.append(avg)
        events: list[CorrelationEvent] = []
        spiking = avg >= m.spike_threshold or avg - prior >= m.spike_jump
        if spiking and not self._spiking:
            events.append(m.spike_event(ts, avg))
        self._spiking = spiking
        btc_corr = self._nan if self.matrix is None else self.matrix[:, m.btc]
        broken = btc_corr < m.breakdown_below
        broken[m.btc] = False
        for j in np.flatnonzero(broken & ~self._broken):
            events.append(m.breakdown_event(ts, m.assets[j], float(btc_corr[j])))
        self._broken = broken
        return CorrelationSnapshot(ts, self.matrix, avg, btc_corr, long_btc, tuple(events))
