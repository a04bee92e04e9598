"""An exchange's refusal as the reason a rejected ``OrderEvent`` carries: what it was, in the exchange's words.

A rejection is final for that order: it is reported to the kernel (which records it as a refusal, rule
``venue``) and never retried, since sending the same order again would be refused again or, worse,
accepted on a second try after the book moved. The reason starts with a category the kernel and an
operator can count (``insufficient_margin``, ``precision``, ``min_notional``, ``reduce_only``,
``post_only``, ``leverage_tier``, ...), then the exchange's message and code. ``post_only`` is the
prefix the kernel reads as a maker-only limit that would have crossed; ``would_trigger`` (a stop the price has
passed) is not reported but acted on: the client closes the position at market, as the stop would.
"""

from __future__ import annotations

import json
import re
from typing import Any

import ccxt

BINANCE_CODES = {
    -2019: "insufficient_margin", -2018: "insufficient_margin", -2027: "leverage_tier", -2028: "leverage_tier",
    -1111: "precision", -4014: "precision", -1013: "precision", -4164: "min_notional", -4003: "quantity",
    -4005: "quantity", -2022: "reduce_only", -5022: "post_only", -4116: "duplicate_client_order_id",
    -2015: "api_key", -1121: "unknown_symbol", -4061: "position_side", -2021: "would_trigger",
}
BYBIT_CODES = {
    110007: "insufficient_margin", 110012: "insufficient_margin", 110004: "insufficient_margin",
    110006: "insufficient_margin", 110044: "insufficient_margin", 110045: "insufficient_margin",
    110017: "reduce_only", 10001: "invalid_order", 110094: "min_notional", 110016: "leverage_tier",
    110090: "leverage_tier", 110072: "duplicate_client_order_id", 10003: "api_key", 10004: "api_key",
    110092: "would_trigger", 110093: "would_trigger", 110003: "price_band",
}
BYBIT_PARAMS = ((re.compile(r"\b(qty|price)\b.*\b(invalid|decimal|step|tick)", re.I), "precision"),
                (re.compile(r"minimum limit|min(imum)? (order )?qty", re.I), "quantity"))
"""Bybit answers many refusals with its generic 10001 ("params error"): the message says which."""
POST_ONLY_CROSSED = "post_only: expired on arrival, it would have crossed the book"
_BODY = re.compile(r"\{.*\}", re.S)


def exchange_code(message: str) -> tuple[int | None, str]:
    """The exchange's error code and message from a ccxt error's text (``binanceusdm {"code":-2019,...}``)."""
    found = _BODY.search(message)
    if found is not None:
        try:
            body = json.loads(found.group(0))
        except json.JSONDecodeError:
            body = None
        if isinstance(body, dict):
            code = body.get("code", body.get("retCode"))
            text = body.get("msg", body.get("retMsg", ""))
            if isinstance(code, int | str) and str(code).lstrip("-").isdigit():
                return int(code), str(text)
    return None, message.strip()


def rejection_reason(exc: BaseException) -> str:
    """``category: the exchange's message (code N)``."""
    code, text = exchange_code(str(exc))
    category = None
    if code is not None:
        category = BINANCE_CODES.get(code) or BYBIT_CODES.get(code)
    if code == 10001:
        category = next((name for pattern, name in BYBIT_PARAMS if pattern.search(text)), category)
    if category is None:
        if isinstance(exc, ccxt.InsufficientFunds):
            category = "insufficient_margin"
        elif isinstance(exc, ccxt.OrderImmediatelyFillable | ccxt.OrderNotFillable):
            category = "post_only"
        elif isinstance(exc, ccxt.InvalidOrder):
            category = "invalid_order"
        elif isinstance(exc, ccxt.AuthenticationError):
            category = "api_key"
        else:
            category = "exchange_error"
    detail = (text if code is not None else re.sub(r"^(binanceusdm|bybit) ", "", text)).strip() or type(exc).__name__
    return f"{category}: {detail}" + (f" (code {code})" if code is not None else "")


def post_only_refusal(answer: dict[str, Any]) -> str | None:
    """The reason a post-only limit was refused when the exchange took it and then ended it unfilled because it
    would have crossed: Binance's GTX answers ``EXPIRED``, Bybit cancels it with ``EC_PostOnlyWillTakeLiquidity``."""
    if answer.get("filled"):
        return None
    info = answer.get("info") or {}
    if answer.get("status") == "expired" or info.get("rejectReason") == "EC_PostOnlyWillTakeLiquidity":
        return POST_ONLY_CROSSED
    return None
