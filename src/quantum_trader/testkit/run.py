"""Run the kernel on a hand-made market in one call, with the testkit's defaults stated once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from quantum_trader.config import Policy
from quantum_trader.engine.inputs import KernelSettings, MarketData
from quantum_trader.engine.kernel import Kernel
from quantum_trader.engine.recorder import Recorder
from quantum_trader.engine.strategy import Decisions
from quantum_trader.testkit.policy import policy_with
from quantum_trader.venues.simulated.venue import SimulatedVenue

INITIAL_EQUITY = Decimal(100_000)


def run_kernel(data: MarketData, decisions: Decisions, *, policy: Policy | None = None,
               initial_equity: Decimal = INITIAL_EQUITY, slippage: bool = False,
               venue: SimulatedVenue | None = None, plain: bool = False, plain_fraction: float = 1.0,
               jump: bool = True, **settings: Any) -> Recorder:
    """``Kernel(data, KernelSettings(...)).run(decisions)``.

    Slippage is OFF by default here (unlike ``KernelSettings``) because scenario tests
    assert prices to the tick; pass ``slippage=True`` to test the cost model itself.
    ``plain`` runs the policy's comparison profile (fixed fraction ``plain_fraction`` of equity per
    entry, no limits); ``jump=False`` visits every bar. Other keyword arguments go to ``KernelSettings``
    unchanged (``phase``...); ``venue`` replaces the policy's simulated venue (its fee, slippage and fill
    models).
    """
    chosen = policy or policy_with()
    if plain:
        chosen = chosen.as_fixed_fraction(plain_fraction)
    kernel = Kernel(data, KernelSettings(policy=chosen, initial_equity=initial_equity, slippage=slippage,
                                         **settings), venue, jump=jump)
    return kernel.run(decisions)
