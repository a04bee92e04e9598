"""The simulated venue as the kernel receives it: its cost and fill models, injected.

The kernel differs between backtest and paper only in clock and feed (a live exchange
client, not built yet, will take this venue's place). The simulated exchange is handed a
``SimulatedVenue`` and asks it what a fill costs; the kernel never prices a fill.
Each part is one small model (STYLE.md practice 8):

- ``fees``: maker and taker rates of the exchange (``FeeModel``);
- ``slippage``: the average price of a taker order (``SlippageModel``): the stored L2
  book walked when a recent one exists, else half the spread plus square-root impact
  (``BookOrImpactSlippage``), or the reference price itself (``ExactPrice``) for
  comparisons with engines that have no slippage;
- ``limit_fill`` and ``post_only``: when a resting limit fills, and whether one that
  would cross on arrival is refused.

A user tests a more pessimistic cost assumption by injecting another ``SlippageModel``
(``testkit.run_kernel(..., venue=...)`` or ``Kernel(data, settings, venue)``), without
touching the kernel.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Literal, Protocol

from quantum_trader.config import Policy
from quantum_trader.domain.market import BookSeries
from quantum_trader.venues.simulated.fees import FeeModel
from quantum_trader.venues.simulated.slippage import BOOK_MAX_AGE_MS, taker_price

DEFAULT_SPREAD = 0.0002
"""Relative bid-ask spread assumed for a symbol without stored books (2 bp)."""


class SlippageModel(Protocol):
    def taker_price(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
                    bar_volume: float) -> float:
        """Average execution price of a taker order of ``quantity`` near ``reference`` at ``ts``."""
        ...

    def over_books(self, books: Mapping[str, BookSeries]) -> SlippageModel:
        """The same model over another stretch's books (a streamed replay hands them a stretch at a time)."""
        ...


@dataclass(frozen=True)
class BookOrImpactSlippage:
    """Walk the latest stored book (at most ``book_max_age_ms`` old), else half the spread plus
    ``impact`` times the square root of the order's share of the bar's volume."""

    books: Mapping[str, BookSeries] = field(default_factory=dict)
    spread: Mapping[str, float] = field(default_factory=dict)
    impact: float = 0.005
    book_max_age_ms: int = BOOK_MAX_AGE_MS

    def taker_price(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
                    bar_volume: float) -> float:
        return taker_price(reference, quantity, buy=buy, ts=ts, book=self.books.get(symbol),
                           spread=self.spread.get(symbol, DEFAULT_SPREAD), impact=self.impact,
                           bar_volume=bar_volume, max_age_ms=self.book_max_age_ms)

    def over_books(self, books: Mapping[str, BookSeries]) -> BookOrImpactSlippage:
        return replace(self, books=books)


@dataclass(frozen=True)
class ExactPrice:
    """No slippage: every taker order fills at its reference price."""

    def taker_price(self, symbol: str, reference: float, quantity: float, *, buy: bool, ts: int,
                    bar_volume: float) -> float:
        return reference

    def over_books(self, books: Mapping[str, BookSeries]) -> ExactPrice:
        return self


@dataclass(frozen=True)
class SimulatedVenue:
    fees: FeeModel
    slippage: SlippageModel
    limit_fill: Literal["through", "touch"] = "through"
    post_only: bool = True

    @property
    def maker_rate(self) -> Decimal:
        return Decimal(repr(self.fees.maker))

    @property
    def taker_rate(self) -> Decimal:
        return Decimal(repr(self.fees.taker))

    @classmethod
    def from_policy(cls, policy: Policy, *, books: Mapping[str, BookSeries] | None = None,
                    spread: Mapping[str, float] | None = None, slippage: bool = True,
                    impact: float = 0.005, book_max_age_ms: int = BOOK_MAX_AGE_MS) -> SimulatedVenue:
        """The venue the policy describes: its exchange's fees, its limit-entry rules, and the
        book-or-impact slippage over the market's books and spreads (``slippage=False``: none)."""
        venue = policy.venue
        model: SlippageModel = (BookOrImpactSlippage(books or {}, spread or {}, impact, book_max_age_ms) if slippage
                                else ExactPrice())
        return cls(fees=FeeModel.from_policy(venue.fees[venue.exchange]), slippage=model,
                   limit_fill=venue.entry.fill, post_only=venue.entry.post_only)
