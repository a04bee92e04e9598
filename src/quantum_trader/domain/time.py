"""Time inside the engine is an int64 count of milliseconds since the Unix epoch, UTC.

Milliseconds are what exchanges (Binance, Bybit, ccxt) speak, they cover 1m bars and
funding settlements exactly, and int64 ms never overflows in any horizon we trade.
Timezone-aware datetimes exist only at the edges (loaders, CLI, reports).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

MS_PER_SECOND: Final = 1_000
MS_PER_MINUTE: Final = 60_000
MS_PER_HOUR: Final = 3_600_000
MS_PER_DAY: Final = 86_400_000

_UNIT_MS: Final = {"m": MS_PER_MINUTE, "h": MS_PER_HOUR, "d": MS_PER_DAY, "w": 7 * MS_PER_DAY}
_TIMEFRAME_RE: Final = re.compile(r"^(\d+)([mhdw])$")


def timeframe_ms(timeframe: str) -> int:
    """Length of a ccxt-style timeframe (``1m``, ``5m``, ``1h``, ``8h``, ``1d``) in ms.

    Any positive multiple of minutes, hours, days or weeks is accepted, so that
    resampling to unusual frames (``15m``, ``4h``) needs no special case.
    """
    match = _TIMEFRAME_RE.match(timeframe.strip())
    if match is None or int(match.group(1)) <= 0:
        raise ValueError(
            f"timeframe {timeframe!r} is not of the form <positive int><m|h|d|w> (e.g. 1m, 5m, 1h)"
        )
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def duration_ms(text: str) -> int:
    """Same grammar as timeframes; named separately for lookbacks (``4h``, ``24h``, ``90d``)."""
    return timeframe_ms(text)


def to_datetime(ts_ms: int) -> datetime:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC)


def from_datetime(value: datetime) -> int:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: engine time is UTC, pass a timezone-aware value")
    return round(value.timestamp() * 1000)


def parse_time(text: str) -> int:
    """Parse an ISO-8601 date or datetime (UTC when no offset is given) into epoch ms."""
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return from_datetime(value)


def format_time(ts_ms: int) -> str:
    return to_datetime(ts_ms).strftime("%Y-%m-%d %H:%M:%S")


def utc_day_start(ts_ms: int) -> int:
    """Start of the UTC day containing ``ts_ms``; daily limits reset on this boundary."""
    return ts_ms - ts_ms % MS_PER_DAY
