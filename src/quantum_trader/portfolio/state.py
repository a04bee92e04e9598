"""The ledger's state: one immutable value, exact money, plus float figures for the risk engine.

Money (cash, realised P&L, fees, funding, equity) is ``Decimal`` quantised to
``MONEY_QUANTUM`` so that "cash = deposits + realised - fees - funding" holds to the
last digit, forever. The risk engine runs on floats for speed, so every state also
carries ``figures``: the same numbers converted once, when the state is built, instead
of on every one of the hundreds of evaluations a minute.

States are only built by :func:`build_state` (called by the ledger functions), which
derives unrealised P&L, equity, peak equity and the float figures from the core fields,
so a state can never hold an equity that disagrees with its cash and positions.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from types import MappingProxyType
from typing import Any, Final, TypeVar

from quantum_trader.domain.slot_init import slot_init, twin_of
from quantum_trader.domain.trading import Position

MONEY_QUANTUM: Final = Decimal("0.00000001")
"""USDT carries 8 decimals on Binance and Bybit; every money amount is rounded to it once."""

ZERO: Final = Decimal(0)
_EMPTY: Final[Mapping[str, Decimal]] = MappingProxyType({})
_V = TypeVar("_V")


class LedgerError(ValueError):
    """A fill, funding payment or mark the ledger cannot apply (names the symbol and field)."""


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def frozen_map(data: Mapping[str, _V]) -> Mapping[str, _V]:
    """A read-only view over a private copy: states share nothing mutable.

    A ``MappingProxyType`` is taken as one already: the ledger's functions wrap the fresh dicts they build
    (and pass on a state's own maps unchanged), so a state is not copied twice on every fill.
    """
    return data if isinstance(data, MappingProxyType) else MappingProxyType(dict(data))


def thawed(data: Mapping[str, _V]) -> dict[str, _V]:
    """A fresh dict of ``data`` to build the next state's map from. A state's maps are ``MappingProxyType``s, whose
    ``copy`` copies the dict under them at once; ``dict(view)`` goes key by key through the mapping protocol, at
    several times the cost, and the ledger copies four maps on every fill."""
    if type(data) is MappingProxyType or type(data) is dict:
        return data.copy()
    return dict(data)


@slot_init
@dataclass(frozen=True, slots=True)
class Figures:
    """Float view of a state for the hot risk checks (no Decimal arithmetic there).

    ``notional`` is unsigned notional at the mark, ``sign`` +1/-1 per held symbol,
    ``risk`` the loss at the stop from entry, ``day_pnl`` the symbol's P&L since the
    start of the UTC day (realised, fees and funding included).
    """

    equity: float
    day_start_equity: float
    peak_equity: float
    symbols: tuple[str, ...]
    notional: Mapping[str, float]
    sign: Mapping[str, int]
    risk: Mapping[str, float]
    day_pnl: Mapping[str, float]
    total_notional: float
    size: Mapping[str, float]
    """Unsigned quantity per held symbol."""
    entry: Mapping[str, float]
    """Average entry per held symbol (an add-on's new stop re-prices the whole position's risk)."""

    @property
    def total_exposure(self) -> float:
        return self.total_notional / self.equity if self.equity > 0 else float("inf")

    @property
    def day_return(self) -> float:
        return self.equity / self.day_start_equity - 1.0 if self.day_start_equity > 0 else 0.0

    @property
    def drawdown(self) -> float:
        """Loss from peak equity as a positive fraction (0.2 = 20% below the peak)."""
        return 1.0 - self.equity / self.peak_equity if self.peak_equity > 0 else 0.0


@dataclass(frozen=True, slots=True)
class LedgerState:
    """A USDT-margined account of linear perpetuals at one instant (see module docstring).

    Core fields: ``ts`` (epoch ms of the last event), ``day_start`` (epoch ms of the
    current UTC day), ``deposits``, ``cash`` (wallet balance), ``positions`` and
    ``marks`` per symbol, cumulative ``realised_pnl`` (gross of costs), ``fees_paid``
    and ``funding_paid`` (positive when paid), ``day_start_equity`` (and
    ``day_start_marked_at``, when its prices were taken), ``peak_equity``,
    and per symbol ``day_realised`` (today's realised P&L net of fees and funding) and
    ``day_start_unrealised``. Derived fields: ``unrealised``, ``equity``, ``figures``.
    """

    ts: int
    day_start: int
    deposits: Decimal
    cash: Decimal
    positions: Mapping[str, Position]
    marks: Mapping[str, Decimal]
    realised_pnl: Decimal
    fees_paid: Decimal
    funding_paid: Decimal
    day_start_equity: Decimal
    day_start_marked_at: int
    """When the prices that valued day-start equity were marked (00:00 UTC when a mark was stamped then)."""
    peak_equity: Decimal
    day_realised: Mapping[str, Decimal]
    day_start_unrealised: Mapping[str, Decimal]
    unrealised: Mapping[str, Decimal]
    equity: Decimal
    _figures: Figures | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def figures(self) -> Figures:
        """The float view, derived on first use: most states a replay builds (a mark, a fill) are replaced
        before the risk engine ever reads them."""
        found = self._figures
        if found is None:
            found = _figures(self)
            object.__setattr__(self, "_figures", found)
        return found

    @property
    def total_unrealised(self) -> Decimal:
        return sum(self.unrealised.values(), ZERO)

    @property
    def drawdown(self) -> Decimal:
        """Loss from peak equity as a positive fraction."""
        return ZERO if self.peak_equity <= 0 else 1 - self.equity / self.peak_equity

    @property
    def day_pnl(self) -> Decimal:
        """Portfolio P&L since the start of the UTC day, marked to market."""
        return self.equity - self.day_start_equity

    def asset_day_pnl(self, symbol: str) -> Decimal:
        """One symbol's P&L today: realised net of costs plus the change in its unrealised P&L."""
        return (
            self.day_realised.get(symbol, ZERO)
            + self.unrealised.get(symbol, ZERO)
            - self.day_start_unrealised.get(symbol, ZERO)
        )

    def notional(self, symbol: str) -> Decimal:
        pos = self.positions.get(symbol)
        return ZERO if pos is None else pos.size * self.marks[symbol]

    @property
    def total_notional(self) -> Decimal:
        return sum((self.notional(s) for s in self.positions), ZERO)

    def exposure(self, symbol: str | None = None) -> Decimal:
        """Notional over equity, for one symbol or (``None``) the whole book."""
        held = self.total_notional if symbol is None else self.notional(symbol)
        return held / self.equity if self.equity > 0 else Decimal("Infinity")


def build_state(
    *,
    ts: int,
    day_start: int,
    deposits: Decimal,
    cash: Decimal,
    positions: Mapping[str, Position],
    marks: Mapping[str, Decimal],
    realised_pnl: Decimal,
    fees_paid: Decimal,
    funding_paid: Decimal,
    day_start_equity: Decimal,
    day_start_marked_at: int,
    peak_equity: Decimal,
    day_realised: Mapping[str, Decimal],
    day_start_unrealised: Mapping[str, Decimal],
) -> LedgerState:
    """Derive unrealised P&L, equity and the running peak, then freeze (the float figures follow on first use)."""
    return derive_state(
        ts, day_start, deposits, cash, positions, marks, realised_pnl, fees_paid, funding_paid, day_start_equity,
        day_start_marked_at, peak_equity, day_realised, day_start_unrealised,
    )


def derive_state(
    ts: int,
    day_start: int,
    deposits: Decimal,
    cash: Decimal,
    positions: Mapping[str, Position],
    marks: Mapping[str, Decimal],
    realised_pnl: Decimal,
    fees_paid: Decimal,
    funding_paid: Decimal,
    day_start_equity: Decimal,
    day_start_marked_at: int,
    peak_equity: Decimal,
    day_realised: Mapping[str, Decimal],
    day_start_unrealised: Mapping[str, Decimal],
    known: Mapping[str, Decimal] | None = None,
    changed: Collection[str] = (),
) -> LedgerState:
    """``build_state`` by position (the ledger's functions build a state on every fill and mark).

    ``known`` is an earlier state's unrealised P&L, valid for every held symbol but those in ``changed``
    (their position or mark moved): those are valued again, the others carried over, so a fill or a mark
    costs the symbols it touches, not the whole book. The result is the same value either way.
    """
    if known is None:
        unrealised = {s: money(p.unrealised_at(marks[s])) for s, p in positions.items()}
    else:
        unrealised = {s: money(p.unrealised_at(marks[s])) if s in changed or s not in known else known[s]
                      for s, p in positions.items()}
    equity = cash + sum(unrealised.values(), ZERO)
    return sealed(
        ts,
        day_start,
        deposits,
        cash,
        frozen_map(positions),
        frozen_map(marks),
        realised_pnl,
        fees_paid,
        funding_paid,
        day_start_equity,
        day_start_marked_at,
        peak_equity if peak_equity >= equity else equity,
        frozen_map(day_realised) if day_realised else _EMPTY,
        frozen_map(day_start_unrealised) if day_start_unrealised else _EMPTY,
        MappingProxyType(unrealised),
        equity,
    )


_LedgerSlots = twin_of(LedgerState)
"""Where ``sealed`` fills a state's slots before it becomes a ``LedgerState`` (``domain.slot_init``)."""
_FIELDS = ("ts", "day_start", "deposits", "cash", "positions", "marks", "realised_pnl", "fees_paid", "funding_paid",
           "day_start_equity", "day_start_marked_at", "peak_equity", "day_realised", "day_start_unrealised",
           "unrealised", "equity", "_figures")
if LedgerState.__slots__ != _FIELDS:  # (``sealed`` fills each by name)
    raise TypeError(f"sealed: LedgerState's slots are {LedgerState.__slots__}, not {_FIELDS}")
_new = object.__new__
_set_figures = LedgerState.__dict__["_figures"].__set__
"""The cached figures' slot setter (the state is frozen; its figures are derived once, when first read)."""


def sealed(ts: int, day_start: int, deposits: Decimal, cash: Decimal, positions: Mapping[str, Position],
           marks: Mapping[str, Decimal], realised_pnl: Decimal, fees_paid: Decimal, funding_paid: Decimal,
           day_start_equity: Decimal, day_start_marked_at: int, peak_equity: Decimal,
           day_realised: Mapping[str, Decimal], day_start_unrealised: Mapping[str, Decimal],
           unrealised: Mapping[str, Decimal], equity: Decimal) -> LedgerState:
    """A state from its 16 fields, maps already frozen and figures already derived (``derive_state`` and the
    ledger's hot paths). The frozen dataclass' own ``__init__`` assigns each field through
    ``object.__setattr__``; a replay builds a state per fill and mark, and plain slot stores on a twin of the
    class cost a fraction of that. The state is the same value, as immutable as ever."""
    state: Any = _new(_LedgerSlots)
    state.ts = ts
    state.day_start = day_start
    state.deposits = deposits
    state.cash = cash
    state.positions = positions
    state.marks = marks
    state.realised_pnl = realised_pnl
    state.fees_paid = fees_paid
    state.funding_paid = funding_paid
    state.day_start_equity = day_start_equity
    state.day_start_marked_at = day_start_marked_at
    state.peak_equity = peak_equity
    state.day_realised = day_realised
    state.day_start_unrealised = day_start_unrealised
    state.unrealised = unrealised
    state.equity = equity
    state._figures = None
    state.__class__ = LedgerState
    sealed_state: LedgerState = state
    return sealed_state


def remarked(before: LedgerState, state: LedgerState, marked: Collection[str]) -> LedgerState:
    """``state``, marked from ``before`` at new prices of ``marked`` (nothing else changed: positions, cash, the
    day's baselines and realised P&L), with its figures carried over from ``before``'s when those were read:
    only the marked positions' notional and day P&L, equity and the peak move, the same floats computed
    afresh would give (a decision's mark would otherwise convert every figure again)."""
    figures = before._figures
    if figures is None:
        return state
    positions, marks = state.positions, state.marks
    day_realised, unrealised, day_start = state.day_realised, state.unrealised, state.day_start_unrealised
    notional, day_pnl = thawed(figures.notional), thawed(figures.day_pnl)  # (their order stays the positions')
    for s in marked:
        p = positions.get(s)
        if p is not None:
            notional[s] = float(abs(p.quantity) * marks[s])
            day_pnl[s] = float(day_realised.get(s, ZERO) + unrealised.get(s, ZERO) - day_start.get(s, ZERO))
    _set_figures(state, Figures(
        equity=float(state.equity),
        day_start_equity=figures.day_start_equity,
        peak_equity=float(state.peak_equity),
        symbols=figures.symbols,
        notional=MappingProxyType(notional),
        sign=figures.sign,
        risk=figures.risk,
        day_pnl=MappingProxyType(day_pnl),
        total_notional=sum(notional.values(), 0.0),
        size=figures.size,
        entry=figures.entry,
    ))
    return state


def _figures(state: LedgerState) -> Figures:
    positions, marks = state.positions, state.marks
    unrealised, day_realised, day_start_unrealised = state.unrealised, state.day_realised, state.day_start_unrealised
    # (in the order the symbols are first met, never a set's: the kill switch locks assets in this order, and a
    # set's order of strings changes from one process to the next)
    day_pnl = {
        s: day_realised.get(s, ZERO) + unrealised.get(s, ZERO) - day_start_unrealised.get(s, ZERO)
        for s in dict.fromkeys([*day_realised, *unrealised, *day_start_unrealised])
    }
    notional: dict[str, float] = {}
    sign: dict[str, int] = {}
    risk: dict[str, float] = {}
    size: dict[str, float] = {}
    entry: dict[str, float] = {}
    for s, p in positions.items():  # one pass (a state's figures are read at every decision)
        quantity = p.quantity
        unsigned = abs(quantity)
        notional[s] = float(unsigned * marks[s])
        sign[s] = 1 if quantity > 0 else -1
        risk[s] = float(p.risk_amount)
        size[s] = float(unsigned)
        entry[s] = float(p.entry_price)
    return Figures(
        equity=float(state.equity),
        day_start_equity=float(state.day_start_equity),
        peak_equity=float(state.peak_equity),
        symbols=tuple(positions),
        notional=MappingProxyType(notional),
        sign=MappingProxyType(sign),
        risk=MappingProxyType(risk),
        day_pnl=MappingProxyType({s: float(v) for s, v in day_pnl.items()}),
        total_notional=sum(notional.values(), 0.0),
        size=MappingProxyType(size),
        entry=MappingProxyType(entry),
    )
