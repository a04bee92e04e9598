"""What the alerts read of the engine, the journal and a strategy's decisions, by shape.

The monitor layer sits at the edge beside the journal and may import neither it nor the engine (DESIGN.md);
these protocols name the few attributes the rules read, and mypy checks the real classes against them where
they are wired (analytics).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from quantum_trader.domain.market import F64, I64, BookSeries
from quantum_trader.universe.schedule import UniverseSchedule


class MarketLike(Protocol):
    @property
    def depth_ts(self) -> Mapping[str, I64]: ...
    @property
    def depth(self) -> Mapping[str, F64]: ...
    @property
    def books(self) -> Mapping[str, BookSeries]: ...
    @property
    def universe(self) -> UniverseSchedule | None: ...


class GridLike(Protocol):
    @property
    def symbols(self) -> tuple[str, ...]: ...
    @property
    def timeframe(self) -> str: ...


class RunMarketLike(MarketLike, Protocol):
    """``engine.inputs.MarketData`` of a finished run."""

    @property
    def grid(self) -> GridLike: ...


class DecisionsLike(Protocol):
    """``engine.strategy.Decisions``: the correlation matrices the strategy computed."""

    @property
    def close_ts(self) -> I64: ...
    def correlation(self, k: int) -> F64 | None: ...
    def correlation_time(self, k: int) -> int | None: ...


class KernelLike(Protocol):
    @property
    def data(self) -> MarketLike: ...
    @property
    def symbols(self) -> tuple[str, ...]: ...


class SnapshotLike(Protocol):
    """``journal.RiskSnapshot``."""

    @property
    def ts(self) -> int: ...
    @property
    def exposure(self) -> float: ...
    @property
    def symbols(self) -> tuple[str, ...]: ...
    @property
    def correlation(self) -> tuple[tuple[float, ...], ...] | None: ...
    @property
    def mean_correlation(self) -> float | None: ...


class AlertJournal(Protocol):
    """``journal.TradingJournal``: its ``Severity`` has the values of ours."""

    def record_alert(self, kind: str, severity: Any, message: str, *, ts: int) -> int: ...
