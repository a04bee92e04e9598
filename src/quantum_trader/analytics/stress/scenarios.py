"""The named scenarios: what each injects, how hard, and the bound it is held to.

Three come from the policy's scenario table (spec section 7) and carry its names; five more
cover what the table leaves out. Each is a ``ShockSpec`` (the parameters of one family of
shocks, which Monte Carlo varies) and a bound kind. The severities are our assumptions of a
severe but seen day in crypto perpetuals, not fitted to anything; they are printed with
every result so a reader can judge them:

- ``correlated_crash``: every asset slides against the book, the leader 20% in an hour and the
  others by their beta share; books thin to a third of their depth at triple spreads meanwhile;
- ``single_asset_anomaly``: the largest held position's asset moves 35% against it in ten
  minutes, its book at a fifth of its depth and five times its spread for an hour;
- ``liquidity_crisis``: every book at 5% of its depth and ten times its spread for four hours,
  while prices slide 8% against the book over two of them, so stops fill in the thin book;
- ``flash_crash``: every asset gaps 20% against the book at one bar's open, through every stop
  in between, and is back where it was 30 minutes later;
- ``funding_spike``: every asset settles 0.5% funding against its held side every hour for a
  day (exchanges shorten the interval when funding hits its cap);
- ``exchange_outage``: no bars at all for 30 minutes while prices slide 15% against the book,
  so the first bar back opens past the stops (a stale feed is the same to the kernel, whose
  bars are the only market it sees);
- ``correlation_to_one``: for a day every asset moves exactly as the leader, ending with a 10%
  slide against the book over two hours;
- ``asset_delisted``: the largest held position's contract settles 30% against it at one bar
  and then has no bars at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final, Literal

import numpy as np

from quantum_trader.analytics.stress.bounds import BoundKind
from quantum_trader.analytics.stress.injections import (
    delist,
    drop_bars,
    follow_leader,
    funding_jump,
    liquidity_channel,
    liquidity_drain,
    price_shock,
)
from quantum_trader.analytics.stress.market import StressMarket
from quantum_trader.analytics.stress.measures import Window
from quantum_trader.analytics.stress.shapes import Shape
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR, MS_PER_MINUTE

HORIZON_MS: Final = MS_PER_DAY
"""Figures are measured until a day after the last injected change."""


@dataclass(frozen=True)
class ShockSpec:
    """One family of shocks; zero means "this part is not injected"."""

    move: float = 0.0
    """The leader's move as a fraction of its price (0.2: 20%), against the book; others move by their beta share."""
    shape: Shape = "slide"
    duration_ms: int = 0
    recovery_ms: int | None = None
    scope: Literal["book", "asset"] = "book"
    """``book``: every asset; ``asset``: the one asset of the largest held position."""
    spread_mult: float = 1.0
    depth_mult: float = 1.0
    liquidity_ms: int = 0
    """How long books stay thin, from the start of the price move."""
    funding_rate: float = 0.0
    funding_every_ms: int = MS_PER_HOUR
    funding_ms: int = 0
    outage_ms: int = 0
    """No bars at all for this long from the start; the price move happens inside it."""
    follow_ms: int = 0
    """Every asset moves as the leader for this long; the price move ends it."""
    delist: bool = False
    """The hit asset's bar at the move is its last."""
    dispersion: float = 1.0
    """Correlation of each asset's move with the common shock (1: exactly its beta share)."""


@dataclass(frozen=True)
class Family:
    name: str
    description: str
    spec: ShockSpec
    bounds: tuple[BoundKind, ...]
    """The scenario's own bound first (the spec's worst case where the table gives one), then the kill switch's
    daily limit for shocks on the whole book: the spec keeps it "still at -5%" in every scenario."""
    in_policy: bool
    """Named in the policy's scenario table (spec section 7)."""


FAMILIES: Final[dict[str, Family]] = {f.name: f for f in (
    Family("correlated_crash", "All assets crash together",
           ShockSpec(move=0.20, shape="slide", duration_ms=60 * MS_PER_MINUTE, spread_mult=3.0, depth_mult=0.3,
                     liquidity_ms=60 * MS_PER_MINUTE), (BoundKind.DRAWDOWN, BoundKind.DAY_LOSS), True),
    Family("single_asset_anomaly", "One asset moves against position",
           ShockSpec(move=0.35, shape="slide", duration_ms=10 * MS_PER_MINUTE, scope="asset", spread_mult=5.0,
                     depth_mult=0.2, liquidity_ms=60 * MS_PER_MINUTE), (BoundKind.ASSET_LOSS,), True),
    Family("liquidity_crisis", "Sudden liquidity drops",
           ShockSpec(move=0.08, shape="slide", duration_ms=2 * MS_PER_HOUR, spread_mult=10.0, depth_mult=0.05,
                     liquidity_ms=4 * MS_PER_HOUR), (BoundKind.TRADE_RISK, BoundKind.DAY_LOSS), True),
    Family("flash_crash", "Prices gap through the stops and come back",
           ShockSpec(move=0.20, shape="gap", recovery_ms=30 * MS_PER_MINUTE, spread_mult=5.0, depth_mult=0.2,
                     liquidity_ms=30 * MS_PER_MINUTE), (BoundKind.TRADE_RISK, BoundKind.DAY_LOSS), False),
    Family("funding_spike", "Funding jumps against every position",
           ShockSpec(funding_rate=0.005, funding_every_ms=MS_PER_HOUR, funding_ms=24 * MS_PER_HOUR),
           (BoundKind.DAY_LOSS,), False),
    Family("exchange_outage", "No data and no trading while the market moves (stale feed / outage)",
           ShockSpec(move=0.15, shape="slide", outage_ms=30 * MS_PER_MINUTE), (BoundKind.DAY_LOSS,), False),
    Family("correlation_to_one", "Every asset moves as one, then falls together",
           ShockSpec(move=0.10, shape="slide", duration_ms=2 * MS_PER_HOUR, follow_ms=24 * MS_PER_HOUR),
           (BoundKind.CORRELATED, BoundKind.DAY_LOSS), False),
    Family("asset_delisted", "A held asset is delisted mid-position",
           ShockSpec(move=0.30, shape="gap", scope="asset", delist=True), (BoundKind.ASSET_LOSS,), False),
)}


@dataclass(frozen=True)
class Placement:
    """Where a shock lands: its start (a bar's open), which way is against the book, the assets it hits,
    each held asset's side then (+1 long, -1 short) and why this time was chosen."""

    at_ms: int
    direction: int
    assets: tuple[str, ...]
    sides: Mapping[str, int]
    note: str


@dataclass(frozen=True)
class Built:
    market: StressMarket
    window: Window
    description: str
    shock_ms: int
    """When the price move starts (for plots)."""


def length_ms(spec: ShockSpec) -> int:
    """From the start to the last injected change."""
    move = spec.duration_ms + (spec.recovery_ms or 0)
    start = max(spec.follow_ms - spec.duration_ms, 0) if spec.follow_ms else 0
    return max(start + move, spec.outage_ms, spec.liquidity_ms, spec.funding_ms, spec.follow_ms, 1)


def _log_moves(spec: ShockSpec, placement: Placement, betas: Mapping[str, float],
               weights: Mapping[str, float] | None) -> dict[str, float]:
    """Per hit asset, the fraction it moves: the leader's log move times its beta (and its weight, Monte Carlo's
    dispersion of a market-wide shock). The leader moves by ``spec.move`` against the book: down 20% or up 20%."""
    base = float(np.log1p(placement.direction * min(spec.move, 0.95)))
    whole = bool(spec.follow_ms) or spec.scope == "asset"  # one asset, or every asset moving as one: no shares
    out = {}
    for symbol in placement.assets:
        beta = 1.0 if whole else betas.get(symbol, 1.0)
        weight = 1.0 if whole or weights is None else weights.get(symbol, 1.0)
        out[symbol] = float(np.expm1(base * beta * weight))
    return out


def _describe(spec: ShockSpec, placement: Placement, moves: Mapping[str, float], market: StressMarket,
              leader: str) -> str:
    names = [asset_of(s) for s in placement.assets]
    who = names[0] if len(names) == 1 else f"{len(names)} assets"
    parts = []
    if spec.follow_ms:
        hours = spec.follow_ms / MS_PER_HOUR
        parts.append(f"{len(market.symbols)} assets move as {asset_of(leader)} for {hours:.0f} h")
    if spec.outage_ms:
        parts.append(f"no bars for {spec.outage_ms / MS_PER_MINUTE:.0f} min")
    if moves:
        sizes = sorted(abs(m) for m in moves.values())
        way = "down" if placement.direction < 0 else "up"
        size = f"{sizes[-1]:.0%}" if sizes[0] == sizes[-1] else f"{sizes[0]:.0%}..{sizes[-1]:.0%}"
        how = {"gap": "gap", "slide": "slide", "v": "fall and recover"}[spec.shape]
        over = "" if spec.shape == "gap" and not spec.outage_ms else (
            f" over {max(spec.duration_ms, spec.outage_ms) / MS_PER_MINUTE:.0f} min")
        back = f", back in {spec.recovery_ms / MS_PER_MINUTE:.0f} min" if spec.recovery_ms else ""
        parts.append(f"{who} {how} {size} {way}{over}{back}")
    if spec.delist:
        parts.append(f"{who} delisted at that bar (no bars after it)")
    if spec.liquidity_ms:
        channels = {liquidity_channel(market, s) for s in placement.assets}
        thin = (f"spread x{spec.spread_mult:g}, depth x{spec.depth_mult:g}" if channels == {"book"} else
                f"depth x{spec.depth_mult:g} (no books for some: bar volume x{spec.depth_mult:g}, spread unchanged)")
        parts.append(f"{thin} for {spec.liquidity_ms / MS_PER_MINUTE:.0f} min")
    if spec.funding_ms:
        parts.append(f"funding {spec.funding_rate:.2%} against each position every "
                     f"{spec.funding_every_ms / MS_PER_MINUTE:.0f} min for {spec.funding_ms / MS_PER_HOUR:.0f} h")
    return "; ".join(parts)


def build(market: StressMarket, spec: ShockSpec, placement: Placement, *, leader: str, betas: Mapping[str, float],
          weights: Mapping[str, float] | None = None) -> Built:
    """The stressed market of one shock: the injections of ``spec`` in a fixed order (correlation, price, outage,
    liquidity, funding, delisting), all timed from ``placement.at_ms``."""
    t = placement.at_ms
    shock_at = t + max(spec.follow_ms - spec.duration_ms, 0) if spec.follow_ms else t
    duration = spec.outage_ms if spec.outage_ms and spec.shape != "gap" else spec.duration_ms
    out = market
    if spec.follow_ms:
        out = follow_leader(out, leader, market.symbols, start_ms=t, end_ms=t + spec.follow_ms)
    moves = _log_moves(spec, placement, betas, weights) if spec.move else {}
    if moves:
        out = price_shock(out, moves, at_ms=shock_at, shape=spec.shape, duration_ms=duration,
                          recovery_ms=spec.recovery_ms)
    if spec.outage_ms:
        out = drop_bars(out, market.symbols, start_ms=t, end_ms=t + spec.outage_ms)
    if spec.liquidity_ms:
        out = liquidity_drain(out, placement.assets, start_ms=shock_at, end_ms=shock_at + spec.liquidity_ms,
                              spread_mult=spec.spread_mult, depth_mult=spec.depth_mult)
    if spec.funding_ms:
        rates = {s: spec.funding_rate * placement.sides.get(s, -placement.direction) for s in placement.assets}
        out = funding_jump(out, rates, start_ms=t, end_ms=t + spec.funding_ms, every_ms=spec.funding_every_ms)
    if spec.delist:
        for symbol in placement.assets:
            out = delist(out, symbol, at_ms=shock_at)
    end = t + length_ms(spec)
    window = Window(t, end, min(end + HORIZON_MS, market.end_ms))
    return Built(out, window, _describe(spec, placement, moves, market, leader), shock_at)


def scaled(spec: ShockSpec, severity: float) -> ShockSpec:
    """The same family ``severity`` times as hard: the move, the funding rate, the thinning of the books."""
    return replace(spec, move=min(spec.move * severity, 0.95), funding_rate=spec.funding_rate * severity,
                   spread_mult=1.0 + (spec.spread_mult - 1.0) * severity,
                   depth_mult=float(min(1.0, spec.depth_mult ** severity)))
