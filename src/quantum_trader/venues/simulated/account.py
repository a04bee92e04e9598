"""The simulated exchange's own books of our account: wallet, positions and the prices it values them at.

A real exchange keeps its account apart from ours, and the simulated one does too: it sizes
orders sent as a share of equity, reduces reduce-only orders to what is held, settles funding
and liquidates on its own figures, never on the kernel's ledger. The books are the ledger's
arithmetic (``portfolio.net_position``, ``funding_payment``, ``liquidation_prices``, money
rounded to 1e-8) without its history: one mutable account the exchange updates in place,
since nothing else holds it and no past state of it is ever read. That keeps a fill at the
venue a few Decimal operations instead of a second immutable ledger state per fill.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from quantum_trader.domain.trading import Fill, OrderSide, Position
from quantum_trader.portfolio import MarginTable, funding_payment, liquidation_prices, net_position
from quantum_trader.portfolio.state import ZERO, money

_BUY = OrderSide.BUY


@dataclass
class VenueAccount:
    cash: Decimal
    """Wallet balance: deposits, realised P&L, fees and funding."""
    positions: dict[str, Position] = field(default_factory=dict)
    marks: dict[str, Decimal] = field(default_factory=dict)
    """The last price of each symbol the exchange valued the account at: a fill's, or a bar's mark (read through
    ``_read_marks``: the latest marks wait in ``_unread``)."""
    ts: int = 0
    """When the books last changed: later events are stamped no earlier (the kernel's ledger never goes back)."""
    _unread: dict[str, float] = field(default_factory=dict)
    """Marks given and not yet read, as the floats they came as: a reversal's exit fills at a price of its own
    right after its symbol is marked, and the mark's conversion to Decimal would be thrown away."""

    @classmethod
    def opened(cls, deposit: Decimal | int | str, ts: int) -> VenueAccount:
        return cls(cash=money(Decimal(deposit)), ts=ts)

    def fill(self, fill: Fill) -> None:
        symbol = fill.symbol
        quantity = fill.quantity
        position, realised = net_position(self.positions.get(symbol),
                                          quantity if fill.side is _BUY else -quantity, fill.price,
                                          fill.ts, None, symbol)
        if position is None:
            self.positions.pop(symbol, None)
        else:
            self.positions[symbol] = position
        self._unread.pop(symbol, None)
        self.marks[symbol] = fill.price
        self.cash += realised - money(fill.fee)
        self.ts = fill.ts

    def mark(self, prices: Mapping[str, float], ts: int) -> None:
        """Value held symbols at new prices (floats, converted by their shortest repr as the ledger does)."""
        self._unread.update(prices)
        self.ts = max(self.ts, ts)

    def _read_marks(self) -> dict[str, Decimal]:
        """The marks, converted by the floats' shortest repr when first read."""
        unread = self._unread
        if unread:
            marks = self.marks
            for symbol, price in unread.items():
                marks[symbol] = Decimal(repr(float(price)))
            unread.clear()
        return self.marks

    def pay_funding(self, symbol: str, rate: float, price: float, ts: int) -> None:
        position = self.positions.get(symbol)
        if position is not None:
            self.cash -= funding_payment(position, rate, Decimal(repr(float(price))))
        self.ts = max(self.ts, ts)

    @property
    def equity(self) -> Decimal:
        if not self.positions:  # (flat: what a reversal's entry is sized on, after its exit filled)
            return self.cash
        marks = self._read_marks()
        return self.cash + sum((money(p.unrealised_at(marks[s])) for s, p in self.positions.items()), ZERO)

    def liquidation(self, table: MarginTable) -> dict[str, float | None]:
        """Each position's liquidation price under cross margin (None: no positive price reaches it)."""
        if not self.positions:
            return {}
        found = liquidation_prices(self.cash, self.positions, self._read_marks(), table)
        return {s: None if p is None else float(p) for s, p in found.items()}
