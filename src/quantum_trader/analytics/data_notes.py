"""What a run's numbers rest on: the feeds it had, and what the venue assumed where one was missing.

A backtest on candles alone still runs (the venue falls back to carried closes, a spread
plus volume-impact slippage model, no funding), but its costs are then understated in
known ways. Those fallbacks are said once, in plain words, on the command line, in
``metrics.json`` and at the top of the report, so nobody reads a funding-free result as
the cost of holding perpetuals.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from quantum_trader.analytics.market_summary import MarketSummary
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, format_time, timeframe_ms
from quantum_trader.engine.inputs import MarketData
from quantum_trader.venues.simulated.venue import DEFAULT_SPREAD

FINER_TIMEFRAME = "1m"
"""Bars that decide the order of a stop and a target touched in one coarser bar."""

_SLACK_MS = MS_PER_DAY
"""A funding series that starts or ends more than this inside the run leaves part of it unfunded."""


def _names(symbols: Iterable[str]) -> str:
    return ", ".join(asset_of(s) for s in symbols)


def _funding_notes(data: MarketData, start: int, end: int) -> list[str]:
    absent = [s for s in data.grid.symbols if s not in data.funding or len(data.funding[s]) == 0]
    notes = []
    if absent:
        notes.append(f"no funding series for {_names(absent)}: no funding was charged or paid on "
                     "those positions, so holding costs are understated")
    span = max(end - start, 1)
    for symbol in data.grid.symbols:
        series = data.funding.get(symbol)
        if series is None or len(series) == 0:
            continue
        first, last = int(series.ts[0]), int(series.ts[-1])
        if first - start > _SLACK_MS or end - last > _SLACK_MS:
            covered = max(0, min(last, end) - max(first, start)) / span
            notes.append(f"funding for {asset_of(symbol)} covers {format_time(first)[:10]} to "
                         f"{format_time(last)[:10]}, {covered:.0%} of the run: none was charged outside it")
    return notes


def _span_note(summary: MarketSummary, start: int, end: int) -> list[str]:
    """Assets whose bars start later or end earlier than the run's: each joined (or left) with its data."""
    spans = summary.spans()
    if all(first == start and last == end for first, last, _ in spans.values()):
        return []
    missing = [s for s in summary.symbols if s not in spans]
    parts = [f"{asset_of(s)} from {format_time(first)[:16]} to {format_time(last)[:16]}"
             for s, (first, last, _) in spans.items()]
    note = ("assets' bars cover different spans (" + "; ".join(parts) + "): each asset could trade only "
            "from its first bar to its last")
    if missing:
        note += f"; no bars at all for {_names(missing)}"
    return [note]


_STALE_FLOOR = 0.005
"""A feed missing at fewer than this share of an asset's bars is not worth a note."""
_STALE_EFFECT = {
    "book": ("order books", "slippage came from the spread and volume impact and the liquidity rule could not bind"),
    "mark": ("mark prices", "positions were marked on the bar's close"),
    "funding": ("funding rates", "no funding was charged"),
}


def _age(ms: int) -> str:
    for unit, size in (("d", MS_PER_DAY), ("h", 3_600_000), ("m", 60_000)):
        if ms >= size and ms % size == 0:
            return f"{ms // size}{unit}"
    return f"{ms / 60_000:g}m"


def _present(data: MarketData, feed: str, symbol: str) -> bool:
    if feed == "book":
        return symbol in data.depth_ts and np.size(data.depth_ts[symbol]) > 0
    if feed == "mark":
        return symbol in data.exchange_marks
    return symbol in data.funding and len(data.funding[symbol]) > 0


def _stale_notes(data: MarketData, covered: set[str]) -> list[str]:
    """A feed that exists but was missing or too old at part of the bars (past ``data_requirements.max_age``)."""
    notes = []
    for feed, (what, effect) in _STALE_EFFECT.items():
        shares = {s: v for s, v in data.feed_gaps.get(feed, {}).items()
                  if v >= _STALE_FLOOR and _present(data, feed, s) and not (feed == "funding" and s in covered)}
        if not shares:
            continue
        age = data.feed_ages.get(feed)
        older = f" or older than {_age(age)}" if age else ""
        parts = ", ".join(f"{asset_of(s)} at {v:.0%} of its bars" for s, v in shares.items())
        notes.append(f"{what} missing{older} for {parts}: there {effect}")
    return notes


def data_notes(data: MarketData, timeframe: str, *, slippage: bool = True,
               summary: MarketSummary | None = None) -> list[str]:
    """One sentence per fallback the simulated venue made for lack of data (empty: every feed was there).

    ``summary``: the bars the run went through (default: read off ``data.grid``, a market held whole)."""
    summary = MarketSummary.of_grid(data.grid) if summary is None else summary
    symbols = list(data.grid.symbols)
    if not symbols or summary.first_ts is None or summary.last_ts is None:
        return []
    start, end = summary.first_ts, summary.last_ts
    funding = _funding_notes(data, start, end)
    covered = {s for s in symbols for note in funding if note.startswith(f"funding for {asset_of(s)} covers")}
    notes = [*data.notes, *_span_note(summary, start, end), *funding]
    no_marks = [s for s in symbols if s not in data.exchange_marks]
    if no_marks:
        notes.append(f"no mark-price series for {_names(no_marks)}: positions, liquidations and the kill "
                     "switch were marked on last-trade closes")
    no_books = [s for s in symbols if s not in data.depth_ts or np.size(data.depth_ts[s]) == 0]
    if no_books:
        fills = (f"slippage from a {DEFAULT_SPREAD * 1e4:g} bp spread plus volume impact" if slippage
                 else "fills at the reference price (slippage off)")
        notes.append(f"no order books for {_names(no_books)}: {fills}, and the liquidity rule "
                     "(depth within 1%) could not bind")
    if timeframe_ms(timeframe) > timeframe_ms(FINER_TIMEFRAME):
        coarse = [s for s in symbols if s not in data.finer]
        if coarse:
            notes.append(f"{timeframe} bars without {FINER_TIMEFRAME} bars for {_names(coarse)}: a bar that "
                         "touched both a stop and a target counted the stop first (the conservative order)")
    no_volume = summary.without_volume()
    if no_volume:
        notes.append(f"no volume in the candles of {_names(no_volume)}: fills paid the spread without volume "
                     "impact, and volume never confirmed a signal (its z-score is unknown)")
    notes.extend(_stale_notes(data, covered))
    return notes
