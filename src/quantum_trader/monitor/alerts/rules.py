"""The alert rules of spec section 8 and of our operation, as one stateful book fed in time order.

Every rule is edge-triggered: it fires on the update where its condition starts and stays silent while it
holds (``Latch``). An event rule re-arms when its condition clears; a level rule (a value against a line:
correlation, exposure, depth, spread) re-arms only once its value has come back past the line by the policy's
margin (``dashboard.alerts.rearm``), so a value hovering at the line is one alert, not one per crossing.
The same book serves a finished run (fed from what the run folder holds, ``run_alerts``) and a session (fed bar
by bar, ``watcher``), so a backtest shows the alerts an operator would have received. Pure: numbers in,
``Alert`` values out; no clock, no I/O.

Conditions (thresholds from the policy):

* correlation spike: the mean pairwise 24h correlation above ``correlation.spike_threshold``, or one pair's
  correlation rising by more than ``dashboard.alerts.correlation_pair_jump`` between two updates (ours);
* exposure: gross exposure above ``dashboard.alerts.portfolio_exposure_above`` (35%);
* tier removal: an asset that was in tier 1 or 2 no longer is (removed, unverified or demoted to tier 3);
* liquidity drop: depth within 1% (its median over the last hour) below ``1 - liquidity_drop`` of its usual
  depth (the median of the 7 days before); or the spread (its median over the last hour) above
  ``asset_requirements.liquidity.max_spread``;
* kill-switch trip (daily, drawdown), per-asset lock: the risk engine's events (re-armed by its re-arm, reset,
  unlock);
* stale feed and reconciliation incidents: what a live session's exchange client reports.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from quantum_trader.config.policy import Policy
from quantum_trader.domain.time import duration_ms
from quantum_trader.monitor.alerts.model import Alert, AlertKind
from quantum_trader.risk import EventKind, RiskEvent

TOP_TIERS = (1, 2)
RECONCILIATION_KINDS = frozenset({"order_unknown", "foreign_fill", "liquidation", "adl", "cancel_failed",
                                  "sync_failed", "clock_skew"})
"""Incidents where the venue's state or time may differ from ours: each is an alert."""
CLEARS = {"feed_resumed": "stale_feed", "order_found": "order_unknown", "clock_ok": "clock_skew"}
"""Incidents that end another kind's condition (the rule re-arms)."""


class IncidentLike(Protocol):
    """A live session's incident (``venues.ccxt.incidents.Incident``), read by shape: the monitor layer does not
    import the venues."""

    @property
    def ts(self) -> int: ...
    @property
    def kind(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def symbol(self) -> str: ...


@dataclass(frozen=True, slots=True)
class RuleSettings:
    spike_threshold: float
    pair_jump: float
    exposure_above: float
    liquidity_drop: float
    median_window_ms: int
    short_window_ms: int
    max_spread: float
    correlation_spike: bool = True
    tier_removal: bool = True
    spike_margin: float = 0.0
    """Re-arm margins (``dashboard.alerts.rearm``): how far back past its line a value must come."""
    pair_jump_margin: float = 0.0
    exposure_margin: float = 0.0
    depth_margin: float = 0.0
    """A share of the usual depth."""
    spread_margin: float = 0.0
    """A share of the spread limit."""

    @classmethod
    def of_policy(cls, policy: Policy) -> RuleSettings:
        rules = policy.dashboard.alerts
        rearm = rules.rearm
        return cls(spike_threshold=policy.correlation.spike_threshold, pair_jump=rules.correlation_pair_jump,
                   exposure_above=rules.portfolio_exposure_above, liquidity_drop=rules.liquidity_drop,
                   median_window_ms=duration_ms(rules.liquidity_median_window),
                   short_window_ms=duration_ms(rules.liquidity_short_window),
                   max_spread=policy.asset_requirements.liquidity.max_spread,
                   correlation_spike=rules.correlation_spike, tier_removal=rules.asset_removed_from_tier,
                   spike_margin=rearm.correlation_spike, pair_jump_margin=rearm.correlation_pair_jump,
                   exposure_margin=rearm.portfolio_exposure, depth_margin=rearm.liquidity_depth,
                   spread_margin=rearm.liquidity_spread)

    @property
    def exposure_rearm(self) -> float:
        """The exposure at or below which the exposure rule re-arms."""
        return self.exposure_above - self.exposure_margin

    @property
    def spike_rearm(self) -> float:
        return self.spike_threshold - self.spike_margin

    @property
    def spread_rearm(self) -> float:
        return (1.0 - self.spread_margin) * self.max_spread


class Latch:
    """Conditions in force, by key: ``enter`` is True only on the update where a condition starts."""

    def __init__(self) -> None:
        self._on: set[str] = set()

    def enter(self, key: str, condition: bool) -> bool:
        if not condition:
            self._on.discard(key)
            return False
        if key in self._on:
            return False
        self._on.add(key)
        return True

    def crossing(self, key: str, fires: bool, rearms: bool) -> bool:
        """A level rule with a margin: True on an update where ``fires`` (the value past its line) while armed;
        once fired, the rule re-arms only on an update where ``rearms`` (the value back past the re-arm line).
        With no margin ``rearms`` is ``not fires``, and this is ``enter``."""
        if key in self._on:
            if rearms:
                self._on.discard(key)
            return False
        if fires:
            self._on.add(key)
            return True
        return False

    def clear(self, key: str) -> None:
        self._on.discard(key)

    def holds(self, key: str) -> bool:
        return key in self._on


def _pct(x: float) -> str:
    return f"{x:.1%}"


class AlertRuleBook:
    """The rules' state between updates (module docstring). Each method returns the alerts its update raised."""

    def __init__(self, settings: RuleSettings) -> None:
        self.s = settings
        self.latch = Latch()
        self._pairs: dict[tuple[str, str], float] = {}
        self._top: dict[str, int] = {}

    # ------------------------------------------------------------------ portfolio
    def exposure(self, ts: int, exposure: float) -> list[Alert]:
        limit = self.s.exposure_above
        known = math.isfinite(exposure)
        if not self.latch.crossing("exposure", known and exposure > limit,
                                   known and exposure <= self.s.exposure_rearm):
            return []
        return [Alert.of(ts, AlertKind.EXPOSURE, f"portfolio exposure {_pct(exposure)} above {_pct(limit)}",
                         "exposure", value=exposure, limit=limit)]

    def correlation(self, ts: int, symbols: Sequence[str], matrix: Sequence[Sequence[float]] | None,
                    mean: float | None) -> list[Alert]:
        """One update of the 24h matrix (``mean``: its mean pairwise correlation, over the known pairs)."""
        if not self.s.correlation_spike:
            return []
        found: list[Alert] = []
        level = self.s.spike_threshold
        if mean is not None and math.isfinite(mean) and self.latch.crossing("correlation_mean", mean > level,
                                                                             mean <= self.s.spike_rearm):
            found.append(Alert.of(ts, AlertKind.CORRELATION_SPIKE,
                                  f"mean pairwise 24h correlation {mean:.2f} above {level:.2f} "
                                  f"({len(symbols)} assets)", "correlation_mean", value=mean, limit=level))
        if matrix is not None:
            found.extend(self._pair_jumps(ts, symbols, matrix))
        return found

    def _pair_jumps(self, ts: int, symbols: Sequence[str], matrix: Sequence[Sequence[float]]) -> list[Alert]:
        found: list[Alert] = []
        step = self.s.pair_jump
        now: dict[tuple[str, str], float] = {}
        for i, a in enumerate(symbols):
            for j in range(i + 1, len(symbols)):
                value = float(matrix[i][j])
                if not math.isfinite(value):
                    continue
                pair = (a, symbols[j])
                now[pair] = value
                before = self._pairs.get(pair)
                key = f"correlation_pair:{a}/{symbols[j]}"
                rise = None if before is None else value - before
                if self.latch.crossing(key, rise is not None and rise > step,
                                       rise is not None and rise <= step - self.s.pair_jump_margin):
                    assert before is not None
                    found.append(Alert.of(
                        ts, AlertKind.CORRELATION_SPIKE,
                        f"{a}/{symbols[j]} 24h correlation jumped {before:.2f} -> {value:.2f} "
                        f"(+{value - before:.2f}, more than {step:.2f} between updates)",
                        key, symbol=a, value=value - before, limit=step))
        self._pairs = now
        return found

    # ------------------------------------------------------------------ universe and market
    def tier(self, ts: int, asset: str, tier: int | None, reason: str, *, was: int | None = None) -> list[Alert]:
        """The asset's tier as of ``ts`` (None: out of the universe); ``was`` seeds the tier it had before, where
        the first update the book sees is already a change."""
        key = f"tier:{asset}"
        if was is not None and was in TOP_TIERS and asset not in self._top:
            self._top[asset] = was
        if tier is not None and tier in TOP_TIERS:
            self._top[asset] = tier
            self.latch.clear(key)
            return []
        top = self._top.get(asset)
        if top is None or not self.s.tier_removal or not self.latch.enter(key, True):
            return []
        now = "out of the universe" if tier is None else f"now tier {tier}"
        return [Alert.of(ts, AlertKind.TIER_REMOVED, f"{asset} removed from tier {top} ({now}): {reason}", key,
                         symbol=asset, value=None if tier is None else float(tier), limit=float(top))]

    def liquidity(self, ts: int, symbol: str, depth: float | None, median: float | None,
                  spread: float | None = None) -> list[Alert]:
        """One book snapshot: depth within 1% now (USD, smaller side: the median over the short window), the
        usual depth (the trailing median before it), and the relative spread now (None where unknown)."""
        found: list[Alert] = []
        key = f"liquidity_depth:{symbol}"
        if depth is not None and median is not None and median > 0 and math.isfinite(depth):
            floor, rearm = depth_levels(median, self.s.liquidity_drop, self.s.depth_margin)
            if self.latch.crossing(key, depth < floor, depth >= rearm):
                found.append(Alert.of(
                    ts, AlertKind.LIQUIDITY_DROP,
                    f"{symbol} depth within 1% {depth:,.0f} USD is {depth / median:.0%} of its usual "
                    f"{median:,.0f} (alert below {1.0 - self.s.liquidity_drop:.0%})", key, symbol=symbol,
                    value=depth, limit=floor))
        if spread is not None and math.isfinite(spread):
            key = f"liquidity_spread:{symbol}"
            if self.latch.crossing(key, spread > self.s.max_spread, spread <= self.s.spread_rearm):
                found.append(Alert.of(
                    ts, AlertKind.LIQUIDITY_DROP,
                    f"{symbol} spread {spread:.4%} above its limit {self.s.max_spread:.4%}", key, symbol=symbol,
                    value=spread, limit=self.s.max_spread))
        return found

    # ------------------------------------------------------------------ risk engine and venue
    def risk_event(self, event: RiskEvent) -> list[Alert]:
        kind = event.kind
        if kind is EventKind.REARM:
            self.latch.clear("kill_switch:daily")
        elif kind is EventKind.RESET:
            self.latch.clear("kill_switch:daily")
            self.latch.clear("kill_switch:drawdown")
        elif kind is EventKind.UNLOCK:
            self.latch.clear(f"lock:{event.symbol or ''}")
        elif kind in (EventKind.TRIP_DAILY, EventKind.TRIP_DRAWDOWN):
            which = "daily" if kind is EventKind.TRIP_DAILY else "drawdown"
            key = f"kill_switch:{which}"
            if self.latch.enter(key, True):
                return [Alert.of(event.ts, AlertKind.KILL_SWITCH,
                                 f"kill switch tripped ({which}{_figures(event)}): {event.reason}", key,
                                 value=event.figure, limit=event.limit)]
        elif kind is EventKind.LOCK:
            symbol = event.symbol or ""
            key = f"lock:{symbol}"
            if self.latch.enter(key, True):
                return [Alert.of(event.ts, AlertKind.ASSET_LOCK,
                                 f"{symbol} locked for the day{_figures(event)}: {event.reason}", key,
                                 symbol=symbol, value=event.figure, limit=event.limit)]
        return []

    def incident(self, incident: IncidentLike) -> list[Alert]:
        kind, symbol = str(incident.kind), incident.symbol
        if kind in CLEARS:
            self.latch.clear(f"incident:{CLEARS[kind]}:{symbol}")
            return []
        key = f"incident:{kind}:{symbol}"
        if kind == "stale_feed":
            alert_kind = AlertKind.STALE_FEED
        elif kind in RECONCILIATION_KINDS:
            alert_kind = AlertKind.RECONCILIATION
        else:
            return []
        if kind in CLEARS.values() and not self.latch.enter(key, True):
            return []  # a halt already reported and not yet lifted
        where = f" {symbol}" if symbol else ""
        return [Alert.of(incident.ts, alert_kind, f"{kind}{where}: {incident.message}", key, symbol=symbol)]


def depth_levels(usual: float, drop: float, margin: float) -> tuple[float, float]:
    """The depth below which a drop is raised, and at or above which it re-arms (``margin`` of the usual depth
    back above it), so a book hovering at the line is one alert, not one per flicker."""
    floor = (1.0 - drop) * usual
    return floor, floor + margin * usual


def _figures(event: RiskEvent) -> str:
    if event.figure is None or event.limit is None:
        return ""
    return f", {_pct(event.figure)} against {_pct(event.limit)}"


def tiers_changed(before: Mapping[str, int], after: Mapping[str, int], assets: Sequence[str]) -> list[str]:
    """Assets whose tier differs between two assignments (absent: out of the universe)."""
    return [a for a in assets if before.get(a) != after.get(a)]
