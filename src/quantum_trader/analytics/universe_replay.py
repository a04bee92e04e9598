"""The universe a replay may trade: the policy's tiers and phase, screened again as the run goes.

A backtest must trade what the policy admits, not every asset that has data: the phase
names its assets, the tiers say where each belongs, and screening says whether it still
qualifies. Every ``universe.rescreen_every`` the run's own data strictly before that time is
screened (volume, depth and spread of the last day, listing, the BTC correlation, funding,
feed gaps), tier-3 edge is measured from the strategy's own intents over the edge lookback,
and :func:`universe.tiers.assign_tiers` turns that into tiers. The schedule is computed
before the kernel runs (each screen reads only the past, so nothing is looked ahead); the
kernel reads the assignment in force at each decision and records each change as an event.

A criterion whose window has not filled yet (90 days of BTC correlation at the start of a
run) is *unknown*: in a replay the asset then keeps its previous tier, first the policy's,
and the screen says so; a measured failure removes or demotes it at once.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from quantum_trader.config import Policy
from quantum_trader.domain.market import I64, BarSeries, BookSeries, FundingSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, duration_ms, timeframe_ms
from quantum_trader.domain.trading import Intent
from quantum_trader.universe.schedule import UniverseSchedule
from quantum_trader.universe.screening import ScreeningInputs, perpetual_listed, screen_asset
from quantum_trader.universe.tiers import TierAssignment, assign_tiers, edge_figures

BOOK_WINDOW_MS = MS_PER_DAY
"""Depth and spread are screened on the snapshots of the day before (an older book is not the market)."""


def screening_times(start: int, end: int, every: str) -> I64:
    step = duration_ms(every)
    return np.arange(start, end + 1, step, dtype=np.int64)


def _recent(series: BarSeries | None, start: int, end: int) -> BarSeries | None:
    if series is None:
        return None
    part = series.slice(start, end)
    return part if len(part) else None


def _book_before(book: BookSeries | None, end: int) -> BookSeries | None:
    if book is None or len(book) == 0:
        return None
    lo, hi = np.searchsorted(book.ts, [end - BOOK_WINDOW_MS, end], side="left")
    if hi <= lo:
        return None
    return BookSeries(book.symbol, book.ts[lo:hi], book.bid_px[lo:hi], book.bid_sz[lo:hi], book.ask_px[lo:hi],
                      book.ask_sz[lo:hi])


def _funding_before(series: FundingSeries | None, start: int, end: int) -> FundingSeries | None:
    if series is None or len(series) == 0:
        return None
    lo, hi = np.searchsorted(series.ts, [start, end], side="left")
    return FundingSeries(series.symbol, series.ts[lo:hi], series.rate[lo:hi]) if hi > lo else None


@dataclass(frozen=True)
class ReplayInputs:
    """What the screens read: each symbol's bars (and the same on the correlation clock), books, funding,
    and whether the exchange lists it (None: no listing stored)."""

    bars: Mapping[str, BarSeries]
    corr_bars: Mapping[str, BarSeries]
    books: Mapping[str, BookSeries]
    funding: Mapping[str, FundingSeries]
    listed: Mapping[str, bool | None]
    spot: frozenset[str] = frozenset()
    """Symbols whose candles are spot data standing in for the perpetual: their volume is not the
    perpetual's, so the volume criterion is unknown for them (never measured against the wrong market)."""
    reader: WindowReader | None = None
    """Reads each screen's bars and books from storage (a replay streamed from the catalog holds neither
    whole); ``bars`` then only names the symbols and ``books`` is unused."""

    @property
    def symbols(self) -> tuple[str, ...]:
        return tuple(self.bars)

    def bars_between(self, symbol: str, start: int, end: int) -> BarSeries | None:
        if self.reader is not None:
            return self.reader.bars(symbol, start, end)
        return _recent(self.bars.get(symbol), start, end)

    def book_before(self, symbol: str, end: int) -> BookSeries | None:
        if self.reader is not None:
            return self.reader.book(symbol, end - BOOK_WINDOW_MS, end)
        return _book_before(self.books.get(symbol), end)


class WindowReader(Protocol):
    """A symbol's bars or book snapshots with ``start <= ts < end`` (None: none), read where they are stored."""

    def bars(self, symbol: str, start: int, end: int) -> BarSeries | None: ...

    def book(self, symbol: str, start: int, end: int) -> BookSeries | None: ...


def _screen_inputs(symbol: str, btc: str, inputs: ReplayInputs, at: int, policy: Policy) -> ScreeningInputs:
    lookback = max(duration_ms(policy.correlation.btc_correlation_window),
                   duration_ms(policy.asset_requirements.infrastructure.reliability_window),
                   duration_ms(policy.asset_requirements.tradability.funding_window)) + MS_PER_DAY
    start = at - lookback
    bars = inputs.bars_between(symbol, start, at)
    candles = "the run's candles"
    if bars is not None and symbol in inputs.spot:
        bars = replace(bars, volume=np.full(bars.volume.shape, np.nan))
        candles = "the run's candles (spot standing in for the perpetual, whose volume is not in the catalog)"
    return ScreeningInputs(
        symbol,
        bars=bars,
        corr_bars=_recent(inputs.corr_bars.get(symbol), start, at),
        btc_bars=_recent(inputs.corr_bars.get(btc), start, at),
        book=inputs.book_before(symbol, at),
        funding=_funding_before(inputs.funding.get(symbol), start, at),
        listed=inputs.listed.get(symbol),
        sources={"candles": candles, "book": "the run's books", "funding": "the run's funding",
                 "markets": "the stored exchange listing" if inputs.listed.get(symbol) is not None else "none"},
    )


def replay_universe(inputs: ReplayInputs, intents: Iterable[tuple[int, Sequence[Intent]]], policy: Policy, *,
                    phase: int, start: int, end: int) -> UniverseSchedule:
    """Screen every ``universe.rescreen_every`` from ``start`` (each on the data strictly before it).

    ``intents``: (decision time, intents) of the strategy, ascending; tier-3 edge is measured
    on those known by each screening time (within the edge lookback). They are read once, in order, and only
    the lookback's are held: a generator over years of decisions costs a lookback of intents, not the years.
    """
    btc = next((s for s in inputs.symbols if asset_of(s) == policy.signals.model.baseline_asset), "")
    requested = [asset_of(s) for s in inputs.symbols]
    lookback = policy.asset_tiers.tier_3.edge_lookback
    times = screening_times(start, end, policy.universe.rescreen_every)
    window = _LookbackWindow(intents, duration_ms(lookback))
    assignments: list[TierAssignment] = []
    previous: TierAssignment | None = None
    for at in times.tolist():
        screens = {asset_of(s): screen_asset(_screen_inputs(s, btc, inputs, at, policy), policy)
                   for s in inputs.symbols}
        recent = window.at(at)
        previous = assign_tiers(policy, screens, ts=at, edges=edge_figures(recent, at, lookback), previous=previous,
                                keep_unverified=True, assets=requested)
        assignments.append(previous)
    return UniverseSchedule(times, tuple(assignments), phase)


class _LookbackWindow:
    """The intents decided in ``(at - lookback_ms, at]`` for ascending ``at``, read from ascending ``intents``
    as the times advance (what ``np.searchsorted`` of every decision time, side right, cut from the whole)."""

    def __init__(self, intents: Iterable[tuple[int, Sequence[Intent]]], lookback_ms: int) -> None:
        self._source = iter(intents)
        self._next: tuple[int, Sequence[Intent]] | None = next(self._source, None)
        self._held: deque[tuple[int, Sequence[Intent]]] = deque()
        self._lookback = lookback_ms

    def at(self, at: int) -> list[Intent]:
        while self._next is not None and self._next[0] <= at:
            self._held.append(self._next)
            self._next = next(self._source, None)
        while self._held and self._held[0][0] <= at - self._lookback:
            self._held.popleft()
        return [i for _, batch in self._held for i in batch]


def listed_from(markets: Mapping[str, object] | None, symbols: Iterable[str]) -> dict[str, bool | None]:
    """Per symbol: whether the stored listing names it an active perpetual (None without a listing)."""
    return {s: (None if markets is None else perpetual_listed(markets, s)) for s in symbols}


def correlation_clock(bars: Mapping[str, BarSeries], policy: Policy) -> dict[str, BarSeries]:
    """The bars on the correlation returns timeframe (or their own when coarser), as screening measures it."""
    from quantum_trader.data.resample import resample_bars

    out = {}
    for symbol, series in bars.items():
        want = policy.correlation.returns_timeframe
        if timeframe_ms(want) <= timeframe_ms(series.timeframe) or timeframe_ms(want) % timeframe_ms(series.timeframe):
            out[symbol] = series
        else:
            out[symbol] = resample_bars(series, want)
    return out


def admitted_by_phase(policy: Policy, phase: int, asset: str) -> bool:
    """The phase lists the asset, or it is a tier-3 asset of a selective phase (admitted on edge)."""
    p = policy.expansion.phases[phase]
    return asset in p.assets or (p.tier_3_selective and policy.tier_of(asset) == 3)


@dataclass(frozen=True, slots=True)
class AssetStanding:
    """One requested asset before the first bar: whether it can trade, and why (one line each)."""

    asset: str
    tradable: bool
    why: str

    def line(self) -> str:
        return f"{self.asset} {'can trade' if self.tradable else 'cannot trade'}: {self.why}"


def _standing(asset: str, policy: Policy, phase: int, schedule: UniverseSchedule | None) -> AssetStanding:
    p = policy.expansion.phases[phase]
    tier = policy.tier_of(asset)
    if tier is None:
        return AssetStanding(asset, False, "in no tier of the policy (asset_tiers)")
    if not admitted_by_phase(policy, phase, asset):
        return AssetStanding(asset, False, f"tier {tier}, not admitted in phase {phase} ({p.name}: "
                                           f"{', '.join(p.assets)}{' + tier 3 on edge' if p.tier_3_selective else ''})")
    assignment = schedule.assignments[0] if schedule is not None and schedule.assignments else None
    member = None if assignment is None else assignment.members.get(asset)
    every = policy.universe.rescreen_every
    if member is not None and member.tier is None:
        if tier == 3:
            why = member.reasons[-1] if member.reasons else "no identified edge"
            return AssetStanding(asset, False, f"tier 3, admitted in phase {phase} only on identified edge ({why}); "
                                               f"measured again every {every}")
        why = member.reasons[0] if member.reasons else str(member.state)
        return AssetStanding(asset, False, f"removed by screening at the start ({why}); rescreened every {every}")
    if member is not None and member.tier != tier:
        return AssetStanding(asset, True, f"demoted to tier {member.tier} by screening "
                                          f"({member.reasons[0] if member.reasons else member.state})")
    screened = f"; screened every {every}" if schedule is not None else ""
    return AssetStanding(asset, True, f"tier {tier}, admitted in phase {phase}{screened}")


def start_standings(requested: Sequence[str], present: Iterable[str], policy: Policy, phase: int,
                    schedule: UniverseSchedule | None) -> list[AssetStanding]:
    """Which requested assets can trade at the first bar and why not: no data, no tier, phase, screening."""
    have = {asset_of(s) for s in present}
    out = []
    for symbol in requested:
        asset = asset_of(symbol)
        if asset not in have:
            out.append(AssetStanding(asset, False, "no bars in the requested range"))
        else:
            out.append(_standing(asset, policy, phase, schedule))
    return out
