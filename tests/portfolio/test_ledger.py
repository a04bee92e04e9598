"""The ledger: netting, P&L, fees, funding, day roll, peak, margin; exact money throughout."""

from __future__ import annotations

from decimal import Decimal

import pytest

from quantum_trader.config.limits import MarginPolicy
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR
from quantum_trader.domain.trading import Fill, OrderSide, Side
from quantum_trader.portfolio import (
    LedgerError,
    apply_fill,
    apply_funding,
    margin_summary,
    mark,
    new_ledger,
    rebase_peak,
    roll_day,
    set_stop,
)

T0 = 1_767_225_600_000
BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
D = Decimal


def fill(side: OrderSide, qty: str, price: str, fee: str = "0", ts: int = T0, symbol: str = BTC) -> Fill:
    return Fill(ts, symbol, side, D(qty), D(price), D(fee))


def reconciles(state) -> None:  # type: ignore[no-untyped-def]
    assert state.equity == state.cash + state.total_unrealised
    assert state.cash == state.deposits + state.realised_pnl - state.fees_paid - state.funding_paid


def test_long_round_trip_realises_pnl_net_of_fees() -> None:
    s = new_ledger("10000", T0)
    s = apply_fill(s, fill(OrderSide.BUY, "0.1", "50000", "2.5"))
    assert s.positions[BTC].side is Side.LONG and s.cash == D("9997.5")
    s = mark(s, {BTC: 51000.0}, T0 + 1)
    assert s.unrealised[BTC] == D("100") and s.equity == D("10097.5")
    s = apply_fill(s, fill(OrderSide.SELL, "0.1", "51000", "2.55", T0 + 2))
    assert BTC not in s.positions
    assert s.realised_pnl == D("100") and s.fees_paid == D("5.05") and s.cash == D("10094.95")
    reconciles(s)


def test_short_gains_when_price_falls_and_average_entry_is_weighted() -> None:
    s = new_ledger("10000", T0)
    s = apply_fill(s, fill(OrderSide.SELL, "1", "100", symbol=ETH))
    s = apply_fill(s, fill(OrderSide.SELL, "3", "200", symbol=ETH))
    assert s.positions[ETH].quantity == D("-4") and s.positions[ETH].entry_price == D("175")
    s = mark(s, {ETH: 150.0}, T0)
    assert s.unrealised[ETH] == D("100")
    reconciles(s)


def test_partial_close_then_flip_opens_remainder_at_fill_price() -> None:
    s = new_ledger("10000", T0)
    s = apply_fill(s, fill(OrderSide.BUY, "2", "100", symbol=ETH))
    s = apply_fill(s, fill(OrderSide.SELL, "1", "110", symbol=ETH))
    assert s.positions[ETH].quantity == D("1") and s.positions[ETH].entry_price == D("100")
    assert s.realised_pnl == D("10")
    s = apply_fill(s, fill(OrderSide.SELL, "3", "90", symbol=ETH))
    pos = s.positions[ETH]
    assert pos.quantity == D("-2") and pos.entry_price == D("90") and s.realised_pnl == D("0")
    reconciles(s)


@pytest.mark.parametrize(
    ("side", "rate", "cash_change"),
    [
        (OrderSide.BUY, "0.0001", "-5"),  # long pays a positive rate
        (OrderSide.SELL, "0.0001", "5"),  # short receives it
        (OrderSide.BUY, "-0.0001", "5"),  # long receives a negative rate
        (OrderSide.SELL, "-0.0001", "-5"),
    ],
)
def test_funding_sign_follows_side(side: OrderSide, rate: str, cash_change: str) -> None:
    s = apply_fill(new_ledger("10000", T0), fill(side, "1", "50000"))
    after = apply_funding(s, BTC, D(rate), T0 + 8 * MS_PER_HOUR)
    assert after.cash - s.cash == D(cash_change)
    assert after.funding_paid == -D(cash_change)
    reconciles(after)


def test_funding_without_position_changes_nothing_but_time() -> None:
    s = new_ledger("10000", T0)
    after = apply_funding(s, BTC, 0.001, T0 + 5)
    assert after.cash == s.cash and after.ts == T0 + 5


def test_day_roll_sets_day_start_equity_and_per_asset_day_pnl() -> None:
    s = apply_fill(new_ledger("10000", T0), fill(OrderSide.BUY, "0.1", "50000", "1"))
    s = mark(s, {BTC: 49000.0}, T0 + MS_PER_HOUR)
    assert s.asset_day_pnl(BTC) == D("-101") and s.day_pnl == D("-101")
    s = mark(s, {BTC: 48000.0}, T0 + MS_PER_DAY + 1)  # implicit roll at the day boundary
    assert s.day_start_equity == D("9899")
    assert s.asset_day_pnl(BTC) == D("-100") and s.day_pnl == D("-100")
    assert s.peak_equity == D("10000")
    assert s.drawdown == 1 - D("9799") / D("10000")


def test_roll_day_is_idempotent_within_a_day() -> None:
    s = new_ledger("10000", T0)
    assert roll_day(s, T0).day_start_equity == s.day_start_equity
    assert roll_day(s, T0 + 5).day_start == s.day_start


def test_peak_tracks_highs_and_rebases_only_on_request() -> None:
    s = apply_fill(new_ledger("10000", T0), fill(OrderSide.BUY, "0.1", "50000"))
    s = mark(s, {BTC: 60000.0}, T0 + 1)
    s = mark(s, {BTC: 40000.0}, T0 + 2)
    assert s.peak_equity == D("11000") and s.equity == D("9000")
    assert rebase_peak(s).peak_equity == D("9000")


def test_exposure_is_notional_over_equity() -> None:
    s = apply_fill(new_ledger("10000", T0), fill(OrderSide.SELL, "0.02", "50000"))
    assert s.exposure(BTC) == D("0.1") and s.exposure() == D("0.1")
    assert s.figures.total_exposure == pytest.approx(0.1)


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (fill(OrderSide.BUY, "0", "50000"), "quantity must be > 0"),
        (fill(OrderSide.BUY, "0.0015", "50000"), "not a multiple of lot"),
        (fill(OrderSide.BUY, "0.001", "50000.05"), "not a multiple of tick"),
    ],
)
def test_invalid_fills_are_rejected_with_the_field(bad: Fill, message: str) -> None:
    inst = Instrument(BTC, D("0.1"), D("0.001"), D("5"))
    with pytest.raises(LedgerError, match=message):
        apply_fill(new_ledger("10000", T0), bad, instrument=inst)


def test_time_cannot_go_back() -> None:
    s = new_ledger("10000", T0 + 10)
    with pytest.raises(LedgerError, match="time cannot go back"):
        mark(s, {BTC: 1.0}, T0)


def test_states_are_immutable_and_independent() -> None:
    s0 = new_ledger("10000", T0)
    s1 = apply_fill(s0, fill(OrderSide.BUY, "0.1", "50000"))
    assert not s0.positions and BTC in s1.positions
    with pytest.raises(TypeError):
        s1.positions[ETH] = s1.positions[BTC]  # type: ignore[index]


def test_set_stop_changes_risk_amount() -> None:
    s = apply_fill(new_ledger("10000", T0), fill(OrderSide.BUY, "0.1", "50000"), stop_price=D("49000"))
    assert s.figures.risk[BTC] == pytest.approx(100.0)
    assert set_stop(s, BTC, D("49500")).figures.risk[BTC] == pytest.approx(50.0)


def test_margin_used_free_and_leverage() -> None:
    s = apply_fill(new_ledger("10000", T0), fill(OrderSide.BUY, "0.4", "50000"))
    m = margin_summary(s, MarginPolicy(leverage=5.0))
    assert m.used == D("4000") and m.free == D("6000") and m.effective_leverage == D("2")
    assert m.maintenance == D("200")  # 20,000 notional in the 1% bracket


@pytest.mark.parametrize("side", [OrderSide.BUY, OrderSide.SELL])
def test_liquidation_price_is_where_equity_meets_maintenance(side: OrderSide) -> None:
    s = apply_fill(new_ledger("10000", T0), fill(side, "1", "50000"))
    policy = MarginPolicy()
    liq = margin_summary(s, policy).liquidation_prices[BTC]
    assert liq is not None
    equity = s.cash + D(1) * side.sign * (liq - D("50000"))
    bracket_mm = margin_summary(s, policy).maintenance  # bracket chosen at the current notional
    rate = bracket_mm / D("50000")
    assert float(equity) == pytest.approx(float(abs(liq) * rate), rel=1e-9)
    assert (liq < 50000) if side is OrderSide.BUY else (liq > 50000)


def test_reopened_symbol_is_valued_at_its_fill_not_a_stale_mark() -> None:
    """A symbol closed days ago keeps its old mark; reopening must not value the new position at it."""
    from quantum_trader.domain.trading import Fill, OrderSide
    from quantum_trader.portfolio import apply_fill, new_ledger

    state = new_ledger(Decimal("10000"), 0)
    state = apply_fill(state, Fill(1, "SOL/USDT:USDT", OrderSide.BUY, Decimal("10"), Decimal("150"), Decimal("0")))
    state = apply_fill(state, Fill(2, "SOL/USDT:USDT", OrderSide.SELL, Decimal("10"), Decimal("150"), Decimal("0")))
    state = apply_fill(state, Fill(3, "SOL/USDT:USDT", OrderSide.BUY, Decimal("10"), Decimal("95"), Decimal("0")))
    assert state.marks["SOL/USDT:USDT"] == Decimal("95")
    assert state.equity == state.cash == Decimal("10000")


def test_a_mark_at_midnight_closes_the_old_day_and_the_new_one_starts_at_its_prices() -> None:
    """A mark stamped 00:00 carries the close of the bar that ends then: its loss is the old day's,
    and the new day starts at the equity it gives (not at an older mark, e.g. 23:00's)."""
    s = apply_fill(new_ledger("10000", T0), fill(OrderSide.BUY, "0.1", "50000", "1"))
    s = mark(s, {BTC: 49000.0}, T0 + 23 * MS_PER_HOUR)
    s = mark(s, {BTC: 48000.0}, T0 + MS_PER_DAY)
    assert s.day_start == T0 and s.day_pnl == D("-201")
    rolled = roll_day(s, T0 + MS_PER_DAY)
    assert rolled.day_start_equity == D("9799") and rolled.day_start_marked_at == T0 + MS_PER_DAY
    assert rolled.day_pnl == 0 and rolled.asset_day_pnl(BTC) == 0
    later = mark(s, {BTC: 47000.0}, T0 + MS_PER_DAY + MS_PER_HOUR)  # an implicit roll, at the 00:00 marks
    assert later.day_start_equity == D("9799") and later.asset_day_pnl(BTC) == D("-100")


def test_a_fill_at_midnight_does_not_roll_the_day_by_itself() -> None:
    """A fill stamped 00:00 may be the old day's (a close-out at its last close): the caller rolls."""
    s = apply_fill(new_ledger("10000", T0), fill(OrderSide.BUY, "0.1", "50000", "1"))
    s = apply_fill(s, fill(OrderSide.SELL, "0.1", "49000", "1", ts=T0 + MS_PER_DAY))
    assert s.day_start == T0 and s.day_pnl == D("-102")


def test_a_first_mark_after_midnight_starts_the_day_at_the_last_prices_before_midnight() -> None:
    s = apply_fill(new_ledger("10000", T0), fill(OrderSide.BUY, "0.1", "50000", "1"))
    s = mark(s, {BTC: 49000.0}, T0 + 23 * MS_PER_HOUR)
    s = mark(s, {BTC: 48000.0}, T0 + MS_PER_DAY + MS_PER_HOUR)
    assert s.day_start_equity == D("9899")
    assert s.asset_day_pnl(BTC) == D("-100")
    assert s.day_start_marked_at == T0 + 23 * MS_PER_HOUR


def test_a_new_ledger_starts_its_day_at_the_deposit() -> None:
    s = new_ledger("10000", T0 + 5 * MS_PER_HOUR)
    assert s.day_start_equity == D("10000") and s.day_start_marked_at == T0 + 5 * MS_PER_HOUR
