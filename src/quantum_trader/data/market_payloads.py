"""Where market metadata comes from: ccxt's ``load_markets()`` live, or a saved payload file.

A raw exchange payload is parsed by ccxt itself, not by a second parser of ours: the
exchange object is built as for a live call and its HTTP layer (``fetch``) is replaced by
a replay of the file, so ccxt's own request building and precision handling (Binance's
PRICE_FILTER/LOT_SIZE/MIN_NOTIONAL filters, Bybit's priceFilter/lotSizeFilter/
leverageFilter) run exactly as they do against the exchange. A JSON dump of ccxt's
unified markets (``json.dump(exchange.load_markets(), f)``) is already parsed and is read
directly. Which of the three a file is, is decided by its content.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import ccxt

from quantum_trader.data.download import DownloadError, make_exchange
from quantum_trader.data.markets import MarketsError, MarketSpec, specs_from_ccxt

__all__ = ["FetchedMarkets", "PayloadKind", "detect_payload", "markets_from_exchange", "markets_from_file"]


class PayloadKind(StrEnum):
    BINANCE_USDM = "Binance USD-M GET /fapi/v1/exchangeInfo"
    BYBIT_V5 = "Bybit v5 GET /v5/market/instruments-info"
    CCXT = "ccxt unified markets"


_EXCHANGE_OF = {PayloadKind.BINANCE_USDM: "binanceusdm", PayloadKind.BYBIT_V5: "bybit"}
"""The ccxt exchange whose parser reads each raw payload."""


@dataclass(frozen=True, slots=True)
class FetchedMarkets:
    """Every market the source lists (filtering is the caller's), with where they came from."""

    specs: list[MarketSpec]
    source: str
    as_of_ms: int | None


def _is_ccxt_market(value: Any) -> bool:
    return isinstance(value, Mapping) and isinstance(value.get("symbol"), str) and "precision" in value


def detect_payload(payload: Any, where: str) -> PayloadKind:
    """What a parsed JSON file is; anything else is one error naming the file and what was expected."""
    if isinstance(payload, Mapping):
        symbols = payload.get("symbols")
        if isinstance(symbols, list) and symbols and all(isinstance(s, Mapping) and "filters" in s for s in symbols):
            if not any("contractType" in s for s in symbols):
                raise MarketsError(f"{where}: a Binance spot exchangeInfo (no contractType); "
                                   "expected the USD-M futures one, GET /fapi/v1/exchangeInfo")
            return PayloadKind.BINANCE_USDM
        if "code" in payload and "msg" in payload and "symbols" not in payload:
            raise MarketsError(f"{where}: a Binance error response (code {payload['code']}: {payload['msg']}), "
                               "not market data")
        if "retCode" in payload:
            return _bybit_kind(payload, where)
        if payload and all(_is_ccxt_market(v) for v in payload.values()):
            return PayloadKind.CCXT
    elif isinstance(payload, list) and payload and all(_is_ccxt_market(v) for v in payload):
        return PayloadKind.CCXT
    raise MarketsError(
        f"{where}: not market metadata; expected a Binance USD-M exchangeInfo (GET /fapi/v1/exchangeInfo), "
        "a Bybit v5 instruments-info (GET /v5/market/instruments-info) or ccxt's load_markets() saved as JSON"
    )


def _bybit_kind(payload: Mapping[str, Any], where: str) -> PayloadKind:
    if payload.get("retCode") != 0:
        raise MarketsError(f"{where}: a Bybit error response (retCode {payload.get('retCode')}: "
                           f"{payload.get('retMsg')}), not market data")
    result = payload.get("result")
    if not isinstance(result, Mapping) or not isinstance(result.get("list"), list) or not result.get("category"):
        raise MarketsError(f"{where}: a Bybit response without result.category and result.list; "
                           "expected GET /v5/market/instruments-info")
    return PayloadKind.BYBIT_V5


class _Replay:
    """Stands in for ccxt's HTTP call: answers the metadata requests from the stored payload."""

    def __init__(self, kind: PayloadKind, payload: Mapping[str, Any], where: str) -> None:
        self.kind, self.payload, self.where = kind, payload, where
        self.urls: list[str] = []

    def __call__(self, url: str, method: str = "GET", headers: Any = None, body: Any = None) -> Any:
        self.urls.append(url)
        parsed = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parsed.query).items()}
        if self.kind is PayloadKind.BINANCE_USDM and parsed.path.endswith("/fapi/v1/exchangeInfo"):
            return copy.deepcopy(self.payload)
        if self.kind is PayloadKind.BYBIT_V5 and parsed.path.endswith("/v5/market/instruments-info"):
            result = self.payload["result"]
            if query.get("category") != result["category"] or "cursor" in query or "status" in query:
                # other categories, further pages, pre-launch listings: the file holds none of them
                empty: dict[str, Any] = {"category": query.get("category"), "list": [], "nextPageCursor": ""}
                return {"retCode": 0, "retMsg": "OK", "result": empty, "retExtInfo": {}, "time": 0}
            return copy.deepcopy(self.payload)
        raise MarketsError(f"{self.where}: reading it offline, ccxt asked for {method} {parsed.path}, "
                           "which the file does not hold")


def _exchange(exchange_id: str) -> Any:
    try:
        return make_exchange(exchange_id)
    except DownloadError as exc:
        raise MarketsError(str(exc)) from None


def _as_of(kind: PayloadKind, payload: Mapping[str, Any]) -> int | None:
    value = payload.get("serverTime") if kind is PayloadKind.BINANCE_USDM else payload.get("time")
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def markets_from_file(path: Path, exchange_id: str) -> FetchedMarkets:
    """Every market in a saved payload, parsed by the ccxt exchange ``exchange_id`` names."""
    try:
        payload = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        raise MarketsError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MarketsError(f"{path}: not a JSON file ({exc})") from None
    kind = detect_payload(payload, str(path))
    ex = _exchange(exchange_id)
    if kind is PayloadKind.CCXT:
        markets = list(payload.values()) if isinstance(payload, Mapping) else list(payload)
        return FetchedMarkets(specs_from_ccxt(markets, int(ex.precisionMode)),
                              f"{path} ({kind.value}, as saved)", None)
    expected = _EXCHANGE_OF[kind]
    if exchange_id != expected:
        raise MarketsError(f"{path}: a {kind.value} payload; store it with --exchange {expected} "
                           f"(got --exchange {exchange_id})")
    ex.enableRateLimit = False
    ex.fetch = _Replay(kind, payload, str(path))
    if kind is PayloadKind.BYBIT_V5:
        ex.options["fetchMarkets"] = {"types": [payload["result"]["category"]]}
    specs = _load(ex, str(path))
    return FetchedMarkets(specs, f"{path} ({kind.value}, parsed by ccxt {ccxt.__version__})", _as_of(kind, payload))


def markets_from_exchange(exchange_id: str, *, exchange: Any = None) -> FetchedMarkets:
    """Every market ``load_markets()`` returns, live (network); ``exchange`` is a ready ccxt instance for tests."""
    ex = exchange if exchange is not None else _exchange(exchange_id)
    specs = _load(ex, exchange_id)
    return FetchedMarkets(specs, f"{exchange_id} load_markets() via ccxt {ccxt.__version__}",
                          int(ex.milliseconds()))


def _load(ex: Any, where: str) -> list[MarketSpec]:
    try:
        markets = ex.load_markets(reload=True)
    except MarketsError:
        raise
    except (ccxt.BaseError, TypeError, KeyError, AttributeError, ValueError) as exc:
        raise MarketsError(f"{where}: ccxt could not load the markets ({type(exc).__name__}: {exc})") from None
    if not isinstance(markets, Mapping) or not markets:
        raise MarketsError(f"{where}: ccxt found no markets in it")
    return specs_from_ccxt(markets.values(), int(ex.precisionMode))
