"""Orders into fills into the ledger: how the kernel trades, given where and why.

Mixed into ``Kernel``. Every fill goes through ``_fill``: the price (slippage from the
book or the impact model, none for a resting limit), the exact fee (taker, or maker for
a resting limit), the ledger, and the counts. Opening and closing keep the run's open
trades; stop-outs, take-profits and reductions choose their price and reason here.
"""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from quantum_trader.domain.market import F64
from quantum_trader.domain.trading import Fill, Intent, OrderSide, Side
from quantum_trader.engine.fill_limits import correlated_share
from quantum_trader.engine.kernel_state import KernelState
from quantum_trader.engine.recorder import OpenTrade
from quantum_trader.engine.window import WindowEventKind
from quantum_trader.portfolio import apply_fill
from quantum_trader.portfolio.state import money
from quantum_trader.venues.simulated.matching import ExitKind, first_touch, stop_fill, target_fill
from quantum_trader.venues.simulated.venue import SimulatedVenue


class OrderExecution(KernelState):
    _k: int
    venue: SimulatedVenue
    _exact_prices: bool
    """The venue's slippage is ``ExactPrice``: skip the call."""
    _taker: Decimal
    _maker: Decimal
    _targets: dict[str, float]
    _target_row: dict[str, int]
    """First grid row where a position's take-profit may fill (the bar after a limit entry's fill)."""
    _opened: dict[str, tuple[str, int]]
    _liquidation: dict[str, float | None]
    _stale_liquidation: bool
    _stale_held: bool
    _corr: F64
    _column: dict[str, int]

    def _stop_out(self, row: int, symbol: str, kind: WindowEventKind) -> None:
        """Close a position at its stop or liquidation price in bar ``row``.

        The scan reports a liquidation first when both levels fall in one bar, but the
        price path decides: a long's stop above its liquidation price (a short's below)
        is passed first on the way down (up), so the stop fills and the liquidation
        never happens.
        """
        col = self._column_of(symbol)
        pos = self.ledger.positions[symbol]
        long = pos.quantity > 0
        bar = (float(self.grid.open[row, col]), float(self.grid.high[row, col]), float(self.grid.low[row, col]))
        liquidation = self._liquidation.get(symbol)
        if kind is WindowEventKind.LIQUIDATION and pos.stop_price is not None and liquidation is not None:
            stop = float(pos.stop_price)
            if (stop > liquidation if long else stop < liquidation) and stop_fill(long, stop, *bar) is not None:
                kind = WindowEventKind.STOP
        if (kind is WindowEventKind.STOP and pos.stop_price is not None
                and self._target_first(row, symbol, long, float(pos.stop_price), bar)):
            self._take_profit(row, symbol)
            return
        level = float(pos.stop_price) if kind is WindowEventKind.STOP else liquidation  # type: ignore[arg-type]
        assert level is not None
        exit_ = stop_fill(long, level, *bar)
        price = level if exit_ is None else exit_.price
        reason = "liquidation" if kind is WindowEventKind.LIQUIDATION else (
            exit_.kind.value if exit_ is not None else "stop")
        if kind is WindowEventKind.LIQUIDATION:
            self.rec.event(self._ts[row], "liquidation", f"{symbol} liquidated at {price:.6g}",
                           symbol=symbol, value=price)
        self._close(row, symbol, reason, price=price)

    def _target_first(self, row: int, symbol: str, long: bool, stop: float, bar: tuple[float, float, float]) -> bool:
        """A bar touched both the stop and the target: the finer bars inside it, when loaded,
        say whether the target came first (else the stop is assumed, conservatively)."""
        target = self._targets.get(symbol)
        finer = self.data.finer.get(symbol)
        if target is None or finer is None or target_fill(long, target, *bar) is None:
            return False
        lo, hi = np.searchsorted(finer.ts, [self._ts[row], self._ts[row] + self.step])
        first = first_touch(long, stop, target, finer.open[lo:hi], finer.high[lo:hi], finer.low[lo:hi])
        return first is not None and first.kind in (ExitKind.TARGET, ExitKind.TARGET_GAP)

    def _take_profit(self, row: int, symbol: str) -> None:
        """A resting reduce-only limit: fills at its price as maker (on a gap too, see ``matching``)."""
        col = self._column_of(symbol)
        long = self.ledger.positions[symbol].quantity > 0
        target = self._targets[symbol]
        exit_ = target_fill(long, target, float(self.grid.open[row, col]),
                            float(self.grid.high[row, col]), float(self.grid.low[row, col]))
        kind, price = ("target", target) if exit_ is None else (exit_.kind.value, exit_.price)
        self._close(row, symbol, kind, price=price, maker=True)

    def _price(self, row: int, col: int, qty: float, *, buy: bool, reference: float) -> float:
        return self.venue.slippage.taker_price(self.grid.symbols[col], reference, qty, buy=buy, ts=self._ts[row],
                                               bar_volume=float(np.nan_to_num(self.grid.volume[row, col])))

    def _fill(self, row: int, symbol: str, side: OrderSide, qty: Decimal, reference: float,
              stop: Decimal | None = None, ts: int | None = None, maker: bool = False,
              cap: float | None = None, new_order: bool = True) -> tuple[Fill, float]:
        """Fill ``qty`` near ``reference``; ``cap`` is a limit the price may not pass (a marketable
        limit order), ``new_order`` False when the order was counted when it was placed."""
        inst = self.data.instruments[symbol]
        raw = reference if maker or self._exact_prices else self._price(
            row, self._column_of(symbol), float(qty), buy=side is OrderSide.BUY, reference=reference)
        if cap is not None:
            raw = min(raw, cap) if side is OrderSide.BUY else max(raw, cap)
        price = inst.round_price(raw)
        # Exact: the notional times the fee rate, rounded once like every ledger amount.
        fee = money(qty * price * (self._maker if maker else self._taker))
        fill_ts = max(self._ts[row] if ts is None else ts, self.ledger.ts)
        fill = Fill(fill_ts, symbol, side, qty, price, fee, is_maker=maker)
        before = self.ledger.realised_pnl
        self.ledger = apply_fill(self.ledger, fill, stop_price=stop)
        self.rec.orders += new_order
        self.rec.fills += 1
        return fill, float(self.ledger.realised_pnl - before)

    def _open(self, row: int, intent: Intent, qty: Decimal, *, price: float | None = None, maker: bool = False,
              cap: float | None = None, new_order: bool = True, k: int | None = None) -> None:
        """Open at ``price`` (a resting limit's, as maker) or else at the bar's open as taker."""
        col = self._column_of(intent.symbol)
        inst = self.data.instruments[intent.symbol]
        stop = None if intent.stop_price is None else inst.round_price(intent.stop_price)
        side = OrderSide.BUY if intent.side is Side.LONG else OrderSide.SELL
        equity_before = float(self.ledger.equity)
        reference = float(self.grid.open[row, col]) if price is None else price
        fill, _ = self._fill(row, intent.symbol, side, qty, reference, stop=stop, maker=maker, cap=cap,
                             new_order=new_order)
        price = float(fill.price)
        risk = float(qty) * abs(price - float(stop)) if stop is not None else float(qty) * price
        self._opened[intent.symbol] = (intent.source, self._k if k is None else k)
        if intent.target_price is not None:
            self._targets[intent.symbol] = float(inst.round_price(intent.target_price))
        self.rec.open[intent.symbol] = OpenTrade(
            symbol=intent.symbol, side=intent.side, entry_ts=fill.ts, entry_price=price, quantity=float(qty),
            notional_at_entry=float(qty) * price, equity_at_entry=equity_before,
            stop=float(stop) if stop is not None else float("nan"), planned_risk=risk, fees=float(fill.fee),
            signal=intent.source,
            entry_slippage=(price - reference if side is OrderSide.BUY else reference - price) / reference,
        )
        self._stale_liquidation = self._stale_held = True
        if self.rec.fill_limits is not None:
            self._measure_at_fill(intent.symbol)

    def _measure_at_fill(self, symbol: str) -> None:
        """The limits that bounded the entry's size, measured on the book just after its fill."""
        f = self.ledger.figures
        limits = self.limits
        assert self.rec.fill_limits is not None
        self.rec.fill_limits.record({
            "max_position_size": f.notional[symbol] / f.equity if f.equity > 0 else float("inf"),
            "max_total_exposure": f.total_exposure,
            "max_correlated_exposure": correlated_share(f, symbol, self._corr, self._column, limits.corr_threshold,
                                                        measure_is_risk=limits.measure_is_risk),
        })

    def _close(self, row: int, symbol: str, reason: str, *, price: float | None = None,
               at_close: bool = False, maker: bool = False) -> None:
        pos = self.ledger.positions[symbol]
        col = self._column_of(symbol)
        side = OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY
        if price is None:
            price = float(self.grid.close[row, col] if at_close else self.grid.open[row, col])
            if price != price:  # no trade at that bar: the last mark
                price = float(self.grid.mark[row, col])
        ts = self._ts[row] + (self.step if at_close else 0)
        fill, realised = self._fill(row, symbol, side, pos.size, price, ts=ts, maker=maker)
        self._targets.pop(symbol, None)
        self._target_row.pop(symbol, None)
        self.rec.close_trade(symbol, fill.ts, float(fill.price), float(fill.fee), realised, reason)
        self._stale_liquidation = self._stale_held = True

    def _close_all(self, row: int, reason: str, *, at_close: bool = False) -> None:
        for symbol in list(self.ledger.positions):
            self._close(row, symbol, reason, at_close=at_close)

    def _reduce(self, row: int, symbol: str, notional: float, reason: str) -> None:
        """Cut ``symbol`` by at least ``notional`` (USD) with a reduce-only market order at the open."""
        pos = self.ledger.positions.get(symbol)
        if pos is None:
            return
        col = self._column_of(symbol)
        price = float(self.grid.open[row, col])
        if price != price:
            return
        inst = self.data.instruments[symbol]
        # The cut's own fee and slippage lower equity, and so raise exposure: 1% more than the
        # excess (and one lot for rounding) brings the book under the limit in one order.
        wanted = inst.round_qty_down(notional * 1.01 / price) + inst.lot_size
        if wanted >= pos.size:
            self._close(row, symbol, reason)
            return
        side = OrderSide.SELL if pos.quantity > 0 else OrderSide.BUY
        fill, realised = self._fill(row, symbol, side, wanted, price)
        self.rec.reduce_trade(symbol, fill.ts, float(fill.price), float(wanted), float(fill.fee), realised, reason)
        self._stale_liquidation = self._stale_held = True
