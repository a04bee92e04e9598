"""The fake Bybit v5 account: Bybit's vocabulary over the one matching engine the fake Binance uses.

Orders, positions, balances, funding and matching are ``binance_state.FakeExchange``'s, so a replay fills
the same on both fakes; this module only translates: Bybit's order parameters (``Buy``/``Sell``,
``Market``/``Limit``, ``PostOnly``, ``orderLinkId``, ``triggerPrice`` with ``triggerDirection``) into the
engine's calls, its errors into Bybit ``retCode``s, and the engine's records back into what Bybit reports.

Where Bybit differs by nature, the difference is made here:

- a conditional (stop) order keeps its order id when it triggers: the market order the engine makes of it
  is not shown as an order of its own, and its trades carry the conditional order's id and link id;
- a post-only limit that would cross is accepted and then cancelled by the exchange (``Cancelled``,
  ``rejectReason`` ``EC_PostOnlyWillTakeLiquidity``), not refused at placement as Binance's GTX is;
- the account is a unified trading account (UTA): margin mode is set for the whole account
  (``ISOLATED_MARGIN``/``REGULAR_MARGIN``) and the position mode per symbol.

The symbol ids are Bybit's, which for USDT perpetuals are Binance's too (``BTCUSDT``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tests.fakes.binance_state import ZERO, BinanceError, FakeAlgo, FakeExchange, FakeOrder, Spec, Trade


class BybitError(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code, self.msg = code, msg


BYBIT_ERRORS: dict[int, tuple[int, str]] = {
    -4116: (110072, "OrderLinkedID is duplicate"),
    -1111: (10001, "Qty invalid: the quantity is not a multiple of the qty step"),
    -4014: (10001, "Price invalid: the price is not a multiple of the tick size"),
    -4003: (10001, "Qty invalid"),
    -4005: (10001, "The number of contracts exceeds minimum limit allowed"),
    -4164: (110094, "Order does not meet minimum order value 5USDT"),
    -2019: (110007, "ab not enough for new order"),
    -2027: (110090, "Order placement failed as your position may exceed the max limit. Please adjust your "
                    "leverage to 5 or below to increase the max. position limit"),
    -2022: (110017, "Reduce-only rule not satisfied"),
    -1121: (10001, "params error: symbol invalid"),
    -1116: (10001, "params error: orderType invalid"),
    -2013: (110001, "Order does not exist"),
    -2011: (110001, "order not exists or too late to cancel"),
}
"""The engine's (Binance's) refusals as Bybit words them (codes from Bybit's v5 error code list)."""

STATUS = {"NEW": "New", "PARTIALLY_FILLED": "PartiallyFilled", "FILLED": "Filled", "CANCELED": "Cancelled",
          "EXPIRED": "Cancelled"}
POST_ONLY_REASON = "EC_PostOnlyWillTakeLiquidity"
MARGIN_MODES = ("ISOLATED_MARGIN", "REGULAR_MARGIN", "PORTFOLIO_MARGIN")


def bybit_error(exc: BinanceError) -> BybitError:
    code, msg = BYBIT_ERRORS.get(exc.code, (10001, f"params error: {exc.msg}"))
    return BybitError(code, msg)


@dataclass
class BybitAccount:
    """A UTA account on the shared engine: what each v5 endpoint asks of it."""

    engine: FakeExchange
    margin_mode: str = "REGULAR_MARGIN"
    rejected: dict[int, str] = field(default_factory=dict)
    """Order id -> rejectReason of orders the exchange took and then cancelled itself (a post-only that crossed)."""

    @property
    def lock(self) -> Any:
        return self.engine.lock

    def spec(self, symbol: str) -> Spec:
        try:
            return self.engine.spec(symbol)
        except BinanceError as exc:
            raise bybit_error(exc) from None

    # ------------------------------------------------------------------ orders
    def create(self, p: dict[str, Any]) -> FakeOrder | FakeAlgo:
        spec = self.spec(str(p.get("symbol", "")))
        side = str(p.get("side", "")).upper()
        if side not in ("BUY", "SELL"):
            raise BybitError(10001, "params error: side invalid")
        reduce_only = str(p.get("reduceOnly", "false")).lower() == "true"
        link = str(p.get("orderLinkId") or "")
        qty = str(p.get("qty", "0"))
        try:
            if p.get("triggerPrice") not in (None, ""):
                return self._conditional(spec, p, side, qty, reduce_only, link)
            kind = str(p.get("orderType", "")).upper()
            tif = str(p.get("timeInForce") or "GTC")
            params = {"symbol": spec.id, "side": side, "type": kind, "quantity": qty,
                      "reduceOnly": "true" if reduce_only else "false", "newClientOrderId": link,
                      "timeInForce": "GTX" if tif == "PostOnly" else tif}
            if kind == "LIMIT":
                params["price"] = str(p.get("price", "0"))
            return self.engine.new_order(params)
        except BinanceError as exc:
            if exc.code == -5022:
                return self._post_only_cancelled(spec, side, qty, str(p.get("price", "0")), reduce_only, link)
            raise bybit_error(exc) from None

    def _conditional(self, spec: Spec, p: dict[str, Any], side: str, qty: str, reduce_only: bool,
                     link: str) -> FakeAlgo:
        if str(p.get("orderType", "")).upper() != "MARKET":
            raise BybitError(10001, "params error: the fake serves conditional market orders only")
        direction = str(p.get("triggerDirection", ""))
        trigger = Decimal(str(p["triggerPrice"]))
        now = Decimal(repr(self.engine.market.price(spec.symbol)))
        # a stop-market order: rising (1) for a buy stop, falling (2) for a sell stop, as the engine's STOP_MARKET
        if direction not in ("1", "2") or (direction == "1") != (side == "BUY"):
            raise BybitError(10001, "params error: TriggerDirection invalid")
        try:
            return self.engine.new_algo({"symbol": spec.id, "side": side, "type": "STOP_MARKET",
                                         "algoType": "CONDITIONAL", "quantity": qty, "triggerPrice": str(trigger),
                                         "reduceOnly": "true" if reduce_only else "false", "clientAlgoId": link})
        except BinanceError as exc:
            if exc.code == -2021:
                if direction == "1":
                    raise BybitError(110092, f"expect Rising, but trigger_price[{trigger}] <= current[{now}]"
                                     ) from None
                raise BybitError(110093, f"expect Falling, but trigger_price[{trigger}] >= current[{now}]") from None
            raise bybit_error(exc) from None

    def _post_only_cancelled(self, spec: Spec, side: str, qty: str, price: str, reduce_only: bool,
                             link: str) -> FakeOrder:
        """Bybit takes a post-only limit that would cross and cancels it at once, rather than refusing it."""
        engine = self.engine
        now = engine.market.now()
        order = FakeOrder(engine._next_id(), link, spec.id, side, "LIMIT", Decimal(qty), Decimal(price), "GTX",
                          reduce_only, now, status="CANCELED", update_time=now)
        engine.orders[order.order_id] = order
        engine.received[link] += 1
        self.rejected[order.order_id] = POST_ONLY_REASON
        return order

    def find(self, p: dict[str, Any]) -> FakeOrder | FakeAlgo | None:
        order_id, link = str(p.get("orderId") or ""), str(p.get("orderLinkId") or "")
        if not order_id and not link:
            return None
        def wanted(item_id: int, client_id: str) -> bool:  # Bybit reads orderId first, then orderLinkId
            return str(item_id) == order_id if order_id else client_id == link

        for algo in self.engine.algos.values():
            if wanted(algo.algo_id, algo.client_id):
                return algo
        for order in sorted(self.engine.orders.values(), key=lambda o: -o.order_id):
            if self._triggered(order) is None and wanted(order.order_id, order.client_id):
                return order
        return None

    def cancel(self, p: dict[str, Any]) -> FakeOrder | FakeAlgo:
        found = self.find(p)
        try:
            if isinstance(found, FakeAlgo):
                return self.engine.cancel_algo({"algoId": str(found.algo_id)})
            if isinstance(found, FakeOrder):
                return self.engine.cancel_order({"symbol": found.symbol, "orderId": str(found.order_id)})
        except BinanceError as exc:
            raise bybit_error(exc) from None
        raise BybitError(110001, "order not exists or too late to cancel")

    def orders(self, symbol: str | None, *, open_only: bool, conditional: bool | None) -> list[FakeOrder | FakeAlgo]:
        """Newest first, as Bybit lists them; ``conditional`` None lists both kinds (no ``orderFilter``)."""
        out: list[FakeOrder | FakeAlgo] = []
        if conditional is not False:
            out += [a for a in self.engine.algos.values() if (symbol is None or a.symbol == symbol)
                    and (not open_only or a.status == "NEW")]
        if conditional is not True:
            out += [o for o in self.engine.orders.values() if (symbol is None or o.symbol == symbol)
                    and self._triggered(o) is None and (not open_only or o.status in ("NEW", "PARTIALLY_FILLED"))]
        return sorted(out, key=lambda o: (o.time, o.algo_id if isinstance(o, FakeAlgo) else o.order_id),
                      reverse=True)

    def _triggered(self, order: FakeOrder) -> FakeAlgo | None:
        """The conditional order this market order was made of when it triggered (None: an order of its own)."""
        if order.client_id:
            return None
        return next((a for a in self.engine.algos.values() if a.actual_order_id == order.order_id), None)

    def executions(self, symbol: str | None) -> list[tuple[Trade, FakeOrder | FakeAlgo]]:
        """Each trade with the order Bybit reports it under (a triggered stop's own)."""
        out = []
        for trade in self.engine.trades:
            if symbol is not None and trade.symbol != symbol:
                continue
            order = self.engine.orders[trade.order_id]
            out.append((trade, self._triggered(order) or order))
        return out

    def state(self, item: FakeOrder | FakeAlgo) -> tuple[str, Decimal, Decimal, str]:
        """(orderStatus, cumExecQty, cumExecValue, rejectReason) as Bybit reports them."""
        if isinstance(item, FakeOrder):
            status = STATUS[item.status]
            if status == "Cancelled" and item.executed:
                status = "PartiallyFilledCanceled"
            return status, item.executed, item.cum_quote, self.rejected.get(item.order_id, "EC_NoError")
        if item.status == "NEW":
            return "Untriggered", ZERO, ZERO, "EC_NoError"
        if item.status in ("CANCELED", "EXPIRED") or item.actual_order_id is None:
            return "Deactivated", ZERO, ZERO, "EC_NoError"
        actual = self.engine.orders[item.actual_order_id]
        return STATUS[actual.status], actual.executed, actual.cum_quote, "EC_NoError"

    # ------------------------------------------------------------------ account settings
    def switch_mode(self, p: dict[str, Any]) -> None:
        hedged = str(p.get("mode")) == "3"
        if str(p.get("mode")) not in ("0", "3"):
            raise BybitError(10001, "params error: mode invalid")
        if p.get("symbol"):
            self.spec(str(p["symbol"]))
        engine = self.engine
        if hedged == engine.hedged:
            raise BybitError(110025, "Position mode is not modified")
        if any(h.qty for h in engine.positions.values()):
            raise BybitError(110024, "You have an existing position, so position mode cannot be switched")
        if engine.open_orders(None) or engine.open_algos(None):
            raise BybitError(110028, "Open orders exist, so you cannot change position mode")
        engine.hedged = hedged

    def set_margin_mode(self, p: dict[str, Any]) -> dict[str, Any]:
        wanted = str(p.get("setMarginMode", ""))
        if wanted not in MARGIN_MODES:
            raise BybitError(10001, "params error: setMarginMode invalid")
        if wanted != self.margin_mode and any(h.qty for h in self.engine.positions.values()):
            return {"reasons": [{"reasonCode": "3400045", "reasonMsg": "Set margin mode failed: you hold positions"}]}
        self.margin_mode = wanted
        mode = "ISOLATED" if wanted == "ISOLATED_MARGIN" else "CROSSED"
        for bid in self.engine.margin_type:
            self.engine.margin_type[bid] = mode
        return {"reasons": []}

    def set_leverage(self, p: dict[str, Any], max_leverage: int) -> None:
        spec = self.spec(str(p.get("symbol", "")))
        buy, sell = str(p.get("buyLeverage", "")), str(p.get("sellLeverage", ""))
        if buy != sell or not buy.replace(".", "", 1).isdigit():
            raise BybitError(10001, "params error: buyLeverage must equal sellLeverage in one-way mode")
        lev = Decimal(buy)
        if not 1 <= lev <= max_leverage or lev != lev.to_integral_value():
            raise BybitError(10001, f"leverage invalid: {buy} is not within [1, {max_leverage}]")
        if self.engine.leverage[spec.id] == int(lev):
            raise BybitError(110043, "Set leverage not modified")
        self.engine.leverage[spec.id] = int(lev)
