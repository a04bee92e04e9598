"""The engine's values as table rows and back, exactly: what is read equals what was written.

Decimals travel as text (``ExactDecimal``); floats inside JSON by their shortest repr, which
Python reads back to the same double. A value that cannot be stored exactly (a NaN or infinite
Decimal, a NaN float in a decision) is refused with the field named, before anything is written.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from sqlalchemy import RowMapping

from quantum_trader.domain.trading import (
    Fill,
    Intent,
    Order,
    OrderPurpose,
    OrderSide,
    OrderType,
    Position,
    RiskDecision,
    RiskReason,
    Side,
    Verdict,
)
from quantum_trader.journal.database import JournalError
from quantum_trader.journal.records import Balance


def exact(where: str, name: str, value: Decimal | None) -> Decimal | None:
    """``value`` if it can be stored exactly, else one error naming the record and the field."""
    if value is not None and (not isinstance(value, Decimal) or not value.is_finite()):
        raise JournalError(f"{where}: {name} must be a finite Decimal, got {value!r}")
    return value


def finite(where: str, name: str, value: float | None) -> float | None:
    if value is not None and not math.isfinite(value):
        raise JournalError(f"{where}: {name} must be a finite number, got {value!r}")
    return value


# ------------------------------------------------------------------ orders
def order_values(order: Order) -> dict[str, Any]:
    where = f"order {order.client_order_id}"
    if not order.client_order_id:
        raise JournalError("order: client_order_id is empty (every order is journalled under its client order id)")
    return {
        "client_order_id": order.client_order_id, "symbol": order.symbol, "side": order.side.value,
        "kind": order.type.value, "quantity": exact(where, "quantity", order.quantity),
        "price": exact(where, "price", order.price), "stop_price": exact(where, "stop_price", order.stop_price),
        "reduce_only": order.reduce_only, "post_only": order.post_only, "expire_ts": order.expire_ts,
        "active_from_ts": order.active_from_ts,
        "equity_fraction": finite(where, "equity_fraction", order.equity_fraction), "tag": order.tag,
        "purpose": order.purpose.value, "created_ts": order.ts,
    }


def order_of(row: RowMapping) -> Order:
    return Order(
        client_order_id=row["client_order_id"], ts=int(row["created_ts"]), symbol=row["symbol"],
        side=OrderSide(row["side"]), type=OrderType(row["kind"]), quantity=row["quantity"], price=row["price"],
        stop_price=row["stop_price"], reduce_only=bool(row["reduce_only"]), tag=row["tag"],
        post_only=bool(row["post_only"]), expire_ts=_int_or_none(row["expire_ts"]),
        active_from_ts=_int_or_none(row["active_from_ts"]), equity_fraction=row["equity_fraction"],
        purpose=OrderPurpose(row["purpose"]),
    )


def fill_values(fill: Fill, fill_id: str) -> dict[str, Any]:
    where = f"fill {fill_id}"
    if not fill_id:
        raise JournalError(f"fill of {fill.client_order_id or fill.symbol} at {fill.ts}: fill_id is empty "
                           "(the venue's trade id makes a fill seen twice one fill)")
    return {
        "fill_id": fill_id, "client_order_id": fill.client_order_id, "symbol": fill.symbol,
        "side": fill.side.value, "quantity": exact(where, "quantity", fill.quantity),
        "price": exact(where, "price", fill.price), "fee": exact(where, "fee", fill.fee),
        "is_maker": fill.is_maker, "liquidation": fill.liquidation, "ts": fill.ts,
    }


def fill_of(row: RowMapping) -> Fill:
    return Fill(ts=int(row["ts"]), symbol=row["symbol"], side=OrderSide(row["side"]), quantity=row["quantity"],
                price=row["price"], fee=row["fee"], client_order_id=row["client_order_id"],
                is_maker=bool(row["is_maker"]), liquidation=bool(row["liquidation"]))


FILL_FIELDS = ("client_order_id", "symbol", "side", "quantity", "price", "fee", "is_maker", "liquidation", "ts")
ORDER_FIELDS = ("symbol", "side", "kind", "quantity", "price", "stop_price", "reduce_only", "post_only", "expire_ts",
                "active_from_ts", "equity_fraction", "tag", "purpose", "created_ts")


def differences(stored: RowMapping, given: Mapping[str, Any], fields: tuple[str, ...]) -> list[str]:
    """The fields where a second write of the same id disagrees with the first (Decimals compared exactly)."""
    out = []
    for name in fields:
        a, b = stored[name], given[name]
        same = (a is None) == (b is None) and (a is None or _same(a, b))
        if not same:
            out.append(f"{name} {a!r} != {b!r}")
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Decimal) and isinstance(b, Decimal):
        return a.as_tuple() == b.as_tuple()
    if isinstance(a, bool) or isinstance(b, bool):
        return bool(a) == bool(b)
    return bool(a == b)


# ------------------------------------------------------------------ positions and balances
def position_values(position: Position, where: str) -> dict[str, Any]:
    return {"symbol": position.symbol, "quantity": exact(where, "quantity", position.quantity),
            "entry_price": exact(where, "entry_price", position.entry_price),
            "stop_price": exact(where, "stop_price", position.stop_price), "opened_ts": position.opened_ts}


def position_of(row: RowMapping) -> Position:
    return Position(row["symbol"], row["quantity"], row["entry_price"], row["stop_price"], int(row["opened_ts"]))


def balance_values(balance: Balance, where: str) -> dict[str, Any]:
    return {"asset": balance.asset, "total": exact(where, "total", balance.total),
            "free": exact(where, "free", balance.free), "used": exact(where, "used", balance.used)}


def balance_of(row: RowMapping) -> Balance:
    return Balance(row["asset"], row["total"], row["free"], row["used"])


# ------------------------------------------------------------------ decisions
def intent_json(intent: Intent) -> str:
    where = f"decision on {intent.symbol} at {intent.ts}"
    for name in ("edge_score", "entry_price", "stop_price", "target_price"):
        finite(where, f"intent.{name}", getattr(intent, name))
    return json.dumps({
        "ts": intent.ts, "symbol": intent.symbol, "side": intent.side.value, "edge_score": intent.edge_score,
        "entry_price": intent.entry_price, "stop_price": intent.stop_price, "source": intent.source,
        "reasons": list(intent.reasons), "target_price": intent.target_price, "order_type": intent.order_type.value,
    }, allow_nan=False)


def intent_of(text: str) -> Intent:
    d = json.loads(text)
    return Intent(ts=d["ts"], symbol=d["symbol"], side=Side(d["side"]), edge_score=d["edge_score"],
                  entry_price=d["entry_price"], stop_price=d["stop_price"], source=d["source"],
                  reasons=tuple(d["reasons"]), target_price=d["target_price"], order_type=OrderType(d["order_type"]))


def reasons_json(reasons: tuple[RiskReason, ...], where: str) -> str:
    """Reasons as JSON; an infinite figure (a limit of "none") is kept as the string ``inf``."""
    return json.dumps([{"rule": r.rule, "message": r.message, "value": _float_out(where, r.value),
                        "limit": _float_out(where, r.limit), "reduces": r.reduces} for r in reasons],
                      allow_nan=False)


def reasons_of(text: str) -> tuple[RiskReason, ...]:
    return tuple(RiskReason(r["rule"], r["message"], _float_in(r["value"]), _float_in(r["limit"]), r["reduces"])
                 for r in json.loads(text))


def decision_values(decision: RiskDecision, ts: int, requested: Decimal | None) -> dict[str, Any]:
    where = f"decision on {decision.intent.symbol} at {ts}"
    return {
        "ts": ts, "symbol": decision.intent.symbol, "side": decision.intent.side.value,
        "verdict": decision.verdict.value, "quantity": exact(where, "quantity", decision.quantity),
        "requested_quantity": exact(where, "requested", requested),
        "equity_fraction": finite(where, "equity_fraction", decision.equity_fraction),
        "intent": intent_json(decision.intent), "reasons": reasons_json(decision.reasons, where),
    }


def decision_of(row: RowMapping) -> RiskDecision:
    return RiskDecision(intent_of(row["intent"]), Verdict(row["verdict"]), row["quantity"],
                        reasons_of(row["reasons"]), row["equity_fraction"])


def _float_out(where: str, value: float | None) -> float | str | None:
    if value is None or math.isfinite(value):
        return value
    if math.isnan(value):
        raise JournalError(f"{where}: a reason's figure is NaN")
    return "inf" if value > 0 else "-inf"


def _float_in(value: float | str | None) -> float | None:
    return float(value) if value is not None else None


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)
