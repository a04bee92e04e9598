"""The ledger's pure functions: each takes a state and an event and returns a NEW state.

Netting is per symbol (one-way mode, as Binance USD-M and Bybit linear default to):
a fill on the same side adds at a weighted average entry, a fill on the other side
realises P&L on the closed quantity and, past zero, opens the remainder at the fill
price. Funding is paid by longs and received by shorts when the rate is positive.

The UTC day starts at the account valued at the prices of 00:00: day-start equity and
each symbol's day baseline are what the daily loss limits are measured from, so they
must not be valued at older prices (a stale baseline counts yesterday's moves as
today's). An event stamped exactly 00:00 is ambiguous: the close of the bar that ends
then belongs to the old day (its loss is the old day's), a fill at the open of the next
bar to the new one. So the caller that knows the order rolls the day explicitly with
``roll_day`` once the old day's last close is marked; an event strictly later than a
new day's start rolls it implicitly first (on the last prices known, the best there is
without a 00:00 mark), so a caller that forgets cannot carry a day over. Time never goes
backwards: an event older than the state is an error, since replaying it would
double-count money.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType

from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.time import utc_day_start
from quantum_trader.domain.trading import Fill, Position
from quantum_trader.portfolio.state import (
    ZERO,
    LedgerError,
    LedgerState,
    build_state,
    money,
)


def new_ledger(deposit: Decimal | int | str, ts: int) -> LedgerState:
    """An account holding ``deposit`` USDT and no position, at ``ts`` (epoch ms)."""
    cash = money(Decimal(deposit))
    if cash <= 0:
        raise LedgerError(f"ledger: deposit must be > 0 USDT, got {deposit}")
    return build_state(
        ts=ts,
        day_start=utc_day_start(ts),
        deposits=cash,
        cash=cash,
        positions={},
        marks={},
        realised_pnl=ZERO,
        fees_paid=ZERO,
        funding_paid=ZERO,
        day_start_equity=cash,
        day_start_marked_at=ts,
        peak_equity=cash,
        day_realised={},
        day_start_unrealised={},
    )


def _core(state: LedgerState) -> dict[str, object]:
    return {
        "ts": state.ts,
        "day_start": state.day_start,
        "deposits": state.deposits,
        "cash": state.cash,
        "positions": state.positions,
        "marks": state.marks,
        "realised_pnl": state.realised_pnl,
        "fees_paid": state.fees_paid,
        "funding_paid": state.funding_paid,
        "day_start_equity": state.day_start_equity,
        "day_start_marked_at": state.day_start_marked_at,
        "peak_equity": state.peak_equity,
        "day_realised": state.day_realised,
        "day_start_unrealised": state.day_start_unrealised,
    }


def _rebuild(state: LedgerState, **changes: object) -> LedgerState:
    """A new state from ``state`` and ``changes``; a dict among the changes is one these functions just built
    and nothing else holds, so it is frozen as it is (no second copy)."""
    core = _core(state)
    core.update({k: MappingProxyType(v) if type(v) is dict else v for k, v in changes.items()})
    return build_state(**core)  # type: ignore[arg-type]


def _check_time(state: LedgerState, ts: int, what: str) -> None:
    if ts < state.ts:
        raise LedgerError(
            f"{what}: ts {ts} is before the ledger's last event at {state.ts}; time cannot go back"
        )


def roll_day(state: LedgerState, ts: int) -> LedgerState:
    """Start the UTC day containing ``ts``: day-start equity and per-symbol baselines reset,
    valued at the state's current marks (``day_start_marked_at`` says when those were taken).

    Idempotent within a day, so the engine may call it on every bar.
    """
    _check_time(state, ts, "roll_day")
    day = utc_day_start(ts)
    if day == state.day_start:
        # Only the clock moves: nothing derived depends on ts, so no rebuild is needed.
        return state if ts == state.ts else replace(state, ts=ts)
    return _rebuild(
        state,
        ts=ts,
        day_start=day,
        day_start_equity=state.equity,
        # Flat, equity is cash whatever the prices: the day starts at the boundary itself.
        day_start_marked_at=state.ts if state.positions else ts,
        day_realised={},
        day_start_unrealised=dict(state.unrealised),
    )


on_new_day = roll_day


def _roll_if_past(state: LedgerState, ts: int) -> LedgerState:
    """The implicit roll: only for an event strictly inside a later day (see the module docstring)."""
    return roll_day(state, ts) if utc_day_start(ts - 1) > state.day_start else state


def mark(state: LedgerState, prices: Mapping[str, float | Decimal], ts: int) -> LedgerState:
    """New marks (floats are fine: they are converted once, by their shortest repr).

    Marks stamped exactly 00:00 UTC are the old day's last close: they do not roll the day
    (``roll_day`` then starts the new one at them).
    """
    _check_time(state, ts, "mark")
    state = _roll_if_past(state, ts)
    if not prices:
        return state if ts == state.ts else replace(state, ts=ts)
    marks = dict(state.marks)
    for symbol, price in prices.items():
        value = price if isinstance(price, Decimal) else Decimal(repr(float(price)))
        if not value > 0:
            raise LedgerError(f"mark {symbol}: price must be > 0, got {price}")
        marks[symbol] = value
    return _rebuild(state, ts=ts, marks=marks)


def _validate_fill(fill: Fill, instrument: Instrument | None) -> None:
    where = f"fill {fill.client_order_id or '?'} on {fill.symbol} at {fill.ts}"
    if fill.quantity <= 0:
        raise LedgerError(f"{where}: quantity must be > 0, got {fill.quantity}")
    if fill.price <= 0:
        raise LedgerError(f"{where}: price must be > 0, got {fill.price}")
    if instrument is None:
        return
    if instrument.symbol != fill.symbol:
        raise LedgerError(f"{where}: instrument is {instrument.symbol}, not the fill's symbol")
    if fill.quantity % instrument.lot_size != 0:
        raise LedgerError(f"{where}: quantity {fill.quantity} is not a multiple of lot {instrument.lot_size}")
    if fill.price % instrument.tick_size != 0:
        raise LedgerError(f"{where}: price {fill.price} is not a multiple of tick {instrument.tick_size}")


def net_position(
    held: Position | None, delta: Decimal, price: Decimal, ts: int, stop: Decimal | None, symbol: str
) -> tuple[Position | None, Decimal]:
    """The position after adding signed ``delta`` at ``price``, and the P&L it realises."""
    if held is None:
        return Position(symbol, delta, price, stop, ts), ZERO
    qty, entry = held.quantity, held.entry_price
    new_stop = held.stop_price if stop is None else stop
    if (qty > 0) == (delta > 0):
        total = qty + delta
        avg = (qty * entry + delta * price) / total
        return Position(symbol, total, avg, new_stop, held.opened_ts), ZERO
    closed = min(abs(delta), abs(qty))
    realised = money(closed * (price - entry) * (1 if qty > 0 else -1))
    remaining = qty + delta
    if remaining == 0:
        return None, realised
    if (remaining > 0) == (qty > 0):
        return Position(symbol, remaining, entry, held.stop_price, held.opened_ts), realised
    return Position(symbol, remaining, price, stop, ts), realised


def apply_fill(
    state: LedgerState,
    fill: Fill,
    *,
    stop_price: Decimal | None = None,
    instrument: Instrument | None = None,
) -> LedgerState:
    """Book an execution: position netting, realised P&L and the fee go to cash.

    ``stop_price`` is recorded on the position opened or added to (the risk engine's
    correlated-risk measure needs it); ``instrument``, when given, rejects a fill off
    the lot or tick grid instead of letting an invalid quantity into the books.
    """
    _validate_fill(fill, instrument)
    _check_time(state, fill.ts, f"fill on {fill.symbol}")
    state = _roll_if_past(state, fill.ts)
    symbol = fill.symbol
    fee = money(fill.fee)
    position, realised = net_position(
        state.positions.get(symbol), fill.quantity * fill.side.sign, fill.price, fill.ts, stop_price, symbol
    )
    positions = dict(state.positions)
    if position is None:
        positions.pop(symbol, None)
    else:
        positions[symbol] = position
    # The fill is the newest price the ledger has seen for the symbol (fills are time-ordered):
    # keeping an older mark would value a reopened position at a stale price.
    marks = {**state.marks, symbol: fill.price}
    day_realised = dict(state.day_realised)
    day_realised[symbol] = day_realised.get(symbol, ZERO) + realised - fee
    return _rebuild(
        state,
        ts=fill.ts,
        positions=positions,
        marks=marks,
        cash=state.cash + realised - fee,
        realised_pnl=state.realised_pnl + realised,
        fees_paid=state.fees_paid + fee,
        day_realised=day_realised,
    )


def funding_payment(position: Position, rate: float | Decimal, price: Decimal) -> Decimal:
    """What the holder pays (positive) or receives (negative): longs pay a positive rate."""
    rate_d = rate if isinstance(rate, Decimal) else Decimal(repr(float(rate)))
    return money(position.quantity * price * rate_d)


def apply_funding(
    state: LedgerState,
    symbol: str,
    rate: float | Decimal,
    ts: int,
    *,
    mark_price: float | Decimal | None = None,
) -> LedgerState:
    """Settle one funding interval on ``symbol`` at ``mark_price`` (default: the last mark).

    No position means nothing to pay; the state only advances in time.
    """
    _check_time(state, ts, f"funding on {symbol}")
    state = _roll_if_past(state, ts)
    position = state.positions.get(symbol)
    if position is None:
        return state if state.ts == ts else _rebuild(state, ts=ts)
    if mark_price is None:
        price = state.marks[symbol]
    else:
        price = mark_price if isinstance(mark_price, Decimal) else Decimal(repr(float(mark_price)))
    if not price > 0:
        raise LedgerError(f"funding on {symbol} at {ts}: mark price must be > 0, got {mark_price}")
    payment = funding_payment(position, rate, price)
    day_realised = dict(state.day_realised)
    day_realised[symbol] = day_realised.get(symbol, ZERO) - payment
    return _rebuild(
        state,
        ts=ts,
        cash=state.cash - payment,
        funding_paid=state.funding_paid + payment,
        day_realised=day_realised,
    )


def set_stop(state: LedgerState, symbol: str, stop_price: Decimal | None) -> LedgerState:
    """Record a moved stop (trailing stops change the position's risk amount)."""
    position = state.positions.get(symbol)
    if position is None:
        raise LedgerError(f"set_stop: no open position on {symbol}")
    positions = {**state.positions, symbol: replace(position, stop_price=stop_price)}
    return _rebuild(state, positions=positions)


def raise_peak(state: LedgerState, peak: float | Decimal) -> LedgerState:
    """Record a peak the account reached between two marks (a close the ledger was not marked at):
    the drawdown limit is measured from the highest equity at any bar close, not only at marks."""
    value = money(peak if isinstance(peak, Decimal) else Decimal(repr(float(peak))))
    return _rebuild(state, peak_equity=value) if value > state.peak_equity else state


def rebase_peak(state: LedgerState) -> LedgerState:
    """Make current equity the new peak: only an operator's kill-switch reset does this."""
    return _rebuild(state, peak_equity=state.equity) if state.peak_equity != state.equity else state
