"""What makes an order-book row impossible, at every level and not only the best one.

A book is stored as ``bid_px_i, bid_sz_i, ask_px_i, ask_sz_i`` with NaN price / 0 size for
an empty level. A snapshot that a rebuild got wrong shows up as a negative size, a level
with size but no price, a side with no level at all, or a bid at or above an ask at some
deeper level (a stale level a delta should have removed); depth within 1% and spreads
computed from such a row would be fiction, so each is a blocking issue naming its rows.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

BoolArray = npt.NDArray[np.bool_]
F64 = npt.NDArray[np.float64]

__all__ = ["book_issues"]


def _side(values: dict[str, F64], prefix: str) -> tuple[F64, F64]:
    """(prices, sizes) of one side as (rows, levels) matrices, level 0 first."""
    levels = sorted(int(name.rsplit("_", 1)[1]) for name in values if name.startswith(f"{prefix}_px_"))
    n = next(iter(values.values())).size if values else 0
    if not levels:
        return np.empty((n, 0)), np.empty((n, 0))
    px = np.column_stack([values[f"{prefix}_px_{i}"] for i in levels])
    sz = np.column_stack([values.get(f"{prefix}_sz_{i}", np.zeros(n)) for i in levels])
    return px, sz


def _any_per_row(mask: BoolArray) -> BoolArray:
    """Rows with any level set; NumPy's stubs type ``.any(axis=1)`` as possibly a scalar."""
    return np.asarray(mask.any(axis=1), dtype=np.bool_)


def book_issues(values: dict[str, F64]) -> list[tuple[str, str, BoolArray]]:
    """``(code, message, row mask)`` for each kind of impossible row found (empty when all rows are fine)."""
    bid_px, bid_sz = _side(values, "bid")
    ask_px, ask_sz = _side(values, "ask")
    found: list[tuple[str, str, BoolArray]] = []
    with np.errstate(invalid="ignore"):
        sizes = np.hstack([bid_sz, ask_sz])
        prices = np.hstack([bid_px, ask_px])
        negative = _any_per_row(sizes < 0)
        broken = _any_per_row(~np.isfinite(sizes) | ((sizes > 0) & ~(prices > 0)))
        bid_live = (bid_sz > 0) & (bid_px > 0)
        ask_live = (ask_sz > 0) & (ask_px > 0)
        one_sided = ~_any_per_row(bid_live) | ~_any_per_row(ask_live)
        top_bid = np.where(bid_live, bid_px, -np.inf).max(axis=1, initial=-np.inf)
        low_ask = np.where(ask_live, ask_px, np.inf).min(axis=1, initial=np.inf)
        crossed = ~one_sided & (top_bid >= low_ask)
    if negative.any():
        found.append(("negative_size", "negative book size", negative))
    if broken.any():
        found.append(("nan", "book level with size but no valid price, or bad size", broken))
    if one_sided.any():
        found.append(("one_sided_book", "one-sided book (no bid or no ask with a size)", one_sided))
    if crossed.any():
        found.append(("crossed_book", "crossed book: a bid at or above an ask, at any level", crossed))
    return found
