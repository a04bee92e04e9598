"""Funding read back from the exchange, as the kernel books it: the rate and the mark a settlement was made at.

Split from the execution client, whose reading back it is a part of. Funding is always polled (no exchange
streams it): ``fetch_funding_history`` is one of Binance's heaviest reads and nothing changes in it between
settlements, so it is asked only within ``window_ms`` after a settlement time. Each payment is taken once, by
its id. A payment is turned into the rate and mark it settled at (the exchange's funding rate history, or
Bybit's funding execution itself), so the kernel's payment is the exchange's to the cent; where the history
has no entry, the rate is derived from the amount paid on the position held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from quantum_trader.domain.time import MS_PER_DAY, MS_PER_HOUR
from quantum_trader.domain.trading import FundingEvent
from quantum_trader.venues.ccxt.retry import Backoff, read

Retried = Callable[[BaseException, float], None]


@dataclass
class FundingPoll:
    hours_utc: tuple[int, ...]
    window_ms: int
    """How long after a settlement its payment is looked for."""
    cursor: int | None = None
    """Where the next read starts; None until a position is first held (nothing is owed before)."""
    seen: set[str] = field(default_factory=set)

    def owed_from(self, ts: int) -> None:
        """A position is held from ``ts``: funding is owed from then on, a settlement at that time included."""
        if self.cursor is None:
            self.cursor = ts

    def due(self, now: int) -> bool:
        """Within ``window_ms`` after a settlement time."""
        day = now - now % MS_PER_DAY
        times = [d + h * MS_PER_HOUR for d in (day - MS_PER_DAY, day) for h in self.hours_utc]
        passed = [t for t in times if t <= now]
        return bool(passed) and now - max(passed) <= self.window_ms

    async def read(self, exchange: Any, now: int, positions: Mapping[str, Decimal], prices: Callable[[str], float],
                   backoff: Backoff, retried: Retried) -> list[FundingEvent]:
        """The settlements paid since the last read, each once, in the order the exchange lists them."""
        if not any(positions.values()) and self.cursor is None:
            return []
        if self.cursor is None:
            self.cursor = now
        if not self.due(now):
            return []
        since = self.cursor
        rows = await read(lambda: exchange.fetch_funding_history(None, since, None), backoff, retried)
        events: list[FundingEvent] = []
        for row in rows:
            key = str(row.get("id") or (row.get("symbol"), row.get("timestamp")))
            if key in self.seen or row.get("symbol") is None:
                continue
            self.seen.add(key)
            ts = int(row["timestamp"])
            self.cursor = max(self.cursor, ts)
            info = row.get("info") or {}
            if info.get("execType") == "Funding" and info.get("feeRate") and info.get("execPrice"):
                # Bybit's funding execution carries the rate and the mark it settled at
                events.append(FundingEvent(ts, str(row["symbol"]), float(info["feeRate"]), float(info["execPrice"])))
                continue
            event = await _settled(exchange, str(row["symbol"]), ts, float(row.get("amount") or 0.0),
                                   positions, prices, backoff, retried)
            if event is not None:
                events.append(event)
        return events


async def _settled(exchange: Any, symbol: str, ts: int, amount: float, positions: Mapping[str, Decimal],
                   prices: Callable[[str], float], backoff: Backoff, retried: Retried) -> FundingEvent | None:
    """The settlement as the kernel books it: the rate and mark the exchange settled at (its funding history)."""
    history = await read(lambda: exchange.fetch_funding_rate_history(symbol, ts, 5), backoff, retried)
    entry = next((h for h in history if int(h.get("timestamp") or 0) == ts), None)
    if entry is not None and entry.get("fundingRate") is not None:
        mark = (entry.get("info") or {}).get("markPrice")
        price = float(mark) if mark not in (None, "", "0") else prices(symbol)
        return FundingEvent(ts, symbol, float(entry["fundingRate"]), price)
    held = float(positions.get(symbol, 0))
    price = prices(symbol)
    if held and price:
        return FundingEvent(ts, symbol, -amount / (held * price), price)
    return None
