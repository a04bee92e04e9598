"""Open positions as the fills built them: net quantity, average entry, when and by which signal each opened.

A paper or live journal holds every fill (and the order each came from) but no per-bar book, so the
dashboard nets the fills the way the ledger does (``portfolio.ledger.apply_fill``): adding averages the
entry, reducing keeps it and realises P&L, crossing zero opens the other side at the fill's price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from quantum_trader.domain.time import utc_day_start
from quantum_trader.monitor.views import FillMark


@dataclass(frozen=True, slots=True)
class FillRow:
    ts: int
    symbol: str
    buy: bool
    quantity: float
    price: float
    fee: float
    tag: str = ""
    """The tag of the order the fill belongs to (an entry's signal)."""


@dataclass(slots=True)
class Book:
    """One symbol's position and the day's realised P&L after netting its fills."""

    symbol: str
    quantity: float = 0.0
    entry_price: float = 0.0
    opened_ts: int | None = None
    signal: str = ""
    realised_by_day: dict[int, float] = field(default_factory=dict)
    marks: list[FillMark] = field(default_factory=list)

    def apply(self, f: FillRow) -> None:
        signed = f.quantity if f.buy else -f.quantity
        day = utc_day_start(f.ts)
        realised = -f.fee
        kind = "entry"
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            total = abs(self.quantity) + abs(signed)
            self.entry_price = (abs(self.quantity) * self.entry_price + abs(signed) * f.price) / total
            if self.quantity == 0:
                self.opened_ts, self.signal = f.ts, f.tag
            self.quantity += signed
        else:
            kind = "exit"
            closed = min(abs(signed), abs(self.quantity))
            direction = 1.0 if self.quantity > 0 else -1.0
            realised += closed * (f.price - self.entry_price) * direction
            rest = self.quantity + signed
            if abs(rest) < 1e-12:
                self.quantity, self.entry_price, self.opened_ts, self.signal = 0.0, 0.0, None, ""
            elif (rest > 0) != (self.quantity > 0):
                self.quantity, self.entry_price, self.opened_ts, self.signal = rest, f.price, f.ts, f.tag
            else:
                self.quantity = rest
        self.realised_by_day[day] = self.realised_by_day.get(day, 0.0) + realised
        self.marks.append(FillMark(ts=f.ts, side="buy" if f.buy else "sell", price=f.price, quantity=f.quantity,
                                   kind=kind, tag=f.tag))


def net_fills(fills: Iterable[FillRow]) -> dict[str, Book]:
    """Every symbol's book after its fills, in the order given (journal order)."""
    books: dict[str, Book] = {}
    for f in fills:
        books.setdefault(f.symbol, Book(f.symbol)).apply(f)
    return books
