"""Property tests: random sequences of marks, intents, fills, funding, stops and day changes.

A ``RuleBasedStateMachine`` drives engine + ledger + kill switch the way the engine
will, and checks the issue's invariants after every step (money) and at every entry
(limits). Example budget per run (all in this file, fixed by ``settings``):
``RiskMachine`` 1,500 + ``RiskAmountMachine`` 1,000 sequences of up to 25 steps, plus
``test_single_evaluation_respects_every_limit`` 4,000 examples: 6,500 examples (about
6,000 entries filled and checked; run with ``--hypothesis-show-statistics`` to see).

Batches are filled in ``BatchResult.ranking`` order, as the engine sends them: each
entry's limits are computed on equity net of the estimated costs of the entries ranked
before it, so filled out of order a limit could be exceeded by at most the other
entries' fees (< 0.04% of equity with the default policy).
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np
from hypothesis import HealthCheck, event, given, settings
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
FEE_RATE = Decimal("0.0005")  # actual taker fee: within the policy's fee + slippage estimate
TIERS = Policy().asset_tiers
EPS = 1e-12


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

    @initialize(
        loadings=st.lists(st.floats(0.0, 0.99), min_size=len(ASSETS), max_size=len(ASSETS)),
        depth=st.sampled_from([2e5, 1e6, 5e7]),
    )
    def setup(self, loadings: list[float], depth: float) -> None:
        self.loadings, self.depth = loadings, depth
        self.market = build_market(self.limits, loadings, depth, self.prices, self.ts)

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
        first = self.state
        for d in (d for d in decisions if d.approved):
            self._assert_may_enter(d)
            before = self.state
            side = OrderSide.BUY if d.intent.side is Side.LONG else OrderSide.SELL
            self._fill(d.intent.symbol, side, d.quantity, d.intent.stop_price)
            self.entries += 1
            event("entry filled")
            check_entry(self.limits, self.market, before, self.state, [d], first)

    # rules ---------------------------------------------------------------------------------

    @rule(
        moves=st.lists(st.floats(-0.2, 0.2), min_size=len(ASSETS), max_size=len(ASSETS)),
        minutes=st.integers(1, 600),
    )
    def move_prices(self, moves: list[float], minutes: int) -> None:
        self.ts += minutes * 60_000
        for asset, move in zip(ASSETS, moves, strict=True):
            self.prices[asset] = float(
                Decimal(repr(self.prices[asset] * (1 + move))).quantize(Decimal(TICK[asset]))
            )
            self.prices[asset] = max(self.prices[asset], float(Decimal(TICK[asset])) * 100)
        self.state = mark(self.state, {sym(a): self.prices[a] for a in ASSETS}, self.ts)
        self._guard()

    @rule(
        asset=st.sampled_from(TRADED),
        side=st.sampled_from(Side),
        stop_pct=st.floats(0.002, 0.6),
        edge=st.floats(0.0, 1.0),
    )
    def enter(self, asset: str, side: Side, stop_pct: float, edge: float) -> None:
        i = self._intent(asset, side, stop_pct, edge)
        self._execute([evaluate(i, self.state, self.market, self.limits, switch=self.switch)])

    @rule(
        picks=st.lists(
            st.tuples(
                st.sampled_from(TRADED), st.sampled_from(Side), st.floats(0.002, 0.6), st.floats(0.0, 1.0)
            ),
            min_size=2,
            max_size=5,
        )
    )
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

    def teardown(self) -> None:
        event(f"entries per run: {min(self.entries, 5)}{'+' if self.entries >= 5 else ''}")
        if self.switch.tripped:
            event("kill switch tripped")

    @invariant()
    def counts_hold(self) -> None:
        assert len(self.state.positions) <= self.limits.max_positions
        t2, t3 = tier_counts(self.state)
        assert t2 <= 2 and t3 <= 1 and t2 + t3 <= 3


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


class RiskAmountMachine(RiskMachine):
    """The same sequences under the spec's ``risk_amount`` correlated-exposure measure."""

    POLICY = policy_with(correlation={"exposure_measure": "risk_amount"})


_STATEFUL = {
    "deadline": None,
    "stateful_step_count": 25,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much],
}
TestRiskMachine = RiskMachine.TestCase
TestRiskMachine.settings = settings(max_examples=1_500, **_STATEFUL)  # type: ignore[arg-type]
TestRiskAmountMachine = RiskAmountMachine.TestCase
TestRiskAmountMachine.settings = settings(max_examples=1_000, **_STATEFUL)  # type: ignore[arg-type]


LIMITS = compile_limits(Policy())


def _slots_ok(held: dict[str, float]) -> bool:
    tiers = [TIERS.tier_of(a) for a in held]
    return tiers.count(2) <= 2 and tiers.count(3) <= 1


HELD = st.dictionaries(st.sampled_from(TRADED), st.floats(500, 15_000), max_size=5).filter(_slots_ok)
"""Books the engine could have built: tier caps hold (exposures may be anywhere, prices move)."""


@settings(max_examples=4_000, deadline=None)
@given(
    held=HELD,
    asset=st.sampled_from(TRADED),
    side=st.sampled_from(Side),
    stop_pct=st.floats(0.001, 0.9),
    loadings=st.lists(st.floats(0.0, 0.99), min_size=len(ASSETS), max_size=len(ASSETS)),
    depth=st.floats(1e4, 1e8),
    edge=st.floats(0.0, 1.0),
)
def test_single_evaluation_respects_every_limit(
    held: dict[str, float],
    asset: str,
    side: Side,
    stop_pct: float,
    loadings: list[float],
    depth: float,
    edge: float,
) -> None:
    state = new_ledger(Decimal(100_000), T0)
    for a, notional in held.items():
        qty = instrument(a).round_qty_down(Decimal(repr(notional / PRICES[a])))
        if qty > 0:
            state = apply_fill(
                state,
                Fill(T0, sym(a), OrderSide.BUY, qty, Decimal(repr(PRICES[a])), Decimal(0)),
                stop_price=Decimal(repr(PRICES[a] * 0.95)),
            )
    market = build_market(LIMITS, loadings, depth, dict(PRICES), T0)
    price = PRICES[asset]
    intent = Intent(T0, sym(asset), side, edge, price, price * (1 - side.sign * stop_pct), "prop")
    d = evaluate(intent, state, market, LIMITS, switch=armed(T0))
    assert d.quantity >= 0 and (d.quantity == 0) is (not d.approved)
    assert all(r.rule and r.message for r in d.reasons)
    # a refusal always names a rule that refused; an entry that goes ahead names none
    assert bool(d.refused_by) is (d.verdict is Verdict.REFUSED)
    if d.approved:
        order = OrderSide.BUY if side is Side.LONG else OrderSide.SELL
        if state.positions.get(sym(asset)) is not None:
            assert state.positions[sym(asset)].side is side
        fee = (d.quantity * Decimal(repr(price)) * FEE_RATE).quantize(Decimal("0.00000001"))
        after = apply_fill(
            state,
            Fill(T0, sym(asset), order, d.quantity, Decimal(repr(price)), fee),
            stop_price=Decimal(repr(intent.stop_price)),
        )
        check_entry(LIMITS, market, state, after, [d])
