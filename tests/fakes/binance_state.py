"""The fake Binance USD-M exchange's state: account, orders, positions, fills, funding, matched against a replay.

Everything an HTTP handler of ``binance_http`` does is one call here, under one lock (the server runs on its
own thread while the test reads and steers it). Amounts are Decimals, as the exchange's strings are.

Matching follows the simulated venue's conventions, so a run against this exchange can be compared with a
backtest of the same bars: a market order fills at once at the forming bar's open (the last close once the
replay has ended); moving over a bar (``advance``) settles the funding due at its open, then each position's
stop (a reduce-only STOP_MARKET algo order: at the stop, or at the open on a gap) or take-profit (a
reduce-only limit: at its price, as maker), the stop first when one bar reaches both, then resting limit
orders the bar trades through, at their price as maker. One thing differs by nature: a fill inside a bar is
heard by the client after the bar, so a stop it places then protects from the next bar on (the simulated
venue lets the kernel place it within the bar). Liquidations are not simulated.

Errors are Binance's codes and messages (``BinanceError``), as its documentation lists them.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tests.fakes.market import ExchangePricing, Pricing, ReplayedMarket

ZERO = Decimal(0)


class BinanceError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.status = code, msg, status


@dataclass(frozen=True)
class Spec:
    """A symbol's trading rules, from the exchangeInfo filters the fake serves."""

    id: str
    symbol: str
    tick: Decimal
    step: Decimal
    min_qty: Decimal
    min_notional: Decimal


@dataclass
class FakeOrder:
    order_id: int
    client_id: str
    symbol: str
    side: str
    type: str
    qty: Decimal
    price: Decimal
    tif: str
    reduce_only: bool
    time: int
    status: str = "NEW"
    executed: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_time: int = 0
    partial: Decimal | None = None
    """Fraction the next fill may take (a partial-fill fault)."""

    @property
    def remaining(self) -> Decimal:
        return self.qty - self.executed


@dataclass
class FakeAlgo:
    algo_id: int
    client_id: str
    symbol: str
    side: str
    order_type: str
    qty: Decimal
    trigger: Decimal
    reduce_only: bool
    time: int
    status: str = "NEW"
    actual_order_id: int | None = None
    update_time: int = 0
    trigger_time: int = 0


@dataclass
class Trade:
    id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    realized: Decimal
    time: int
    maker: bool


@dataclass
class Income:
    tran_id: int
    symbol: str
    amount: Decimal
    time: int
    rate: Decimal
    mark: Decimal


@dataclass
class Holding:
    qty: Decimal = ZERO
    entry: Decimal = ZERO


BRACKETS = ((0, 50_000, 125), (50_000, 600_000, 100), (600_000, 3_000_000, 75), (3_000_000, 12_000_000, 50),
            (12_000_000, 70_000_000, 25))
"""(notional floor, notional cap, initial leverage): Binance's BTCUSDT brackets, served for every symbol."""


def _dec(value: float | str | Decimal) -> Decimal:
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass
class FakeExchange:
    market: ReplayedMarket
    specs: dict[str, Spec]
    """Keyed by Binance id (BTCUSDT)."""
    balance: Decimal = Decimal(100_000)
    pricing: Pricing = field(default_factory=ExchangePricing)
    limit_fill: str = "through"
    mark_premium: float = 0.0
    """The mark price's premium over the price a market order meets (a perpetual's mark is rarely the last trade)."""
    hedged: bool = False
    margin_type: dict[str, str] = field(default_factory=dict)
    leverage: dict[str, int] = field(default_factory=dict)
    positions: dict[str, Holding] = field(default_factory=dict)
    orders: dict[int, FakeOrder] = field(default_factory=dict)
    algos: dict[int, FakeAlgo] = field(default_factory=dict)
    trades: list[Trade] = field(default_factory=list)
    income: list[Income] = field(default_factory=list)
    received: Counter[str] = field(default_factory=Counter)
    """Client order ids of the orders the exchange took (created): a resend would count 2."""
    partial_next: list[Decimal] = field(default_factory=list)
    """Fractions the next orders may fill at first (a partial-fill fault), consumed in order."""
    advances: int = 0
    lock: threading.RLock = field(default_factory=threading.RLock)
    _ids: int = 1000

    def __post_init__(self) -> None:
        for spec in self.specs.values():
            self.margin_type.setdefault(spec.id, "CROSSED")
            self.leverage.setdefault(spec.id, 20)

    # ------------------------------------------------------------------ helpers
    def _next_id(self) -> int:
        self._ids += 1
        return self._ids

    def spec(self, binance_id: str) -> Spec:
        spec = self.specs.get(binance_id)
        if spec is None or spec.symbol not in self.market.open:
            raise BinanceError(-1121, "Invalid symbol.")
        return spec

    def holding(self, binance_id: str) -> Holding:
        return self.positions.setdefault(binance_id, Holding())

    def mark(self, binance_id: str) -> Decimal:
        spec = self.spec(binance_id)
        return self._round(spec, self.market.price(spec.symbol) * (1 + self.mark_premium))

    @staticmethod
    def _round(spec: Spec, price: float) -> Decimal:
        return (_dec(price) / spec.tick).to_integral_value(ROUND_HALF_EVEN) * spec.tick

    def wallet(self) -> Decimal:
        return self.balance

    def unrealized(self) -> Decimal:
        total = ZERO
        for bid, h in self.positions.items():
            if h.qty:
                total += h.qty * (self.mark(bid) - h.entry)
        return total

    def initial_margin(self) -> Decimal:
        return sum((abs(h.qty) * self.mark(bid) / self.leverage[bid] for bid, h in self.positions.items() if h.qty),
                   ZERO)

    def available(self) -> Decimal:
        return self.balance + self.unrealized() - self.initial_margin()

    # ------------------------------------------------------------------ orders
    def _check_order(self, spec: Spec, qty: Decimal, price: Decimal | None, reduce_only: bool) -> None:
        if qty <= 0:
            raise BinanceError(-4003, "Quantity less than or equal to zero.")
        if qty % spec.step:
            raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
        if price is not None and price % spec.tick:
            raise BinanceError(-4014, "Price not increased by tick size.")
        if qty < spec.min_qty:
            raise BinanceError(-4005, "Quantity less than minimum quantity.")
        notional = qty * (price if price is not None else self.mark(spec.id))
        if not reduce_only and notional < spec.min_notional:
            raise BinanceError(-4164, f"Order's notional must be no smaller than {spec.min_notional.normalize():f} "
                                      "(unless you choose reduce only).")

    def _reducible(self, spec: Spec, side: str, qty: Decimal) -> Decimal:
        held = self.holding(spec.id).qty
        if held == 0 or (held > 0) == (side == "BUY"):
            return ZERO
        return min(qty, abs(held))

    def _check_margin(self, spec: Spec, side: str, qty: Decimal, price: Decimal) -> None:
        held = self.holding(spec.id).qty
        after = held + (qty if side == "BUY" else -qty)
        added = max(abs(after) - abs(held), ZERO)
        if added and added * price / self.leverage[spec.id] > self.available():
            raise BinanceError(-2019, "Margin is insufficient.")
        cap = self.max_notional(spec.id)
        if abs(after) * price > cap:
            raise BinanceError(-2027, "Exceeded the maximum allowable position at current leverage.")

    def max_notional(self, binance_id: str) -> Decimal:
        lev = self.leverage[binance_id]
        return Decimal(max((cap for _floor, cap, initial in BRACKETS if initial >= lev), default=0))

    def _known_client_id(self, client_id: str) -> bool:
        return any(o.client_id == client_id and o.status in ("NEW", "PARTIALLY_FILLED") for o in self.orders.values()
                   ) or any(a.client_id == client_id and a.status == "NEW" for a in self.algos.values())

    def new_order(self, params: dict[str, str]) -> FakeOrder:
        spec = self.spec(params.get("symbol", ""))
        client_id = params.get("newClientOrderId") or f"fake-{self._next_id()}"
        if self._known_client_id(client_id):
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        kind = params.get("type", "")
        side = params.get("side", "")
        qty = _dec(params.get("quantity", "0"))
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        if kind not in ("MARKET", "LIMIT"):
            raise BinanceError(-1116, "Invalid orderType.")
        price = _dec(params["price"]) if kind == "LIMIT" else None
        self._check_order(spec, qty, price, reduce_only)
        if reduce_only and self._reducible(spec, side, qty) == 0:
            raise BinanceError(-2022, "ReduceOnly Order is rejected.")
        now = self.market.now()
        tif = params.get("timeInForce", "GTC") if kind == "LIMIT" else "GTC"
        order = FakeOrder(self._next_id(), client_id, spec.id, side, kind, qty, price or ZERO, tif, reduce_only,
                          now, update_time=now)
        if self.partial_next:
            order.partial = self.partial_next.pop(0)
        ref = self.market.price(spec.symbol)
        buy = side == "BUY"
        crosses = kind == "MARKET" or (order.price >= _dec(ref) if buy else order.price <= _dec(ref))
        if kind == "LIMIT" and crosses and tif == "GTX":
            raise BinanceError(-5022, "Due to the order could not be executed as maker, the Post Only order will "
                                      "be rejected.")
        if not reduce_only:
            self._check_margin(spec, side, qty, order.price if kind == "LIMIT" else _dec(ref))
        self.orders[order.order_id] = order
        self.received[client_id] += 1
        if crosses:
            self._take(order, ref)
        return order

    def _take(self, order: FakeOrder, reference: float) -> None:
        """A taker fill now at the reference (slippage from the pricing model, a limit's price as a cap)."""
        spec = self.specs[order.symbol]
        qty = order.remaining
        if order.reduce_only:
            qty = self._reducible(spec, order.side, qty)
            if qty == 0:
                order.status = "EXPIRED"
                return
        buy = order.side == "BUY"
        raw = self.pricing.taker_price(spec.symbol, reference, float(qty), buy=buy, ts=self.market.now(),
                                       bar_volume=self.market.bar_volume(spec.symbol))
        if order.type == "LIMIT":
            raw = min(raw, float(order.price)) if buy else max(raw, float(order.price))
        price = self._round(spec, raw)
        first = qty
        if order.partial is not None and order.type == "MARKET":
            first = (qty * order.partial / spec.step).to_integral_value() * spec.step
            order.partial = None
            if 0 < first < qty:
                self._fill(order, first, price, maker=False, ts=self.market.now())
                qty -= first
        self._fill(order, qty, price, maker=False, ts=self.market.now())

    def _fill(self, order: FakeOrder, qty: Decimal, price: Decimal, *, maker: bool, ts: int) -> Trade:
        spec = self.specs[order.symbol]
        fee = self.pricing.fee(qty, price, maker=maker)
        realized = self._book(spec.id, order.side, qty, price)
        self.balance += realized - fee
        trade = Trade(self._next_id(), order.order_id, order.symbol, order.side, price, qty, fee, realized, ts, maker)
        self.trades.append(trade)
        order.cum_quote += qty * price
        order.executed += qty
        order.status = "FILLED" if order.executed >= order.qty else "PARTIALLY_FILLED"
        order.update_time = ts
        return trade

    def _book(self, binance_id: str, side: str, qty: Decimal, price: Decimal) -> Decimal:
        """Net a fill into the position; the realised P&L of what it closed."""
        h = self.holding(binance_id)
        signed = qty if side == "BUY" else -qty
        realized = ZERO
        if h.qty == 0 or (h.qty > 0) == (signed > 0):
            total = h.qty + signed
            h.entry = (h.entry * abs(h.qty) + price * qty) / abs(total)
            h.qty = total
            return realized
        closed = min(abs(signed), abs(h.qty))
        realized = closed * (price - h.entry) * (1 if h.qty > 0 else -1)
        rest = h.qty + signed
        if rest == 0:
            h.qty, h.entry = ZERO, ZERO
        elif (rest > 0) == (h.qty > 0):
            h.qty = rest
        else:
            h.qty, h.entry = rest, price
        return realized

    def find_order(self, params: dict[str, str]) -> FakeOrder:
        spec = self.spec(params.get("symbol", ""))
        order_id, client_id = params.get("orderId"), params.get("origClientOrderId")
        for order in self.orders.values():
            if order.symbol == spec.id and (str(order.order_id) == order_id or order.client_id == client_id):
                return order
        raise BinanceError(-2013, "Order does not exist.")

    def cancel_order(self, params: dict[str, str]) -> FakeOrder:
        try:
            order = self.find_order(params)
        except BinanceError:
            raise BinanceError(-2011, "Unknown order sent.") from None
        if order.status not in ("NEW", "PARTIALLY_FILLED"):
            raise BinanceError(-2011, "Unknown order sent.")
        order.status = "CANCELED"
        order.update_time = self.market.now()
        return order

    def open_orders(self, binance_id: str | None) -> list[FakeOrder]:
        return [o for o in self.orders.values() if o.status in ("NEW", "PARTIALLY_FILLED")
                and (binance_id is None or o.symbol == binance_id)]

    # ------------------------------------------------------------------ algo (conditional) orders
    def new_algo(self, params: dict[str, str]) -> FakeAlgo:
        spec = self.spec(params.get("symbol", ""))
        client_id = params.get("clientAlgoId") or f"fake-{self._next_id()}"
        if self._known_client_id(client_id):
            raise BinanceError(-4116, "ClientOrderId is duplicated.")
        kind = params.get("type", "")
        if params.get("algoType") != "CONDITIONAL" or kind not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise BinanceError(-1116, "Invalid orderType.")
        qty = _dec(params.get("quantity", "0"))
        trigger = _dec(params.get("triggerPrice", "0"))
        reduce_only = params.get("reduceOnly", "false").lower() == "true"
        self._check_order(spec, qty, trigger, True)
        price = _dec(self.market.price(spec.symbol))
        rising = (params.get("side") == "BUY") == (kind == "STOP_MARKET")
        if (price >= trigger) if rising else (price <= trigger):
            raise BinanceError(-2021, "Order would immediately trigger.")
        now = self.market.now()
        algo = FakeAlgo(self._next_id(), client_id, spec.id, params.get("side", ""), kind, qty, trigger, reduce_only,
                        now, update_time=now)
        self.algos[algo.algo_id] = algo
        self.received[client_id] += 1
        return algo

    def find_algo(self, params: dict[str, str]) -> FakeAlgo:
        algo_id, client_id = params.get("algoId"), params.get("clientAlgoId")
        for algo in self.algos.values():
            if str(algo.algo_id) == algo_id or algo.client_id == client_id:
                return algo
        raise BinanceError(-2013, "Order does not exist.")

    def cancel_algo(self, params: dict[str, str]) -> FakeAlgo:
        try:
            algo = self.find_algo(params)
        except BinanceError:
            raise BinanceError(-2011, "Unknown order sent.") from None
        if algo.status != "NEW":
            raise BinanceError(-2011, "Unknown order sent.")
        algo.status = "CANCELED"
        algo.update_time = self.market.now()
        return algo

    def open_algos(self, binance_id: str | None) -> list[FakeAlgo]:
        return [a for a in self.algos.values() if a.status == "NEW" and (binance_id is None or a.symbol == binance_id)]

    # ------------------------------------------------------------------ the market moves
    def advance(self) -> bool:
        """Move over the forming bar: its funding, then each position's exit, then resting limits. False at the
        end of the replay."""
        m = self.market
        if m.ended:
            return False
        row = m.cursor
        for symbol, ts, rate in m.settlements(row):
            self._settle_funding(symbol, ts, rate, row)
        for spec in self.specs.values():
            if spec.symbol in m.open and self.holding(spec.id).qty:
                self._exit_in_bar(spec, row)
        for order in sorted(self.open_orders(None), key=lambda o: o.order_id):
            if not order.reduce_only:
                self._limit_in_bar(order, row)
        m.cursor += 1
        self.advances += 1
        return True

    def _settle_funding(self, symbol: str, ts: int, rate: float, row: int) -> None:
        spec = next((s for s in self.specs.values() if s.symbol == symbol), None)
        if spec is None:
            return
        h = self.holding(spec.id)
        bar = self.market.bar(symbol, row)
        if not h.qty or bar is None:
            return
        mark = _dec(repr(bar[0]))
        rate_d = _dec(repr(rate))
        payment = (h.qty * mark * rate_d).quantize(Decimal("0.00000001"), rounding=ROUND_HALF_EVEN)
        self.balance -= payment
        self.income.append(Income(self._next_id(), spec.id, -payment, ts, rate_d, mark))

    def _exit_in_bar(self, spec: Spec, row: int) -> None:
        bar = self.market.bar(spec.symbol, row)
        if bar is None:
            return
        o, hi, lo, _c = bar
        h = self.holding(spec.id)
        long = h.qty > 0
        exit_side = "SELL" if long else "BUY"
        stop = next((a for a in self.open_algos(spec.id) if a.reduce_only and a.side == exit_side
                     and a.order_type == "STOP_MARKET"), None)
        target = next((t for t in self.open_orders(spec.id) if t.reduce_only and t.side == exit_side
                       and t.type == "LIMIT"), None)
        if stop is not None:
            level = float(stop.trigger)
            gap = o <= level if long else o >= level
            if gap or (lo <= level if long else hi >= level):
                self._trigger(stop, o if gap else level, row)
                return
        if target is not None:
            level = float(target.price)
            if hi >= level if long else lo <= level:
                qty = min(target.remaining, abs(h.qty))
                self._fill(target, qty, target.price, maker=True, ts=int(self.market.ts[row]))

    def _trigger(self, algo: FakeAlgo, reference: float, row: int) -> None:
        """A stop reached: the algo order becomes a market order for what it may still reduce."""
        spec = self.specs[algo.symbol]
        ts = int(self.market.ts[row])
        qty = self._reducible(spec, algo.side, algo.qty) if algo.reduce_only else algo.qty
        algo.status, algo.update_time, algo.trigger_time = "FINISHED", ts, ts
        if qty == 0:
            algo.status = "EXPIRED"
            return
        order = FakeOrder(self._next_id(), "", spec.id, algo.side, "MARKET", qty, ZERO, "GTC", algo.reduce_only, ts,
                          update_time=ts)
        self.orders[order.order_id] = order
        algo.actual_order_id = order.order_id
        buy = algo.side == "BUY"
        raw = self.pricing.taker_price(spec.symbol, reference, float(qty), buy=buy, ts=ts,
                                       bar_volume=float(self.market.volume[spec.symbol][row]))
        self._fill(order, qty, self._round(spec, raw), maker=False, ts=ts)

    def _limit_in_bar(self, order: FakeOrder, row: int) -> None:
        spec = self.specs[order.symbol]
        bar = self.market.bar(spec.symbol, row)
        if bar is None:
            return
        _o, hi, lo, _c = bar
        price = float(order.price)
        buy = order.side == "BUY"
        if self.limit_fill == "through":
            touched = lo < price if buy else hi > price
        else:
            touched = lo <= price if buy else hi >= price
        if not touched:
            return
        qty = order.remaining
        if order.partial is not None:
            part = (qty * order.partial / spec.step).to_integral_value() * spec.step
            order.partial = None
            if 0 < part < qty:
                qty = part
        self._fill(order, qty, order.price, maker=True, ts=int(self.market.ts[row]))

    # ------------------------------------------------------------------ market data, as both fakes serve it
    def candle_rows(self, symbol: str, start: int | None, end: int | None, limit: int, *, frozen: bool,
                    forming: bool) -> list[int]:
        """Rows of the candles a request asks for, oldest first. A request for bars that have not closed moves the
        replay one bar on (unless ``frozen``: a feed that stops delivering); ``forming`` adds the bar forming now,
        as the exchanges send it."""
        m = self.market
        if not frozen and not m.ended and start is not None and start >= int(m.ts[m.cursor]):
            self.advance()
        rows = m.closed_rows(symbol, start, end, limit)
        if forming and not m.ended and (start is None or start <= int(m.ts[m.cursor])):
            rows = [*rows, m.cursor][-limit:]
        return rows

    def book(self, spec: Spec, levels: int) -> tuple[list[Decimal], list[Decimal], Decimal]:
        """Bid and ask prices a tick apart around the mark, and one size (about 20,000 USDT) for every level."""
        mid = self.mark(spec.id)
        size = (Decimal(20_000) / mid / spec.step).to_integral_value() * spec.step or spec.step
        return ([mid - spec.tick * (i + 1) for i in range(levels)], [mid + spec.tick * (i + 1) for i in range(levels)],
                size)

    # ------------------------------------------------------------------ what tests read
    def summary(self) -> dict[str, Any]:
        return {"positions": {k: (h.qty, h.entry) for k, h in self.positions.items() if h.qty},
                "balance": self.balance, "trades": len(self.trades)}
