"""Exchange-native symbols and file names -> ccxt unified symbols, only where they are unambiguous.

A hint is offered only when the file (its content or its name) says which market it is;
otherwise it is None and the caller must say. Guessing perp-vs-spot wrongly would silently
mix a basis into every backtest, so "don't know" is a legitimate answer here.
"""

from __future__ import annotations

import re
from pathlib import Path

from quantum_trader.domain.market import DataKind

# Longest first so that 'USDT' wins over 'USD' and 'FDUSD' over 'USD'.
_QUOTES = ("FDUSD", "USDT", "USDC", "BUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR")

# tardis.dev exchange ids whose symbols are linear (quote-settled) perpetuals / spot.
_LINEAR_PERP_VENUES = frozenset({"binance-futures", "bybit", "okex-swap", "bitget-futures", "bybit-linear"})
_SPOT_VENUES = frozenset({"binance", "bybit-spot", "okex", "coinbase", "kraken", "binance-us"})

# tardis.dev / vendor venue names -> the ccxt exchange id the catalog files the data under.
_CCXT_IDS = {
    "binance-futures": "binanceusdm", "binance": "binance", "binance-us": "binanceus", "bybit": "bybit",
    "bybit-spot": "bybit", "bybit-linear": "bybit", "okex": "okx", "okex-swap": "okx", "okx": "okx",
    "bitget-futures": "bitget", "bitget": "bitget", "coinbase": "coinbase", "kraken": "kraken",
    "kucoin": "kucoin", "bitstamp": "bitstamp", "bitfinex": "bitfinex", "gemini": "gemini",
}

_SAFE_NAME_RE = re.compile(r"^([A-Z0-9]+)_([A-Z0-9]+)(?:_([A-Z0-9]+))?-")
_PERP_NAME_RE = re.compile(r"^([A-Z0-9]+)[-_]PERP\b", re.IGNORECASE)
_NATIVE_NAME_RE = re.compile(r"^([A-Z0-9]+?)(?:[-_.]|$)")


def split_native(native: str) -> tuple[str, str] | None:
    """'BTCUSDT' -> ('BTC', 'USDT'); None when no known quote currency ends the symbol."""
    code = native.upper().replace("-", "").replace("_", "").replace("/", "")
    for quote in _QUOTES:
        if code.endswith(quote) and len(code) > len(quote):
            return code[: -len(quote)], quote
    return None


def linear_perp(native: str) -> str | None:
    """'BTCUSDT' on a USDT-margined perpetual venue -> 'BTC/USDT:USDT'."""
    parts = split_native(native)
    return None if parts is None else f"{parts[0]}/{parts[1]}:{parts[1]}"


def spot(native: str) -> str | None:
    parts = split_native(native)
    return None if parts is None else f"{parts[0]}/{parts[1]}"


def venue_symbol(exchange: str, native: str) -> str | None:
    """Unified symbol for a vendor's native symbol on a venue, when the venue says which market it is."""
    venue = exchange.strip().lower()
    if venue in _LINEAR_PERP_VENUES:
        return linear_perp(native)
    if venue in _SPOT_VENUES:
        return spot(native)
    return None


def ccxt_exchange(venue: str) -> str | None:
    """The ccxt id of a vendor's venue name (tardis ``binance-futures`` -> ``binanceusdm``), None if unknown."""
    return _CCXT_IDS.get(venue.strip().lower())


def market_of(symbol: str | None) -> str | None:
    """``perp`` for a unified perpetual symbol, ``spot`` for a spot one, None when there is none."""
    if symbol is None:
        return None
    return "perp" if ":" in symbol else "spot"


def native_from_name(path: Path) -> str | None:
    """The exchange-native symbol a file name starts with ('BTCUSDT-1m-2024-01.zip' -> 'BTCUSDT')."""
    match = _NATIVE_NAME_RE.match(path.name)
    return match.group(1) if match else None


def symbol_from_name(path: Path) -> str | None:
    """Symbol stated by a file's name or folders: freqtrade's 'XRP_USDT_USDT-5m-futures',
    'BTCUSDT-PERP_2022-01', or a native name under a folder naming the market
    ('binance_spot_1h/BTCUSDT.csv.gz', '.../futures/um/.../BTCUSDT-1m-2024-01.zip')."""
    name = path.name
    safe = _SAFE_NAME_RE.match(name)
    if safe:
        base, quote, settle = safe.groups()
        return f"{base}/{quote}:{settle}" if settle else f"{base}/{quote}"
    perp = _PERP_NAME_RE.match(name)
    if perp:
        return linear_perp(perp.group(1))
    native = _NATIVE_NAME_RE.match(name)
    if native is None:
        return None
    # Only the nearest folders: Binance's dump layout puts 'um' five levels above the file,
    # and anything higher (a user's home folder) says nothing about the market.
    folders = [part.lower() for part in path.parent.parts[-6:]]
    if "um" in folders or any("perp" in part or "futures" in part for part in folders):
        return linear_perp(native.group(1))
    if any("spot" in part for part in folders):
        return spot(native.group(1))
    return None


def kind_from_name(path: Path) -> DataKind | None:
    """freqtrade's file-name suffixes say what a candle file holds: '-mark', '-funding_rate', '-futures'."""
    stem = path.name.split(".")[0].lower()
    if stem.endswith("-funding_rate") or stem.endswith("-funding"):
        return DataKind.FUNDING
    if stem.endswith("-mark"):
        return DataKind.MARK
    if stem.endswith("-futures") or stem.endswith("-spot"):
        return DataKind.CANDLES
    return None
