"""The state machine the risk property tests run: engine + ledger + kill switch, as the engine drives them.

Random sequences of marks, intents, fills, funding, stops and day changes; the issue's
invariants are checked after every step (money) and at every entry (limits). The test
files run it under the ``notional`` and the ``risk_amount`` correlated-exposure measure.

The generators are steered so that runs reach the states the invariants are about;
hypothesis' swarm testing switches off a random half of the rules in each run, so a run
would otherwise often never enter (about a third did) or never lose enough to trip the
kill switch (5-9% did):

- every run opens a book in its ``setup`` (initialize rules are never switched off);
- intents are mostly on assets admitted in phase 3, with stops mostly within 5%, so
  the position, exposure and correlation caps bind rather than the 2% risk size alone;
- two rules move prices against the positions held (``gap_against`` and the ``against``
  part of ``move_prices``), so the per-asset lock and both kill-switch trips are reached.

Nothing an invariant checks is relaxed: every approved entry is still checked against
every limit, and money must still reconcile after every step. ``teardown`` records with
``event()`` what each run reached (``--hypothesis-show-statistics`` prints the shares).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import event
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from tests.risk.builders import ASSETS, PRICES, T0, instrument, policy_with, sym

from quantum_trader.config.policy import Policy
from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR
from quantum_trader.domain.trading import Fill, Intent, OrderSide, RiskDecision, Side, Verdict
from quantum_trader.portfolio import LedgerState, apply_fill, apply_funding, mark, new_ledger
from quantum_trader.risk import (
    ActionKind,
    CompiledLimits,
    EventKind,
    KillSwitchState,
    MarketView,
    armed,
    build_market_view,
    compile_limits,
    evaluate,
    evaluate_batch,
    update,
)
from quantum_trader.risk.book import asset_code

TRADED = ("BTC", "ETH", "SOL", "BNB", "XRP", "AVAX", "LINK")
ADMITTED = ("BTC", "ETH", "SOL", "BNB", "AVAX")
"""Admitted in phase 3 (AVAX, tier 3, with an edge score of 0.6 or more); XRP and LINK are refused."""
FEE_RATE = Decimal("0.0005")  # actual taker fee: within the policy's fee + slippage estimate
TIERS = Policy().asset_tiers
EPS = 1e-12

ASSET = st.sampled_from(ADMITTED) | st.sampled_from(TRADED)
"""About 86% admitted; the phase and tier-3 refusals stay in play."""
STOP = st.floats(0.002, 0.05) | st.floats(0.002, 0.6)
"""Stop distance: mostly tight (large risk size, so the caps bind), sometimes far."""
PICK = st.tuples(ASSET, st.sampled_from(Side), STOP, st.floats(0.0, 1.0))
_REACHED_EVENTS = frozenset({EventKind.TRIP_DAILY, EventKind.TRIP_DRAWDOWN, EventKind.LOCK})


def corr_from_loadings(loadings: list[float]) -> np.ndarray:
    """A valid correlation matrix (one-factor model): pairs above 0.70 appear when loadings are high."""
    v = np.array(loadings)
    m = np.outer(v, v)
    np.fill_diagonal(m, 1.0)
    return m


def build_market(
    limits: CompiledLimits, loadings: list[float], depth: float, prices: dict[str, float], ts: int
) -> MarketView:
    symbols = [sym(a) for a in ASSETS]
    return build_market_view(
        limits,
        ts=ts,
        phase=3,
        symbols=symbols,
        correlation=corr_from_loadings(loadings),
        depth_1pct=dict.fromkeys(symbols, depth),
        marks={sym(a): prices[a] for a in ASSETS},
        instruments=[instrument(a) for a in ASSETS],
        edge_assets=("AVAX",),
    )


def tier_counts(state: LedgerState) -> tuple[int, int]:
    tiers = [TIERS.tier_of(asset_code(s)) for s in state.positions]
    return tiers.count(2), tiers.count(3)


def check_entry(
    limits: CompiledLimits,
    market: MarketView,
    before: LedgerState,
    after: LedgerState,
    decisions: list[RiskDecision],
    cycle_start: LedgerState | None = None,
) -> None:
    """The limits that bind at entry, measured on the ledger right after the fill.

    Planned risk is held to the equity at the start of the cycle (what the risk engine saw).
    """
    start = cycle_start or before
    f = after.figures
    assert len(after.positions) <= limits.max_positions
    t2, t3 = tier_counts(after)
    assert t2 <= limits.tier2_max and t3 <= limits.tier3_max
    assert t2 + t3 <= limits.total_slots - limits.reserved_tier1
    assert f.total_notional <= limits.total_exposure * f.equity + EPS
    for d in decisions:
        s = d.intent.symbol
        assert f.notional[s] <= limits.position_size * f.equity + EPS
        stop = d.intent.stop_price
        assert stop is not None
        unit = abs(d.intent.entry_price - stop) + (d.intent.entry_price + stop) * limits.cost_rate
        assert float(d.quantity) * unit <= limits.risk_per_trade * start.figures.equity + EPS
        assert float(d.quantity) * d.intent.entry_price <= limits.depth_fraction * market.depth_1pct[s] + EPS
        group = [t for t in f.symbols if t == s or (market.corr(s, t) or 0.0) > limits.corr_threshold]
        if limits.measure_is_risk:
            assert sum(f.risk[t] for t in group) <= limits.correlated_exposure * start.figures.equity + EPS
        else:
            assert sum(f.notional[t] for t in group) <= limits.correlated_exposure * f.equity + EPS


TICK = {
    "BTC": "0.1",
    "ETH": "0.01",
    "SOL": "0.01",
    "BNB": "0.01",
    "XRP": "0.0001",
    "AVAX": "0.001",
    "LINK": "0.001",
    "MATIC": "0.0001",
    "DOGE": "0.00001",
    "ADA": "0.0001",
}


class RiskMachine(RuleBasedStateMachine):
    POLICY = Policy()

    def __init__(self) -> None:
        super().__init__()
        self.limits = compile_limits(self.POLICY)
        self.ts = T0
        self.prices = dict(PRICES)
        self.state = new_ledger(Decimal(100_000), T0)
        self.switch: KillSwitchState = armed(T0)
        self.fees = Decimal(0)
        self.funding = Decimal(0)
        self.loadings = [0.5] * len(ASSETS)
        self.depth = 5e6
        self.market = build_market(self.limits, self.loadings, self.depth, self.prices, self.ts)
        self.entries = 0
        self.reached: set[str] = set()
        """What this run reached: limits that bound an intent, locks, trips (one event each at teardown)."""

    @initialize(
        loadings=st.lists(st.floats(0.0, 0.99), min_size=len(ASSETS), max_size=len(ASSETS)),
        depth=st.sampled_from([2e5, 1e6, 5e7]),
        opening=st.lists(PICK, min_size=1, max_size=5),
    )
    def setup(self, loadings: list[float], depth: float, opening: list[tuple[str, Side, float, float]]) -> None:
        self.loadings, self.depth = loadings, depth
        self.market = build_market(self.limits, loadings, depth, self.prices, self.ts)
        if len(opening) > 1:
            self.enter_batch(opening)
        else:
            self.enter(*opening[0])

    # helpers -------------------------------------------------------------------------------

    def _fill(self, symbol: str, side: OrderSide, qty: Decimal, stop: float | None = None) -> None:
        price = Decimal(repr(self.prices[asset_code(symbol)]))
        fee = (qty * price * FEE_RATE).quantize(Decimal("0.00000001"))
        self.fees += fee
        stop_d = None if stop is None else Decimal(repr(stop))
        self.state = apply_fill(self.state, Fill(self.ts, symbol, side, qty, price, fee), stop_price=stop_d)

    def _close(self, symbol: str) -> None:
        pos = self.state.positions[symbol]
        self._fill(symbol, OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY, abs(pos.quantity))

    def _guard(self) -> None:
        """What the engine does after every mark: ask the switch, execute its actions."""
        result = update(self.switch, self.state, self.limits, self.ts)
        self.switch = result.state
        self.reached.update(f"switch: {e.kind}" for e in result.events if e.kind in _REACHED_EVENTS)
        for action in result.actions:
            if action.kind is ActionKind.CLOSE_ALL:
                for symbol in list(self.state.positions):
                    self._close(symbol)
            elif action.kind is ActionKind.FLATTEN_ASSET and action.symbol in self.state.positions:
                self._close(action.symbol)

    def _intent(self, asset: str, side: Side, stop_pct: float, edge: float) -> Intent:
        price = self.prices[asset]
        return Intent(self.ts, sym(asset), side, edge, price, price * (1 - side.sign * stop_pct), "prop")

    def _assert_may_enter(self, d: RiskDecision) -> None:
        assert not self.switch.tripped, "entry approved while the kill switch is tripped"
        assert not self.switch.is_locked(asset_code(d.intent.symbol)), "entry approved on a locked asset"

    def _execute(self, decisions: list[RiskDecision]) -> None:
        """Fill approved entries in turn; each is checked at its own entry."""
        self.reached.update(f"limit bound: {r.rule}" for d in decisions for r in d.reasons)
        if any(d.verdict is Verdict.APPROVED for d in decisions):
            self.reached.add("sized by risk_per_trade alone")
        first = self.state
        for d in (d for d in decisions if d.approved):
            self._assert_may_enter(d)
            before = self.state
            side = OrderSide.BUY if d.intent.side is Side.LONG else OrderSide.SELL
            self._fill(d.intent.symbol, side, d.quantity, d.intent.stop_price)
            self.entries += 1
            event("entry filled")
            check_entry(self.limits, self.market, before, self.state, [d], first)

    def _mark(self, moves: dict[str, float], minutes: int) -> None:
        self.ts += minutes * 60_000
        for asset, move in moves.items():
            price = Decimal(repr(self.prices[asset] * (1 + move))).quantize(Decimal(TICK[asset]))
            self.prices[asset] = max(float(price), float(Decimal(TICK[asset])) * 100)
        self.state = mark(self.state, {sym(a): self.prices[a] for a in ASSETS}, self.ts)
        self._guard()

    def _held_sides(self) -> dict[str, int]:
        return {asset_code(s): 1 if p.quantity > 0 else -1 for s, p in self.state.positions.items()}

    # rules ---------------------------------------------------------------------------------

    @rule(
        moves=st.lists(st.floats(-0.2, 0.2), min_size=len(ASSETS), max_size=len(ASSETS)),
        against=st.just(0.0) | st.floats(0.0, 0.15),
        minutes=st.integers(1, 600),
    )
    def move_prices(self, moves: list[float], against: float, minutes: int) -> None:
        """Random moves, plus (in about half the steps) a drift of up to 15% against every position held."""
        held = self._held_sides()
        self._mark({a: m - against * held.get(a, 0) for a, m in zip(ASSETS, moves, strict=True)}, minutes)

    @rule(size=st.floats(0.02, 0.6), minutes=st.integers(1, 600))
    def gap_against(self, size: float, minutes: int) -> None:
        """Every position gaps against its holder at once (a correlated crash, or a squeeze of the shorts)."""
        self._mark({a: -size * sign for a, sign in self._held_sides().items()}, minutes)

    @rule(asset=ASSET, side=st.sampled_from(Side), stop_pct=STOP, edge=st.floats(0.0, 1.0))
    def enter(self, asset: str, side: Side, stop_pct: float, edge: float) -> None:
        i = self._intent(asset, side, stop_pct, edge)
        self._execute([evaluate(i, self.state, self.market, self.limits, switch=self.switch)])

    @rule(picks=st.lists(PICK, min_size=2, max_size=5))
    def enter_batch(self, picks: list[tuple[str, Side, float, float]]) -> None:
        intents = [self._intent(*p) for p in picks]
        result = evaluate_batch(intents, self.state, self.market, self.limits, switch=self.switch)
        assert len(result.decisions) == len(intents) and sorted(result.ranking) == list(range(len(intents)))
        self._execute([result.decisions[i] for i in result.ranking])  # orders go out best first

    @rule(rate=st.floats(-0.003, 0.003))
    def funding(self, rate: float) -> None:
        self.ts += MS_PER_HOUR
        for symbol in list(self.state.positions):
            before = self.state.cash
            self.state = apply_funding(self.state, symbol, rate, self.ts)
            self.funding += before - self.state.cash

    @rule(data=st.data())
    def stop_hit(self, data: st.DataObject) -> None:
        if not self.state.positions:
            return
        symbol = data.draw(st.sampled_from(sorted(self.state.positions)))
        pos = self.state.positions[symbol]
        if pos.stop_price is not None and pos.stop_price > 0:
            self.prices[asset_code(symbol)] = float(pos.stop_price)
        self.ts += 60_000
        self.state = mark(self.state, {symbol: self.prices[asset_code(symbol)]}, self.ts)
        self._close(symbol)
        self._guard()

    @rule()
    def new_day(self) -> None:
        self.ts = self.ts - self.ts % MS_PER_DAY + MS_PER_DAY + MS_PER_HOUR
        self.state = mark(self.state, {}, self.ts)
        self._guard()
        assert not self.switch.daily_tripped
        assert not self.switch.locks

    # invariants ----------------------------------------------------------------------------

    @invariant()
    def money_reconciles(self) -> None:
        s = self.state
        assert s.equity == s.cash + s.total_unrealised
        assert s.cash == s.deposits + s.realised_pnl - s.fees_paid - s.funding_paid
        assert s.fees_paid == self.fees and s.funding_paid == self.funding
        assert s.day_pnl == sum(
            (s.asset_day_pnl(x) for x in {*s.day_realised, *s.unrealised, *s.day_start_unrealised}),
            Decimal(0),
        )

    @invariant()
    def counts_hold(self) -> None:
        assert len(self.state.positions) <= self.limits.max_positions
        t2, t3 = tier_counts(self.state)
        assert t2 <= 2 and t3 <= 1 and t2 + t3 <= 3

    def teardown(self) -> None:
        event(f"entries per run: {min(self.entries, 5)}{'+' if self.entries >= 5 else ''}")
        event("run: entered" if self.entries else "run: no entry")
        if self.reached & {f"switch: {EventKind.TRIP_DAILY}", f"switch: {EventKind.TRIP_DRAWDOWN}"}:
            event("run: kill switch tripped")
        for what in sorted(self.reached):
            event(f"run: {what}")


class RiskAmountMachine(RiskMachine):
    """The same sequences under the spec's ``risk_amount`` correlated-exposure measure.

    Measured as loss at the stop, the default 25% cannot bind: five positions risk at most
    5 x 2% = 10%. Here it is 5%, so the correlated cap binds after two or three correlated
    entries and the invariant that checks it is exercised.
    """

    POLICY = policy_with(
        correlation={"exposure_measure": "risk_amount"}, portfolio={"max_correlated_exposure": 0.05}
    )
