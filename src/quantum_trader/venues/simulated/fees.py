"""Exchange fees: a fraction of notional, maker or taker, from the policy's venue table."""

from __future__ import annotations

from dataclasses import dataclass

from quantum_trader.config.operations import VenueFees


@dataclass(frozen=True, slots=True)
class FeeModel:
    maker: float
    taker: float

    @classmethod
    def from_policy(cls, fees: VenueFees) -> FeeModel:
        return cls(maker=fees.maker, taker=fees.taker)

    def fee(self, notional: float, *, is_maker: bool) -> float:
        """Fee paid in quote currency (negative for a maker rebate)."""
        return abs(notional) * (self.maker if is_maker else self.taker)
