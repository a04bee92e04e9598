"""The float snapshot of held positions that the rules read, and the candidate under review.

``Book`` is built from the ledger's float ``figures`` (no Decimal in the hot path);
``evaluate_batch`` adds each approved entry to a copy so later intents in the same
cycle see the slots and exposure the earlier ones took. ``Candidate`` gathers what
every rule needs about one intent, computed once: tier, stop distance, cost-inclusive
risk per unit, the held notional and risk correlated with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from quantum_trader.domain.slot_init import slot_init
from quantum_trader.domain.trading import Intent, OrderType
from quantum_trader.portfolio.state import Figures
from quantum_trader.risk.limits import CompiledLimits
from quantum_trader.risk.market import MarketView


def asset_code(symbol: str) -> str:
    """``BTC/USDT:USDT`` -> ``BTC`` without the regex (symbols were validated upstream)."""
    return symbol.partition("/")[0]


@slot_init
@dataclass(frozen=True, slots=True)
class Book:
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
    entry: Mapping[str, float]
    tier_counts: tuple[int, int, int, int]
    """Held positions per tier; index 0 counts assets in no tier."""

    @classmethod
    def from_figures(cls, figures: Figures, tiers: Mapping[str, int]) -> Book:
        counts = [0, 0, 0, 0]
        for symbol in figures.symbols:
            counts[tiers.get(symbol.partition("/")[0], 0)] += 1
        return cls(
            equity=figures.equity,
            day_start_equity=figures.day_start_equity,
            peak_equity=figures.peak_equity,
            symbols=figures.symbols,
            notional=figures.notional,
            sign=figures.sign,
            risk=figures.risk,
            day_pnl=figures.day_pnl,
            total_notional=figures.total_notional,
            size=figures.size,
            entry=figures.entry,
            tier_counts=(counts[0], counts[1], counts[2], counts[3]),
        )

    def with_entry(
        self, symbol: str, tier: int, sign: int, qty: float, price: float, stop: float, cost: float,
        notional: float | None = None,
    ) -> Book:
        """The book after an approved entry fills at ``price`` paying ``cost``; ``notional`` (default
        ``qty * price``) is what it adds to exposure.

        As in the ledger, an add-on moves the whole position's stop to the new one.
        """
        new = symbol not in self.notional
        size = self.size.get(symbol, 0.0) + qty
        entry = (self.size.get(symbol, 0.0) * self.entry.get(symbol, 0.0) + qty * price) / size
        notional = qty * price if notional is None else notional
        counts = list(self.tier_counts)
        if new:
            counts[tier] += 1
        return Book(
            equity=self.equity - cost,
            day_start_equity=self.day_start_equity,
            peak_equity=self.peak_equity,
            symbols=(*self.symbols, symbol) if new else self.symbols,
            notional={**self.notional, symbol: self.notional.get(symbol, 0.0) + notional},
            sign={**self.sign, symbol: sign},
            risk={**self.risk, symbol: size * abs(entry - stop)},
            day_pnl={**self.day_pnl, symbol: self.day_pnl.get(symbol, 0.0) - cost},
            total_notional=self.total_notional + notional,
            size={**self.size, symbol: size},
            entry={**self.entry, symbol: entry},
            tier_counts=(counts[0], counts[1], counts[2], counts[3]),
        )


def expected_fill(intent: Intent, market: MarketView, limits: CompiledLimits) -> tuple[float, float]:
    """The prices an entry is sized at: (for its risk at the stop, for its notional).

    A resting limit fills at its own price. A market entry fills a bar after the decision,
    at that bar's open plus slippage: it is sized as if the open moved against it by
    ``sizing.fill_buffer`` and slippage cost it the venue's estimate, so the limits hold at
    the fill, not only at the decision price. The two directions differ for a short: slippage
    lowers its fill (a longer way to the stop above) while the notional it must respect is
    largest if the open rose.
    """
    reference = intent.entry_price
    if intent.order_type is not OrderType.MARKET:
        return reference, reference
    slip = market.entry_slippage.get(intent.symbol, limits.slippage_estimate)
    buffer = limits.fill_buffer
    if intent.side.sign > 0:
        worst = reference * (1.0 + buffer) * (1.0 + slip)
        return worst, worst
    return reference * (1.0 - buffer) * (1.0 - slip), reference * (1.0 + buffer)


class Candidate:
    """One intent prepared for the rules. ``stop_distance`` is 0 when the stop is unusable."""

    __slots__ = (
        "asset",
        "corr_max",
        "corr_missing",
        "corr_notional",
        "corr_risk",
        "held_notional",
        "held_sign",
        "intent",
        "notional_price",
        "price",
        "sign",
        "stop_distance",
        "symbol",
        "tier",
        "unit_risk",
    )

    def __init__(self, intent: Intent, book: Book, market: MarketView, limits: CompiledLimits) -> None:
        self.intent = intent
        self.symbol = symbol = intent.symbol
        self.asset = asset_code(symbol)
        self.tier: int = market.tiers.get(self.asset, 0)
        self.sign = intent.side.sign
        self.price, self.notional_price = expected_fill(intent, market, limits)
        price = self.price
        stop = intent.stop_price
        distance = 0.0 if stop is None else (price - stop) * self.sign
        self.stop_distance = distance if distance > 0 and stop is not None and stop > 0 else 0.0
        self.unit_risk = self.stop_distance + (price + (stop or 0.0)) * limits.cost_rate
        self.held_notional = book.notional.get(symbol, 0.0)
        self.held_sign = book.sign.get(symbol, 0)
        self._correlated(book, market, limits.corr_threshold)

    def _restopped(self, book: Book) -> float:
        """The held position's risk once the add-on moves its stop to this intent's stop."""
        stop = self.intent.stop_price
        if stop is None:
            return book.risk[self.symbol]
        return book.size[self.symbol] * abs(book.entry[self.symbol] - stop)

    def _correlated(self, book: Book, market: MarketView, threshold: float) -> None:
        """Held notional and risk of the largest correlated group the candidate would join.

        The spec's sketch counts the positions correlated with the candidate. But an entry
        also joins the group of every held asset it correlates with (A held with C, B
        entering with A: A's group becomes A + B + C), so each such group is bounded too;
        the largest binds. Groups are anchored sets "an asset and everything correlated
        with it above ``threshold``", the same measure the run's equity curve records.
        """
        missing: list[str] = []
        index = market.index
        row_index = index.get(self.symbol)
        row = market.rows[row_index] if row_index is not None else None
        linked: list[str] = []
        corr_max = 0.0
        for held in book.symbols:
            if held == self.symbol:
                linked.append(held)
                continue
            j = index.get(held)
            if row is None or j is None:
                missing.append(held)
                continue
            corr = row[j]
            corr_max = max(corr_max, corr)
            if corr > threshold:
                linked.append(held)
        notional, risk = self._group(linked, book)
        for anchor in linked:
            if anchor == self.symbol:
                continue
            anchor_row = market.rows[index[anchor]]
            members = [h for h in book.symbols if h == anchor or h == self.symbol
                       or (h in index and anchor_row[index[h]] > threshold)]
            group_notional, group_risk = self._group(members, book)
            notional, risk = max(notional, group_notional), max(risk, group_risk)
        self.corr_notional = notional
        self.corr_risk = risk
        self.corr_max = corr_max
        self.corr_missing = tuple(missing)

    def _group(self, members: list[str], book: Book) -> tuple[float, float]:
        notional = sum(book.notional[h] for h in members)
        risk = sum(book.risk[h] if h != self.symbol else self._restopped(book) for h in members)
        return notional, risk
