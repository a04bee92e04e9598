"""Number and time formatting for the HTML report, in one place so tiles, tables and tests agree.

Undefined figures (a Sharpe on one day of data) arrive as None or NaN and print as ``n/a``:
a report that shows ``0.00`` for "not computed" would read as a real, bad, number.
"""

from __future__ import annotations

import html
import math
from typing import Any, Final

from quantum_trader.domain.time import format_time

NA: Final = "n/a"


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def fmt_pct(value: Any, digits: int = 2) -> str:
    """A fraction as a percentage: 0.1234 -> '12.34%'."""
    number = _number(value)
    return NA if number is None else f"{number * 100:,.{digits}f}%"


def fmt_ratio(value: Any, digits: int = 2) -> str:
    number = _number(value)
    return NA if number is None else f"{number:,.{digits}f}"


def fmt_money(value: Any, digits: int = 2) -> str:
    """Thousands separators, fixed decimals: 12345.6 -> '12,345.60'."""
    number = _number(value)
    return NA if number is None else f"{number:,.{digits}f}"


def fmt_int(value: Any) -> str:
    number = _number(value)
    return NA if number is None else f"{round(number):,d}"


def fmt_days(value: Any) -> str:
    number = _number(value)
    return NA if number is None else f"{number:,.1f} days"


def fmt_price(value: Any) -> str:
    """Prices and quantities span 1e-4 (alts) to 1e5 (BTC); keep about six significant digits."""
    number = _number(value)
    if number is None:
        return NA
    size = abs(number)
    digits = 2 if size >= 1000 else 4 if size >= 1 else 6
    return f"{number:,.{digits}f}"


def fmt_ts(ts_ms: Any) -> str:
    """Epoch ms as a UTC wall-clock string (the report states UTC once, in its header)."""
    number = _number(ts_ms)
    return NA if number is None else format_time(int(number))


def sign_class(value: Any) -> str:
    """CSS class for colouring a figure by its sign."""
    number = _number(value)
    if number is None or number == 0:
        return ""
    return "pos" if number > 0 else "neg"


def esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def short_symbol(symbol: str) -> str:
    """'BTC/USDT:USDT' -> 'BTC' for axis labels; the full symbol stays in tables and hovers."""
    return symbol.split("/", 1)[0] if "/" in symbol else symbol
