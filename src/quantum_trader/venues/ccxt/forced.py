"""Fills the exchange made itself, a liquidation or an auto-deleveraging (ADL), told apart from a manual trade.

Both reduce a position the session holds without the session sending anything, so the client books them as it
books any fill it did not send (an exit), and each raises an incident named for it (``liquidation``, ``adl``)
so the operator knows why the position shrank. How each exchange says so:

- Binance USD-M: the order, not the trade. Its client order id (``autoclose-...`` a liquidation,
  ``adl_autoclose...`` an ADL, as Binance's user data documentation names them), its type (``LIQUIDATION``, or
  ``ADL``), or its status (``NEW_INSURANCE``: liquidated to the insurance fund; ``NEW_ADL``); on the user stream
  its update's execution type is ``CALCULATED`` (which ccxt does not read as a trade, ``stream_user`` does);
  when polled, the order of a trade the session did not send is read back (``fetch_order``).
- Bybit v5: the execution's ``execType``: ``BustTrade`` (a liquidation taken over) or ``AdlTrade``, on the
  execution list and on the execution topic. ccxt's ``fetch_my_trades`` asks the list for ``execType=Trade``
  only, so the poller asks for the two others as well (``trade_reads``) while a position is held, once per tick
  of the bar clock (not at every read of a bar's settling).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

LIQUIDATION, ADL = "liquidation", "adl"
BYBIT_EXEC_TYPES = {"BustTrade": LIQUIDATION, "AdlTrade": ADL}


def order_forced(order: Mapping[str, Any]) -> str:
    """``liquidation``, ``adl`` or "" for a ccxt order dict (read back by REST or heard on the user stream)."""
    info = order.get("info") or {}
    client = str(order.get("clientOrderId") or info.get("clientOrderId") or info.get("c") or "")
    kind = str(info.get("type") or info.get("o") or order.get("type") or "").upper()
    status = str(info.get("status") or info.get("X") or "").upper()
    if client.startswith("adl_autoclose") or kind == "ADL" or status == "NEW_ADL":
        return ADL
    if client.startswith(("autoclose-", "liquidation")) or kind == "LIQUIDATION" or status == "NEW_INSURANCE":
        return LIQUIDATION
    return ""


def trade_forced(info: Mapping[str, Any]) -> str:
    """``liquidation``, ``adl`` or "" from a trade's own record (Bybit's ``execType``; Binance's trades do not say)."""
    return BYBIT_EXEC_TYPES.get(str(info.get("execType") or ""), "")


def trade_reads(exchange_id: str, held: bool) -> list[dict[str, Any]]:
    """The extra ``fetch_my_trades`` params of one poll of a symbol: Bybit's forced executions while a position
    is held (none can happen without one)."""
    if exchange_id != "bybit" or not held:
        return []
    return [{"execType": name} for name in BYBIT_EXEC_TYPES]
