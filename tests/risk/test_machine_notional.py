"""The risk state machine (tests/risk/machine.py) under the default policy: correlated exposure as notional."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from tests.risk.budget import examples
from tests.risk.machine import RiskMachine

TestRiskMachine = RiskMachine.TestCase
TestRiskMachine.settings = settings(
    max_examples=examples(1_500),
    deadline=None,
    stateful_step_count=25,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
