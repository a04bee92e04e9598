"""The scenarios' names and which to run, without importing NumPy: a command refuses an unknown name at once.

``scenarios.FAMILIES`` defines each under these names, in this order (a test holds the two equal).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from quantum_trader.config import Policy

SCENARIOS: Final = ("correlated_crash", "single_asset_anomaly", "liquidity_crisis", "flash_crash", "funding_spike",
                    "exchange_outage", "correlation_to_one", "asset_delisted")


class UnknownScenarioError(ValueError):
    """A scenario name that is neither in the policy's table nor one of ours; the message lists the names."""


def scenario_names(policy: Policy) -> tuple[list[str], list[str]]:
    """(runnable, not runnable): the policy's scenarios in its order, then ours; the policy's names without an
    injection here go to the second list."""
    ours = [n for n in SCENARIOS if n not in policy.scenarios]
    runnable = [n for n in policy.scenarios if n in SCENARIOS] + ours
    return runnable, [n for n in policy.scenarios if n not in SCENARIOS]


def choose(policy: Policy, wanted: Sequence[str]) -> list[str]:
    """The scenarios to run: every runnable one, or those named (each checked, in the order given, once)."""
    runnable, _ = scenario_names(policy)
    if not wanted:
        return runnable
    unknown = [n for n in wanted if n not in SCENARIOS]
    if unknown:
        raise UnknownScenarioError(f"unknown scenario {', '.join(repr(n) for n in unknown)}; choose from "
                                   f"{', '.join(runnable)}")
    return list(dict.fromkeys(wanted))
