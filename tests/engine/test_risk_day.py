"""The UTC risk day starts at the equity marked at 00:00 (the close of the bar that ends then).

The daily kill switch and the per-asset locks measure losses from day-start equity and
each asset's day baseline. Those must be the account valued at the midnight prices, not
at whatever prices the ledger last saw (a decision's or a fill's, possibly hours earlier):
a stale baseline reports losses that happened yesterday as today's (false trips) and hides
today's real ones behind yesterday's gains (missed trips).
"""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd

from quantum_trader.domain.time import format_time
from quantum_trader.engine.inputs import KernelSettings
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.recorder import Recorder
from quantum_trader.testkit import BarSpec, MarketBuilder, ScriptedDecisions, long, policy_with, run_kernel

ASSETS = ("BTC", "ETH", "SOL", "BNB")
DAY2 = 24
"""First hourly row of 2025-01-02 (the testkit's markets start at midnight UTC)."""


def _slide(start: float, end: float, rows: int) -> list[BarSpec]:
    """Hourly bars moving linearly from ``start`` to ``end`` (each opens at the previous close)."""
    closes = np.linspace(start, end, rows + 1)
    return [(float(o), float(max(o, c)), float(min(o, c)), float(c)) for o, c in pairwise(closes)]


def _run(day1_close: float, day2: list[BarSpec]) -> tuple[MarketBuilder, Recorder]:
    """Four longs from 100 (stop 80, far below), held through midnight; day 1 ends at ``day1_close``."""
    path = [100.0, 100.0, *_slide(100.0, day1_close, DAY2 - 2), *day2]
    b = MarketBuilder()
    for asset in ASSETS:
        b.bars(asset, path)
    data = b.build()
    script = ScriptedDecisions.at_closes(data, intents={1: [long(a, entry=100, stop=80) for a in ASSETS]})
    return b, run_kernel(data, script)


def _trips(rec: Recorder) -> pd.DataFrame:
    events = rec.events_frame()
    return events[events["kind"] == "kill_switch_trip"]


def test_yesterdays_loss_is_not_counted_again_today() -> None:
    """-4% on day 1 (no trip), then -2.1% from midnight on day 2: no day lost 5%."""
    _, rec = _run(90.0, _slide(90.0, 85.0, 6) + [85.0] * 4)
    assert _trips(rec).empty
    trades = rec.trades_frame()
    assert set(trades["exit_reason"]) == {"end_of_data"}


def test_a_loss_from_midnight_trips_even_after_a_winning_day() -> None:
    """+4% on day 1, then the first bar of day 2 gaps to 96: -5.4% from the midnight equity."""
    b, rec = _run(110.0, [(96.0, 96.0, 96.0, 96.0)] + [96.0] * 4)
    trips = _trips(rec)
    assert len(trips) == 1
    trip = trips.iloc[0]
    assert trip["ts"] == b.ts(DAY2 + 1)           # at the close of the first bar of day 2
    assert trip["value"] < -0.05
    trades = rec.trades_frame()
    assert set(trades["exit_reason"]) == {"kill_switch"}


def test_the_trip_states_the_day_start_equity_and_the_bar_it_was_marked_at() -> None:
    b, rec = _run(110.0, [(96.0, 96.0, 96.0, 96.0)] + [96.0] * 4)
    curve = rec.equity_frame()
    at_midnight = float(curve[curve["ts"] == b.ts(DAY2)]["equity"].iloc[0])
    message = _trips(rec).iloc[0]["message"]
    assert f"day start {at_midnight:,.2f} marked at {format_time(b.ts(DAY2))}" in message


def test_an_asset_lock_uses_the_assets_midnight_baseline() -> None:
    """ETH gains 12% on day 1 and gives 3.5% of it back at the open of day 2: locked at once (from
    its midnight value), while a stale baseline would show a gain and admit a new ETH entry."""
    path_btc = [100.0] * (DAY2 + 6)
    path_eth = [100.0, 100.0, *_slide(100.0, 112.0, DAY2 - 2), (80.0, 80.0, 80.0, 80.0)] + [80.0] * 5
    b = MarketBuilder()
    b.bars("BTC", path_btc)
    b.bars("ETH", path_eth)
    data = b.build()
    policy = policy_with({"per_asset.max_daily_loss_per_asset": 0.02})
    script = ScriptedDecisions.at_closes(data, intents={
        1: [long("ETH", entry=100, stop=75)],
        DAY2 + 2: [long("ETH", entry=80, stop=70)],
    })
    kernel = Kernel(data, KernelSettings(policy=policy, slippage=False))
    rec = kernel.run(script)
    events = rec.events_frame()
    locks = events[events["kind"] == "asset_lock"]
    assert len(locks) == 1 and locks.iloc[0]["ts"] == b.ts(DAY2 + 1)
    assert f"marked at {format_time(b.ts(DAY2))}" in locks.iloc[0]["message"]
    trades = rec.trades_frame()
    assert len(trades) == 1 and trades.iloc[0]["exit_reason"] == "asset_lock"
    refused = events[(events["kind"] == "refused") & (events["rule"] == "asset_daily_loss")]
    assert len(refused) == 1
