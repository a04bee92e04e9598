"""Kill switch: trips, actions, re-arm, operator reset, locks, persistence."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from tests.risk.builders import PRICES, T0, ledger_with, sym

from quantum_trader.config.policy import Policy
from quantum_trader.domain.time import MS_PER_DAY
from quantum_trader.portfolio import LedgerState, mark, roll_day
from quantum_trader.risk import (
    ActionKind,
    EventKind,
    KillSwitchError,
    KillSwitchState,
    armed,
    compile_limits,
    reset_drawdown,
    update,
)

LIMITS = compile_limits(Policy())
BTC = sym("BTC")


def at_loss(state: LedgerState, loss_usd: float, ts: int) -> LedgerState:
    qty = float(state.positions[BTC].quantity)
    return mark(state, {BTC: PRICES["BTC"] - loss_usd / qty}, ts)


@pytest.mark.parametrize(("loss", "trips"), [(4_990.0, False), (5_000.0, True), (5_010.0, True)])
def test_daily_trip_at_five_percent_with_actions(loss: float, trips: bool) -> None:
    state = at_loss(ledger_with({"BTC": 10_000}), loss, T0 + 1)
    result = update(armed(T0), state, LIMITS, T0 + 1)
    assert result.state.daily_tripped is trips
    kinds = [a.kind for a in result.actions]
    if trips:
        assert kinds[:3] == [ActionKind.CANCEL_ALL, ActionKind.CLOSE_ALL, ActionKind.REFUSE_ENTRIES]
        trip = next(e for e in result.events if e.kind is EventKind.TRIP_DAILY)
        assert trip.ts == T0 + 1 and trip.figure == pytest.approx(-loss / 100_000) and trip.limit == -0.05
        assert "5.00%" in trip.reason
    else:
        assert ActionKind.REFUSE_ENTRIES not in kinds


def test_daily_trip_rearms_next_utc_day_but_drawdown_stays() -> None:
    state = at_loss(ledger_with({"BTC": 30_000}), 21_000, T0 + 1)  # -21%: both trip
    result = update(armed(T0), state, LIMITS, T0 + 1)
    assert result.state.daily_tripped and result.state.drawdown_tripped
    nxt = update(result.state, roll_day(state, T0 + MS_PER_DAY), LIMITS, T0 + MS_PER_DAY)
    assert not nxt.state.daily_tripped and nxt.state.drawdown_tripped
    assert EventKind.REARM in [e.kind for e in nxt.events]
    assert ActionKind.CANCEL_ALL not in [a.kind for a in nxt.actions]  # cancel comes with the trip
    assert ActionKind.CLOSE_ALL in [a.kind for a in nxt.actions]  # closing repeats while held


def test_operator_reset_needs_a_reason_and_rebases_peak() -> None:
    state = at_loss(ledger_with({"BTC": 30_000}), 21_000, T0 + 1)
    tripped = update(armed(T0), state, LIMITS, T0 + 1).state
    with pytest.raises(KillSwitchError, match="reason is required"):
        reset_drawdown(tripped, state, T0 + 2, "  ")
    switch, ledger, event = reset_drawdown(tripped, state, T0 + 2, "post-mortem done", operator="ops")
    assert not switch.drawdown_tripped and ledger.peak_equity == ledger.equity
    assert event.kind is EventKind.RESET and "post-mortem done" in event.reason and "ops" in event.reason
    again = update(switch, ledger, LIMITS, T0 + MS_PER_DAY)
    assert not again.state.drawdown_tripped
    with pytest.raises(KillSwitchError, match="not tripped"):
        reset_drawdown(switch, ledger, T0 + 3, "again")


def test_asset_daily_loss_locks_and_flattens_until_next_day() -> None:
    state = at_loss(ledger_with({"BTC": 20_000, "ETH": 5_000}), 3_000, T0 + 1)
    result = update(armed(T0), state, LIMITS, T0 + 1)
    assert result.state.is_locked("BTC") and not result.state.is_locked("ETH")
    assert not result.state.tripped
    flatten = [a for a in result.actions if a.kind is ActionKind.FLATTEN_ASSET]
    assert [a.symbol for a in flatten] == [BTC]
    lock = next(e for e in result.events if e.kind is EventKind.LOCK)
    assert lock.figure == pytest.approx(-0.03) and lock.limit == -0.03
    nxt = update(result.state, roll_day(state, T0 + MS_PER_DAY), LIMITS, T0 + MS_PER_DAY)
    assert not nxt.state.is_locked("BTC") and EventKind.UNLOCK in [e.kind for e in nxt.events]


def test_a_breach_at_the_close_stamped_midnight_is_the_old_days_and_rearms_with_the_new_day() -> None:
    """The switch follows the ledger's day: a loss marked at 00:00 (the old day's last close) trips the
    old day, and the roll that starts the new day at those marks re-arms it."""
    start = ledger_with({"BTC": 10_000})
    breach = at_loss(start, 5_000, T0 + MS_PER_DAY)
    tripped = update(armed(T0), breach, LIMITS, T0 + MS_PER_DAY)
    assert tripped.state.daily_tripped and tripped.state.day_start == T0
    assert "marked at" in next(e.reason for e in tripped.events if e.kind is EventKind.TRIP_DAILY)
    rolled = roll_day(breach, T0 + MS_PER_DAY)
    rearmed = update(tripped.state, rolled, LIMITS, T0 + MS_PER_DAY)
    assert not rearmed.state.daily_tripped and rearmed.state.day_start == T0 + MS_PER_DAY
    assert rolled.day_pnl == 0


def test_state_round_trips_through_json() -> None:
    state = at_loss(ledger_with({"BTC": 30_000}), 21_000, T0 + 1)
    switch = update(armed(T0), state, LIMITS, T0 + 1).state
    text = json.dumps(switch.to_dict())
    assert KillSwitchState.from_dict(json.loads(text)) == switch


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ({"version": 2}, "version"),
        ({"daily_tripped": "yes"}, "daily_tripped"),
        ({"locks": [["BTC"]]}, r"locks\[0\]"),
        ({"day_start": None}, "day_start"),
    ],
)
def test_corrupt_state_is_rejected_naming_the_field(patch: dict[str, object], message: str) -> None:
    data = {**armed(T0).to_dict(), **patch}
    with pytest.raises(KillSwitchError, match=message):
        KillSwitchState.from_dict(data)


_LOCKS_AT_ONE_CLOSE = """
from tests.risk.builders import PRICES, T0, ledger_with, sym
from quantum_trader.config.policy import Policy
from quantum_trader.portfolio import mark
from quantum_trader.risk import EventKind, armed, compile_limits, update
assets = ["BTC", "ETH", "SOL", "BNB", "XRP", "AVAX", "LINK", "DOGE", "ADA"]
state = ledger_with({a: 5_000 for a in assets})
state = mark(state, {sym(a): PRICES[a] * 0.2 for a in assets}, T0 + 1)
events = update(armed(T0), state, compile_limits(Policy()), T0 + 1).events
print(",".join(e.symbol or "" for e in events if e.kind is EventKind.LOCK))
"""


def test_assets_locked_at_one_close_are_reported_in_the_same_order_in_every_process() -> None:
    """Several assets reaching their day's loss at one close lock in the book's order, whatever the process'
    string hashing: a replay's events are the same run after run (they were in a set's order, which
    ``PYTHONHASHSEED`` changes)."""
    root = Path(__file__).resolve().parents[2]
    found = set()
    for seed in ("1", "2", "3", "4"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        out = subprocess.run([sys.executable, "-c", _LOCKS_AT_ONE_CLOSE], cwd=root, env=env, capture_output=True,
                             text=True, check=True).stdout.strip()
        found.add(out)
    assert found == {",".join(sym(a) for a in ("BTC", "ETH", "SOL", "BNB", "XRP", "AVAX", "LINK", "DOGE", "ADA"))}
