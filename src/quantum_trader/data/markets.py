"""The exchange's own contract specifications, kept in the catalog beside the data they price.

Backtests used to guess tick and lot sizes from the first close (BTC rounded to 1 USDT
while Binance ticks at 0.1). The exchange publishes them: ``quantum-trader data markets``
turns its market metadata (through ccxt, live or from a saved payload) into one
``MarketSpec`` per market and stores them at ``<catalog>/exchange=<ex>/markets.json``.

One JSON document per exchange, not Parquet: a few hundred rows a person may want to
read, every number an exact decimal string (0.1 stays 0.1), and the whole listing is
replaced on each store because the exchange's current listing is the truth. The write
is atomic (temp file, fsync, rename), so a reader sees the old listing or the new one.

Known limit: the listing is a snapshot at the time it was stored. A backtest of 2022 gets
today's tick size for a symbol whose tick changed since; that is still closer than a guess.
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from quantum_trader.data.catalog import Catalog
from quantum_trader.domain.instrument import Instrument
from quantum_trader.domain.symbols import parse_symbol
from quantum_trader.domain.time import to_datetime

__all__ = [
    "FORMAT_VERSION",
    "MARKETS_FILE",
    "MarketSpec",
    "MarketsError",
    "StoreResult",
    "StoredMarkets",
    "markets_path",
    "read_markets",
    "select_markets",
    "spec_from_ccxt",
    "specs_from_ccxt",
    "store_markets",
    "stored_instruments",
]

FORMAT_VERSION = 1
MARKETS_FILE = "markets.json"
TICK_SIZE_MODE = 4
"""ccxt's ``TICK_SIZE`` precision mode: ``precision.price`` is the tick itself (Binance, Bybit)."""
DECIMAL_PLACES_MODE = 2
"""ccxt's ``DECIMAL_PLACES`` mode: ``precision.price`` 2 means a tick of 0.01."""
_EXCHANGE_RE = re.compile(r"^[a-z0-9][a-z0-9_]*$")


class MarketsError(ValueError):
    """Market metadata that cannot be read, parsed or stored; the message names the file or market."""


@dataclass(frozen=True, slots=True)
class MarketSpec:
    """One market as the exchange specifies it; quantities in the exchange's own unit (contracts).

    A field the exchange does not publish is None (Binance's exchangeInfo has no leverage),
    never a made-up default: the caller decides what to assume and says so.
    """

    symbol: str
    id: str
    type: str
    base: str
    quote: str
    settle: str | None
    linear: bool | None
    active: bool | None
    tick_size: Decimal | None
    lot_size: Decimal | None
    min_qty: Decimal | None
    min_notional: Decimal | None
    contract_size: Decimal | None
    max_leverage: Decimal | None

    @property
    def is_linear_usdt_perpetual(self) -> bool:
        return self.type == "swap" and self.linear is True and self.quote == "USDT" and self.settle == "USDT"

    def instrument(self) -> Instrument | None:
        """The venue's Instrument in base units, or None when this market cannot be one.

        Only linear perpetuals are: inverse contracts are sized in USD, dated futures expire,
        and a market without a known tick or lot cannot be quantised; their symbols fall back
        to a guess.
        """
        if self.type != "swap" or self.linear is not True or self.tick_size is None or self.lot_size is None:
            return None
        try:
            parse_symbol(self.symbol)
        except ValueError:
            return None  # not a unified perpetual symbol the venue can trade
        size = self.contract_size if self.contract_size is not None else Decimal(1)
        return Instrument(
            symbol=self.symbol,
            tick_size=self.tick_size,
            lot_size=self.lot_size * size,
            min_notional=self.min_notional if self.min_notional is not None else Decimal(0),
            min_qty=(self.min_qty or Decimal(0)) * size,
            contract_size=size,
            max_leverage=self.max_leverage,
        )

    def to_record(self) -> dict[str, Any]:
        """The stored form; ``swap`` and ``active`` keep ccxt's names so screening reads it as it reads ccxt."""
        return {
            "symbol": self.symbol, "id": self.id, "type": self.type, "swap": self.type == "swap",
            "base": self.base, "quote": self.quote, "settle": self.settle, "linear": self.linear,
            "active": self.active,
            **{name: _text(getattr(self, name)) for name in _DECIMALS},
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any], where: str) -> MarketSpec:
        symbol = record.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            raise MarketsError(f"{where}: a market without a symbol")
        here = f"{where}: market {symbol}"
        texts = {name: _required_str(record, name, here) for name in ("id", "type", "base", "quote")}
        flags = {name: _optional_bool(record, name, here) for name in ("linear", "active")}
        settle = record.get("settle")
        if settle is not None and not isinstance(settle, str):
            raise MarketsError(f"{here}: settle must be a string or null")
        numbers = {name: _decimal_field(record.get(name), f"{here}: {name}", _MINIMUM[name]) for name in _DECIMALS}
        return cls(symbol=symbol, id=texts["id"], type=texts["type"], base=texts["base"], quote=texts["quote"],
                   settle=settle, linear=flags["linear"], active=flags["active"], **numbers)


_DECIMALS = ("tick_size", "lot_size", "min_qty", "min_notional", "contract_size", "max_leverage")
_MINIMUM = {"tick_size": (0, False), "lot_size": (0, False), "min_qty": (0, False), "min_notional": (0, True),
            "contract_size": (0, False), "max_leverage": (1, True)}
"""Per stored number, (bound, inclusive): what ``spec_from_ccxt`` can produce, so a stored file can hold no other."""


def _text(value: Decimal | None) -> str | None:
    return None if value is None else format(value.normalize(), "f")


def _required_str(record: Mapping[str, Any], name: str, where: str) -> str:
    value = record.get(name)
    if not isinstance(value, str):
        raise MarketsError(f"{where}: {name} must be a string, got {value!r}")
    return value


def _optional_bool(record: Mapping[str, Any], name: str, where: str) -> bool | None:
    value = record.get(name)
    if value is not None and not isinstance(value, bool):
        raise MarketsError(f"{where}: {name} must be true, false or null, got {value!r}")
    return value


def _decimal_field(value: Any, where: str, minimum: tuple[int, bool]) -> Decimal | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise MarketsError(f"{where} must be a decimal string or null, got {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise MarketsError(f"{where} is not a number: {value!r}") from None
    bound, inclusive = minimum
    if not number.is_finite() or number < bound or (number == bound and not inclusive):
        raise MarketsError(f"{where} must be a number {'>=' if inclusive else '>'} {bound}, got {value!r}")
    return number


# ----------------------------------------------------------------- from ccxt
def _number(value: Any) -> Decimal | None:
    """ccxt's float (parsed from the exchange's string) back to the decimal the exchange sent."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return None
        return Decimal(str(value)).normalize()
    if isinstance(value, str):
        try:
            number = Decimal(value)
        except InvalidOperation:
            return None
        return number.normalize() if number.is_finite() else None
    return None


def _positive(value: Any) -> Decimal | None:
    number = _number(value)
    return number if number is not None and number > 0 else None


def _step(value: Any, precision_mode: int) -> Decimal | None:
    """A tick or lot step from ccxt's ``precision`` entry, whatever the exchange's precision mode."""
    if precision_mode == TICK_SIZE_MODE:
        return _positive(value)
    if precision_mode == DECIMAL_PLACES_MODE:
        places = _number(value)
        if places is None or places != places.to_integral_value():
            return None
        return Decimal(1).scaleb(-int(places))
    return None  # significant digits: no fixed step exists


def _limit(market: Mapping[str, Any], group: str, bound: str) -> Any:
    limits = market.get("limits")
    entry = limits.get(group) if isinstance(limits, Mapping) else None
    return entry.get(bound) if isinstance(entry, Mapping) else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def spec_from_ccxt(market: Mapping[str, Any], precision_mode: int) -> MarketSpec:
    """One ccxt unified market (an entry of ``load_markets()``) as a MarketSpec."""
    symbol, kind = _str(market.get("symbol")), _str(market.get("type"))
    if symbol is None or kind is None:
        raise MarketsError(f"a market without a symbol or type: {str(dict(market))[:120]}")
    precision = market.get("precision")
    precision = precision if isinstance(precision, Mapping) else {}
    linear, active = market.get("linear"), market.get("active")
    max_leverage = _positive(_limit(market, "leverage", "max"))
    return MarketSpec(
        symbol=symbol,
        id=_str(market.get("id")) or symbol,
        type=kind,
        base=_str(market.get("base")) or "",
        quote=_str(market.get("quote")) or "",
        settle=_str(market.get("settle")),
        linear=linear if isinstance(linear, bool) else None,
        active=active if isinstance(active, bool) else None,
        tick_size=_step(precision.get("price"), precision_mode),
        lot_size=_step(precision.get("amount"), precision_mode),
        min_qty=_positive(_limit(market, "amount", "min")),
        min_notional=_number(_limit(market, "cost", "min")),
        contract_size=_positive(market.get("contractSize")),
        max_leverage=max_leverage if max_leverage is None or max_leverage >= 1 else None,
    )


def specs_from_ccxt(markets: Iterable[Mapping[str, Any]], precision_mode: int) -> list[MarketSpec]:
    return sorted((spec_from_ccxt(m, precision_mode) for m in markets), key=lambda s: s.symbol)


def select_markets(specs: Sequence[MarketSpec], *, all_markets: bool) -> list[MarketSpec]:
    """Linear USDT perpetuals (what Quantum Trader trades), or every market with ``all_markets``."""
    return list(specs) if all_markets else [s for s in specs if s.is_linear_usdt_perpetual]


# ------------------------------------------------------------------- storage
def _root(catalog: Catalog | Path | str) -> Path:
    return catalog.root if isinstance(catalog, Catalog) else Path(catalog)


def markets_path(catalog: Catalog | Path | str, exchange: str) -> Path:
    """``<catalog>/exchange=<ex>/markets.json``: beside the exchange's datasets, invisible to their listing."""
    if not _EXCHANGE_RE.match(exchange):
        raise MarketsError(f"exchange name {exchange!r} must be lower-case letters, digits or '_'")
    return _root(catalog) / f"exchange={exchange}" / MARKETS_FILE


@dataclass(frozen=True, slots=True)
class StoredMarkets:
    exchange: str
    source: str
    as_of_ms: int | None
    stored_at_ms: int
    markets: dict[str, MarketSpec]
    path: Path

    def records(self) -> dict[str, dict[str, Any]]:
        """Keyed by symbol, with ccxt's ``type``/``swap``/``active``: what ``perpetual_listed`` reads."""
        return {symbol: spec.to_record() for symbol, spec in self.markets.items()}


@dataclass(frozen=True, slots=True)
class StoreResult:
    path: Path
    stored: int
    previous: int | None
    """How many markets the replaced file held (None: there was none)."""


def store_markets(catalog: Catalog | Path | str, exchange: str, specs: Sequence[MarketSpec], *, source: str,
                  as_of_ms: int | None = None) -> StoreResult:
    """Replace the exchange's stored listing with ``specs``, atomically; an empty listing is refused."""
    path = markets_path(catalog, exchange)
    if not specs:
        raise MarketsError(f"no markets to store for {exchange}: the stored listing at {path} is left as it was")
    symbols = [s.symbol for s in specs]
    duplicates = sorted({s for s in symbols if symbols.count(s) > 1})
    if duplicates:
        raise MarketsError(f"{exchange}: the same symbol twice in one listing: {', '.join(duplicates)}")
    now = int(time.time() * 1000)
    previous = None
    if path.exists():
        try:
            previous = len(read_markets(catalog, exchange).markets)
        except MarketsError:
            previous = 0  # an unreadable old file is replaced whole; that is what storing is for
    document = {
        "format": FORMAT_VERSION,
        "exchange": exchange,
        "source": source,
        "as_of": None if as_of_ms is None else to_datetime(as_of_ms).isoformat(),
        "as_of_ms": as_of_ms,
        "stored_at": to_datetime(now).isoformat(),
        "stored_at_ms": now,
        "markets": [s.to_record() for s in sorted(specs, key=lambda s: s.symbol)],
    }
    _write_atomic(path, json.dumps(document, indent=1) + "\n")
    return StoreResult(path, len(specs), previous)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    """Make the rename durable (the catalog does the same; not every platform can open a directory)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def read_markets(catalog: Catalog | Path | str, exchange: str) -> StoredMarkets:
    """The stored listing; a missing or damaged file is one error naming it."""
    path = markets_path(catalog, exchange)
    if not path.is_file():
        raise MarketsError(f"no markets stored for {exchange} at {path}; "
                           f"store them with `quantum-trader data markets --exchange {exchange}`")
    try:
        document = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MarketsError(f"{path}: cannot be read as JSON ({exc})") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_VERSION:
        raise MarketsError(f"{path}: not a markets file of format {FORMAT_VERSION} written by `data markets`")
    rows = document.get("markets")
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MarketsError(f"{path}: 'markets' must be a list of objects")
    specs = [MarketSpec.from_record(r, str(path)) for r in rows]
    as_of, stored_at = document.get("as_of_ms"), document.get("stored_at_ms")
    return StoredMarkets(
        exchange=exchange,
        source=str(document.get("source", "")),
        as_of_ms=as_of if isinstance(as_of, int) else None,
        stored_at_ms=stored_at if isinstance(stored_at, int) else 0,
        markets={s.symbol: s for s in specs},
        path=path,
    )


def stored_instruments(catalog: Catalog | Path | str, exchange: str, symbols: Iterable[str]) -> dict[str, Instrument]:
    """Instruments for those of ``symbols`` the exchange's stored listing specifies; the rest are left out.

    No stored listing at all gives an empty dict (every symbol is then the caller's guess);
    a damaged one raises, since guessing over a broken file would hide it.
    """
    if not markets_path(catalog, exchange).is_file():
        return {}
    stored = read_markets(catalog, exchange)
    found: dict[str, Instrument] = {}
    for symbol in symbols:
        spec = stored.markets.get(symbol)
        instrument = spec.instrument() if spec is not None else None
        if instrument is not None:
            found[symbol] = instrument
    return found


LEGACY_FILE = "markets.json"
"""ccxt ``load_markets()`` output at the catalog root, as earlier versions and users wrote it."""


def stored_listing(catalog: Catalog | Path | str, exchange: str | None) -> tuple[dict[str, Any] | None, str]:
    """Markets keyed by symbol in ccxt's shape (what screening's ``perpetual_listed`` reads), and their source.

    The listings ``data markets`` stored for ``exchange`` (or every exchange in the catalog),
    else a legacy ``<catalog>/markets.json``; (None, "none") when the catalog holds neither.
    """
    root = _root(catalog)
    names = [exchange] if exchange is not None else sorted(
        p.name.removeprefix("exchange=") for p in root.glob("exchange=*") if p.is_dir())
    found: dict[str, Any] = {}
    sources = []
    for name in names:
        if _EXCHANGE_RE.match(name) and markets_path(root, name).is_file():
            listing = read_markets(root, name)
            found.update({s: r for s, r in listing.records().items() if s not in found})
            sources.append(str(markets_path(root, name)))
    if found:
        return found, ", ".join(sources)
    legacy = root / LEGACY_FILE
    if legacy.is_file():
        try:
            data = json.loads(legacy.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise MarketsError(f"{legacy}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
            raise MarketsError(f"{legacy}: expected an object of markets keyed by symbol, as ccxt load_markets() "
                               "returns")
        return data, str(legacy)
    return None, "none"
