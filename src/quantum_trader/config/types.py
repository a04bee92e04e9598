"""Constrained scalar types of the policy; each error message states its rule.

Messages are phrased so the loader can print ``<key path>: <rule>, got <value>``,
the one line a user needs to fix a policy file.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BeforeValidator

from quantum_trader.domain.time import duration_ms, timeframe_ms


def _fraction(value: float) -> float:
    if not 0.0 < value <= 1.0:
        raise ValueError("must be in (0, 1]")
    return value


def _unit_interval(value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ValueError("must be in [0, 1]")
    return value


def _correlation(value: float) -> float:
    if not -1.0 <= value <= 1.0:
        raise ValueError("must be a correlation in [-1, 1]")
    return value


def _positive(value: float) -> float:
    if not value > 0:
        raise ValueError("must be > 0")
    return value


def _non_negative(value: float) -> float:
    if not value >= 0:
        raise ValueError("must be >= 0")
    return value


def _positive_int(value: int) -> int:
    if value <= 0:
        raise ValueError("must be a whole number > 0")
    return value


def _cost_estimate(upper: float) -> AfterValidator:
    """A per-side cost as a fraction of notional; the bound catches a percent written as a fraction."""

    def check(value: float) -> float:
        if not 0.0 <= value <= upper:
            raise ValueError(f"must be in [0, {upper}] (per side: 0.0005 is 0.05%)")
        return value

    return AfterValidator(check)


def _hour_of_day(value: int) -> int:
    if not 0 <= value <= 23:
        raise ValueError("must be an hour 0..23")
    return value


def _timeframe(value: str) -> str:
    try:
        timeframe_ms(value)
    except ValueError:
        raise ValueError("must be a timeframe such as 1m, 5m, 1h, 8h, 1d") from None
    return value


def _duration(value: str) -> str:
    try:
        duration_ms(value)
    except ValueError:
        raise ValueError("must be a duration such as 4h, 24h, 90d") from None
    return value


def _asset_code(value: str) -> str:
    if not value.isalnum() or value.upper() != value:
        raise ValueError("must be an upper-case asset code such as BTC")
    return value


def _percent_text(value: object) -> object:
    """Accept the spec's spelling ``0.05%`` as well as the fraction 0.0005."""
    if isinstance(value, str) and value.strip().endswith("%"):
        return float(value.strip()[:-1]) / 100.0
    return value


Fraction = Annotated[float, AfterValidator(_fraction)]
"""A share of equity or capital in (0, 1]."""
UnitInterval = Annotated[float, AfterValidator(_unit_interval)]
Correlation = Annotated[float, AfterValidator(_correlation)]
Positive = Annotated[float, AfterValidator(_positive)]
NonNegative = Annotated[float, AfterValidator(_non_negative)]
PositiveInt = Annotated[int, AfterValidator(_positive_int)]
FeeEstimate = Annotated[float, _cost_estimate(0.01)]
"""A fee per side: at most 1% of notional (exchanges charge 0.02-0.1%)."""
SlippageEstimate = Annotated[float, _cost_estimate(0.02)]
"""Slippage per side: at most 2% of notional."""
FillBuffer = Annotated[float, _cost_estimate(0.05)]
"""An adverse price move allowed for the latency bar: at most 5%."""
HourOfDay = Annotated[int, AfterValidator(_hour_of_day)]
"""An hour of the UTC day, 0..23."""
Timeframe = Annotated[str, AfterValidator(_timeframe)]
Duration = Annotated[str, AfterValidator(_duration)]
AssetCode = Annotated[str, AfterValidator(_asset_code)]
PercentFraction = Annotated[float, BeforeValidator(_percent_text), AfterValidator(_fraction)]
"""A fraction that may be written as ``0.05%`` (the spec's own spelling)."""
