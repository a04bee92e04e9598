"""What the dashboard reads and what it may do: two small interfaces the command line fills.

The monitor is an edge of the system and may not import the journal or the analytics (DESIGN.md's
layer rule), so the journal and the run folder reach it through these: ``cli/dashboard_source.py``
implements them on a live journal and on a finished run folder. A run folder has no ``Controls``:
it is read-only.
"""

from __future__ import annotations

from typing import Protocol

from quantum_trader.monitor.views import (
    ActionResult,
    Alerts,
    Asset,
    CorrelationHistory,
    Gates,
    Portfolio,
    PriceChart,
    Regimes,
    RiskHistory,
)


class SourceError(ValueError):
    """A request the source cannot answer (an unknown symbol, an alert that does not exist): one line."""


class ActionRefused(ValueError):  # noqa: N818 - a refusal, not a fault
    """A control action the journal's own rules refuse (a reset while the trigger still holds)."""


class DashboardSource(Protocol):
    """Everything the pages and the API show. Each call reads what is committed now."""

    description: str

    def version(self) -> tuple[int, ...]:
        """Cheap: changes whenever anything shown changes (newest row ids, acknowledgements)."""

    def portfolio(self) -> Portfolio: ...

    def risk_history(self, since: int | None, until: int | None, points: int) -> RiskHistory: ...

    def correlation_history(self, frames: int) -> CorrelationHistory: ...

    def assets(self) -> list[Asset]: ...

    def price_chart(self, symbol: str, points: int) -> PriceChart: ...

    def regimes(self) -> Regimes:
        """Each symbol's regime as the session last journalled it."""

    def alerts(self, limit: int) -> Alerts: ...

    def alert_counts(self) -> dict[str, int]:
        """Alerts recorded, by kind (all of them, for ``/metrics``)."""

    def gates(self) -> Gates: ...

    def order_latencies_ms(self) -> list[float]:
        """Created to last update of the recent final orders (empty when the source has no order times)."""


class Controls(Protocol):
    """The control actions, each journalled with ``operator`` and ``reason``."""

    def trip(self, operator: str, reason: str) -> ActionResult: ...

    def reset(self, operator: str, reason: str, force: bool) -> ActionResult: ...

    def promote(self, operator: str, reason: str, force: bool) -> ActionResult: ...

    def demote(self, operator: str, reason: str) -> ActionResult: ...

    def acknowledge(self, alert_id: int, operator: str) -> ActionResult: ...
