"""What the risk engine is shown at a decision: pure functions of the aligned market data.

Kept apart from the kernel's loop so the inputs of every decision can be read (and
tested) on their own: the correlation matrix known then, depth within 1% from the
latest book at or before then, and the assets whose edge counts as identified.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache

import numpy as np

from quantum_trader.domain.market import F64, I64
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.trading import Intent

UNKNOWN_DEPTH = 1e18
"""Depth used when the catalog has no book for a symbol: the liquidity rule cannot bind."""


def clean_correlation(corr: F64 | None, n: int) -> F64:
    """The matrix known at a decision; identity before the first one, 0 for pairs still warming up.

    Unknown pairs count as uncorrelated only until the rolling window fills: the signals
    layer emits no intent before its own warm-up, which is longer than the matrix's.
    """
    matrix = np.eye(n) if corr is None else np.where(np.isfinite(corr), corr, 0.0)
    matrix.flat[::n + 1] = 1.0  # the diagonal (np.fill_diagonal's own assignment)
    matrix.setflags(write=False)  # a decision's market views share it (``risk.MarketViews``)
    return matrix


@lru_cache(maxsize=8)
def _upper(n: int) -> tuple[np.ndarray, np.ndarray]:
    rows, cols = np.triu_indices(n, k=1)
    return rows, cols


def correlation_summary(corr: F64 | None, n: int) -> tuple[str, float]:
    """The ``correlation_update`` event's text and value: the mean over the pairs known so far,
    and how many are still warming up (the risk engine counts those as 0 meanwhile)."""
    if n < 2:
        return f"{n} asset, no pairs to correlate", 1.0
    pairs = n * (n - 1) // 2
    upper = _upper(n)
    known = np.full(pairs, np.nan) if corr is None else np.asarray(corr, dtype=float)[upper]
    known = known[np.isfinite(known)]
    if known.size == 0:
        return f"{n} assets, correlation warming up (none of {pairs} pairs known yet)", float("nan")
    mean = float(np.add.reduce(known)) / known.size  # ndarray.mean's own sum and division, without its overhead
    if known.size < pairs:
        return (f"{n} assets, mean pairwise correlation {mean:.2f} over {known.size} of {pairs} pairs "
                f"({pairs - known.size} warming up)"), mean
    return f"{n} assets, mean pairwise correlation {mean:.2f}", mean


def depth_at(
    symbols: Iterable[str], depth_ts: Mapping[str, I64], depth: Mapping[str, F64], ts: int,
    max_age_ms: int | None = None,
) -> dict[str, float]:
    """Depth within 1% of mid per symbol from the latest book snapshot at or before ``ts``, if it is at
    most ``max_age_ms`` old (an older book says nothing about the market now: depth unknown)."""
    out = {}
    for symbol in symbols:
        times = depth_ts.get(symbol)
        i = -1 if times is None or times.size == 0 else int(np.searchsorted(times, ts, side="right")) - 1
        fresh = i >= 0 and (max_age_ms is None or ts - int(times[i]) <= max_age_ms)  # type: ignore[index]
        out[symbol] = max(float(depth[symbol][i]), 1e-9) if fresh else UNKNOWN_DEPTH
    return out


def identified_edge(intents: Iterable[Intent], min_edge: float) -> set[str]:
    """Assets with an intent at or above the tier-3 edge threshold at this decision."""
    return {asset_of(i.symbol) for i in intents if i.edge_score >= min_edge}
