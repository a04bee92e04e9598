"""The fake Bybit v5 exchange over HTTP on 127.0.0.1: the endpoints ccxt's ``bybit`` uses for linear perpetuals.

There are no Bybit payloads in ``../shared/data/exchange_payloads``: every answer here is written from the
examples of Bybit's v5 API documentation (the envelope ``{"retCode", "retMsg", "result", "retExtInfo",
"time"}``; market/time, market/instruments-info, market/kline (newest first), market/tickers,
market/funding/history, market/orderbook, market/risk-limit; user/query-api and account/info (a unified
trading account, ``unifiedMarginStatus`` 5); account/wallet-balance, account/set-margin-mode;
position/list, position/set-leverage, position/switch-mode; order/create, order/cancel, order/realtime,
order/history; execution/list, trades (``execType`` ``Trade``) and funding (``Funding``), as Bybit reports
both there). The instruments' tick, lot and minimum notional are those of the documentation's
BTCUSDT example and Bybit's ETHUSDT and SOLUSDT; the risk limits are the Binance fake's brackets (one
matching engine decides both fakes' refusals).

Signatures are not checked; the ``X-BAPI-API-KEY`` header is (``10003`` for another key). Errors are
answered as Bybit answers them: HTTP 200 with a non-zero ``retCode``.

Faults (``http_base.Fault``, the paths Bybit's): ``429`` answers ``retCode`` 10006 "Too many visits!"
(Bybit's per-account rate limit) without acting; ``hang`` waits and answers HTTP 504; ``drop`` acts and then
does not answer in time; ``unknown`` acts and answers 10000 "Server Timeout" (status unknown); ``500``;
``reject`` answers the fault's ``retCode`` without acting; ``ack`` answers success without acting.

The websockets (public klines, private order and execution topics) are ``bybit_ws``'s, on the same port
(``streams``). The exchange's own closes of a position (``stream_hub.force_close``) are listed in the execution
list as Bybit lists them: ``execType`` ``BustTrade`` (a liquidation) or ``AdlTrade`` (auto-deleveraging),
without a link id, asked for by that ``execType`` (ccxt's ``fetch_my_trades`` asks for ``Trade`` only).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from aiohttp import web
from tests.fakes.binance_http import s
from tests.fakes.binance_state import BRACKETS, FakeAlgo, FakeExchange, FakeOrder, Spec, Trade
from tests.fakes.bybit_state import BybitAccount, BybitError
from tests.fakes.bybit_ws import BybitStreams
from tests.fakes.http_base import FakeServer, Fault, Handler
from tests.fakes.stream_hub import forced_kind

MAX_LEVERAGE = 100
INSTRUMENTS = {
    # Bybit id: (tick size, qty step = min order qty, min notional value)
    "BTCUSDT": (Decimal("0.10"), Decimal("0.001"), Decimal(5)),
    "ETHUSDT": (Decimal("0.01"), Decimal("0.01"), Decimal(5)),
    "SOLUSDT": (Decimal("0.010"), Decimal("0.1"), Decimal(5)),
}
PUBLIC_PREFIX = "/v5/market/"


def bybit_specs(symbols: dict[str, str]) -> dict[str, Spec]:
    """The trading rules of the replay's symbols (``symbols``: Bybit id -> unified)."""
    return {bid: Spec(bid, unified, *INSTRUMENTS[bid][:2], INSTRUMENTS[bid][1], INSTRUMENTS[bid][2])
            for bid, unified in symbols.items()}


def _ms(value: Any, default: int) -> int:
    return int(value) if value not in (None, "") else default


@dataclass
class FakeBybitServer(FakeServer):
    account: BybitAccount
    streams: BybitStreams = field(init=False)

    key_header = "X-BAPI-API-KEY"
    error_type = BybitError

    def __post_init__(self) -> None:
        self.streams = BybitStreams(self.account.engine, server=self)

    def _mount(self, app: web.Application) -> None:
        self.streams.mount(app)

    async def _published(self) -> None:
        await self.streams.publish()

    @property
    def exchange(self) -> FakeExchange:
        """The matching engine (shared with the Binance fake)."""
        return self.account.engine

    def _lock(self) -> Any:
        return self.account.lock

    def _public(self, path: str) -> bool:
        return path.startswith(PUBLIC_PREFIX)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            text = await request.text()
            if text:
                params.update(json.loads(text))
        return params

    def _now(self) -> int:
        return int(time.time() * 1000) + self.skew_ms

    def _ok(self, payload: Any) -> web.Response:
        return web.json_response({"retCode": 0, "retMsg": "OK", "result": payload, "retExtInfo": {},
                                  "time": self._now()})

    def _error(self, exc: BybitError) -> web.Response:
        return web.json_response({"retCode": exc.code, "retMsg": exc.msg, "result": {}, "retExtInfo": {},
                                  "time": self._now()})

    def _not_served(self, method: str, path: str) -> web.Response:
        return web.json_response({"retCode": 10017, "retMsg": f"the fake exchange does not serve {method} {path}"},
                                 status=404)

    def _bad_key(self) -> web.Response:
        return self._error(BybitError(10003, "API key is invalid."))

    def _rate_limited(self) -> web.Response:
        response = self._error(BybitError(10006, "Too many visits!"))
        response.headers.update({"X-Bapi-Limit-Status": "0", "X-Bapi-Limit": "10",
                                 "X-Bapi-Limit-Reset-Timestamp": str(self._now() + 1000)})
        return response

    def _hung(self) -> web.Response:
        return web.Response(status=504, text="Gateway Timeout")

    def _unknown(self) -> web.Response:
        return self._error(BybitError(10000, "Server Timeout"))

    def _acked(self) -> web.Response:
        return self._ok({})

    def _rejected(self, fault: Fault) -> web.Response:
        return self._error(BybitError(fault.code, fault.msg))

    def _routes(self) -> dict[tuple[str, str], Handler]:
        acc = self.account
        return {
            ("GET", "/v5/market/time"): self._time,
            ("GET", "/v5/market/instruments-info"): self._instruments,
            ("GET", "/v5/market/kline"): self._kline,
            ("GET", "/v5/market/tickers"): self._tickers,
            ("GET", "/v5/market/funding/history"): self._funding_rates,
            ("GET", "/v5/market/orderbook"): self._orderbook,
            ("GET", "/v5/market/risk-limit"): self._risk_limit,
            ("GET", "/v5/user/query-api"): self._query_api,
            ("GET", "/v5/account/info"): self._account_info,
            ("GET", "/v5/account/wallet-balance"): self._wallet,
            ("POST", "/v5/account/set-margin-mode"): acc.set_margin_mode,
            ("GET", "/v5/position/list"): self._positions,
            ("POST", "/v5/position/set-leverage"): lambda p: acc.set_leverage(p, MAX_LEVERAGE) or {},
            ("POST", "/v5/position/switch-mode"): lambda p: acc.switch_mode(p) or {},
            ("POST", "/v5/order/create"): lambda p: self._ack(acc.create(p)),
            ("POST", "/v5/order/cancel"): lambda p: self._ack(acc.cancel(p)),
            ("GET", "/v5/order/realtime"): lambda p: self._orders(p, history=False),
            ("GET", "/v5/order/history"): lambda p: self._orders(p, history=True),
            ("GET", "/v5/execution/list"): self._executions,
        }

    # ------------------------------------------------------------------ market data
    def _time(self, _p: dict[str, Any]) -> dict[str, Any]:
        now = self._now()
        return {"timeSecond": str(now // 1000), "timeNano": str(now * 1_000_000)}

    def _instruments(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("category") != "linear":
            return {"category": p.get("category", ""), "list": [], "nextPageCursor": ""}
        out = []
        for bid, spec in self.exchange.specs.items():
            if p.get("symbol") not in (None, bid):
                continue
            base = bid.removesuffix("USDT")
            out.append({
                "symbol": bid, "contractType": "LinearPerpetual", "status": "Trading", "baseCoin": base,
                "quoteCoin": "USDT", "launchTime": "1585526400000", "deliveryTime": "0", "deliveryFeeRate": "",
                "priceScale": str(-spec.tick.normalize().as_tuple().exponent),
                "leverageFilter": {"minLeverage": "1", "maxLeverage": f"{MAX_LEVERAGE}.00", "leverageStep": "0.01"},
                "priceFilter": {"minPrice": s(spec.tick), "maxPrice": "1999999.80", "tickSize": format(spec.tick, "f")},
                "lotSizeFilter": {"maxOrderQty": "1190.000", "minOrderQty": format(spec.min_qty, "f"),
                                  "qtyStep": format(spec.step, "f"), "postOnlyMaxOrderQty": "1190.000",
                                  "maxMktOrderQty": "500.000", "minNotionalValue": s(spec.min_notional)},
                "unifiedMarginTrade": True, "fundingInterval": 480, "settleCoin": "USDT", "copyTrading": "both",
                "upperFundingRate": "0.00375", "lowerFundingRate": "-0.00375", "isPreListing": False,
                "preListingInfo": None, "displayName": "",
                "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"}})
        return {"category": "linear", "list": out, "nextPageCursor": ""}

    def _kline(self, p: dict[str, Any]) -> dict[str, Any]:
        ex = self.exchange
        spec = self.account.spec(str(p.get("symbol", "")))
        start = int(p["start"]) if "start" in p else None
        end = int(p["end"]) if "end" in p else None
        limit = min(int(p.get("limit", "200")), 1000)
        rows = ex.candle_rows(spec.symbol, start, end, limit, frozen=self.frozen, forming=self.serve_forming)
        out = []
        for row in reversed(rows):  # newest first, as Bybit lists them
            t, o, h, lo, c, v = ex.market.candle(spec.symbol, row)
            out.append([str(t), repr(o), repr(h), repr(lo), repr(c), repr(v), repr(v * c)])
        return {"symbol": spec.id, "category": "linear", "list": out}

    def _tickers(self, p: dict[str, Any]) -> dict[str, Any]:
        ex = self.exchange
        out = []
        for bid, spec in ex.specs.items():
            if p.get("symbol") not in (None, bid) or spec.symbol not in ex.market.open:
                continue
            mark = s(ex.mark(bid))
            last, next_time = ex.market.funding_now(spec.symbol)
            rate = "0.0001" if last is None else repr(last)
            out.append({"symbol": bid, "lastPrice": mark, "indexPrice": mark, "markPrice": mark,
                        "prevPrice24h": mark, "price24hPcnt": "0", "highPrice24h": mark, "lowPrice24h": mark,
                        "prevPrice1h": mark, "openInterest": "0", "openInterestValue": "0", "turnover24h": "0",
                        "volume24h": "0", "fundingRate": rate, "nextFundingTime": str(next_time),
                        "predictedDeliveryPrice": "", "basisRate": "", "deliveryFeeRate": "", "deliveryTime": "0",
                        "ask1Size": "1", "bid1Price": s(ex.mark(bid) - spec.tick), "ask1Price": s(
                            ex.mark(bid) + spec.tick), "bid1Size": "1", "basis": ""})
        return {"category": "linear", "list": out}

    def _funding_rates(self, p: dict[str, Any]) -> dict[str, Any]:
        ex = self.exchange
        spec = self.account.spec(str(p.get("symbol", "")))
        m = ex.market
        series = m.funding.get(spec.symbol)
        end = min(_ms(p.get("endTime"), m.now()), m.now())
        start = _ms(p.get("startTime"), 0)
        out = []
        if series is not None:
            for t, r in zip(series.ts.tolist(), series.rate.tolist(), strict=True):
                if start <= t <= end:
                    out.append({"symbol": spec.id, "fundingRate": repr(r), "fundingRateTimestamp": str(t)})
        return {"category": "linear", "list": list(reversed(out))[: int(p.get("limit", "200"))]}

    def _orderbook(self, p: dict[str, Any]) -> dict[str, Any]:
        ex = self.exchange
        spec = self.account.spec(str(p.get("symbol", "")))
        bids, asks, size = ex.book(spec, min(int(p.get("limit", "25")), 500))
        now = ex.market.now()
        return {"s": spec.id, "b": [[s(b), s(size)] for b in bids], "a": [[s(a), s(size)] for a in asks],
                "ts": now, "u": ex.market.cursor, "seq": ex.market.cursor, "cts": now}

    def _risk_limit(self, p: dict[str, Any]) -> dict[str, Any]:
        out = []
        for bid in self.exchange.specs:
            if p.get("symbol") not in (None, bid):
                continue
            out += [{"id": i + 1, "symbol": bid, "riskLimitValue": str(cap), "maintenanceMargin": f"{0.005 * (i + 1)}",
                     "initialMargin": f"{1 / min(lev, MAX_LEVERAGE):.4f}", "isLowestRisk": int(i == 0),
                     "maxLeverage": f"{min(lev, MAX_LEVERAGE)}.00", "mmDeduction": ""}
                    for i, (_floor, cap, lev) in enumerate(BRACKETS)]
        return {"category": "linear", "list": out, "nextPageCursor": ""}

    # ------------------------------------------------------------------ account
    def _query_api(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {"id": "13770661", "note": "quantum-trader", "apiKey": self.api_key or "", "readOnly": 0, "secret": "",
                "permissions": {"ContractTrade": ["Order", "Position"], "Spot": [], "Wallet": ["AccountTransfer"],
                                "Options": [], "Derivatives": [], "CopyTrading": [], "BlockTrade": [],
                                "Exchange": [], "NFT": []},
                "ips": ["*"], "type": 1, "deadlineDay": 83, "expiredAt": "2027-05-15T03:21:05Z",
                "createdAt": "2026-10-16T02:24:40Z", "unified": 0, "uta": 1, "userID": 24600000, "inviterID": 0,
                "vipLevel": "No VIP", "mktMakerLevel": "0", "affiliateID": 0, "rsaPublicKey": "", "isMaster": True,
                "parentUid": "0", "kycLevel": "LEVEL_DEFAULT", "kycRegion": ""}

    def _account_info(self, _p: dict[str, Any]) -> dict[str, Any]:
        return {"unifiedMarginStatus": 5, "marginMode": self.account.margin_mode, "isMasterTrader": False,
                "spotHedgingStatus": "OFF", "updatedTime": str(self.exchange.market.now()), "dcpStatus": "OFF",
                "timeWindow": 10, "smpGroup": 0}

    def _wallet(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("accountType") != "UNIFIED":
            raise BybitError(10001, "accountType only support UNIFIED.")
        ex = self.exchange
        wallet, unrealized, margin = ex.wallet(), ex.unrealized(), ex.initial_margin()
        equity, available = wallet + unrealized, ex.available()
        coin = {"coin": "USDT", "equity": s(equity), "usdValue": s(equity), "walletBalance": s(wallet),
                "free": "", "locked": "0", "spotHedgingQty": "0", "borrowAmount": "0",
                "availableToWithdraw": s(available), "accruedInterest": "0", "totalOrderIM": "0",
                "totalPositionIM": s(margin), "totalPositionMM": "0", "unrealisedPnl": s(unrealized),
                "cumRealisedPnl": "0", "bonus": "0", "marginCollateral": True, "collateralSwitch": True,
                "availableToBorrow": ""}
        return {"list": [{"accountType": "UNIFIED", "totalEquity": s(equity), "accountIMRate": "0",
                          "totalMarginBalance": s(equity), "totalInitialMargin": s(margin),
                          "totalAvailableBalance": s(available), "accountMMRate": "0", "totalPerpUPL": s(unrealized),
                          "totalWalletBalance": s(wallet), "accountLTV": "0", "totalMaintenanceMargin": "0",
                          "coin": [coin]}]}

    def _positions(self, p: dict[str, Any]) -> dict[str, Any]:
        ex = self.exchange
        symbol = p.get("symbol")
        if symbol is None and p.get("settleCoin") is None:
            raise BybitError(10001, "params error: symbol or settleCoin is required")
        out = []
        for bid in ex.specs:
            if symbol not in (None, bid):
                continue
            h = ex.holding(bid)
            if symbol is None and not h.qty:
                continue  # by settle coin: only positions held, as Bybit lists them
            indexes = (1, 2) if ex.hedged else (0,)
            for idx in indexes:
                qty = h.qty if idx == 0 or (idx == 1) == (h.qty > 0) else Decimal(0)
                out.append(self._position(bid, idx, qty, h.entry if qty else Decimal(0)))
        return {"category": "linear", "list": out, "nextPageCursor": ""}

    def _position(self, bid: str, idx: int, qty: Decimal, entry: Decimal) -> dict[str, Any]:
        ex = self.exchange
        mark = ex.mark(bid)
        lev = ex.leverage[bid]
        value = abs(qty) * entry
        return {"positionIdx": idx, "riskId": 1, "riskLimitValue": str(BRACKETS[0][1]), "symbol": bid,
                "side": "" if not qty else "Buy" if qty > 0 else "Sell", "size": s(abs(qty)),
                "avgPrice": s(entry), "positionValue": s(value), "tradeMode": 0, "autoAddMargin": 0,
                "positionStatus": "Normal", "leverage": str(lev), "markPrice": s(mark), "liqPrice": "",
                "bustPrice": "", "positionIM": s(abs(qty) * mark / lev), "positionMM": "0", "positionBalance": "0",
                "takeProfit": "0", "stopLoss": "0", "trailingStop": "0", "sessionAvgPrice": "", "delta": "",
                "gamma": "", "vega": "", "theta": "", "unrealisedPnl": s(qty * (mark - entry)),
                "curRealisedPnl": "0", "cumRealisedPnl": "0", "adlRankIndicator": 2 if qty else 0,
                "createdTime": "1676538056258", "updatedTime": str(ex.market.now()), "seq": ex.market.cursor,
                "isReduceOnly": False, "mmrSysUpdatedTime": "", "leverageSysUpdatedTime": ""}

    # ------------------------------------------------------------------ orders
    @staticmethod
    def _ack(item: FakeOrder | FakeAlgo) -> dict[str, str]:
        if isinstance(item, FakeAlgo):
            return {"orderId": str(item.algo_id), "orderLinkId": item.client_id}
        return {"orderId": str(item.order_id), "orderLinkId": item.client_id}

    def _orders(self, p: dict[str, Any], *, history: bool) -> dict[str, Any]:
        acc = self.account
        if p.get("category") != "linear":
            raise BybitError(10001, "params error: category only support linear here")
        if p.get("orderId") or p.get("orderLinkId"):
            found = acc.find(p)
            items = [found] if found is not None else []
        else:
            symbol = p.get("symbol")
            if symbol is not None:
                acc.spec(str(symbol))
            conditional = {"StopOrder": True, "Order": False}.get(str(p.get("orderFilter")))
            open_only = not history and str(p.get("openOnly", "0")) == "0"
            items = acc.orders(symbol, open_only=open_only, conditional=conditional)
            if history:
                items = [o for o in items if acc.state(o)[0] not in ("New", "PartiallyFilled", "Untriggered")]
        if "orderFilter" in p and p.get("orderFilter") == "StopOrder":
            items = [o for o in items if isinstance(o, FakeAlgo)]
        return {"category": "linear", "list": [self._order(o) for o in items[: int(p.get("limit", "50"))]],
                "nextPageCursor": ""}

    def _order(self, item: FakeOrder | FakeAlgo) -> dict[str, Any]:
        status, executed, value, reason = self.account.state(item)
        avg = value / executed if executed else Decimal(0)
        if isinstance(item, FakeAlgo):
            order_id, price, kind, tif, trigger = str(item.algo_id), Decimal(0), "Market", "IOC", s(item.trigger)
            direction, stop_type, qty, symbol = (1 if item.side == "BUY" else 2), "Stop", item.qty, item.symbol
        else:
            order_id, price, kind = str(item.order_id), item.price, item.type.capitalize()
            tif = "PostOnly" if item.tif == "GTX" else ("IOC" if kind == "Market" else item.tif)
            trigger, direction, stop_type, qty, symbol = "", 0, "", item.qty, item.symbol
        fee = sum((t.commission for t in self._trades_of(order_id)), Decimal(0))
        leaves = Decimal(0) if status not in ("New", "PartiallyFilled", "Untriggered") else qty - executed
        return {"orderId": order_id, "orderLinkId": item.client_id, "blockTradeId": "", "symbol": symbol,
                "price": s(price), "qty": s(qty), "side": item.side.capitalize(), "isLeverage": "",
                "positionIdx": 0, "orderStatus": status, "createType": "CreateByUser",
                "cancelType": "UNKNOWN", "rejectReason": reason, "avgPrice": s(avg) if executed else "",
                "leavesQty": s(leaves), "leavesValue": s(leaves * price), "cumExecQty": s(executed),
                "cumExecValue": s(value), "cumExecFee": s(fee), "timeInForce": tif, "orderType": kind,
                "stopOrderType": stop_type, "orderIv": "", "marketUnit": "", "triggerPrice": trigger,
                "takeProfit": "", "stopLoss": "", "tpslMode": "", "ocoTriggerBy": "", "tpLimitPrice": "",
                "slLimitPrice": "", "tpTriggerBy": "", "slTriggerBy": "", "triggerDirection": direction,
                "triggerBy": "LastPrice" if trigger else "", "lastPriceOnCreated": "", "basePrice": "",
                "reduceOnly": item.reduce_only, "closeOnTrigger": False, "placeType": "", "smpType": "None",
                "smpGroup": 0, "smpOrderId": "", "createdTime": str(item.time), "updatedTime": str(item.update_time)}

    def _trades_of(self, order_id: str) -> list[Trade]:
        return [t for t, o in self.account.executions(None)
                if str(o.algo_id if isinstance(o, FakeAlgo) else o.order_id) == order_id]

    def _executions(self, p: dict[str, Any]) -> dict[str, Any]:
        acc, ex = self.account, self.exchange
        symbol = p.get("symbol")
        if symbol is not None:
            acc.spec(str(symbol))
        week = 7 * 86_400_000
        end = _ms(p.get("endTime"), _ms(p.get("startTime"), ex.market.now() - week) + week)
        start = _ms(p.get("startTime"), end - week)
        kind = p.get("execType")
        limit = int(p.get("limit", "50"))
        if not 1 <= limit <= 100:
            raise BybitError(10001, "params error: limit must be in [1, 100]")
        rows: list[dict[str, Any]] = []
        if kind != "Funding":
            rows += [row for row in (self._execution(t, o) for t, o in acc.executions(symbol) if start <= t.time <= end)
                     if kind in (None, row["execType"])]
        if kind in (None, "Funding"):
            rows += [self._funding(i) for i in ex.income if symbol in (None, i.symbol) and start <= i.time <= end]
        rows.sort(key=lambda r: (int(r["execTime"]), r["execId"]), reverse=True)
        offset = int(p.get("cursor") or 0)
        more = offset + limit < len(rows)
        return {"category": "linear", "list": rows[offset: offset + limit],
                "nextPageCursor": str(offset + limit) if more else ""}

    @staticmethod
    def _execution(t: Trade, o: FakeOrder | FakeAlgo) -> dict[str, Any]:
        conditional = isinstance(o, FakeAlgo)
        order_id = str(o.algo_id) if isinstance(o, FakeAlgo) else str(o.order_id)
        price = Decimal(0) if isinstance(o, FakeAlgo) else o.price
        forced = "" if isinstance(o, FakeAlgo) else forced_kind(o)
        exec_type = {"liquidation": "BustTrade", "adl": "AdlTrade"}.get(forced, "Trade")
        return {"symbol": t.symbol, "orderId": order_id, "orderLinkId": "" if forced else o.client_id,
                "side": t.side.capitalize(),
                "orderPrice": s(price), "orderQty": s(o.qty), "leavesQty": "0", "createType": "CreateByUser",
                "orderType": "Market" if conditional or o.type == "MARKET" else "Limit",
                "stopOrderType": "Stop" if conditional else "UNKNOWN", "execFee": s(t.commission),
                "execId": f"e-{t.id}", "execPrice": s(t.price), "execQty": s(t.qty), "execType": exec_type,
                "execValue": s(t.price * t.qty), "execTime": str(t.time), "feeCurrency": "USDT",
                "isMaker": t.maker, "feeRate": "0.0002" if t.maker else "0.00055", "tradeIv": "", "markIv": "",
                "markPrice": s(t.price), "indexPrice": "", "underlyingPrice": "", "blockTradeId": "",
                "closedSize": "0", "seq": t.id, "extraFees": ""}

    def _funding(self, i: Any) -> dict[str, Any]:
        h = self.exchange.holding(i.symbol)
        size = abs(i.amount / (i.mark * i.rate)) if i.rate and i.mark else abs(h.qty)
        long = (i.amount < 0) == (i.rate > 0)
        return {"symbol": i.symbol, "orderType": "UNKNOWN", "underlyingPrice": "", "orderLinkId": "",
                "orderId": f"funding-{i.tran_id}", "stopOrderType": "UNKNOWN", "execTime": str(i.time),
                "feeCurrency": "USDT", "createType": "", "feeRate": s(i.rate), "tradeIv": "", "blockTradeId": "",
                "markPrice": s(i.mark), "execPrice": s(i.mark), "markIv": "", "orderQty": "0", "orderPrice": "0",
                "execValue": s(size * i.mark), "closedSize": "0", "execType": "Funding", "seq": i.tran_id,
                "side": "Buy" if long else "Sell", "indexPrice": "", "leavesQty": "0", "isMaker": False,
                "execFee": s(-i.amount), "execId": f"f-{i.tran_id}", "extraFees": "", "execQty": s(size)}
