"""The spec's ``check_correlation_limit`` (section 3), worked with the spec's numbers.

Spec: existing positions whose correlation with the new one is ``> 0.70`` add their
``risk_amount``; plus the new position's risk; over portfolio equity; ``> 0.25`` refuses.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from tests.risk.builders import EXACT_FILLS, PRICES, T0, intent, ledger_with, market, policy_with, sym

from quantum_trader.domain.trading import Verdict
from quantum_trader.risk import armed, check_correlation_limit, compile_limits, correlated_exposure, evaluate

EQUITY = 100_000.0
# correlations with SOL: BTC 0.85 and ETH 0.75 count; BNB exactly 0.70 and XRP 0.40 do not
PAIRS = {("SOL", "BTC"): 0.85, ("SOL", "ETH"): 0.75, ("SOL", "BNB"): 0.70, ("SOL", "XRP"): 0.40}
EXISTING = {sym("BTC"): 10_000.0, sym("ETH"): 8_000.0, sym("BNB"): 6_000.0, sym("XRP"): 5_000.0}


@pytest.mark.parametrize(
    ("new_risk", "allowed"),
    [
        (6_000.0, True),  # 10,000 + 8,000 + 6,000 = 24,000 -> 24% (below)
        (7_000.0, True),  # 25,000 -> 25% is not > 25% (at)
        (7_001.0, False),  # 25,001 -> 25.001% (above)
    ],
)
def test_spec_worked_example(new_risk: float, allowed: bool) -> None:
    m = market(pairs=PAIRS)
    assert correlated_exposure(sym("SOL"), new_risk, EXISTING, m) == 18_000.0 + new_risk
    assert check_correlation_limit(sym("SOL"), new_risk, EXISTING, m, EQUITY) is allowed


def test_missing_pair_is_an_error_not_uncorrelated() -> None:
    m = market(assets=("SOL", "BTC"))
    with pytest.raises(KeyError, match="ETH"):
        check_correlation_limit(sym("SOL"), 1.0, {sym("ETH"): 1.0}, m, EQUITY)


def test_engine_applies_the_same_rule_under_risk_amount() -> None:
    policy = compile_limits(policy_with(correlation={"exposure_measure": "risk_amount"}, sizing=EXACT_FILLS))
    state = ledger_with({"BTC": 12_400, "ETH": 12_400}, stop_pct=0.99)  # risk 12,276 each
    m = market(policy, pairs={("SOL", "BTC"): 0.85, ("SOL", "ETH"): 0.75})
    held = dict(state.figures.risk)
    d = evaluate(intent("SOL", stop_pct=0.05), state, m, policy, switch=armed(T0))
    assert d.verdict is Verdict.REDUCED and {r.rule for r in d.reasons} >= {"max_correlated_exposure"}
    new_risk = float(d.quantity) * PRICES["SOL"] * 0.05
    assert check_correlation_limit(sym("SOL"), new_risk, held, m, EQUITY)
    spec_bound = (0.25 * EQUITY - sum(held.values())) / (PRICES["SOL"] * 0.05)
    assert float(d.quantity) <= spec_bound and float(d.quantity) >= 0.99 * spec_bound
    assert d.quantity % Decimal("0.01") == 0


def test_an_entry_may_not_overfill_the_group_of_a_held_asset() -> None:
    """Beyond the spec's sketch: SOL correlates with BTC only, but BTC also correlates with ETH.

    SOL's own group is BTC + SOL; BTC's group becomes BTC + ETH + SOL. Both are bounded, so
    the 9% BTC and 9% ETH held leave room for 7% of SOL, not 16%.
    """
    policy = compile_limits(policy_with())
    state = ledger_with({"BTC": 9_000, "ETH": 9_000})
    m = market(policy, pairs={("SOL", "BTC"): 0.80, ("BTC", "ETH"): 0.90, ("SOL", "ETH"): 0.50})
    d = evaluate(intent("SOL", stop_pct=0.2), state, m, policy, switch=armed(T0))
    assert d.verdict is Verdict.REDUCED
    assert "max_correlated_exposure" in {r.rule for r in d.reasons}
    notional = float(d.quantity) * PRICES["SOL"]
    assert notional <= 0.25 * EQUITY - 18_000 + 1e-6
    assert notional >= 0.99 * (0.25 * EQUITY - 18_000) - 50  # the group's headroom after costs
