"""Funding at each settlement: longs pay shorts when the rate is positive.

payment (to the account) = -sign(position) * |quantity| * mark * rate. Settlement times
come from the funding series itself when present; the policy's hours (00, 08, 16 UTC)
are the schedule when a series must be synthesised.
"""

from __future__ import annotations

import numpy as np

from quantum_trader.domain.market import I64
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR


def funding_payment(signed_quantity: float, mark: float, rate: float) -> float:
    """Cash received by the account (negative when it pays)."""
    return -signed_quantity * mark * rate


def settlement_times(start_ms: int, end_ms: int, hours_utc: tuple[int, ...] = (0, 8, 16)) -> I64:
    """Every settlement in [start_ms, end_ms), ascending."""
    first_day = start_ms - start_ms % MS_PER_DAY
    days = np.arange(first_day, end_ms + MS_PER_DAY, MS_PER_DAY, dtype=np.int64)
    offsets = np.array(sorted(hours_utc), dtype=np.int64) * MS_PER_HOUR
    times = (days[:, None] + offsets[None, :]).ravel()
    return times[(times >= start_ms) & (times < end_ms)]
