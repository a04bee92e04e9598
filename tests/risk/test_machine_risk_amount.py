"""The risk state machine (tests/risk/machine.py) under the spec's ``risk_amount`` correlated exposure."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from tests.risk.budget import examples
from tests.risk.machine import RiskAmountMachine

TestRiskAmountMachine = RiskAmountMachine.TestCase
TestRiskAmountMachine.settings = settings(
    max_examples=examples(1_000),
    deadline=None,
    stateful_step_count=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
