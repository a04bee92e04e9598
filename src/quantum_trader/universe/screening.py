"""Screening: does an asset meet the spec's inclusion requirements (section 2), measured, criterion by criterion?

Every criterion yields a :class:`CriterionResult` with the measured figure, the policy's
threshold, a status and the evidence it came from. The rule that matters most: a
criterion whose data is missing, or does not cover the window the policy asks for, is
``unknown``, never ``pass``. An asset passes only when every applicable criterion passed,
because an asset we cannot measure is an asset we cannot trade safely.

Windows end at the last observation of each dataset (screening is about the most recent
evidence the catalog holds), so a stale catalog screens stale assets; the evidence text
says which period each figure covers.

Pure logic: series in, results out. Reading the catalog or a markets file is the CLI's job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from quantum_trader.config.policy import Policy
from quantum_trader.domain.market import F64, BarSeries, BookSeries, FundingSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR, duration_ms, format_time, timeframe_ms

DEPTH_FRACTION = 0.01
"""The spec's "depth at 1%": quote depth within 1% of mid."""
FUNDING_PERIOD_MS = 8 * MS_PER_HOUR
"""The spec states funding per 8h; rates of other intervals are scaled to it."""
BOOK_WINDOW_MS = MS_PER_DAY
"""Depth and spread: the median over the snapshots of the book's last 24h."""
VOLUME_WINDOW_MS = MS_PER_DAY
VOLUME_DAYS = 7
"""Volume is the median of this many 24h windows: a typical day's, not the last day's."""

VOLUME = "volume_24h"
DEPTH = "depth_1pct"
SPREAD = "spread"
LISTED = "perpetual_listed"
CORRELATION = "btc_correlation_90d"
FUNDING_TYPICAL = "funding_typical_8h"
FUNDING_SHARE = "funding_share_above_limit"
FEED = "data_feed_gaps"
CRITERIA = (VOLUME, DEPTH, SPREAD, LISTED, CORRELATION, FUNDING_TYPICAL, FUNDING_SHARE, FEED)
"""Every criterion, in the order tables show them."""


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "n/a"
    """BTC's correlation to BTC: the anchor is not screened against itself."""


@dataclass(frozen=True, slots=True)
class CriterionResult:
    criterion: str
    status: Status
    value: float | bool | None
    threshold: float | bool
    comparison: str
    """How ``value`` must relate to ``threshold`` to pass: ``>=``, ``<=``, ``<`` or ``==``."""
    unit: str
    """``usd``, ``fraction`` (0.0005 = 0.05%), ``correlation`` or ``bool``."""
    evidence: str
    """Where the figure came from and the period it covers, or why it is unknown."""


@dataclass(frozen=True, slots=True)
class AssetScreen:
    asset: str
    symbol: str
    criteria: tuple[CriterionResult, ...]

    @property
    def status(self) -> Status:
        """``fail`` if any criterion failed, else ``unknown`` if any is unknown, else ``pass``."""
        statuses = {c.status for c in self.criteria}
        if Status.FAIL in statuses:
            return Status.FAIL
        if Status.UNKNOWN in statuses:
            return Status.UNKNOWN
        return Status.PASS

    @property
    def passed(self) -> bool:
        return self.status is Status.PASS

    def result(self, criterion: str) -> CriterionResult:
        for c in self.criteria:
            if c.criterion == criterion:
                return c
        raise KeyError(f"{self.asset}: no screening criterion {criterion!r}; known: {', '.join(CRITERIA)}")

    def failed(self) -> tuple[str, ...]:
        return tuple(c.criterion for c in self.criteria if c.status is Status.FAIL)

    def unknown(self) -> tuple[str, ...]:
        return tuple(c.criterion for c in self.criteria if c.status is Status.UNKNOWN)


@dataclass(frozen=True, slots=True)
class ScreeningInputs:
    """What the catalog holds for one asset; ``None`` wherever it holds nothing.

    ``bars`` measure volume and feed gaps at their own timeframe; the correlation uses
    ``corr_bars`` (default ``bars``) against ``btc_bars`` of the same timeframe, so a
    caller may resample 1m candles to the policy's returns timeframe for it without
    hiding gaps from the feed check. ``listed`` is the answer of the exchange's market metadata, None when
    no metadata was available. ``sources`` names each dataset for the evidence text.
    """

    symbol: str
    bars: BarSeries | None = None
    corr_bars: BarSeries | None = None
    btc_bars: BarSeries | None = None
    book: BookSeries | None = None
    funding: FundingSeries | None = None
    listed: bool | None = None
    sources: Mapping[str, str] = field(default_factory=dict)

    def source(self, key: str, default: str) -> str:
        return self.sources.get(key, default)


def _result(criterion: str, value: float | bool | None, threshold: float | bool, comparison: str, unit: str,
            evidence: str, *, unknown: bool = False) -> CriterionResult:
    if value is None or unknown:
        return CriterionResult(criterion, Status.UNKNOWN, value, threshold, comparison, unit, evidence)
    ok = {
        ">=": lambda: value >= threshold,
        "<=": lambda: value <= threshold,
        "<": lambda: value < threshold,
        "==": lambda: value == threshold,
    }[comparison]()
    return CriterionResult(criterion, Status.PASS if ok else Status.FAIL, value, threshold, comparison, unit,
                           evidence)


# ----------------------------------------------------------------------------- measurements


def volume_24h(bars: BarSeries | None, threshold: float, source: str) -> CriterionResult:
    """Typical USD volume of 24h (close x base volume per bar): the median of the last
    ``VOLUME_DAYS`` 24h windows ending at the last candle, so one quiet Sunday (or one busy
    day) does not decide; with less history, the 24h windows there are. Missing volume
    (a file without it) is unknown, never zero.
    """
    if bars is None or len(bars) == 0:
        return _result(VOLUME, None, threshold, ">=", "usd", f"no candles in {source}")
    step = timeframe_ms(bars.timeframe)
    end = int(bars.ts[-1]) + step
    start = end - VOLUME_WINDOW_MS
    if bars.ts[0] > start:
        return _result(VOLUME, None, threshold, ">=", "usd",
                       f"{source}: candles start {format_time(int(bars.ts[0]))}, less than 24h of history")
    days = min(VOLUME_DAYS, (end - int(bars.ts[0])) // VOLUME_WINDOW_MS)
    first = end - days * VOLUME_WINDOW_MS
    inside = bars.ts >= first
    usd_bars = bars.close[inside] * bars.volume[inside]
    if not np.all(np.isfinite(usd_bars)):
        return _result(VOLUME, None, threshold, ">=", "usd", f"{source}: volume not recorded in these candles")
    window = (end - 1 - bars.ts[inside]) // VOLUME_WINDOW_MS
    per_day = np.bincount(window, weights=usd_bars, minlength=days)
    usd = float(np.median(per_day))
    return _result(VOLUME, usd, threshold, ">=", "usd",
                   f"{source} {bars.timeframe} candles: median of {days} x 24h to {format_time(end)}")


@dataclass(frozen=True, slots=True)
class BookFigures:
    """Median figures over the snapshots used; ``truncated`` when the listed levels end inside the 1% band."""

    snapshots: int
    bid_depth: float
    ask_depth: float
    depth: float
    spread: float
    truncated: bool
    start: int
    end: int


def book_figures(book: BookSeries, fraction: float = DEPTH_FRACTION) -> BookFigures | None:
    """Depth within ``fraction`` of mid on each side (USD) and the relative spread, median over the last 24h.

    A snapshot with an empty side has no mid and is skipped. A snapshot whose deepest
    listed level on a side is still inside the band is *truncated*: the exchange sent
    fewer levels than the band holds, so its depth is a lower bound, not a measurement.
    """
    if len(book) == 0:
        return None
    recent = book.ts >= int(book.ts[-1]) - BOOK_WINDOW_MS
    bid_px, bid_sz = book.bid_px[recent], book.bid_sz[recent]
    ask_px, ask_sz = book.ask_px[recent], book.ask_sz[recent]
    ts = book.ts[recent]
    valid = (bid_sz[:, 0] > 0) & (ask_sz[:, 0] > 0) & np.isfinite(bid_px[:, 0]) & np.isfinite(ask_px[:, 0])
    if not bool(valid.any()):
        return None
    bid_px, bid_sz, ask_px, ask_sz, ts = bid_px[valid], bid_sz[valid], ask_px[valid], ask_sz[valid], ts[valid]
    mid = (bid_px[:, 0] + ask_px[:, 0]) / 2.0
    lo = (mid * (1.0 - fraction) * (1.0 - 1e-12))[:, None]
    hi = (mid * (1.0 + fraction) * (1.0 + 1e-12))[:, None]
    bids = np.where((bid_sz > 0) & (np.nan_to_num(bid_px) >= lo), np.nan_to_num(bid_px) * bid_sz, 0.0).sum(axis=1)
    asks = np.where((ask_sz > 0) & (np.nan_to_num(ask_px, nan=np.inf) <= hi), np.nan_to_num(ask_px) * ask_sz,
                    0.0).sum(axis=1)
    deepest_bid = _deepest(bid_px, bid_sz, np.inf)
    deepest_ask = _deepest(ask_px, ask_sz, -np.inf)
    truncated = bool(np.any((deepest_bid > lo[:, 0]) | (deepest_ask < hi[:, 0])))
    spread = (ask_px[:, 0] - bid_px[:, 0]) / mid
    return BookFigures(
        snapshots=int(ts.size), bid_depth=float(np.median(bids)), ask_depth=float(np.median(asks)),
        depth=float(np.median(np.minimum(bids, asks))), spread=float(np.median(spread)), truncated=truncated,
        start=int(ts[0]), end=int(ts[-1]),
    )


def _deepest(px: F64, sz: F64, empty: float) -> F64:
    """Price of the last level with size on each row (levels are best first)."""
    filled = sz > 0
    last = filled.shape[1] - 1 - np.argmax(filled[:, ::-1], axis=1)
    out = px[np.arange(px.shape[0]), last]
    return np.where(filled.any(axis=1), out, empty)


def depth_and_spread(book: BookSeries | None, depth_min: float, spread_max: float,
                     source: str) -> tuple[CriterionResult, CriterionResult]:
    if book is None or len(book) == 0:
        why = f"no order-book snapshots in {source}"
        return (_result(DEPTH, None, depth_min, ">=", "usd", why),
                _result(SPREAD, None, spread_max, "<=", "fraction", why))
    fig = book_figures(book)
    if fig is None:
        why = f"{source}: no snapshot in the last 24h has both a bid and an ask"
        return (_result(DEPTH, None, depth_min, ">=", "usd", why),
                _result(SPREAD, None, spread_max, "<=", "fraction", why))
    where = (f"{source}: median of {fig.snapshots} L2 snapshots {format_time(fig.start)} .. "
             f"{format_time(fig.end)}; bid ${fig.bid_depth:,.0f}, ask ${fig.ask_depth:,.0f}")
    if fig.truncated and fig.depth < depth_min:
        depth = _result(DEPTH, fig.depth, depth_min, ">=", "usd",
                        f"{where}; the snapshots' levels end inside the 1% band, so depth is at least "
                        f"${fig.depth:,.0f} (a lower bound below the threshold proves nothing)", unknown=True)
    else:
        note = "; levels end inside the band: a lower bound, already above the threshold" if fig.truncated else ""
        depth = _result(DEPTH, fig.depth, depth_min, ">=", "usd", where + note)
    span = f"{format_time(fig.start)} .. {format_time(fig.end)}"
    spread = _result(SPREAD, fig.spread, spread_max, "<=", "fraction",
                     f"{source}: median of {fig.snapshots} snapshots {span}")
    return depth, spread


def perpetual_listed(markets: Mapping[str, Any], symbol: str) -> bool:
    """Whether ccxt market metadata (``load_markets()`` output) lists ``symbol`` as an active perpetual swap."""
    market = markets.get(symbol)
    if not isinstance(market, Mapping):
        return False
    is_swap = bool(market.get("swap")) or market.get("type") == "swap"
    return is_swap and market.get("active") is not False


def listing(listed: bool | None, source: str) -> CriterionResult:
    if listed is None:
        return _result(LISTED, None, True, "==", "bool",
                       f"no exchange market metadata ({source}); store it with `quantum-trader data markets`")
    return _result(LISTED, listed, True, "==", "bool", source)


def btc_correlation(bars: BarSeries | None, btc: BarSeries | None, window: str, limit: float,
                    source: str) -> CriterionResult:
    """Correlation of log returns to BTC over the last ``window`` of common candles."""
    if bars is None or btc is None or len(bars) < 3 or len(btc) < 3:
        return _result(CORRELATION, None, limit, "<", "correlation",
                       f"no candles of the asset and of BTC in {source}")
    if bars.timeframe != btc.timeframe:
        return _result(CORRELATION, None, limit, "<", "correlation",
                       f"{source}: asset candles are {bars.timeframe}, BTC candles {btc.timeframe}; "
                       "no common clock")
    ts, ia, ib = np.intersect1d(bars.ts, btc.ts, assume_unique=True, return_indices=True)
    step = timeframe_ms(bars.timeframe)
    if ts.size < 3:
        return _result(CORRELATION, None, limit, "<", "correlation", f"{source}: fewer than 3 common candles")
    end = int(ts[-1]) + step
    start = end - duration_ms(window)
    if ts[0] > start:
        return _result(CORRELATION, None, limit, "<", "correlation",
                       f"{source}: common candles start {format_time(int(ts[0]))}, less than {window} "
                       f"before {format_time(end)}")
    keep = ts >= start
    ra = np.diff(np.log(bars.close[ia][keep]))
    rb = np.diff(np.log(btc.close[ib][keep]))
    if not (np.std(ra) > 0 and np.std(rb) > 0):
        return _result(CORRELATION, None, limit, "<", "correlation", f"{source}: a price series is flat")
    value = float(np.corrcoef(ra, rb)[0, 1])
    return _result(CORRELATION, value, limit, "<", "correlation",
                   f"{source}: {ra.size} {bars.timeframe} log returns {format_time(start)} .. {format_time(end)}")


def funding(series: FundingSeries | None, policy: Policy, source: str) -> tuple[CriterionResult, CriterionResult]:
    """Median absolute funding per 8h and the share of periods above the limit, over the funding window."""
    trad = policy.asset_requirements.tradability
    limit, share_max = trad.max_typical_funding_8h, trad.max_share_above_funding_limit
    window = duration_ms(trad.funding_window)

    def unknown(why: str) -> tuple[CriterionResult, CriterionResult]:
        return (_result(FUNDING_TYPICAL, None, limit, "<", "fraction", why),
                _result(FUNDING_SHARE, None, share_max, "<=", "fraction", why))

    if series is None or len(series) < 2:
        return unknown(f"fewer than 2 funding settlements in {source}")
    interval = int(np.median(np.diff(series.ts)))
    last = int(series.ts[-1])
    if series.ts[0] > last - window + interval:
        return unknown(f"{source}: funding starts {format_time(int(series.ts[0]))}, less than "
                       f"{trad.funding_window} before {format_time(last)}")
    inside = series.ts > last - window
    per_8h = np.abs(series.rate[inside]) * (FUNDING_PERIOD_MS / interval)
    where = (f"{source}: {int(inside.sum())} settlements every {interval / MS_PER_HOUR:.3g}h to "
             f"{format_time(last)} ({trad.funding_window}), scaled to 8h")
    typical = float(np.median(per_8h))
    share = float(np.mean(per_8h > limit))
    return (_result(FUNDING_TYPICAL, typical, limit, "<", "fraction", where),
            _result(FUNDING_SHARE, share, share_max, "<=", "fraction", where))


def feed_gaps(bars: BarSeries | None, policy: Policy, source: str) -> CriterionResult:
    """Share of missing candles over the reliability window ending at the last candle."""
    infra = policy.asset_requirements.infrastructure
    limit = infra.max_gap_share
    if bars is None or len(bars) == 0:
        return _result(FEED, None, limit, "<=", "fraction", f"no candles in {source}")
    step = timeframe_ms(bars.timeframe)
    end = int(bars.ts[-1]) + step
    start = end - duration_ms(infra.reliability_window)
    if bars.ts[0] > start:
        return _result(FEED, None, limit, "<=", "fraction",
                       f"{source}: candles start {format_time(int(bars.ts[0]))}, less than "
                       f"{infra.reliability_window} of history")
    expected = (end - start) // step
    present = int(np.count_nonzero(bars.ts >= start))
    share = max(0.0, 1.0 - present / expected)
    return _result(FEED, share, limit, "<=", "fraction",
                   f"{source}: {expected - present} of {expected} {bars.timeframe} candles missing "
                   f"{format_time(start)} .. {format_time(end)}")


# ----------------------------------------------------------------------------- the screen


def screen_asset(inputs: ScreeningInputs, policy: Policy) -> AssetScreen:
    """Every criterion of spec section 2 for one asset."""
    req = policy.asset_requirements
    liq = req.liquidity
    asset = asset_of(inputs.symbol)
    candles = inputs.source("candles", "the catalog")
    depth, spread = depth_and_spread(inputs.book, liq.min_depth_at_1pct, liq.max_spread,
                                     inputs.source("book", "the catalog"))
    results = [
        volume_24h(inputs.bars, liq.min_daily_volume, candles),
        depth,
        spread,
        listing(inputs.listed, inputs.source("markets", "none")),
    ]
    baseline = policy.signals.model.baseline_asset
    window = policy.correlation.btc_correlation_window
    if asset == baseline:
        results.append(CriterionResult(CORRELATION, Status.NOT_APPLICABLE, None, req.correlation.btc_correlation_90d,
                                       "<", "correlation", f"{asset} is the baseline asset"))
    else:
        own = inputs.corr_bars if inputs.corr_bars is not None else inputs.bars
        results.append(btc_correlation(own, inputs.btc_bars, window, req.correlation.btc_correlation_90d,
                                       candles))
    results.extend(funding(inputs.funding, policy, inputs.source("funding", "the catalog")))
    results.append(feed_gaps(inputs.bars, policy, candles))
    return AssetScreen(asset, inputs.symbol, tuple(results))


def records(screens: list[AssetScreen] | tuple[AssetScreen, ...]) -> list[dict[str, Any]]:
    """One flat row per asset and criterion, for ``--json`` and ``--csv``."""
    rows: list[dict[str, Any]] = []
    for s in screens:
        for c in s.criteria:
            rows.append({
                "asset": s.asset, "symbol": s.symbol, "asset_status": s.status.value, "criterion": c.criterion,
                "status": c.status.value, "value": c.value, "comparison": c.comparison,
                "threshold": c.threshold, "unit": c.unit, "evidence": c.evidence,
            })
    return rows
