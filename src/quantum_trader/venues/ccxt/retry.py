"""Reads retried with backoff; what counts as a lost answer; the rate limiter's word respected.

ccxt's own limiter (``enableRateLimit``) spaces requests by the exchange's published weights. Past it,
an HTTP 429 (``DDoSProtection``/``RateLimitExceeded``) or a network fault is retried with exponential
backoff, longer after a 429. Only reads are retried blindly: an order placement whose answer is lost
is looked up by its client order id first (``execution``), never sent again on a guess.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

import ccxt

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    attempts: int = 5
    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 10.0
    rate_limited_factor: float = 4.0
    """A 429 waits this many times longer than a network fault."""

    def delay(self, attempt: int, *, rate_limited: bool = False) -> float:
        base = min(self.max_s, self.first_s * self.factor ** attempt)
        return min(self.max_s, base * (self.rate_limited_factor if rate_limited else 1.0))


def answer_lost(exc: BaseException) -> bool:
    """The request may or may not have been acted on: a timeout, a dropped connection, a 429, an
    unreadable or "status unknown" answer."""
    return isinstance(exc, ccxt.NetworkError | ccxt.BadResponse)


def rate_limited(exc: BaseException) -> bool:
    return isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded)


async def read(call: Callable[[], Awaitable[T]], backoff: Backoff,
               on_retry: Callable[[BaseException, float], None] | None = None) -> T:
    """``await call()``, again after a lost answer (up to ``backoff.attempts`` tries); other errors at once."""
    for attempt in range(backoff.attempts):
        try:
            return await call()
        except Exception as exc:
            if not answer_lost(exc) or attempt == backoff.attempts - 1:
                raise
            wait = backoff.delay(attempt, rate_limited=rate_limited(exc))
            if on_retry is not None:
                on_retry(exc, wait)
            await asyncio.sleep(wait)
    raise AssertionError("unreachable")
