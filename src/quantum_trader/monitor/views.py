"""What the dashboard shows, as the JSON API serves it: one model per panel, fractions of equity unless named.

The page, the JSON API and ``/metrics`` all read these same values, so a figure on screen is the
figure a script or Prometheus sees. A source (a live journal, a finished run folder) fills them;
nothing here reads a database or a file.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class View(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RiskPoint(View):
    """One bar close: what the risk engine saw."""

    ts: int
    equity: float
    exposure: float
    correlated_exposure: float | None = None
    daily_loss: float | None = None
    drawdown: float | None = None
    positions: int = 0


class RiskHistory(View):
    points: list[RiskPoint]
    """At most the number asked for, evenly spread over the range (sampled in the database), oldest first."""


class CorrelationFrame(View):
    ts: int
    symbols: list[str]
    matrix: list[list[float]]
    mean: float | None = None


class CorrelationHistory(View):
    frames: list[CorrelationFrame]
    """Oldest first; the last is the matrix now."""


class Trigger(View):
    """A kill-switch trigger measured on the last equity: ``room`` = ``limit`` - ``loss`` (fractions of ``base``)."""

    name: str
    base: float | None
    loss: float | None
    limit: float
    room: float | None
    trigger_equity: float | None = None
    current: bool = True


class KillSwitch(View):
    tripped: bool
    what: str
    """``armed``, ``daily loss``, ``drawdown`` or both."""
    reason: str = ""
    since: int | None = None
    saved_ts: int | None = None
    daily: Trigger
    drawdown: Trigger
    locks: list[tuple[str, int]] = []
    source: str
    """Where the baselines came from: the journal's kill-switch record, or the last risk snapshot."""


class TierSlots(View):
    tier: int
    used: int
    limit: int
    """Tier 1: its reserved slots (it may use more while free); tiers 2 and 3: their caps."""
    assets: list[str]


class Slots(View):
    total: int
    used: int
    reserved_tier_1: int
    tiers: list[TierSlots]


class Criterion(View):
    name: str
    level: str
    """``required`` or ``recommended``."""
    threshold: str
    """The policy's value as written (``3``, ``-0.15``, ``true``, ``1h``)."""
    status: str | None = None
    """None until an evaluator of the journal's evidence says pass, fail or no_evidence."""
    value: float | None = None


class Gates(View):
    phase: int
    phase_name: str
    assets: list[str]
    next_gate: str | None
    """The policy's name of the gate out of the current phase; None in phase 3."""
    next_phase: int | None
    criteria: list[Criterion]
    evaluated: bool = False
    """False: the criteria as the policy states them, no verdict yet."""
    as_of: int | None = None
    """When the verdict was taken (wall clock, epoch ms): it is judged off the request path, at most every few
    minutes while the journal changes (``monitor.background``)."""


class Portfolio(View):
    ts: int | None
    """The time of the last risk snapshot: the figures are as of then."""
    equity: float | None
    exposure: float | None
    exposure_limit: float
    exposure_alert: float
    correlated_exposure: float | None
    correlated_limit: float
    pnl_24h: float | None
    pnl_24h_fraction: float | None
    positions: int
    max_positions: int
    slots: Slots
    killswitch: KillSwitch
    phase: int
    phase_name: str
    next_gate: str | None
    open_alerts: int
    feed_lag_ms: int | None
    """Wall clock minus the time the feed cursor last moved (a stalled live feed grows it)."""
    source: str


class FillMark(View):
    ts: int
    side: str
    price: float
    quantity: float
    kind: str
    """``entry`` (opened or added) or ``exit`` (reduced or closed)."""
    tag: str = ""


class Asset(View):
    symbol: str
    asset: str
    tier: int | None
    side: str
    quantity: float
    entry_price: float
    opened_ts: int | None
    signal: str
    """The tag of the order that opened the position (the signal that asked for it)."""
    mark: float | None
    mark_ts: int | None
    mark_source: str
    unrealised_pnl: float | None
    unrealised_fraction: float | None
    """Of the account's equity."""
    stop_price: float | None
    risk_to_stop: float | None
    """Quote currency lost if the stop fills at its price, from the mark (from the entry when no mark)."""
    risk_to_stop_fraction: float | None
    day_pnl: float | None
    """Realised today (UTC) on the asset, fees included, plus the open position's unrealised P&L."""
    daily_limit: float
    daily_room: float | None
    """Fraction of day-start equity the asset may still lose today before its 3% limit locks it."""
    locked_until: int | None = None
    regime: str | None = None
    """The spec's regime classification of the asset now: ``trending_up``, ``trending_down``, ``ranging``,
    ``high_volatility`` or ``unknown`` (warming up); None where the source journals none."""
    regime_since: int | None = None
    """The model bar close it has held since."""


class AssetRegime(View):
    symbol: str
    asset: str
    regime: str
    since: int | None = None


class Regimes(View):
    ts: int | None
    """When the session last journalled a change of any of them (None: none journalled)."""
    items: list[AssetRegime]
    """Every symbol the session trades, held or not."""


class PriceChart(View):
    symbol: str
    ts: list[int]
    close: list[float]
    source: str
    fills: list[FillMark]


class AlertItem(View):
    id: int
    ts: int
    kind: str
    severity: str
    message: str
    acknowledged_by: str | None = None
    acknowledged_ts: int | None = None
    category: str = "alert"
    """``alert``, ``incident`` or ``event`` (a run folder's risk events)."""


class Alerts(View):
    items: list[AlertItem]
    counts: dict[str, int]
    """Alerts by kind (all recorded, not only those shown)."""


class ActionResult(View):
    ok: bool
    message: str
    id: int | None = None


class Problem(View):
    """Every refusal: one line saying what and why."""

    detail: str
