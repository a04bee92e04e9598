"""The journal's fills replayed: round trips (for win rate and sizing) and the book at each entry fill (limits, slots).

The journal holds fills, not trades, so trades are rebuilt here: per session and symbol, a
position opens at the first fill and closes when its quantity returns to zero; its P&L is
the fills' cash flow less fees (``RoundTrip``). Its planned risk is the distance to the stop
times the quantity, from the last approved decision on that symbol at or before the entry.

Limits bind at entry (DESIGN.md), so ``entry_books`` measures the book at every fill that
opened or added to a position, *at fill prices*: each position valued at its own latest fill
price, over the equity of the session's last bar close before the fill, and the correlated
group read from the last correlation matrix the session journalled. Held positions are thus
valued at their last fill, not at the market of that instant: the figure is the fill's view
of the book, within ``ENTRY_TOLERANCE`` of what the risk engine sized against.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from quantum_trader.domain.symbols import asset_of
from quantum_trader.domain.trading import OrderSide
from quantum_trader.journal.records import DecisionRecord, FillRecord, OrderRecord, RiskSnapshot

ENTRY_TOLERANCE = 0.02
"""An entry is sized at the decision's price and fills a bar later with slippage: 2% of a limit (0.25 -> 0.255)
is that move; a rule that let a limit through shows far above it."""
STOP_TAGS = ("stop",)


@dataclass(frozen=True, slots=True)
class RoundTrip:
    session: str
    symbol: str
    entry_ts: int
    exit_ts: int
    pnl: float
    stopped: bool
    planned_risk: float | None


@dataclass(frozen=True, slots=True)
class EntryBook:
    """The book as one entry fill left it, as fractions of equity."""

    ts: int
    session: str
    symbol: str
    position_share: float
    total_exposure: float
    correlated: float | None
    positions: int
    tiers: tuple[int, int, int]
    """Positions held in tier 1, 2 and 3 (an asset in no tier counts as tier 3)."""


@dataclass
class _Book:
    qty: dict[str, Decimal] = field(default_factory=dict)
    price: dict[str, Decimal] = field(default_factory=dict)


def _signed(f: FillRecord) -> Decimal:
    return f.fill.quantity if f.fill.side is OrderSide.BUY else -f.fill.quantity


def _purpose(orders: Mapping[str, OrderRecord], cid: str) -> str:
    order = orders.get(cid)
    tag = "" if order is None else f"{order.order.tag} {order.order.type}"
    return f"{tag} {cid}".lower()


def _planned(decisions: list[DecisionRecord], session: str, symbol: str, ts: int, qty: Decimal) -> float | None:
    """Distance to the stop times the quantity, from the last approved decision on ``symbol`` at or before ``ts``."""
    found = None
    for d in decisions:
        if d.session == session and d.decision.intent.symbol == symbol and d.ts <= ts and d.decision.approved:
            found = d
    if found is None or found.decision.intent.stop_price is None:
        return None
    intent = found.decision.intent
    return abs(intent.entry_price - float(intent.stop_price or 0.0)) * float(abs(qty))


@dataclass
class _Open:
    qty: Decimal = Decimal(0)
    cash: Decimal = Decimal(0)
    entry: int = 0
    peak: Decimal = Decimal(0)


def round_trips(fills: Iterable[FillRecord], orders: Mapping[str, OrderRecord],
                decisions: Iterable[DecisionRecord]) -> list[RoundTrip]:
    """Positions from open to flat, per session and symbol, in fill order."""
    decided = list(decisions)
    open_: dict[tuple[str, str], _Open] = {}
    trips: list[RoundTrip] = []
    for f in sorted(fills, key=lambda r: (r.fill.ts, r.seq or 0)):
        state = open_.setdefault((f.session, f.fill.symbol), _Open())
        qty = state.qty
        if qty == 0:
            state.entry, state.cash, state.peak = f.fill.ts, Decimal(0), Decimal(0)
        signed = _signed(f)
        state.cash -= signed * f.fill.price + f.fill.fee
        state.qty = qty + signed
        state.peak = max(state.peak, abs(state.qty))
        if state.qty == 0 and qty != 0:
            trips.append(RoundTrip(f.session, f.fill.symbol, state.entry, f.fill.ts, float(state.cash),
                                   any(t in _purpose(orders, f.fill.client_order_id) for t in STOP_TAGS),
                                   _planned(decided, f.session, f.fill.symbol, state.entry, state.peak)))
    return trips


def _equity_at(snaps: list[RiskSnapshot], times: list[int], ts: int) -> float | None:
    i = bisect.bisect_right(times, ts) - 1
    if i < 0:
        return float(snaps[0].equity) if snaps else None
    return float(snaps[i].equity)


def _correlated(symbol: str, notional: Mapping[str, float], matrix: RiskSnapshot | None, threshold: float
                ) -> float | None:
    """The largest correlated group holding ``symbol`` (its notional with every held one above ``threshold``)."""
    if matrix is None or matrix.correlation is None:
        return None
    column = {s: j for j, s in enumerate(matrix.symbols)}
    if symbol not in column:
        return None
    me = column[symbol]
    total = notional.get(symbol, 0.0)
    for other, value in notional.items():
        if other != symbol and other in column and matrix.correlation[me][column[other]] > threshold:
            total += value
    return total


def entry_books(fills: Iterable[FillRecord], snapshots: Mapping[str, list[RiskSnapshot]],
                tier_of: Mapping[str, int], threshold: float) -> list[EntryBook]:
    """The book after every fill that opened or added to a position (module docstring)."""
    books: dict[str, _Book] = defaultdict(_Book)
    times = {s: [r.ts for r in rows] for s, rows in snapshots.items()}
    matrices = {s: [r for r in rows if r.correlation is not None] for s, rows in snapshots.items()}
    out: list[EntryBook] = []
    for f in sorted(fills, key=lambda r: (r.fill.ts, r.seq or 0)):
        book = books[f.session]
        symbol = f.fill.symbol
        before = book.qty.get(symbol, Decimal(0))
        after = before + _signed(f)
        book.qty[symbol] = after
        book.price[symbol] = f.fill.price
        if after == 0:
            del book.qty[symbol]
        if abs(after) <= abs(before) and (after == 0 or (after > 0) == (before > 0)):
            continue  # a reduction or a close: limits bind at entry
        equity = _equity_at(snapshots.get(f.session, []), times.get(f.session, []), f.fill.ts)
        if equity is None or equity <= 0:
            continue
        notional = {s: float(abs(q) * book.price[s]) for s, q in book.qty.items()}
        mats = matrices.get(f.session, [])
        known = [m for m in mats if m.ts <= f.fill.ts]
        group = _correlated(symbol, notional, known[-1] if known else (mats[0] if mats else None), threshold)
        tiers = [0, 0, 0]
        for s in book.qty:
            tiers[min(max(tier_of.get(asset_of(s), 3), 1), 3) - 1] += 1
        out.append(EntryBook(f.fill.ts, f.session, symbol, notional[symbol] / equity, sum(notional.values()) / equity,
                             None if group is None else group / equity, len(book.qty),
                             (tiers[0], tiers[1], tiers[2])))
    return out
