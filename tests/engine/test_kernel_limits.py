"""The kill switch and the per-asset daily lock, driven by prices through the whole kernel.

Spec section 3: a portfolio day at -5% trips the kill switch (everything closed, no entry
until the next UTC day); an asset losing 3% of day-start equity is flattened and locked
for the rest of the day while the others keep trading.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from quantum_trader.engine.recorder import Recorder
from quantum_trader.testkit import BarSpec, MarketBuilder, ScriptedDecisions, long, policy_with, run_kernel

BTC, ETH, SOL, BNB = (f"{a}/USDT:USDT" for a in ("BTC", "ETH", "SOL", "BNB"))
DAY2 = 24
"""First hourly row of 2025-01-02 (the testkit's markets start at midnight UTC)."""


def events_of(rec: Recorder, kind: str) -> pd.DataFrame:
    frame = rec.events_frame()
    return frame[frame["kind"] == kind]


def _crash_market(n: int = 30) -> MarketBuilder:
    """Four assets at 100; at row 5 each falls to 86 (-14%) without touching a stop at 85."""
    path: Sequence[BarSpec] = [100.0] * 5 + [(100, 100, 86, 86)] + [86.0] * (n - 6)
    b = MarketBuilder()
    for asset in ("BTC", "ETH", "SOL", "BNB"):
        b.bars(asset, path)
    return b


def _trip_run() -> tuple[MarketBuilder, Recorder]:
    b = _crash_market()
    data = b.build()
    entries = [long(a, entry=100, stop=85) for a in ("BTC", "ETH", "SOL", "BNB")]
    script = ScriptedDecisions.at_closes(data, intents={
        1: entries,
        8: [long("BTC", entry=86, stop=80)],       # same UTC day as the trip: refused
        DAY2 + 1: [long("BTC", entry=86, stop=80)],  # next UTC day: allowed again
    })
    return b, run_kernel(data, script)


def test_portfolio_day_at_minus_five_percent_trips_closes_everything_and_refuses_entries() -> None:
    b, rec = _trip_run()
    trades = rec.trades_frame()
    first = trades[trades["entry_ts"] == b.ts(2)]
    assert sorted(first["symbol"]) == sorted([BTC, ETH, SOL, BNB])
    assert set(first["exit_reason"]) == {"kill_switch"}
    assert set(first["exit_price"]) == {86.0}            # closed at the close of the trip bar
    assert set(first["exit_ts"]) == {b.ts(6)}
    loss = float((first["quantity"] * 14).sum())
    assert loss >= 0.05 * 100_000                          # the move really was a -5% day

    trips = events_of(rec, "kill_switch_trip")
    assert trips.iloc[0]["ts"] == b.ts(6)
    assert trips.iloc[0]["value"] <= -0.05 and trips.iloc[0]["limit"] == -0.05

    refused = events_of(rec, "refused")
    assert (b.ts(9), BTC, "kill_switch") in set(zip(refused["ts"], refused["symbol"], refused["rule"], strict=True))
    same_day = trades[(trades["entry_ts"] > b.ts(5)) & (trades["entry_ts"] < b.ts(DAY2))]
    assert same_day.empty


def test_kill_switch_rearms_next_utc_day_and_entries_are_allowed_again() -> None:
    b, rec = _trip_run()
    trades = rec.trades_frame()
    rearm = events_of(rec, "kill_switch_rearm")
    assert list(rearm["ts"]) == [b.ts(DAY2)]
    assert len(events_of(rec, "kill_switch_trip")) == 1 and rec.kill_switch_trips == 1
    refused = events_of(rec, "refused")
    by_switch = refused[refused["rule"] == "kill_switch"]
    assert list(zip(by_switch["ts"], by_switch["symbol"], strict=True)) == [(b.ts(9), BTC)]
    later = trades[trades["entry_ts"] >= b.ts(DAY2)]
    assert list(later["symbol"]) == [BTC] and later.iloc[0]["entry_ts"] == b.ts(DAY2 + 2)
    assert later.iloc[0]["entry_price"] == 86.0


def test_asset_losing_three_percent_in_a_day_is_flattened_and_locked_while_others_trade() -> None:
    # Two BTC trades the same day: a stop-out (about -1.96%), then a re-entry falling 4
    # points takes BTC's day past -3% of day-start equity before its stop. Position caps are
    # raised so the 2% risk sizing, not the 10% size cap, decides the quantities.
    policy = policy_with({"per_asset.max_position_size": 0.5, "portfolio.max_total_exposure": 1.0,
                          "portfolio.max_correlated_exposure": 1.0})
    btc: list[BarSpec] = [100.0] * 3 + [(100, 100, 94, 94.5), 95.0, (95, 95, 91, 91)] + [91.0] * 24
    b = MarketBuilder().bars("BTC", btc).bars("ETH", [100.0] * 30).bars("SOL", [100.0] * 30)
    data = b.build()
    script = ScriptedDecisions.at_closes(data, intents={
        1: [long("BTC", entry=100, stop=95), long("ETH", entry=100, stop=50)],
        3: [long("BTC", entry=95, stop=90)],
        8: [long("BTC", entry=91, stop=85), long("SOL", entry=100, stop=90)],
        DAY2 + 1: [long("BTC", entry=91, stop=85)],
    }, exits={10: [("ETH", "signal")]})
    rec = run_kernel(data, script, policy=policy)
    trades = rec.trades_frame().set_index(["symbol", "entry_ts"])

    stopped = trades.loc[(BTC, b.ts(2))]
    assert (stopped["exit_reason"], stopped["exit_price"]) == ("stop", 95.0)
    locked = trades.loc[(BTC, b.ts(4))]
    assert stopped["pnl"] > -0.03 * 100_000 and stopped["pnl"] + locked["pnl"] < -0.03 * 100_000
    assert (locked["exit_reason"], locked["exit_price"], locked["exit_ts"]) == ("asset_lock", 91.0, b.ts(6))
    locks = events_of(rec, "asset_lock")
    assert list(zip(locks["ts"], locks["symbol"], strict=True)) == [(b.ts(6), BTC)]

    refused = events_of(rec, "refused")
    assert list(zip(refused["ts"], refused["symbol"], refused["rule"], strict=True)) == [
        (b.ts(9), BTC, "asset_daily_loss")]
    assert (SOL, b.ts(9)) in trades.index                    # another asset still enters that day
    eth = trades.loc[(ETH, b.ts(2))]
    assert (eth["exit_reason"], eth["exit_ts"], eth["exit_price"]) == ("signal", b.ts(11), 100.0)
    assert events_of(rec, "kill_switch_trip").empty

    unlock = events_of(rec, "asset_unlock")
    assert list(zip(unlock["ts"], unlock["symbol"], strict=True)) == [(b.ts(DAY2), "BTC")]
    again = trades.loc[(BTC, b.ts(DAY2 + 2))]
    assert again["entry_price"] == 91.0


def _gap_through_every_stop() -> tuple[MarketBuilder, Recorder]:
    """Three longs at 10% each; at row 10 every one opens 30% lower, through its stop: the book
    is flat again at once, down 9% on the day, all of it realised. A BNB limit entry rests below."""
    b = MarketBuilder()
    for asset in ("BTC", "ETH", "SOL"):
        b.bars(asset, [100.0] * 10 + [(70, 70.2, 69.8, 70)] + [70.0] * 10)
    b.bars("BNB", [200.0] * 21)
    data = b.build()
    script = ScriptedDecisions.at_closes(data, intents={
        1: [long(a, entry=100, stop=95) for a in ("BTC", "ETH", "SOL")],
        3: [long("BNB", entry=190, stop=180, limit=True)],
    })
    return b, run_kernel(data, script, policy=policy_with({"venue.entry.expiry": "24h"}))


def test_losses_realised_by_stops_trip_the_kill_switch_in_that_bar_though_the_book_is_flat() -> None:
    b, rec = _gap_through_every_stop()
    assert set(rec.trades_frame()["exit_reason"]) == {"stop_gap"}
    trips = events_of(rec, "kill_switch_trip")
    assert list(trips["ts"]) == [b.ts(11)]                   # the close of the gap bar, not a later decision
    assert trips.iloc[0]["value"] <= -0.05


def test_a_trip_with_nothing_held_still_cancels_resting_limit_entries() -> None:
    b, rec = _gap_through_every_stop()
    cancelled = events_of(rec, "limit_cancelled")
    assert list(zip(cancelled["ts"], cancelled["symbol"], cancelled["rule"], strict=True)) == [
        (b.ts(11), "BNB/USDT:USDT", "kill_switch")]
