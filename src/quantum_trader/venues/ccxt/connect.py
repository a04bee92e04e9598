"""The ccxt exchange a live or paper session talks to: asynchronous, rate-limited, on mainnet or the testnet.

``open_exchange`` builds ``ccxt.async_support.<id>`` with ccxt's own rate limiter on, a request timeout,
the keys (revealed here and nowhere else), and what the client never needs switched off (Binance's
currency and margin-pair listings, which are spot endpoints). ``--testnet`` is ccxt's
``set_sandbox_mode``. With ``streams`` it is ``ccxt.pro.<id>`` instead: the same REST client (a subclass),
plus the websocket streams the feed and the client watch (``stream_candles``, ``stream_user``).

``QT_EXCHANGE_API_URL`` (for tests; not a user setting) points every REST URL of the exchange at
another origin: the test suite's fake exchange on 127.0.0.1 (``tests/fakes``). The paths stay the
exchange's own, so the same client code speaks to the fake exactly as to the exchange (Binance's
fapi host, and every one of ccxt's Bybit hosts: spot, futures, v2, public, private, all ``api.{hostname}``);
the websocket URLs (``wss://``) go to the same origin as ``ws://``.
With it, ``QT_EXCHANGE_RATE_LIMIT_MS`` sets ccxt's spacing of requests (the fake has no limit to respect).

Bybit is asked for its linear markets only, and not for its currencies (a private endpoint ccxt's ``bybit``
would call on ``load_markets`` even with keys that may not read it).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from quantum_trader.venues.ccxt.credentials import Credentials

API_URL_ENV = "QT_EXCHANGE_API_URL"
"""An origin (``http://127.0.0.1:PORT``) replacing the exchange's in every REST URL: the tests' fake exchange."""
RATE_LIMIT_ENV = "QT_EXCHANGE_RATE_LIMIT_MS"
"""With ``QT_EXCHANGE_API_URL``: ccxt's spacing of requests, in ms (a fake exchange has no limit to respect)."""


@dataclass(frozen=True)
class VenueInfo:
    """What differs between the exchanges the live client supports."""

    id: str
    name: str
    client_id_length: int
    client_id_pattern: str
    """The characters a client order id may hold (a regular expression character class)."""
    trigger_becomes_new_order: bool
    """A triggered stop becomes another order with its own id (Binance's algo orders); on Bybit it keeps its id."""
    live_orders: bool
    """Whether live orders are built and proven here (against the tests' fake exchange); else paper only."""
    options: tuple[tuple[str, Any], ...] = ()
    lost_codes: tuple[tuple[str, str], ...] = ()
    """Error codes whose answer says nothing of whether the request was acted on (Bybit's 10000 "Server Timeout",
    10016 "System error"), as the ccxt network error class they are read as: a placement answered so is looked
    up by its client order id, never taken as a refusal (ccxt reads them as a plain ``ExchangeError``)."""


VENUES = {
    "binanceusdm": VenueInfo("binanceusdm", "Binance USD-M futures", 36, r"[.A-Z:/a-z0-9_-]", True, True,
                             (("fetchCurrencies", False), ("fetchMargins", False), ("defaultType", "swap"),
                              ("adjustForTimeDifference", True))),
    "bybit": VenueInfo("bybit", "Bybit linear perpetuals", 36, r"[A-Za-z0-9_-]", False, True,
                       (("fetchCurrencies", False), ("defaultType", "swap"), ("defaultSubType", "linear"),
                        ("fetchMarkets", {"types": ["linear"]}), ("adjustForTimeDifference", True)),
                       (("10000", "RequestTimeout"), ("10016", "ExchangeNotAvailable"))),
}


class ExchangeSetupError(ValueError):
    """The exchange cannot be used as asked (unknown id, no sandbox, refused keys, an account it cannot fix)."""


def venue_info(exchange_id: str) -> VenueInfo:
    info = VENUES.get(exchange_id)
    if info is None:
        raise ExchangeSetupError(f"exchange {exchange_id!r}: live trading supports {', '.join(VENUES)}")
    return info


def open_exchange(exchange_id: str, credentials: Credentials | None = None, *, testnet: bool = False,
                  api_url: str | None = None, timeout_ms: int = 10_000, recv_window_ms: int = 5_000,
                  rate_limit_ms: float | None = None, streams: bool = False) -> Any:
    """The ccxt async exchange (close it with ``await exchange.close()``); ``api_url`` defaults to
    ``$QT_EXCHANGE_API_URL``; ``rate_limit_ms`` replaces ccxt's spacing of requests (a fake exchange has no
    limit to respect); ``streams``: ccxt.pro's class, which also watches the exchange's websockets."""
    import ccxt.async_support as ccxt_async
    import ccxt.pro as ccxt_pro

    info = venue_info(exchange_id)
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": timeout_ms,
                              "options": {**dict(info.options), "recvWindow": recv_window_ms}}
    if credentials is not None:
        config["apiKey"] = credentials.api_key.reveal()
        config["secret"] = credentials.api_secret.reveal()
    origin = api_url if api_url is not None else os.environ.get(API_URL_ENV)
    if rate_limit_ms is None and origin and os.environ.get(RATE_LIMIT_ENV):
        rate_limit_ms = float(os.environ[RATE_LIMIT_ENV])
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    exchange = getattr(ccxt_pro if streams else ccxt_async, exchange_id)(config)
    if dict(info.options).get("fetchCurrencies") is False:  # ccxt's bybit asks for currencies unless told not to
        exchange.has = {**exchange.has, "fetchCurrencies": False}
    exact = exchange.exceptions.setdefault("exact", {})
    for code, name in info.lost_codes:
        exact[code] = getattr(ccxt_async, name)
    if testnet:
        try:
            exchange.set_sandbox_mode(True)
        except Exception as exc:  # noqa: BLE001 - ccxt.NotSupported and kin: one line, not a traceback
            raise ExchangeSetupError(f"{exchange_id}: ccxt has no testnet for it ({type(exc).__name__})") from None
    if origin:
        point_at(exchange, origin)
    return exchange


def point_at(exchange: Any, origin: str) -> None:
    """Every REST and websocket URL of ``exchange`` on ``origin`` instead of the exchange's host (paths kept;
    ``wss://`` becomes ``ws://`` on the origin's host)."""
    origin = origin.rstrip("/")
    ws_origin = re.sub(r"^http", "ws", origin)

    def rewrite(value: Any) -> Any:
        if isinstance(value, str):
            return re.sub(r"^wss?://[^/]+", ws_origin, re.sub(r"^https?://[^/]+", origin, value))
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        return value

    exchange.urls["api"] = rewrite(exchange.urls["api"])
    if isinstance(exchange.urls.get("test"), dict):
        exchange.urls["test"] = rewrite(exchange.urls["test"])
