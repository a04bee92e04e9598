"""The rules of spec section 3, one small object per check.

Two kinds. A *gate* says yes or no (kill switch, asset lock, phase, stop present, data
present, opposite position, position count, tier slots) and returns a ``RiskReason``
when it refuses. A *cap* bounds the quantity (risk at the stop, position size, total
exposure, correlated exposure, liquidity); the smallest cap is the quantity, and every
cap below the risk-based size is reported as a reason.

Exposure caps are solved at the entry's expected fill price (``book.expected_fill``: for
a market entry the decision price moved against it by the slippage estimate and the
latency buffer) and for equity *after* the entry's estimated cost, so the limit still
holds once the order has filled and paid its fee: ``(held + q p) <= L (E - c q p)`` gives
``q <= (L E - held) / (p (1 + L c))``. All figures are floats; the engine shaves a
relative 1e-9 and rounds down to the lot once, so float error can only make a
position smaller, never push it past a limit.
"""

from __future__ import annotations

from typing import Protocol

from quantum_trader.domain.trading import RiskReason
from quantum_trader.risk.book import Book, Candidate
from quantum_trader.risk.kill_switch import KillSwitchState
from quantum_trader.risk.limits import CompiledLimits
from quantum_trader.risk.market import MarketView

INF = float("inf")


class Gate(Protocol):
    name: str

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None: ...


class Cap(Protocol):
    name: str

    def cap(self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits) -> float: ...

    def explain(
        self, c: Candidate, book: Book, limits: CompiledLimits, desired: float, allowed: float
    ) -> RiskReason: ...


def _pct(x: float) -> str:
    return f"{x:.2%}"


# Gates -------------------------------------------------------------------------------------


class KillSwitchGate:
    """No entry while the kill switch is tripped, or while the ledger's figures would trip it."""

    name = "kill_switch"

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None:
        if switch.tripped:
            kind = "daily loss" if switch.daily_tripped else "drawdown"
            return RiskReason(self.name, f"kill switch tripped ({kind}): every entry refused")
        base = book.day_start_equity
        day = book.equity / base - 1.0 if base > 0 else 0.0
        if book.equity - base <= -limits.daily_loss_portfolio * base:
            return RiskReason(
                self.name,
                f"portfolio down {_pct(-day)} today >= {_pct(limits.daily_loss_portfolio)}",
                day,
                -limits.daily_loss_portfolio,
            )
        peak = book.peak_equity
        drawdown = 1.0 - book.equity / peak if peak > 0 else 0.0
        if peak - book.equity >= limits.drawdown * peak:
            return RiskReason(
                self.name, f"drawdown {_pct(drawdown)} >= {_pct(limits.drawdown)}", drawdown, limits.drawdown
            )
        return None


class AssetLockGate:
    """An asset that lost the per-asset daily limit today takes no entry until the next UTC day."""

    name = "asset_daily_loss"

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None:
        if switch.locks and switch.is_locked(c.asset):
            return RiskReason(self.name, f"{c.asset} is locked until the next UTC day (daily loss limit hit)")
        if book.day_start_equity > 0:
            pnl = book.day_pnl.get(c.symbol, 0.0)
            loss = pnl / book.day_start_equity
            if pnl <= -limits.daily_loss_asset * book.day_start_equity:
                return RiskReason(
                    self.name,
                    f"{c.asset} down {_pct(-loss)} of day-start equity today >= "
                    f"{_pct(limits.daily_loss_asset)}",
                    loss,
                    -limits.daily_loss_asset,
                )
        return None


class UniverseGate:
    """An asset screening removed (or has not admitted) takes no new entry until a screen restores it."""

    name = "universe"

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None:
        why = market.removed.get(c.asset) if market.removed else None
        if why is None:
            return None
        return RiskReason(self.name, f"{c.asset} is out of the universe: {why}")


class PhaseGate:
    """Only assets admitted in the current phase; tier 3 only in a selective phase, with an edge."""

    name = "phase"

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None:
        if c.asset in limits.phase_assets[market.phase]:
            return None
        if c.tier != 3 or not limits.phase_tier3[market.phase]:
            return RiskReason(self.name, f"{c.asset} is not admitted in phase {market.phase}")
        if limits.tier3_requires_edge and c.asset not in market.edge_assets:
            return RiskReason("tier3_edge", f"tier-3 {c.asset} has no identified edge")
        if limits.tier3_requires_edge and c.intent.edge_score < limits.tier3_min_edge:
            return RiskReason(
                "tier3_edge",
                f"tier-3 {c.asset} edge score {c.intent.edge_score:.2f} < {limits.tier3_min_edge:.2f}",
                c.intent.edge_score,
                limits.tier3_min_edge,
            )
        return None


class StopGate:
    """Sizing needs a stop on the losing side of the entry: without one the intent is refused."""

    name = "sizing"

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None:
        if c.intent.stop_price is None:
            return RiskReason(self.name, "intent has no stop price: risk cannot be sized")
        if c.stop_distance <= 0:
            return RiskReason(
                self.name,
                f"stop {c.intent.stop_price} is not on the losing side of entry "
                f"{c.intent.entry_price} for a {c.intent.side} position",
            )
        if book.equity <= 0:
            return RiskReason(self.name, f"equity {book.equity:.2f} is not positive", book.equity, 0.0)
        return None


class MarketDataGate:
    """A figure the rules need and the market view lacks is a refusal, never a guess."""

    name = "market_data"

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None:
        missing = []
        if c.symbol not in market.instruments:
            missing.append(f"instrument {c.symbol}")
        if c.symbol not in market.depth_1pct:
            missing.append(f"depth within 1% for {c.symbol}")
        if c.corr_missing:
            missing.append(f"correlation of {c.symbol} with {', '.join(c.corr_missing)}")
        return RiskReason(self.name, "missing " + "; ".join(missing)) if missing else None


class OppositeGate:
    """An entry against a held position is a reversal: the engine closes first, then enters."""

    name = "opposite_position"

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None:
        if c.held_sign and c.held_sign != c.sign:
            return RiskReason(self.name, f"{c.symbol} is held on the other side; close it before reversing")
        return None


class MaxPositionsGate:
    """``portfolio.max_positions`` and ``position_slots.total_slots``: the smaller binds."""

    name = "max_positions"

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None:
        held = len(book.symbols)
        if c.held_sign == 0 and held + 1 > limits.max_positions:
            return RiskReason(
                self.name,
                f"{held} positions open, at most {limits.max_positions}",
                float(held + 1),
                float(limits.max_positions),
            )
        return None


class TierSlotGate:
    """Tier caps, and tiers 2 and 3 together never take the slots reserved for tier 1."""

    name = "slots"

    def check(
        self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits, switch: KillSwitchState
    ) -> RiskReason | None:
        if c.held_sign != 0 or c.tier == 1:
            return None
        if c.tier == 0:
            return RiskReason("tier", f"{c.asset} is in no asset tier")
        _, _, t2, t3 = book.tier_counts
        cap = limits.tier2_max if c.tier == 2 else limits.tier3_max
        held = t2 if c.tier == 2 else t3
        if held + 1 > cap:
            return RiskReason(
                self.name, f"tier {c.tier} holds {held} of at most {cap} slots", float(held + 1), float(cap)
            )
        shared = limits.total_slots - limits.reserved_tier1
        if t2 + t3 + 1 > shared:
            return RiskReason(
                self.name,
                f"tiers 2 and 3 hold {t2 + t3} slots; the last {limits.reserved_tier1} "
                "are reserved for tier 1",
                float(t2 + t3 + 1),
                float(shared),
            )
        return None


# Caps --------------------------------------------------------------------------------------


class RiskPerTradeCap:
    """Loss at the stop plus fees and slippage on entry and exit at most ``max_risk_per_trade``."""

    name = "risk_per_trade"

    def cap(self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits) -> float:
        return limits.risk_per_trade * book.equity / c.unit_risk

    def explain(
        self, c: Candidate, book: Book, limits: CompiledLimits, desired: float, allowed: float
    ) -> RiskReason:
        figure = desired * c.unit_risk / book.equity
        return RiskReason(
            self.name,
            f"risk at stop {_pct(figure)} of equity > {_pct(limits.risk_per_trade)}",
            figure,
            limits.risk_per_trade,
        )


def _headroom(limit: float, equity: float, held: float, price: float, cost_rate: float) -> float:
    room = limit * equity - held
    return room / (price * (1.0 + limit * cost_rate)) if room > 0 else 0.0


def _after(c: Candidate, book: Book, limits: CompiledLimits, held: float, qty: float) -> float:
    """Exposure ``held + qty * price`` over equity after the entry's estimated cost."""
    notional = qty * c.notional_price
    return (held + notional) / (book.equity - limits.cost_rate * notional)


class PositionSizeCap:
    name = "max_position_size"

    def cap(self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits) -> float:
        return _headroom(limits.position_size, book.equity, c.held_notional, c.notional_price, limits.cost_rate)

    def explain(
        self, c: Candidate, book: Book, limits: CompiledLimits, desired: float, allowed: float
    ) -> RiskReason:
        figure = _after(c, book, limits, c.held_notional, desired)
        return RiskReason(
            self.name,
            f"position would be {_pct(figure)} of equity > {_pct(limits.position_size)}",
            figure,
            limits.position_size,
        )


class TotalExposureCap:
    name = "max_total_exposure"

    def cap(self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits) -> float:
        return _headroom(limits.total_exposure, book.equity, book.total_notional, c.notional_price, limits.cost_rate)

    def explain(
        self, c: Candidate, book: Book, limits: CompiledLimits, desired: float, allowed: float
    ) -> RiskReason:
        figure = _after(c, book, limits, book.total_notional, desired)
        return RiskReason(
            self.name,
            f"total exposure would be {_pct(figure)} > {_pct(limits.total_exposure)}",
            figure,
            limits.total_exposure,
        )


class CorrelatedExposureCap:
    """Held positions correlated above the threshold plus the candidate, per the policy's measure."""

    name = "max_correlated_exposure"

    def cap(self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits) -> float:
        limit = limits.correlated_exposure
        if not limits.measure_is_risk:
            return _headroom(limit, book.equity, c.corr_notional, c.notional_price, limits.cost_rate)
        room = limit * book.equity - c.corr_risk
        return room / (c.stop_distance + limit * limits.cost_rate * c.notional_price) if room > 0 else 0.0

    def explain(
        self, c: Candidate, book: Book, limits: CompiledLimits, desired: float, allowed: float
    ) -> RiskReason:
        if limits.measure_is_risk:
            figure = (c.corr_risk + desired * c.stop_distance) / book.equity
            measure = "risk at stop"
        else:
            figure = _after(c, book, limits, c.corr_notional, desired)
            measure = "notional"
        return RiskReason(
            self.name,
            f"correlated exposure ({measure}, pairs > {limits.corr_threshold:.2f}) would be {_pct(figure)} > "
            f"{_pct(limits.correlated_exposure)}",
            figure,
            limits.correlated_exposure,
        )


class LiquidityCap:
    name = "liquidity"

    def cap(self, c: Candidate, book: Book, market: MarketView, limits: CompiledLimits) -> float:
        return limits.depth_fraction * market.depth_1pct[c.symbol] / c.notional_price

    def explain(
        self, c: Candidate, book: Book, limits: CompiledLimits, desired: float, allowed: float
    ) -> RiskReason:
        depth = allowed * c.notional_price / limits.depth_fraction if limits.depth_fraction else INF
        figure = desired * c.notional_price / depth if depth > 0 else INF
        return RiskReason(
            self.name,
            f"order would take {_pct(figure)} of the depth within 1% "
            f"(${depth:,.0f}) > {_pct(limits.depth_fraction)}",
            figure,
            limits.depth_fraction,
        )


GATES: tuple[Gate, ...] = (
    KillSwitchGate(),
    AssetLockGate(),
    UniverseGate(),
    PhaseGate(),
    StopGate(),
    MarketDataGate(),
    OppositeGate(),
    MaxPositionsGate(),
    TierSlotGate(),
)
"""Every gate runs, so a refusal lists every reason, not just the first."""

SIZING: RiskPerTradeCap = RiskPerTradeCap()
CAPS: tuple[Cap, ...] = (PositionSizeCap(), TotalExposureCap(), CorrelatedExposureCap(), LiquidityCap())
