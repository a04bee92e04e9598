"""Symbols use ccxt's unified form; the policy file speaks short asset codes.

``BTC/USDT:USDT`` is a USDT-margined linear perpetual on BTC. Keeping one spelling
everywhere means an exchange adapter, the catalog and the risk engine can never
disagree about which market a number belongs to.
"""

from __future__ import annotations

import re
from typing import Final

_UNIFIED_RE: Final = re.compile(r"^([A-Z0-9]+)/([A-Z0-9]+)(?::([A-Z0-9]+))?$")
_CODE_RE: Final = re.compile(r"^[A-Z0-9]+$")
DEFAULT_QUOTE: Final = "USDT"
TICKER_QUOTES: Final = ("USDT", "USDC")
"""Quotes recognised at the end of an exchange ticker such as ``BTCUSDT``."""
ACCEPTED_FORMS: Final = "an asset code (BTC), an exchange ticker (BTCUSDT) or a unified symbol (BTC/USDT:USDT)"


class SymbolError(ValueError):
    """A symbol as a user typed it that names no perpetual; the message shows the accepted forms."""


def unified_perp(text: str) -> str:
    """The ccxt unified perpetual for any form a user types: ``BTC``, ``btc``, ``BTCUSDT``, ``BTC/USDT``,
    ``BTC/USDT:USDT`` all give ``BTC/USDT:USDT``.

    One function for every command, so that a symbol accepted by ``backtest`` is accepted by
    ``data ingest`` and ``signals`` too, and all of them find the same catalog folder.
    """
    code = text.strip().upper()
    if not code:
        raise SymbolError(f"empty symbol: give {ACCEPTED_FORMS}")
    if "/" in code:
        match = _UNIFIED_RE.match(code)
        if match is None:
            raise SymbolError(f"symbol {text.strip()!r} is not understood: give {ACCEPTED_FORMS}")
        base, quote, settle = match.groups()
        return f"{base}/{quote}:{settle or quote}"
    if not _CODE_RE.match(code):
        raise SymbolError(f"symbol {text.strip()!r} is not understood: give {ACCEPTED_FORMS}")
    for quote in TICKER_QUOTES:
        if code == quote:
            raise SymbolError(f"symbol {text.strip()!r} is a quote currency, not an asset: give {ACCEPTED_FORMS}")
        if code.endswith(quote):
            return f"{code.removesuffix(quote)}/{quote}:{quote}"
    return f"{code}/{DEFAULT_QUOTE}:{DEFAULT_QUOTE}"


def unified_perps(text: str) -> tuple[str, ...]:
    """A comma-separated list of symbols in any form, in order, each once."""
    symbols = tuple(dict.fromkeys(unified_perp(part) for part in text.split(",") if part.strip()))
    if not symbols:
        raise SymbolError(f"no symbol in {text!r}: give a comma-separated list, e.g. BTC,ETH or BTCUSDT,ETHUSDT")
    return symbols


def parse_symbol(symbol: str) -> tuple[str, str, str | None]:
    """Split a unified symbol into (base, quote, settle); settle is None for spot."""
    match = _UNIFIED_RE.match(symbol)
    if match is None:
        raise ValueError(
            f"symbol {symbol!r} is not a ccxt unified symbol such as 'BTC/USDT:USDT' (perpetual) "
            "or 'BTC/USDT' (spot)"
        )
    return match.group(1), match.group(2), match.group(3)


def asset_of(symbol: str) -> str:
    """The short asset code (``BTC``) of a unified symbol or of an asset code itself."""
    if "/" not in symbol:
        return symbol.upper()
    return parse_symbol(symbol)[0]


def perp_symbol(asset: str, quote: str = DEFAULT_QUOTE) -> str:
    """The USDT-margined perpetual of an asset: ``BTC`` -> ``BTC/USDT:USDT``."""
    if "/" in asset:
        parse_symbol(asset)
        return asset
    code = asset.upper()
    if not re.fullmatch(r"[A-Z0-9]+", code):
        raise ValueError(f"asset code {asset!r} must be letters and digits, e.g. 'BTC'")
    return f"{code}/{quote}:{quote}"


def is_perpetual(symbol: str) -> bool:
    return parse_symbol(symbol)[2] is not None


def safe_symbol(symbol: str) -> str:
    """A file-system-safe spelling (``BTC_USDT_USDT``) for catalog paths."""
    base, quote, settle = parse_symbol(symbol)
    return f"{base}_{quote}_{settle}" if settle else f"{base}_{quote}"


def symbol_from_safe(name: str) -> str:
    parts = name.split("_")
    if len(parts) == 3:
        return f"{parts[0]}/{parts[1]}:{parts[2]}"
    if len(parts) == 2:
        return f"{parts[0]}/{parts[1]}"
    raise ValueError(f"{name!r} is not a catalog symbol folder such as 'BTC_USDT_USDT'")
