"""Look-ahead analysis: does any value at or before ``t`` change when the data ends at ``t``?

The idea of freqtrade's ``lookahead-analysis``, applied to every indicator and signal we
ship: compute on the full history, recompute on histories truncated at random bars, and
compare every value up to each cut. A centred window, a ``shift(-1)``, a normalisation by
the whole-sample mean or a resample that labels a bucket before it closes all show up
as changed values. The check is a test (``tests/signals/test_lookahead.py``) and a
command (``quantum-trader check lookahead``) for users' own ``module:function`` signals.

The check takes the function to check; it never imports one. Finding a user's
``module:function`` is code chosen at run time, so it lives with the command
(:mod:`quantum_trader.analytics.user_signals`), and the random walks it runs on with the
other builders (:mod:`quantum_trader.testkit.random_walk`): this layer stays numbers in,
report out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from quantum_trader.config.policy import Policy
from quantum_trader.domain.market import BarSeries
from quantum_trader.signals.model import AssetModel

F64 = npt.NDArray[np.float64]
SignalFn = Callable[[BarSeries], "F64 | Mapping[str, F64]"]
DEFAULT_TOLERANCE = 1e-12
"""Relative difference tolerated between full and truncated values (rounding only)."""


@dataclass(frozen=True, slots=True)
class LookaheadReport:
    name: str
    cuts: tuple[int, ...]
    changed: tuple[tuple[int, str, int], ...] = field(default=())
    """(cut ts, output name, ts of a value that changed)."""

    @property
    def ok(self) -> bool:
        return not self.changed


def _outputs(name: str, value: object, n: int) -> dict[str, F64]:
    items = value.items() if isinstance(value, Mapping) else [(name, value)]
    out: dict[str, F64] = {}
    for key, arr in items:
        try:
            a = np.asarray(arr, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(
                f"signal {name!r}: output {key!r} is a {type(arr).__name__}, not an array of numbers per bar"
            ) from None
        if a.shape[:1] != (n,):
            raise ValueError(f"signal {name!r}: output {key!r} has shape {a.shape}, expected one value per bar ({n})")
        out[str(key)] = a
    return out


def check_lookahead(
    fn: SignalFn, bars: BarSeries, name: str = "signal", n_cuts: int = 20, seed: int = 0,
    tolerance: float = DEFAULT_TOLERANCE,
) -> LookaheadReport:
    """Compare ``fn`` on the full series with ``fn`` on series truncated at ``n_cuts`` random bars."""
    n = len(bars)
    if n < 3:
        raise ValueError(f"look-ahead check of {name!r} needs at least 3 bars, got {n}")
    full = _outputs(name, fn(bars), n)
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(1, n - 1), size=min(n_cuts, n - 2), replace=False))
    changed: list[tuple[int, str, int]] = []
    for k in cuts:
        cut_ts = int(bars.ts[k])
        part = _outputs(name, fn(bars.slice(end_ms=cut_ts + 1)), int(k) + 1)
        for key, ref in full.items():
            a, b = part[key], ref[: k + 1]
            same_nan = np.isnan(a) == np.isnan(b)
            with np.errstate(invalid="ignore"):
                close = np.abs(a - b) <= tolerance * np.maximum(1.0, np.abs(b))
            bad = ~(same_nan & (close | np.isnan(b)))
            changed.extend((cut_ts, key, int(bars.ts[i])) for i in np.flatnonzero(bad))
    return LookaheadReport(name, tuple(int(bars.ts[k]) for k in cuts), tuple(changed))


def _model(policy: Policy, bars: BarSeries) -> AssetModel:
    return AssetModel(bars.symbol, policy.signals, timeframe=bars.timeframe)


def shipped_signals(policy: Policy | None = None) -> dict[str, SignalFn]:
    """Every single-series indicator and signal we ship, by name (cross-asset ones are tested in tests)."""
    pol = policy or Policy()

    def feature(key: str) -> SignalFn:
        return lambda b: _model(pol, b).features.batch(b)[key]

    def decision(key: str) -> SignalFn:
        return lambda b: np.asarray(getattr(_model(pol, b).batch(b).decision, key), dtype=np.float64)

    out: dict[str, SignalFn] = {k: feature(k) for k in ("atr", "trend_z", "vol_ratio", "volume_z", "ret1_z",
                                                         "sigma_long")}
    out.update({k: decision(k) for k in ("regime", "direction", "edge", "stop")})
    return out
