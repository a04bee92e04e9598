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

from collections.abc import Collection, Mapping
from dataclasses import replace
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType
from typing import TypeVar

from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.time import MS_PER_DAY, utc_day_start
from quantum_trader.domain.trading import Fill, OrderSide, Position
from quantum_trader.portfolio.state import (
    MONEY_QUANTUM,
    ZERO,
    LedgerError,
    LedgerState,
    build_state,
    derive_state,
    money,
    remarked,
    sealed,
    thawed,
)

_BUY = OrderSide.BUY

_V = TypeVar("_V")


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


def _frozen(value: Mapping[str, _V]) -> Mapping[str, _V]:
    return MappingProxyType(value) if type(value) is dict else value


def _rebuild(
    state: LedgerState,
    changed: Collection[str] | None = None,
    *,
    ts: int | None = None,
    day_start: int | None = None,
    cash: Decimal | None = None,
    positions: Mapping[str, Position] | None = None,
    marks: Mapping[str, Decimal] | None = None,
    realised_pnl: Decimal | None = None,
    fees_paid: Decimal | None = None,
    funding_paid: Decimal | None = None,
    day_start_equity: Decimal | None = None,
    day_start_marked_at: int | None = None,
    peak_equity: Decimal | None = None,
    day_realised: Mapping[str, Decimal] | None = None,
    day_start_unrealised: Mapping[str, Decimal] | None = None,
) -> LedgerState:
    """A new state from ``state`` and the fields given; a dict among them is one these functions just built
    and nothing else holds, so it is frozen as it is (no second copy). ``changed`` names the only symbols
    whose position or mark may differ from ``state``'s: the others' unrealised P&L is carried over instead
    of valued again (None: any may)."""
    return derive_state(
        state.ts if ts is None else ts,
        state.day_start if day_start is None else day_start,
        state.deposits,
        state.cash if cash is None else cash,
        state.positions if positions is None else _frozen(positions),
        state.marks if marks is None else _frozen(marks),
        state.realised_pnl if realised_pnl is None else realised_pnl,
        state.fees_paid if fees_paid is None else fees_paid,
        state.funding_paid if funding_paid is None else funding_paid,
        state.day_start_equity if day_start_equity is None else day_start_equity,
        state.day_start_marked_at if day_start_marked_at is None else day_start_marked_at,
        state.peak_equity if peak_equity is None else peak_equity,
        state.day_realised if day_realised is None else _frozen(day_realised),
        state.day_start_unrealised if day_start_unrealised is None else _frozen(day_start_unrealised),
        None if changed is None else state.unrealised,
        () if changed is None else changed,
    )


def _moved(state: LedgerState, ts: int) -> LedgerState:
    """The same state at a later ``ts`` (nothing derived depends on it): ``replace`` without its cost."""
    return sealed(
        ts, state.day_start, state.deposits, state.cash, state.positions, state.marks, state.realised_pnl,
        state.fees_paid, state.funding_paid, state.day_start_equity, state.day_start_marked_at, state.peak_equity,
        state.day_realised, state.day_start_unrealised, state.unrealised, state.equity,
    )


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
        return state if ts == state.ts else _moved(state, ts)
    return _rebuild(
        state,
        (),
        ts=ts,
        day_start=day,
        day_start_equity=state.equity,
        # Flat, equity is cash whatever the prices: the day starts at the boundary itself.
        day_start_marked_at=state.ts if state.positions else ts,
        day_realised={},
        day_start_unrealised=thawed(state.unrealised),
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
    if ts < state.ts:
        _check_time(state, ts, "mark")
    state = _roll_if_past(state, ts)
    if not prices:
        return state if ts == state.ts else _moved(state, ts)
    marks = thawed(state.marks)
    positions = state.positions
    unrealised = thawed(state.unrealised)
    for symbol, price in prices.items():
        value = price if isinstance(price, Decimal) else Decimal(repr(float(price)))
        if not value > 0:
            raise LedgerError(f"mark {symbol}: price must be > 0, got {price}")
        marks[symbol] = value
        held = positions.get(symbol)
        if held is not None:  # only the symbols marked are valued again; the others' P&L stands
            unrealised[symbol] = money(held.quantity * (value - held.entry_price))
    return remarked(state, _derived(state, ts, state.cash, positions, marks, unrealised, state.day_realised), prices)


def _derived(state: LedgerState, ts: int, cash: Decimal, positions: Mapping[str, Position],
             marks: dict[str, Decimal], unrealised: dict[str, Decimal], day_realised: Mapping[str, Decimal],
             realised: Decimal = ZERO, fee: Decimal = ZERO) -> LedgerState:
    """``state`` after a fill or a mark: the maps given are fresh ones (frozen as they are), ``unrealised``
    already valued for every held symbol in the positions' order, so equity and the peak follow as
    ``derive_state`` derives them."""
    equity = cash + sum(unrealised.values(), ZERO)
    peak = state.peak_equity
    return sealed(
        ts, state.day_start, state.deposits, cash, _frozen(positions), MappingProxyType(marks),
        state.realised_pnl + realised, state.fees_paid + fee, state.funding_paid, state.day_start_equity,
        state.day_start_marked_at, peak if peak >= equity else equity, _frozen(day_realised),
        state.day_start_unrealised, MappingProxyType(unrealised), equity,
    )


def _validate_fill(fill: Fill, instrument: Instrument | None) -> None:
    if fill.quantity <= 0:
        raise LedgerError(f"{_where(fill)}: quantity must be > 0, got {fill.quantity}")
    if fill.price <= 0:
        raise LedgerError(f"{_where(fill)}: price must be > 0, got {fill.price}")
    if instrument is None:
        return
    if instrument.symbol != fill.symbol:
        raise LedgerError(f"{_where(fill)}: instrument is {instrument.symbol}, not the fill's symbol")
    if fill.quantity % instrument.lot_size != 0:
        raise LedgerError(f"{_where(fill)}: quantity {fill.quantity} is not a multiple of lot {instrument.lot_size}")
    if fill.price % instrument.tick_size != 0:
        raise LedgerError(f"{_where(fill)}: price {fill.price} is not a multiple of tick {instrument.tick_size}")


def _where(fill: Fill) -> str:
    return f"fill {fill.client_order_id or '?'} on {fill.symbol} at {fill.ts}"


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
    realised = (closed * (price - entry) * (1 if qty > 0 else -1)).quantize(MONEY_QUANTUM, ROUND_HALF_EVEN)
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
    if instrument is not None or not fill.quantity > 0 or not fill.price > 0:
        _validate_fill(fill, instrument)
    ts = fill.ts
    if ts < state.ts:
        _check_time(state, ts, f"fill on {fill.symbol}")
    if ts - 1 - (ts - 1) % MS_PER_DAY > state.day_start:  # (``_roll_if_past``: ``utc_day_start(ts - 1)``)
        state = roll_day(state, ts)
    symbol = fill.symbol
    fee = fill.fee.quantize(MONEY_QUANTUM, ROUND_HALF_EVEN)  # (``money``)
    quantity = fill.quantity
    price = fill.price
    positions = thawed(state.positions)
    position, realised = net_position(
        positions.get(symbol), quantity if fill.side is _BUY else -quantity, price, ts, stop_price, symbol
    )
    # The others' unrealised P&L stands (in the positions' order: a new symbol comes last in both)
    unrealised = thawed(state.unrealised)
    if position is None:
        positions.pop(symbol, None)
        unrealised.pop(symbol, None)
    else:
        positions[symbol] = position
        unrealised[symbol] = (position.quantity * (price - position.entry_price)).quantize(MONEY_QUANTUM,
                                                                                           ROUND_HALF_EVEN)
    # The fill is the newest price the ledger has seen for the symbol (fills are time-ordered):
    # keeping an older mark would value a reopened position at a stale price.
    marks = thawed(state.marks)
    marks[symbol] = price
    day_realised = thawed(state.day_realised)
    day_realised[symbol] = day_realised.get(symbol, ZERO) + realised - fee
    return _derived(state, ts, state.cash + realised - fee, positions, marks, unrealised, day_realised,
                    realised, fee)


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
        return state if state.ts == ts else _moved(state, ts)
    if mark_price is None:
        price = state.marks[symbol]
    else:
        price = mark_price if isinstance(mark_price, Decimal) else Decimal(repr(float(mark_price)))
    if not price > 0:
        raise LedgerError(f"funding on {symbol} at {ts}: mark price must be > 0, got {mark_price}")
    payment = funding_payment(position, rate, price)
    day_realised = thawed(state.day_realised)
    day_realised[symbol] = day_realised.get(symbol, ZERO) - payment
    return _rebuild(
        state,
        (),
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
    return _rebuild(state, (symbol,), positions=positions)


def raise_peak(state: LedgerState, peak: float | Decimal) -> LedgerState:
    """Record a peak the account reached between two marks (a close the ledger was not marked at):
    the drawdown limit is measured from the highest equity at any bar close, not only at marks."""
    value = money(peak if isinstance(peak, Decimal) else Decimal(repr(float(peak))))
    return _rebuild(state, (), peak_equity=value) if value > state.peak_equity else state


def rebase_peak(state: LedgerState) -> LedgerState:
    """Make current equity the new peak: only an operator's kill-switch reset does this."""
    return _rebuild(state, (), peak_equity=state.equity) if state.peak_equity != state.equity else state
