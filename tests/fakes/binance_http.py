"""The fake Binance USD-M exchange over HTTP on 127.0.0.1: the REST endpoints the ccxt client uses.

Responses are shaped like the payloads in ``../shared/data/exchange_payloads/binance_futures`` (order,
balance/account, position risk, open algo orders) and, where that folder has none, like the examples of
Binance's USD-M futures documentation: exchangeInfo (the fixture ``tests/data/fixtures/
binanceusdm_exchangeInfo.json``; its documentation example spells the order types ``OrderType``, the
exchange sends ``orderTypes``, which ccxt reads, so the fake serves that), klines, premiumIndex,
fundingRate, depth, userTrades (commission positive: paid), income, leverageBracket, symbolConfig,
positionRisk v3, positionSide/dual, marginType, leverage and the algo order endpoints (conditional
orders moved there in December 2025, and ccxt sends stop-market orders there).

Signatures are not checked; the API key header is (``-2015`` for another key), so a client holding the
wrong network's key is refused as the exchange refuses it.

Faults (``http_base``): ``faults.append(Fault(...))`` makes the next matching request(s) answer 429, hang without
acting, act and then never answer in time (``drop``), act and answer ``-1007`` (status unknown), answer 500,
or answer a Binance error without acting (``reject``); ``exchange.partial_next`` makes orders fill
partially. A candles request for bars that have not closed moves the replay one bar on (see
``tests.fakes.market``), unless ``frozen`` (a feed that stops delivering). The websockets (market streams, the
user data stream and its listen key endpoints) are ``binance_ws``'s, on the same port (``streams``).
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from aiohttp import web
from tests.fakes.binance_state import BRACKETS, BinanceError, FakeAlgo, FakeExchange, FakeOrder, Spec
from tests.fakes.binance_ws import BinanceStreams
from tests.fakes.http_base import FakeServer, Fault, Handler

__all__ = ["FIXTURE", "FakeBinanceServer", "Fault", "exchange_info", "specs_from_info"]

FIXTURE = Path(__file__).resolve().parents[1] / "data" / "fixtures" / "binanceusdm_exchangeInfo.json"
PUBLIC = {"/fapi/v1/time", "/fapi/v1/exchangeInfo", "/fapi/v1/klines", "/fapi/v1/premiumIndex",
          "/fapi/v1/fundingRate", "/fapi/v1/depth"}


def s(value: Decimal | float | int) -> str:
    return format(value.normalize(), "f") if isinstance(value, Decimal) else str(value)


def specs_from_info(info: dict[str, Any], symbols: dict[str, str]) -> dict[str, Spec]:
    """The trading rules of the fixture's symbols the replay holds (``symbols``: Binance id -> unified)."""
    out = {}
    for entry in info["symbols"]:
        bid = entry["symbol"]
        if bid not in symbols:
            continue
        filters = {f["filterType"]: f for f in entry["filters"]}
        out[bid] = Spec(bid, symbols[bid], Decimal(filters["PRICE_FILTER"]["tickSize"]),
                        Decimal(filters["LOT_SIZE"]["stepSize"]), Decimal(filters["LOT_SIZE"]["minQty"]),
                        Decimal(filters["MIN_NOTIONAL"]["notional"]))
    return out


def exchange_info(now: int) -> dict[str, Any]:
    info: dict[str, Any] = copy.deepcopy(json.loads(FIXTURE.read_text("utf-8")))
    info["serverTime"] = now
    for entry in info["symbols"]:
        entry["orderTypes"] = entry.pop("OrderType", entry.get("orderTypes", []))
    return info


def order_json(o: FakeOrder) -> dict[str, Any]:
    avg = o.cum_quote / o.executed if o.executed else Decimal(0)
    return {
        "orderId": o.order_id, "symbol": o.symbol, "status": o.status, "clientOrderId": o.client_id,
        "price": s(o.price), "avgPrice": s(avg), "origQty": s(o.qty), "executedQty": s(o.executed),
        "cumQty": s(o.executed), "cumQuote": s(o.cum_quote), "timeInForce": o.tif, "type": o.type,
        "reduceOnly": o.reduce_only, "closePosition": False, "side": o.side, "positionSide": "BOTH",
        "stopPrice": "0", "workingType": "CONTRACT_PRICE", "priceProtect": False, "origType": o.type,
        "priceMatch": "NONE", "selfTradePreventionMode": "NONE", "goodTillDate": 0, "time": o.time,
        "updateTime": o.update_time,
    }


def algo_json(a: FakeAlgo) -> dict[str, Any]:
    return {
        "algoId": a.algo_id, "clientAlgoId": a.client_id, "algoType": "CONDITIONAL", "orderType": a.order_type,
        "symbol": a.symbol, "side": a.side, "positionSide": "BOTH", "timeInForce": "GTC", "quantity": s(a.qty),
        "algoStatus": a.status, "triggerPrice": s(a.trigger), "price": "0", "icebergQuantity": None,
        "selfTradePreventionMode": "NONE", "workingType": "CONTRACT_PRICE", "priceMatch": "NONE",
        "closePosition": False, "priceProtect": False, "reduceOnly": a.reduce_only, "createTime": a.time,
        "updateTime": a.update_time, "triggerTime": a.trigger_time, "goodTillDate": 0,
        "actualOrderId": "" if a.actual_order_id is None else str(a.actual_order_id),
    }


@dataclass
class FakeBinanceServer(FakeServer):
    exchange: FakeExchange
    streams: BinanceStreams = field(init=False)

    key_header = "X-MBX-APIKEY"
    error_type = BinanceError

    def __post_init__(self) -> None:
        self.streams = BinanceStreams(self.exchange)

    def _mount(self, app: web.Application) -> None:
        self.streams.mount(app)

    async def _published(self) -> None:
        await self.streams.publish()

    def _lock(self) -> Any:
        return self.exchange.lock

    def _public(self, path: str) -> bool:
        return path in PUBLIC

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params = dict(request.query)
        if request.can_read_body:
            body = await request.post()
            params.update({k: str(v) for k, v in body.items()})
        return params

    def _ok(self, payload: Any) -> web.Response:
        return web.json_response(payload)

    def _error(self, exc: BinanceError) -> web.Response:
        return web.json_response({"code": exc.code, "msg": exc.msg}, status=exc.status)

    def _not_served(self, method: str, path: str) -> web.Response:
        return self._error(BinanceError(-1, f"the fake exchange does not serve {method} {path}", 404))

    def _bad_key(self) -> web.Response:
        return self._error(BinanceError(-2015, "Invalid API-key, IP, or permissions for action.", 401))

    def _rate_limited(self) -> web.Response:
        return web.json_response({"code": -1003, "msg": "Too many requests; current limit of IP is 2400 requests per "
                                                        "minute."}, status=429, headers={"Retry-After": "1"})

    def _hung(self) -> web.Response:
        return self._error(BinanceError(-1007, "Timeout waiting for response from backend server.", 503))

    def _unknown(self) -> web.Response:
        return self._error(BinanceError(-1007, "Timeout waiting for response from backend server. Send status "
                                               "unknown; execution status unknown.", 503))

    def _acked(self) -> web.Response:
        return web.json_response({"code": 200, "msg": "success"})

    def _rejected(self, fault: Fault) -> web.Response:
        return self._error(BinanceError(fault.code, fault.msg))

    def _routes(self) -> dict[tuple[str, str], Handler]:
        return {
            ("GET", "/fapi/v1/time"): lambda _p: {"serverTime": int(time.time() * 1000) + self.skew_ms},
            ("GET", "/fapi/v1/exchangeInfo"): lambda _p: exchange_info(int(time.time() * 1000)),
            ("GET", "/fapi/v1/klines"): self._klines,
            ("GET", "/fapi/v1/premiumIndex"): self._premium_index,
            ("GET", "/fapi/v1/fundingRate"): self._funding_rates,
            ("GET", "/fapi/v1/depth"): self._depth,
            ("POST", "/fapi/v1/order"): lambda p: order_json(self.exchange.new_order(p)),
            ("GET", "/fapi/v1/order"): lambda p: order_json(self.exchange.find_order(p)),
            ("DELETE", "/fapi/v1/order"): lambda p: order_json(self.exchange.cancel_order(p)),
            ("GET", "/fapi/v1/openOrders"): lambda p: [order_json(o) for o in self.exchange.open_orders(
                p.get("symbol"))],
            ("POST", "/fapi/v1/algoOrder"): lambda p: algo_json(self.exchange.new_algo(p)),
            ("GET", "/fapi/v1/algoOrder"): lambda p: algo_json(self.exchange.find_algo(p)),
            ("DELETE", "/fapi/v1/algoOrder"): self._cancel_algo,
            ("GET", "/fapi/v1/openAlgoOrders"): lambda p: [algo_json(a) for a in self.exchange.open_algos(
                p.get("symbol"))],
            ("GET", "/fapi/v1/userTrades"): self._user_trades,
            ("GET", "/fapi/v1/income"): self._income,
            ("GET", "/fapi/v3/positionRisk"): self._position_risk,
            ("GET", "/fapi/v3/account"): self._account,
            ("GET", "/fapi/v1/symbolConfig"): self._symbol_config,
            ("GET", "/fapi/v1/leverageBracket"): self._brackets,
            ("GET", "/fapi/v1/positionSide/dual"): lambda _p: {"dualSidePosition": self.exchange.hedged},
            ("POST", "/fapi/v1/positionSide/dual"): self._set_dual,
            ("POST", "/fapi/v1/marginType"): self._set_margin_type,
            ("POST", "/fapi/v1/leverage"): self._set_leverage,
            **self.streams.rest_routes(),
        }

    # ------------------------------------------------------------------ market data
    def _klines(self, p: dict[str, str]) -> list[list[Any]]:
        ex = self.exchange
        m = ex.market
        spec = ex.spec(p.get("symbol", ""))
        start = int(p["startTime"]) if "startTime" in p else None
        end = int(p["endTime"]) if "endTime" in p else None
        limit = min(int(p.get("limit", "500")), 1500)
        out = []
        for row in ex.candle_rows(spec.symbol, start, end, limit, frozen=self.frozen, forming=self.serve_forming):
            t, o, h, lo, c, v = m.candle(spec.symbol, row)
            out.append([t, repr(o), repr(h), repr(lo), repr(c), repr(v), t + m.step - 1, repr(v * c), 100,
                        repr(v / 2), repr(v * c / 2), "0"])
        return out

    def _premium_index(self, p: dict[str, str]) -> Any:
        if "symbol" not in p:
            return [self._premium_index({"symbol": bid}) for bid in self.exchange.specs]
        ex = self.exchange
        spec = ex.spec(p.get("symbol", ""))
        m = ex.market
        last, next_time = m.funding_now(spec.symbol)
        rate = "0.00010000" if last is None else repr(last)
        mark = s(ex.mark(spec.id))
        return {"symbol": spec.id, "markPrice": mark, "indexPrice": mark, "estimatedSettlePrice": mark,
                "lastFundingRate": rate, "interestRate": "0.00010000", "nextFundingTime": next_time,
                "time": m.now()}

    def _funding_rates(self, p: dict[str, str]) -> list[dict[str, Any]]:
        ex = self.exchange
        spec = ex.spec(p.get("symbol", ""))
        m = ex.market
        series = m.funding.get(spec.symbol)
        if series is None:
            return []
        start, end = int(p.get("startTime", "0")), int(p.get("endTime", str(m.now())))
        out = []
        for t, r in zip(series.ts.tolist(), series.rate.tolist(), strict=True):
            if start <= t <= min(end, m.now()):
                paid = next((i for i in ex.income if i.symbol == spec.id and i.time == t), None)
                mark = s(paid.mark) if paid is not None else s(ex.mark(spec.id))
                out.append({"symbol": spec.id, "fundingRate": repr(r), "fundingTime": t, "markPrice": mark})
        return out[: int(p.get("limit", "100"))]

    def _depth(self, p: dict[str, str]) -> dict[str, Any]:
        ex = self.exchange
        spec = ex.spec(p.get("symbol", ""))
        bids, asks, size = ex.book(spec, min(int(p.get("limit", "20")), 100))
        return {"lastUpdateId": ex.market.cursor, "E": ex.market.now(), "T": ex.market.now(),
                "bids": [[s(b), s(size)] for b in bids], "asks": [[s(a), s(size)] for a in asks]}

    # ------------------------------------------------------------------ account
    def _cancel_algo(self, p: dict[str, str]) -> dict[str, Any]:
        algo = self.exchange.cancel_algo(p)
        return {"algoId": algo.algo_id, "clientAlgoId": algo.client_id, "code": "200", "msg": "success"}

    def _user_trades(self, p: dict[str, str]) -> list[dict[str, Any]]:
        ex = self.exchange
        spec = ex.spec(p.get("symbol", ""))
        start, end = int(p.get("startTime", "0")), int(p.get("endTime", str(2**62)))
        from_id = int(p.get("fromId", "0"))
        rows = [t for t in ex.trades if t.symbol == spec.id and start <= t.time <= end and t.id >= from_id]
        return [{"buyer": t.side == "BUY", "commission": s(t.commission), "commissionAsset": "USDT", "id": t.id,
                 "maker": t.maker, "orderId": t.order_id, "price": s(t.price), "qty": s(t.qty),
                 "quoteQty": s(t.price * t.qty), "realizedPnl": s(t.realized), "side": t.side,
                 "positionSide": "BOTH", "symbol": t.symbol, "time": t.time}
                for t in rows[: int(p.get("limit", "500"))]]

    def _income(self, p: dict[str, str]) -> list[dict[str, Any]]:
        ex = self.exchange
        start, end = int(p.get("startTime", "0")), int(p.get("endTime", str(2**62)))
        symbol = p.get("symbol")
        return [{"symbol": i.symbol, "incomeType": "FUNDING_FEE", "income": s(i.amount), "asset": "USDT",
                 "info": "FUNDING_FEE", "time": i.time, "tranId": i.tran_id, "tradeId": ""}
                for i in ex.income if (symbol is None or i.symbol == symbol) and start <= i.time <= end]

    def _position_risk(self, p: dict[str, str]) -> list[dict[str, Any]]:
        ex = self.exchange
        out = []
        for bid, h in ex.positions.items():
            if not h.qty or (p.get("symbol") not in (None, bid)):
                continue
            mark = ex.mark(bid)
            notional = h.qty * mark
            margin = abs(notional) / ex.leverage[bid]
            out.append({"symbol": bid, "positionSide": "BOTH", "positionAmt": s(h.qty), "entryPrice": s(h.entry),
                        "breakEvenPrice": s(h.entry), "markPrice": s(mark), "unRealizedProfit": s(h.qty * (
                            mark - h.entry)), "liquidationPrice": "0", "isolatedMargin": "0",
                        "notional": s(notional), "marginAsset": "USDT", "isolatedWallet": "0",
                        "initialMargin": s(margin), "maintMargin": "0", "positionInitialMargin": s(margin),
                        "openOrderInitialMargin": "0", "adl": 0, "bidNotional": "0", "askNotional": "0",
                        "updateTime": ex.market.now()})
        return out

    def _account(self, _p: dict[str, str]) -> dict[str, Any]:
        ex = self.exchange
        wallet, unrealized, available = ex.wallet(), ex.unrealized(), ex.available()
        asset = {"asset": "USDT", "walletBalance": s(wallet), "unrealizedProfit": s(unrealized),
                 "marginBalance": s(wallet + unrealized), "maintMargin": "0", "initialMargin": s(ex.initial_margin()),
                 "positionInitialMargin": s(ex.initial_margin()), "openOrderInitialMargin": "0",
                 "crossWalletBalance": s(wallet), "crossUnPnl": s(unrealized), "availableBalance": s(available),
                 "maxWithdrawAmount": s(available), "updateTime": ex.market.now()}
        return {"totalInitialMargin": s(ex.initial_margin()), "totalMaintMargin": "0",
                "totalWalletBalance": s(wallet), "totalUnrealizedProfit": s(unrealized),
                "totalMarginBalance": s(wallet + unrealized), "totalPositionInitialMargin": s(ex.initial_margin()),
                "totalOpenOrderInitialMargin": "0", "totalCrossWalletBalance": s(wallet),
                "totalCrossUnPnl": s(unrealized), "availableBalance": s(available), "maxWithdrawAmount": s(available),
                "assets": [asset], "positions": self._position_risk({})}

    def _symbol_config(self, p: dict[str, str]) -> list[dict[str, Any]]:
        ex = self.exchange
        return [{"symbol": bid, "marginType": ex.margin_type[bid], "isAutoAddMargin": "false",
                 "leverage": ex.leverage[bid], "maxNotionalValue": s(ex.max_notional(bid))}
                for bid in ex.specs if p.get("symbol") in (None, bid)]

    def _brackets(self, p: dict[str, str]) -> list[dict[str, Any]]:
        return [{"symbol": bid, "notionalCoef": 1.0, "brackets": [
            {"bracket": i + 1, "initialLeverage": lev, "notionalCap": cap, "notionalFloor": floor,
             "maintMarginRatio": 0.004 * (i + 1), "cum": 0.0} for i, (floor, cap, lev) in enumerate(BRACKETS)]}
            for bid in self.exchange.specs if p.get("symbol") in (None, bid)]

    def _set_dual(self, p: dict[str, str]) -> dict[str, Any]:
        ex = self.exchange
        wanted = p.get("dualSidePosition", "false").lower() == "true"
        if wanted == ex.hedged:
            raise BinanceError(-4059, "No need to change position side.")
        if any(h.qty for h in ex.positions.values()) or ex.open_orders(None):
            raise BinanceError(-4068, "Position side cannot be changed if there exists position.")
        ex.hedged = wanted
        return {"code": 200, "msg": "success"}

    def _set_margin_type(self, p: dict[str, str]) -> dict[str, Any]:
        ex = self.exchange
        spec = ex.spec(p.get("symbol", ""))
        wanted = p.get("marginType", "").upper()
        if wanted not in ("ISOLATED", "CROSSED"):
            raise BinanceError(-1102, "Mandatory parameter 'marginType' was not sent, was empty/null, or malformed.")
        if ex.margin_type[spec.id] == wanted:
            raise BinanceError(-4046, "No need to change margin type.")
        if ex.holding(spec.id).qty:
            raise BinanceError(-4048, "Margin type cannot be changed if there exists position.")
        ex.margin_type[spec.id] = wanted
        return {"code": 200, "msg": "success"}

    def _set_leverage(self, p: dict[str, str]) -> dict[str, Any]:
        ex = self.exchange
        spec = ex.spec(p.get("symbol", ""))
        lev = int(p.get("leverage", "0"))
        if not 1 <= lev <= BRACKETS[0][2]:
            raise BinanceError(-4028, f"Leverage {lev} is not valid")
        ex.leverage[spec.id] = lev
        return {"leverage": lev, "maxNotionalValue": s(ex.max_notional(spec.id)), "symbol": spec.id}

