"""Where a shock lands: a time the book is exposed, read from the unstressed run.

A shock at a time the book is flat proves nothing about the limits. Everything before the
shock is the same in the stressed run as in the unstressed one (the strategy, the universe
screens and the correlation read only the past; the injections change nothing before their
start), so the unstressed run's trades say what will be held when the shock arrives:

- a shock on the whole book lands where the unstressed run held the most notional, against
  the way it leaned (down for a net-long book, up for a net-short one);
- a shock on one asset lands halfway through the largest position, against its side.

Monte Carlo draws the time instead (``random=``), among the times something was held, so
its breach probabilities are conditional on being in the market; the report says so and
gives the unstressed run's share of time in the market beside them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from quantum_trader.analytics.stress.compose import EngineRun
from quantum_trader.analytics.stress.market import StressMarket
from quantum_trader.analytics.stress.measures import records
from quantum_trader.analytics.stress.scenarios import HORIZON_MS, Placement, ShockSpec, length_ms
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import format_time


@dataclass(frozen=True, slots=True)
class Reach:
    """The starts a shock of a given length may have: bar opens in [first, last]."""

    first: int
    last: int

    @classmethod
    def of(cls, market: StressMarket, spec: ShockSpec) -> Reach:
        step = market.step_ms
        first = market.start_ms + 2 * step
        room = market.end_ms - length_ms(spec) - step
        last = room - HORIZON_MS if room - HORIZON_MS >= first else room
        return cls(first, max(first, last))


def _bar_open(market: StressMarket, ts: int) -> int:
    """The first bar open at or after ``ts`` (any symbol's clock)."""
    times = next(iter(market.bars.values())).ts
    i = int(np.searchsorted(times, ts, side="left"))
    return int(times[min(i, times.size - 1)])


def _held(trades: pd.DataFrame, ts: int) -> pd.DataFrame:
    return trades[(trades["entry_ts"] < ts) & (trades["exit_ts"] > ts)]


def _sides(held: pd.DataFrame) -> dict[str, int]:
    return {str(t["symbol"]): 1 if str(t["side"]) == "long" else -1 for t in records(held)}


def _book(market: StressMarket, trades: pd.DataFrame, at: int, why: str) -> Placement:
    held = _held(trades, at)
    signed = float((np.where(held["side"] == "long", 1.0, -1.0) * held["notional_at_entry"]).sum())
    direction = -1 if signed >= 0 else 1
    lean = "flat" if held.empty else ("net long" if signed >= 0 else "net short")
    return Placement(at, direction, market.symbols, _sides(held),
                     f"{why}: {len(held)} positions held, {lean} ({format_time(at)})")


def time_in_market(baseline: EngineRun) -> float:
    """Share of the unstressed run's equity samples with a position held."""
    equity = baseline.equity
    return float((equity["open_positions"] > 0).mean()) if len(equity) else 0.0


def place(market: StressMarket, baseline: EngineRun, spec: ShockSpec, *,
          random: np.random.Generator | None = None) -> Placement:
    """The shock's start, direction and assets (see the module docstring)."""
    reach = Reach.of(market, spec)
    step = market.step_ms
    trades = baseline.trades
    if spec.scope == "asset":
        return _asset(market, trades, reach, step, random)
    # candidate starts: a bar after each entry (the position is filled and protected by then)
    starts = np.unique(trades["entry_ts"].to_numpy(dtype=np.int64) + 2 * step) if len(trades) else np.empty(0, int)
    starts = starts[(starts >= reach.first) & (starts <= reach.last)]
    gross = np.array([float(_held(trades, int(t))["notional_at_entry"].sum()) for t in starts])
    keep = starts[gross > 0]
    if keep.size == 0:
        at = _bar_open(market, (reach.first + reach.last) // 2)
        return _book(market, trades, at, "the unstressed run held nothing in reach")
    if random is not None:
        return _book(market, trades, _bar_open(market, int(random.choice(keep))), "a random time with positions held")
    best = int(keep[int(np.argmax(gross[gross > 0]))])
    return _book(market, trades, _bar_open(market, best), "where the unstressed run held the most notional")


def _asset(market: StressMarket, trades: pd.DataFrame, reach: Reach, step: int,
           random: np.random.Generator | None) -> Placement:
    long_enough = trades[(trades["exit_ts"] - trades["entry_ts"] >= 4 * step)
                         & (trades["entry_ts"] + 2 * step <= reach.last) & (trades["exit_ts"] - step >= reach.first)]
    if long_enough.empty:
        symbol = market.symbols[0]
        at = _bar_open(market, (reach.first + reach.last) // 2)
        return Placement(at, -1, (symbol,), {}, f"the unstressed run held nothing in reach: {asset_of(symbol)} "
                                                 f"moves down on a flat book ({format_time(at)})")
    if random is not None:
        trade = records(long_enough)[int(random.integers(len(long_enough)))]
        lo = max(int(trade["entry_ts"]) + 2 * step, reach.first)
        hi = min(int(trade["exit_ts"]) - step, reach.last)
        at = _bar_open(market, int(random.integers(lo, max(hi, lo) + 1)))
        why = "a random time inside a random position"
    else:
        trade = records(long_enough)[int(np.argmax(long_enough["notional_at_entry"].to_numpy(dtype=float)))]
        lo, hi = int(trade["entry_ts"]) + 2 * step, int(trade["exit_ts"]) - step
        at = _bar_open(market, min(max((lo + hi) // 2, reach.first), reach.last))
        why = "halfway through the unstressed run's largest position"
    symbol, side = str(trade["symbol"]), 1 if str(trade["side"]) == "long" else -1
    notional = float(trade["notional_at_entry"]) / float(trade["equity_at_entry"])
    return Placement(at, -side, (symbol,), {symbol: side},
                     f"{why}: {asset_of(symbol)} {trade['side']} of {notional:.1%} of equity ({format_time(at)})")
