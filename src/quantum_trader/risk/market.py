"""What the risk engine knows about the market at one bar close: a frozen, validated view.

It carries the correlation matrix (a NumPy array with a symbol -> index dict, plus the
same numbers as nested tuples because plain indexing is several times faster than
NumPy scalar access in the per-intent checks), depth within 1% of mid in USD, marks,
instruments, each asset's tier, the expansion phase and the tier-3 assets with an
identified edge. Missing data is not guessed: a rule that needs a figure the view
lacks refuses the intent and says which figure was missing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.slot_init import slot_init
from quantum_trader.domain.symbols import asset_of
from quantum_trader.risk.limits import CompiledLimits, compile_limits

if TYPE_CHECKING:
    from quantum_trader.config.policy import Policy


_NO_SLIPPAGE: Mapping[str, float] = MappingProxyType({})
_NO_REMOVALS: Mapping[str, str] = MappingProxyType({})
_NONE: Mapping[str, float] = MappingProxyType({})
_NO_INSTRUMENTS: Mapping[str, Instrument] = MappingProxyType({})


class MarketViewError(ValueError):
    """A market view built from inconsistent inputs (names the field and symbol)."""


@slot_init
@dataclass(frozen=True, slots=True)
class MarketView:
    ts: int
    phase: int
    index: Mapping[str, int]
    correlation: npt.NDArray[np.float64]
    rows: tuple[tuple[float, ...], ...]
    depth_1pct: Mapping[str, float]
    marks: Mapping[str, float]
    instruments: Mapping[str, Instrument]
    tiers: Mapping[str, int]
    """Tier per asset code, from the policy (assets in no tier are absent)."""
    edge_assets: frozenset[str]
    """Tier-3 asset codes whose edge has been identified (spec: "added only when clear edge")."""
    entry_slippage: Mapping[str, float] = field(default_factory=lambda: _NO_SLIPPAGE)
    removed: Mapping[str, str] = field(default_factory=lambda: _NO_REMOVALS)
    """Asset codes screening removed from the universe now, with why (they take no new entry)."""
    """The venue's expected slippage of a market entry per symbol, as a fraction of the price (absent:
    the policy's ``sizing.slippage_estimate``)."""

    def corr(self, a: str, b: str) -> float | None:
        """Correlation of two symbols, ``None`` when either is not in the matrix."""
        i, j = self.index.get(a), self.index.get(b)
        if i is None or j is None:
            return None
        return self.rows[i][j]

    def with_phase(self, phase: int) -> MarketView:
        return replace(self, phase=phase)

    def with_entry_slippage(self, values: Mapping[str, float]) -> MarketView:
        """The same view with the venue's expected slippage of this cycle's market entries."""
        return MarketView(self.ts, self.phase, self.index, self.correlation, self.rows, self.depth_1pct, self.marks,
                          self.instruments, self.tiers, self.edge_assets, _slippage_map(values), self.removed)


_LIMIT = 1.0 + 1e-9


def _matrix(symbols: Sequence[str], correlation: npt.ArrayLike
            ) -> tuple[npt.NDArray[np.float64], tuple[tuple[float, ...], ...]]:
    """The matrix validated and frozen, and its rows as tuples. A valid matrix is checked in one pass over its
    rows in plain floats (the same comparisons as NumPy's, without a call per check); a faulty one is named by
    ``_faulty``."""
    matrix = np.array(correlation, dtype=np.float64, copy=True)
    n = len(symbols)
    if matrix.shape != (n, n):
        raise MarketViewError(
            f"market view: correlation is {matrix.shape}, expected ({n}, {n}) for {list(symbols)}"
        )
    rows = matrix.tolist()
    for i, row in enumerate(rows):
        if not -_LIMIT <= row[i] <= _LIMIT:  # (NaN and infinities fail the range too)
            _faulty(symbols, matrix)
        for j in range(i + 1, n):
            value, mirror = row[j], rows[j][i]
            if not (-_LIMIT <= value <= _LIMIT and -_LIMIT <= mirror <= _LIMIT) or abs(value - mirror) > 1e-9:
                _faulty(symbols, matrix)
    matrix.setflags(write=False)
    return matrix, tuple(tuple(row) for row in rows)


def _faulty(symbols: Sequence[str], matrix: npt.NDArray[np.float64]) -> None:
    """Raise the error naming the first fault: not finite, outside [-1, 1], not symmetric (in that order)."""
    n = len(symbols)
    if not np.all(np.isfinite(matrix)):
        bad = np.argwhere(~np.isfinite(matrix))[0]
        raise MarketViewError(
            f"market view: correlation[{symbols[bad[0]]}, {symbols[bad[1]]}] is not a finite number"
        )
    if np.any(np.abs(matrix) > 1.0 + 1e-9):
        bad = np.argwhere(np.abs(matrix) > 1.0 + 1e-9)[0]
        raise MarketViewError(
            f"market view: correlation[{symbols[bad[0]]}, {symbols[bad[1]]}] = {matrix[bad[0], bad[1]]} "
            "is outside [-1, 1]"
        )
    if n and float(np.max(np.abs(matrix - matrix.T))) > 1e-9:
        bad = np.argwhere(np.abs(matrix - matrix.T) > 1e-9)[0]
        raise MarketViewError(
            f"market view: correlation is not symmetric at ({symbols[bad[0]]}, {symbols[bad[1]]})"
        )


def _positive_map(name: str, values: Mapping[str, float]) -> Mapping[str, float]:
    out: dict[str, float] = {}
    for symbol, value in values.items():
        number = float(value)
        if not number > 0 or not math.isfinite(number):
            raise MarketViewError(f"market view: {name}[{symbol}] must be a finite number > 0, got {value}")
        out[symbol] = number
    return MappingProxyType(out)


def build_market_view(
    policy: Policy | CompiledLimits,
    *,
    ts: int,
    phase: int,
    symbols: Sequence[str],
    correlation: npt.ArrayLike,
    depth_1pct: Mapping[str, float],
    marks: Mapping[str, float],
    instruments: Iterable[Instrument],
    edge_assets: Iterable[str] = (),
    entry_slippage: Mapping[str, float] | None = None,
    tiers: Mapping[str, int] | None = None,
    removed: Mapping[str, str] | None = None,
) -> MarketView:
    """Validate and freeze the inputs; ``symbols`` orders the matrix's rows and columns."""
    return MarketViews(policy, symbols, instruments).build(
        ts=ts, phase=phase, correlation=correlation, depth_1pct=depth_1pct, marks=marks, edge_assets=edge_assets,
        entry_slippage=entry_slippage, tiers=tiers, removed=removed,
    )


class MarketViews:
    """``build_market_view`` for one set of symbols and instruments, at decision after decision: what does not
    change between them (the symbols' index, the instruments, the last correlation matrix and its rows) is made
    once. Errors are those of ``build_market_view``, raised at ``build`` in the same order."""

    def __init__(self, policy: Policy | CompiledLimits, symbols: Sequence[str],
                 instruments: Iterable[Instrument]) -> None:
        self.limits = compile_limits(policy)
        self.symbols = tuple(symbols)
        self._repeat = len(set(self.symbols)) != len(self.symbols)
        instrument_map: dict[str, Instrument] = {}
        self._twice: str | None = None
        for instrument in instruments:
            if instrument.symbol in instrument_map:
                self._twice = instrument.symbol
                break
            instrument_map[instrument.symbol] = instrument
        self.instruments: Mapping[str, Instrument] = MappingProxyType(instrument_map)
        self.index: Mapping[str, int] = MappingProxyType({s: i for i, s in enumerate(self.symbols)})
        self._matrix: tuple[object, npt.NDArray[np.float64], tuple[tuple[float, ...], ...]] | None = None
        """(the correlation given, validated, its rows): a decision's views share its matrix."""

    def _correlation(self, correlation: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], tuple[tuple[float, ...], ...]]:
        known = self._matrix
        if known is not None and known[0] is correlation and isinstance(correlation, np.ndarray) \
                and not correlation.flags.writeable:
            return known[1], known[2]
        matrix, rows = _matrix(self.symbols, correlation)
        self._matrix = (correlation, matrix, rows)
        return matrix, rows

    def correlation_only(self, *, ts: int, phase: int, correlation: npt.ArrayLike) -> MarketView:
        """``build`` with the correlation alone (no depth, marks, instruments or edge): what drift reads."""
        limits = self.limits
        if phase not in limits.phase_assets:
            raise MarketViewError(f"market view: phase {phase} is not one of {sorted(limits.phase_assets)}")
        if self._repeat:
            raise MarketViewError(f"market view: symbols repeat in {list(self.symbols)}")
        matrix, rows = self._correlation(correlation)
        return MarketView(ts=ts, phase=phase, index=self.index, correlation=matrix, rows=rows, depth_1pct=_NONE,
                          marks=_NONE, instruments=_NO_INSTRUMENTS, tiers=limits.tiers, edge_assets=frozenset())

    def build(
        self,
        *,
        ts: int,
        phase: int,
        correlation: npt.ArrayLike,
        depth_1pct: Mapping[str, float],
        marks: Mapping[str, float],
        edge_assets: Iterable[str] = (),
        entry_slippage: Mapping[str, float] | None = None,
        tiers: Mapping[str, int] | None = None,
        removed: Mapping[str, str] | None = None,
    ) -> MarketView:
        limits = self.limits
        if phase not in limits.phase_assets:
            raise MarketViewError(f"market view: phase {phase} is not one of {sorted(limits.phase_assets)}")
        if self._repeat:
            raise MarketViewError(f"market view: symbols repeat in {list(self.symbols)}")
        matrix, rows = self._correlation(correlation)
        if self._twice is not None:
            raise MarketViewError(f"market view: two instruments for {self._twice}")
        return MarketView(
            ts=ts,
            phase=phase,
            index=self.index,
            correlation=matrix,
            rows=rows,
            depth_1pct=_positive_map("depth_1pct", depth_1pct),
            marks=_positive_map("marks", marks),
            instruments=self.instruments,
            tiers=limits.tiers if tiers is None else MappingProxyType(dict(tiers)),
            edge_assets=frozenset(asset_of(a) for a in edge_assets),
            entry_slippage=_slippage_map(entry_slippage or {}),
            removed=MappingProxyType(dict(removed)) if removed else _NO_REMOVALS,
        )


def _slippage_map(values: Mapping[str, float]) -> Mapping[str, float]:
    out = {}
    for symbol, value in values.items():
        number = float(value)
        if not (0 <= number < 1):
            raise MarketViewError(f"market view: entry_slippage[{symbol}] must be in [0, 1), got {value}")
        out[symbol] = number
    return MappingProxyType(out) if out else _NO_SLIPPAGE
