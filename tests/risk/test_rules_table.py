"""Each rule at, just below and just above its limit (default policy, equity 100,000 USDT)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.risk.builders import EXACT_FILLS, PRICES, T0, intent, ledger_with, market, policy_with, sym

from quantum_trader.config.policy import Policy
from quantum_trader.domain.time import MS_PER_DAY
from quantum_trader.domain.trading import Intent, RiskDecision, Side, Verdict
from quantum_trader.portfolio import LedgerState, mark
from quantum_trader.risk import CompiledLimits, KillSwitchState, armed, compile_limits, evaluate
from quantum_trader.risk.market import MarketView

POLICY = policy_with(sizing=EXACT_FILLS)
LIMITS = compile_limits(POLICY)
C = LIMITS.cost_rate
EQ = 100_000.0
SWITCH = armed(T0)


def run(
    i: Intent,
    state: LedgerState,
    m: MarketView | None = None,
    policy: Policy | CompiledLimits = LIMITS,
    switch: KillSwitchState = SWITCH,
) -> RiskDecision:
    return evaluate(i, state, m or market(policy), compile_limits(policy), switch=switch)


def rules(d: RiskDecision) -> set[str]:
    return {r.rule for r in d.reasons}


def stop_for_notional(asset: str, fraction: float, equity: float = EQ) -> float:
    """Stop distance (fraction of price) at which the 2% risk size is ``fraction`` of equity."""
    unit = 0.02 / fraction  # risk per unit of notional
    return (unit - 2 * C) / (1 - C)  # u = d + (p + stop) c, stop = p (1 - d)


def notional(d: RiskDecision, asset: str) -> float:
    return float(d.quantity) * PRICES[asset]


# risk per trade ---------------------------------------------------------------------------


@pytest.mark.parametrize("stop_pct", [0.25, 0.4, 0.6])
def test_risk_at_stop_with_costs_is_at_most_two_percent(stop_pct: float) -> None:
    d = run(intent("ETH", stop_pct=stop_pct), ledger_with({}))
    assert d.verdict is Verdict.APPROVED
    p = PRICES["ETH"]
    unit = p * stop_pct + (p + p * (1 - stop_pct)) * C
    lot = 0.001
    assert float(d.quantity) * unit <= 0.02 * EQ  # at or below the limit
    assert (float(d.quantity) + lot) * unit > 0.02 * EQ  # one lot more would be above


@pytest.mark.parametrize("stop", [None, 4100.0, 4000.0])
def test_intent_without_a_usable_stop_is_refused(stop: float | None) -> None:
    i = intent("ETH")
    i = type(i)(i.ts, i.symbol, i.side, i.edge_score, i.entry_price, stop, "t")
    d = run(i, ledger_with({}))
    assert d.verdict is Verdict.REFUSED and rules(d) == {"sizing"}


# caps: below / at / above, reduce or refuse -------------------------------------------------

CAP_CASES = [(0.99, Verdict.APPROVED), (1.0, Verdict.APPROVED), (1.01, Verdict.REDUCED)]


@pytest.mark.parametrize(("factor", "verdict"), CAP_CASES)
def test_max_position_size(factor: float, verdict: Verdict) -> None:
    cap = 0.10 / (1 + 0.10 * C)  # notional share at which position / (equity - cost) == 10%
    d = run(intent("ETH", stop_pct=stop_for_notional("ETH", cap * factor)), ledger_with({}))
    assert d.verdict is verdict
    n = notional(d, "ETH")
    assert n / (EQ - C * n) <= 0.10
    if verdict is Verdict.REDUCED:
        assert rules(d) == {"max_position_size"} and n > 0.0999 * EQ


def test_max_position_counts_what_is_already_held() -> None:
    d = run(intent("ETH"), ledger_with({"ETH": 6_000}))
    n = notional(d, "ETH")
    assert d.verdict is Verdict.REDUCED and (6_000 + n) / (EQ - C * n) <= 0.10 and n > 3_900


@pytest.mark.parametrize(("factor", "verdict"), CAP_CASES)
def test_total_exposure(factor: float, verdict: Verdict) -> None:
    held = {"BTC": 10_000, "SOL": 10_000, "BNB": 10_000, "AVAX": 3_000}  # 33%, correlations 0.3
    state = ledger_with(held)
    total = state.figures.total_notional
    room = (0.40 * EQ - total) / (1 + 0.40 * C) / EQ
    d = run(intent("ETH", stop_pct=stop_for_notional("ETH", room * factor)), state)
    assert d.verdict is verdict
    n = notional(d, "ETH")
    assert (total + n) / (EQ - C * n) <= 0.40
    if verdict is Verdict.REDUCED:
        assert rules(d) == {"max_total_exposure"} and n > 0.0699 * EQ


@pytest.mark.parametrize(("factor", "verdict"), CAP_CASES)
def test_correlated_exposure_notional(factor: float, verdict: Verdict) -> None:
    state = ledger_with({"BTC": 10_000, "ETH": 10_000})
    m = market(pairs={("SOL", "BTC"): 0.9, ("SOL", "ETH"): 0.71, ("BTC", "ETH"): 0.9})
    room = (0.25 * EQ - 20_000) / (1 + 0.25 * C) / EQ
    d = run(intent("SOL", stop_pct=stop_for_notional("SOL", room * factor)), state, m)
    assert d.verdict is verdict
    n = notional(d, "SOL")
    assert (20_000 + n) / (EQ - C * n) <= 0.25
    if verdict is Verdict.REDUCED:
        assert rules(d) == {"max_correlated_exposure"}


@pytest.mark.parametrize(("corr", "binds"), [(0.69, False), (0.70, False), (0.71, True)])
def test_correlation_threshold_is_strictly_above_070(corr: float, binds: bool) -> None:
    state = ledger_with({"BTC": 10_000, "ETH": 10_000})
    m = market(pairs={("SOL", "BTC"): corr, ("SOL", "ETH"): corr})
    d = run(intent("SOL", stop_pct=stop_for_notional("SOL", 0.08)), state, m)
    assert ("max_correlated_exposure" in rules(d)) is binds


@pytest.mark.parametrize(("factor", "verdict"), CAP_CASES)
def test_liquidity_fraction_of_depth(factor: float, verdict: Verdict) -> None:
    depth = 5_000.0 / 0.10  # 10% of depth = 5% of equity
    m = market(depth={"ETH": depth})
    d = run(intent("ETH", stop_pct=stop_for_notional("ETH", 0.05 * factor)), ledger_with({}), m)
    assert d.verdict is verdict
    assert notional(d, "ETH") <= 0.10 * depth
    if verdict is Verdict.REDUCED:
        assert rules(d) == {"liquidity"}


@pytest.mark.parametrize(
    ("factor", "verdict"), [(0.99, Verdict.APPROVED), (1.0, Verdict.APPROVED), (1.01, Verdict.REFUSED)]
)
def test_binding_limit_refuses_when_reduce_is_off(factor: float, verdict: Verdict) -> None:
    policy = policy_with(sizing={**EXACT_FILLS, "reduce_instead_of_refuse": False})
    cap = 0.10 / (1 + 0.10 * C)
    d = run(intent("ETH", stop_pct=stop_for_notional("ETH", cap * factor)), ledger_with({}), policy=policy)
    assert d.verdict is verdict
    if verdict is Verdict.REFUSED:
        assert d.quantity == 0 and rules(d) == {"max_position_size"}


def test_reduced_below_min_notional_is_refused() -> None:
    d = run(intent("ETH"), ledger_with({"ETH": 9_998}))
    assert d.verdict is Verdict.REFUSED and "min_notional" in rules(d)


def test_every_reason_is_reported_not_just_the_first() -> None:
    m = market(phase=0, depth={"ETH": 100_000.0})
    d = run(intent("ETH"), ledger_with({}), m)
    assert {"phase", "max_position_size", "liquidity"} <= rules(d)
    liquidity = next(r for r in d.reasons if r.rule == "liquidity")
    assert liquidity.limit == 0.10 and liquidity.value is not None and liquidity.value > 0.10


def test_a_refusal_names_the_rules_that_refused_not_the_caps_that_would_only_have_cut_it() -> None:
    """ETH outside phase 0 at an oversized risk: the phase refuses it; the position-size cap would only
    have reduced it. Counting that cap as a refusal told operators it refused thousands of intents."""
    d = run(intent("ETH"), ledger_with({}), market(phase=0))
    assert d.verdict is Verdict.REFUSED
    assert "max_position_size" in rules(d)  # still explained, with its figure
    assert {r.rule for r in d.refused_by} == {"phase"}
    assert all(r.reduces for r in d.reasons if r.rule == "max_position_size")


def test_caps_that_cut_an_intent_below_the_minimum_are_what_refused_it() -> None:
    """ETH already at the 10% size cap: that cap leaves nothing tradable, so it refused (with the minimum);
    the exposure caps alone would have left room, so they only count as reductions."""
    d = run(intent("ETH"), ledger_with({"ETH": 9_998}))
    assert d.verdict is Verdict.REFUSED
    assert {r.rule for r in d.refused_by} == {"min_notional", "max_position_size"}
    assert {r.rule for r in d.reasons if r.reduces} == {"max_total_exposure", "max_correlated_exposure"}


def test_a_reduced_intent_names_its_caps_as_reductions() -> None:
    d = run(intent("ETH"), ledger_with({}))
    assert d.verdict is Verdict.REDUCED and d.reasons and d.refused_by == ()
    assert all(r.reduces for r in d.reasons)


# counts: positions and slots -----------------------------------------------------------------

SMALL = 3_000


@pytest.mark.parametrize(
    ("held", "verdict"),
    [
        (("SOL", "BNB"), Verdict.REDUCED),  # 3 of 4 after entry: below
        (("SOL", "BNB", "AVAX"), Verdict.REDUCED),  # 4 of 4: at
        (("BTC", "SOL", "BNB", "AVAX"), Verdict.REFUSED),  # 5 of 4: above
    ],
)
def test_max_positions(held: tuple[str, ...], verdict: Verdict) -> None:
    policy = policy_with(portfolio={"max_positions": 4}, sizing=EXACT_FILLS)
    d = run(intent("ETH"), ledger_with(dict.fromkeys(held, SMALL)), policy=policy)
    assert d.verdict is verdict
    assert ("max_positions" in rules(d)) is (verdict is Verdict.REFUSED)


def test_max_positions_within_total_slots() -> None:
    """A ``max_positions`` above ``total_slots`` could never bind: the policy refuses it."""
    with pytest.raises(ValueError, match=r"portfolio.max_positions \(5\) must be <= position_slots.total_slots \(4\)"):
        policy_with(portfolio={"max_positions": 5}, position_slots={"total_slots": 4})
    assert compile_limits(policy_with(portfolio={"max_positions": 3})).max_positions == 3


@pytest.mark.parametrize(
    ("held", "candidate", "refused_by"),
    [
        ((), "SOL", None),  # tier 2: 1 of 2
        (("BNB",), "SOL", None),  # tier 2: 2 of 2 (at)
        (("BNB", "XRP"), "SOL", "slots"),  # tier 2: 3 of 2 (above)
        ((), "AVAX", None),  # tier 3: 1 of 1 (at)
        (("LINK",), "AVAX", "slots"),  # tier 3: 2 of 1 (above)
        (("SOL", "BNB", "LINK"), "ETH", None),  # tier 1 always has its reserved slot
    ],
)
def test_tier_slot_caps(held: tuple[str, ...], candidate: str, refused_by: str | None) -> None:
    d = run(intent(candidate), ledger_with(dict.fromkeys(held, SMALL)))
    assert (refused_by in rules(d)) if refused_by else d.approved


@pytest.mark.parametrize(
    ("held", "refused"),
    [
        (("SOL",), False),  # tiers 2+3 take 2 of the 3 shared slots
        (("SOL", "BNB"), False),  # 3 of 3: at
        (("SOL", "BNB", "LINK"), True),  # 4 of 3: would take a reserved tier-1 slot
    ],
)
def test_two_slots_stay_reserved_for_tier_1(held: tuple[str, ...], refused: bool) -> None:
    base = Policy().model_dump()
    base["sizing"].update(EXACT_FILLS)
    base["position_slots"]["allocation_by_tier"]["tier_2"]["max_slots"] = 3
    base["expansion"]["phases"][3]["assets"] = ["BTC", "ETH", "SOL", "BNB", "XRP"]
    policy = Policy.model_validate(base)
    d = run(intent("XRP"), ledger_with(dict.fromkeys(held, SMALL)), policy=policy)
    assert ("slots" in rules(d)) is refused
    assert d.approved is not refused


# phase and tier 3 -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phase", "asset", "edge", "admitted"),
    [
        (0, "BTC", 0.7, True),
        (0, "ETH", 0.7, False),
        (1, "ETH", 0.7, True),
        (1, "SOL", 0.7, False),
        (2, "SOL", 0.7, True),
        (2, "AVAX", 0.9, False),
        (2, "XRP", 0.7, False),
        (3, "AVAX", 0.59, False),
        (3, "AVAX", 0.6, True),
        (3, "AVAX", 0.61, True),
        (3, "LINK", 0.9, False),
    ],
)
def test_phase_admission_and_tier3_edge(phase: int, asset: str, edge: float, admitted: bool) -> None:
    d = run(intent(asset, edge=edge), ledger_with({}), market(phase=phase, edge=("AVAX",)))
    assert d.approved is admitted
    if not admitted:
        assert rules(d) & {"phase", "tier3_edge"}


# kill switch and per-asset daily loss --------------------------------------------------------


def _loss_state(asset: str, loss: float, notional: float = 20_000) -> LedgerState:
    state = ledger_with({asset: notional})
    qty = float(state.positions[sym(asset)].quantity)
    return mark(state, {sym(asset): PRICES[asset] - loss * EQ / qty}, T0 + 1)


@pytest.mark.parametrize(("loss", "refused"), [(0.0499, False), (0.05, True), (0.0501, True)])
def test_portfolio_daily_loss_refuses_every_entry(loss: float, refused: bool) -> None:
    state = _loss_state("BTC", loss, notional=10_000)
    d = run(intent("ETH"), state)
    assert ("kill_switch" in rules(d)) is refused and d.approved is not refused


def test_drawdown_from_peak_refuses_every_entry() -> None:
    state = ledger_with({"BTC": 50_000})
    qty = float(state.positions[sym("BTC")].quantity)
    state = mark(state, {sym("BTC"): PRICES["BTC"] - 16_000 / qty}, T0 + 1)
    state = mark(state, {sym("BTC"): PRICES["BTC"] - 20_000 / qty}, T0 + MS_PER_DAY + 1)  # in the next day
    assert state.figures.day_return > -0.05 and state.figures.drawdown == pytest.approx(0.2)
    assert "kill_switch" in rules(run(intent("ETH", ts=T0 + MS_PER_DAY), state))


def test_tripped_switch_refuses_even_when_figures_recovered() -> None:
    switch = KillSwitchState(day_start=T0, daily_tripped=True, daily_trip_ts=T0)
    d = run(intent("ETH"), ledger_with({}), switch=switch)
    assert d.verdict is Verdict.REFUSED and "kill_switch" in rules(d)


@pytest.mark.parametrize(("loss", "refused"), [(0.0299, False), (0.03, True), (0.0301, True)])
def test_per_asset_daily_loss_locks_the_asset_only(loss: float, refused: bool) -> None:
    state = _loss_state("BTC", loss)
    btc = run(intent("BTC", stop_pct=0.5), state)
    assert ("asset_daily_loss" in rules(btc)) is refused
    assert run(intent("ETH"), state).approved


def test_locked_asset_is_refused() -> None:
    switch = KillSwitchState(day_start=T0, locks=(("ETH", T0 + MS_PER_DAY),))
    d = run(intent("ETH"), ledger_with({}), switch=switch)
    assert d.verdict is Verdict.REFUSED and "asset_daily_loss" in rules(d)


def test_opposite_side_of_a_held_position_is_refused() -> None:
    d = run(intent("ETH", Side.SHORT), ledger_with({"ETH": SMALL}))
    assert "opposite_position" in rules(d)


def test_missing_market_data_is_refused_not_guessed() -> None:
    state = ledger_with({"BTC": SMALL})
    m = market(assets=("ETH", "SOL"))  # BTC missing from the matrix
    d = run(intent("ETH"), state, m)
    assert d.verdict is Verdict.REFUSED and "market_data" in rules(d)


def test_quantity_is_on_the_lot_grid() -> None:
    d = run(intent("SOL"), ledger_with({}))
    assert d.quantity % Decimal("0.01") == 0 and d.quantity > 0
