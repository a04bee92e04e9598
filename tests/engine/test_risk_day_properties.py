"""The daily limits act on the loss from 00:00, on every timeframe (hypothesis).

Random markets on 1m, 5m and 1h bars (drifts, fat moves, gaps at the day boundary), random
entries and tight daily limits run through the kernel. The fills it makes are then replayed
by an independent float book against the grid's closes, bar by bar, and:

- the daily loss the kill switch acted on equals the loss recomputed from the equity at the
  close of the bar ending at 00:00 (the day-start equity) and at the close where it tripped;
- no trip without a breach at that close, and no breach at a bar close without a trip there;
- no lock without the asset's day loss past its limit at that close, and a held asset past it
  is locked at that very close;
- no entry on an asset after its daily loss limit was reached that day.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from quantum_trader.analytics.backtest import assemble_market
from quantum_trader.domain.market import BarSeries
from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.time import MS_PER_DAY, timeframe_ms
from quantum_trader.domain.trading import Fill, OrderEvent, Side
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.strategies import MultiAssetStrategy
from quantum_trader.testkit import INITIAL_EQUITY, MarketBuilder, ScriptedDecisions, intent, policy_with

ASSETS = ("BTC", "ETH", "SOL")
TOL = 1e-7
"""Relative slack between the kernel's exact ledger and this float replay at a limit's edge."""


class RecordingKernel(Kernel):
    """The kernel, keeping each fill with the grid row of the bar it happened in (a fill stamped at a
    bar's close, the end of the data, belongs to that bar)."""

    fills: list[tuple[int, Fill]]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, listeners=[self._heard], **kwargs)
        self.fills = []

    def _heard(self, event: OrderEvent, kernel: object) -> None:
        assert event.fill is not None
        row = int(np.searchsorted(self.grid.ts, event.fill.ts, side="right")) - 1
        self.fills.append((row, event.fill))


@dataclass
class FloatBook:
    """A plain float replay of fills: cash, positions and each symbol's net realised P&L."""

    cash: float
    qty: dict[str, float] = field(default_factory=dict)
    entry: dict[str, float] = field(default_factory=dict)
    realised: dict[str, float] = field(default_factory=dict)

    def apply(self, fill: Fill) -> bool:
        """Book a fill; True when it opened a position (an entry)."""
        s, q, p, fee = fill.symbol, float(fill.quantity) * fill.side.sign, float(fill.price), float(fill.fee)
        held = self.qty.get(s, 0.0)
        pnl = 0.0
        opened = held == 0.0
        if held != 0.0 and (held > 0) != (q > 0):
            closed = min(abs(q), abs(held))
            pnl = closed * (p - self.entry[s]) * (1 if held > 0 else -1)
            rest = held + q
            if abs(rest) < 1e-12:
                self.qty.pop(s)
                self.entry.pop(s)
            elif (rest > 0) == (held > 0):
                self.qty[s] = rest
            else:
                self.qty[s], self.entry[s] = rest, p
        elif held != 0.0:
            self.entry[s] = (held * self.entry[s] + q * p) / (held + q)
            self.qty[s] = held + q
        else:
            self.qty[s], self.entry[s] = q, p
        self.cash += pnl - fee
        self.realised[s] = self.realised.get(s, 0.0) + pnl - fee
        return opened

    def equity(self, marks: dict[str, float]) -> float:
        return self.cash + sum(q * (marks[s] - self.entry[s]) for s, q in self.qty.items())

    def asset_value(self, s: str, marks: dict[str, float]) -> float:
        """Net realised plus unrealised P&L of one symbol: its day P&L is the change of this."""
        q = self.qty.get(s, 0.0)
        return self.realised.get(s, 0.0) + (q * (marks[s] - self.entry[s]) if q else 0.0)


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    timeframe = draw(st.sampled_from(["1m", "5m", "1h"]))
    per_day = MS_PER_DAY // timeframe_ms(timeframe)
    days = draw(st.integers(2, 4))
    n = per_day * days
    seed = draw(st.integers(0, 2**32 - 1))
    daily_vol = draw(st.floats(0.03, 0.15))
    # Big moves at random bars, and at the bars around midnight, where a stale baseline bites.
    jumps = draw(st.lists(st.tuples(st.integers(0, n - 1), st.floats(-0.15, 0.15)), max_size=6))
    midnight = draw(st.lists(st.tuples(st.integers(1, days - 1), st.integers(-1, 0), st.floats(-0.12, 0.12)),
                             max_size=3))
    asset_limit = draw(st.sampled_from([0.005, 0.01, 0.02, 0.03]))
    # Near the per-asset limit, so the portfolio trips before every asset is locked one by one.
    portfolio_limit = asset_limit * draw(st.sampled_from([1.0, 1.25, 1.5, 2.0]))
    entries = draw(st.lists(st.tuples(st.integers(0, n - 3), st.sampled_from(ASSETS), st.sampled_from(Side),
                                      st.floats(0.02, 0.25)), min_size=3, max_size=25))
    return {"timeframe": timeframe, "n": n, "per_day": per_day, "seed": seed, "daily_vol": daily_vol,
            "jumps": jumps, "midnight": midnight, "asset_limit": asset_limit,
            "portfolio_limit": portfolio_limit, "entries": entries}


def _market(case: dict[str, Any]) -> tuple[MarketBuilder, dict[str, np.ndarray]]:
    rng = np.random.default_rng(case["seed"])
    n, per_day = case["n"], case["per_day"]
    sigma = case["daily_vol"] / np.sqrt(per_day)
    b = MarketBuilder(timeframe=case["timeframe"])
    closes = {}
    for asset in ASSETS:
        moves = rng.standard_t(3, n) * sigma
        for row, size in case["jumps"]:
            moves[row] += size * rng.uniform(0.5, 1.0)
        for day, offset, size in case["midnight"]:
            moves[day * per_day + offset] += size
        close = 100.0 * np.exp(np.cumsum(np.clip(moves, -0.5, 0.5)))
        opens = np.r_[100.0, close[:-1]]
        # The bar opening at midnight may gap: its open is not the previous close.
        for day, offset, _ in case["midnight"]:
            if offset == 0:
                opens[day * per_day] = close[day * per_day]
        high = np.maximum(opens, close) * (1 + np.abs(rng.normal(0, sigma / 2, n)))
        low = np.minimum(opens, close) * (1 - np.abs(rng.normal(0, sigma / 2, n)))
        rows = [(float(o), float(h), float(lo), float(c))
                for o, h, lo, c in zip(np.round(opens, 4), np.round(high, 4), np.round(low, 4), np.round(close, 4),
                                       strict=True)]
        rows = [(o, max(h, o, c), min(lo, o, c), c) for o, h, lo, c in rows]
        b.bars(asset, rows)
        closes[asset] = np.array([r[3] for r in rows])
    return b, closes


def _run(case: dict[str, Any]) -> tuple[RecordingKernel, MarketBuilder]:
    b, closes = _market(case)
    data = b.build()
    intents: dict[int, dict[str, Any]] = {}
    for row, asset, side, distance in case["entries"]:
        close = float(closes[asset][row])
        stop = close * (1 - side.sign * distance)
        intents.setdefault(row, {})[asset] = intent(asset, side, entry=close, stop=stop)
    policy = policy_with({
        "per_asset.max_daily_loss_per_asset": case["asset_limit"],
        "portfolio.max_daily_loss_portfolio": case["portfolio_limit"],
        "per_asset.max_risk_per_trade": min(0.02, case["asset_limit"]),
    })
    script = ScriptedDecisions.at_closes(data, intents={r: list(v.values()) for r, v in intents.items()},
                                         correlation=np.full((3, 3), 0.3) + 0.7 * np.eye(3))
    kernel = RecordingKernel(data, KernelSettings(policy=policy, initial_equity=INITIAL_EQUITY, slippage=False))
    kernel.fills = []
    kernel.run(script)
    return kernel, b


@dataclass
class DailyReplay:
    """Walks the grid bar by bar with a :class:`FloatBook`, collecting every disagreement."""

    kernel: RecordingKernel
    asset_limit: float
    portfolio_limit: float
    problems: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        events = self.kernel.rec.events_frame()
        trips = events[(events["kind"] == "kill_switch_trip") & events["message"].str.contains("UTC day")]
        self.trips = {int(r.ts): float(r.value) for r in trips.itertuples()}
        self.locks = {(int(r.ts), str(r.symbol)) for r in events[events["kind"] == "asset_lock"].itertuples()}
        self.book = FloatBook(float(INITIAL_EQUITY))
        self.day_equity = float(INITIAL_EQUITY)
        self.day_asset = dict.fromkeys(self.kernel.grid.symbols, 0.0)
        self.tripped = False
        self.locked: set[str] = set()
        self.breached: set[str] = set()

    def marks(self, row: int) -> dict[str, float]:
        return {s: float(self.kernel.grid.mark[row, j]) for j, s in enumerate(self.kernel.grid.symbols)}

    def start_day(self, row: int) -> None:
        """The new day starts at the book as valued at the last close before it."""
        marks = self.marks(row - 1)
        self.day_equity = self.book.equity(marks)
        self.day_asset = {s: self.book.asset_value(s, marks) for s in self.kernel.grid.symbols}
        self.tripped, self.locked, self.breached = False, set(), set()

    def bar(self, fills: list[Fill], close_ts: int, marks: dict[str, float]) -> None:
        for fill in fills:
            if self.book.apply(fill) and asset_of(fill.symbol) in self.breached:
                self.problems.append(f"entry on {fill.symbol} at {fill.ts} after its daily loss limit was reached")
        self.portfolio(close_ts, marks)
        for symbol in self.kernel.grid.symbols:
            self.asset(symbol, close_ts, marks)

    def portfolio(self, close_ts: int, marks: dict[str, float]) -> None:
        loss = self.book.equity(marks) / self.day_equity - 1.0
        acted = self.trips.pop(close_ts, None)
        if acted is not None:
            if loss > -self.portfolio_limit + TOL:
                self.problems.append(f"trip at {close_ts} without a breach: day loss {loss:.6%}")
            if abs(acted - loss) > 1e-6:
                self.problems.append(f"trip at {close_ts} acted on {acted:.6%}, the day lost {loss:.6%}")
            self.tripped = True
        elif not self.tripped and loss < -self.portfolio_limit - TOL:
            self.problems.append(f"breach at the close {close_ts} ({loss:.6%}) without a trip")
            self.tripped = True

    def asset(self, symbol: str, close_ts: int, marks: dict[str, float]) -> None:
        loss = (self.book.asset_value(symbol, marks) - self.day_asset[symbol]) / self.day_equity
        if loss <= -self.asset_limit - TOL:
            self.breached.add(asset_of(symbol))
        if (close_ts, symbol) in self.locks:
            self.locks.discard((close_ts, symbol))
            self.locked.add(symbol)
            if loss > -self.asset_limit + TOL:
                self.problems.append(f"lock of {symbol} at {close_ts} without a breach: {loss:.6%}")
        elif symbol in self.book.qty and symbol not in self.locked and not self.tripped \
                and loss < -self.asset_limit - TOL:
            self.problems.append(f"{symbol} held past its daily limit at the close {close_ts} ({loss:.6%}), not locked")
            self.locked.add(symbol)

    def run(self) -> list[str]:
        grid = self.kernel.grid
        step = timeframe_ms(grid.timeframe)
        by_row: dict[int, list[Fill]] = {}
        for row, fill in self.kernel.fills:
            by_row.setdefault(row, []).append(fill)
        day = int(grid.ts[0]) - int(grid.ts[0]) % MS_PER_DAY
        for r in range(grid.ts.size):
            ts = int(grid.ts[r])
            if ts - ts % MS_PER_DAY != day:
                day = ts - ts % MS_PER_DAY
                self.start_day(r)
            close_ts = ts + step
            fills = by_row.get(r, [])
            self.bar([f for f in fills if f.ts != close_ts], close_ts, self.marks(r))
            for fill in fills:  # the kill switch's and the locks' close-outs at this close
                if fill.ts == close_ts:
                    self.book.apply(fill)
        self.problems += [f"trip at {ts} is at no bar close" for ts in sorted(self.trips)]
        self.problems += [f"lock at {key} is at no bar close" for key in sorted(self.locks)]
        return self.problems


def _check(kernel: RecordingKernel, case: dict[str, Any]) -> list[str]:
    """Every way the kernel's daily limits could part from the float replay, as sentences."""
    return DailyReplay(kernel, case["asset_limit"], case["portfolio_limit"]).run()


@settings(max_examples=100, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(scenarios())
def test_daily_limits_act_on_the_loss_from_midnight(case: dict[str, Any]) -> None:
    kernel, _ = _run(case)
    problems = _check(kernel, case)
    events = kernel.rec.events_frame()
    event(f"{case['timeframe']}: tripped {'yes' if (events['kind'] == 'kill_switch_trip').any() else 'no'}, "
          f"locked {'yes' if (events['kind'] == 'asset_lock').any() else 'no'}")
    assert not problems, "\n".join(problems[:10])


def test_the_replay_agrees_on_two_years_of_real_hourly_data(real_1h: dict[str, BarSeries]) -> None:
    """The multi-asset strategy on real Binance 1h candles, under tight daily limits that bind."""
    bars = {real_1h[a].symbol: real_1h[a] for a in ("BTC", "ETH", "SOL", "XRP")}
    case = {"asset_limit": 0.01, "portfolio_limit": 0.02}
    policy = policy_with({
        "per_asset.max_daily_loss_per_asset": 0.01, "per_asset.max_risk_per_trade": 0.01,
        "portfolio.max_daily_loss_portfolio": 0.02, "correlation.returns_timeframe": "1h",
    })
    data = assemble_market(bars)
    decisions = MultiAssetStrategy().prepare(bars, policy)
    kernel = RecordingKernel(data, KernelSettings(policy=policy, initial_equity=INITIAL_EQUITY))
    kernel.fills = []
    kernel.run(decisions)
    events = kernel.rec.events_frame()
    assert (events["kind"] == "asset_lock").sum() >= 3 and (events["kind"] == "kill_switch_trip").sum() >= 2
    problems = _check(kernel, case)
    assert not problems, "\n".join(problems[:10])


def test_the_replay_sees_a_trip_when_there_is_one() -> None:
    """The checker itself: a market that crashes every asset 30% at the open of day 2 trips."""
    case = {"timeframe": "1h", "n": 48, "per_day": 24, "seed": 1, "daily_vol": 0.02, "jumps": [],
            "midnight": [(1, 0, -0.3)], "asset_limit": 0.02, "portfolio_limit": 0.02,
            "entries": [(2, a, Side.LONG, 0.5) for a in ASSETS]}
    kernel, _ = _run(case)
    assert not _check(kernel, case)
    frame = pd.DataFrame(kernel.rec.events_frame())
    assert (frame["kind"] == "kill_switch_trip").any()
