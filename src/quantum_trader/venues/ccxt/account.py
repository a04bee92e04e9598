"""The account made ready before the first order: one-way mode, the margin mode and the leverage, set and verified.

Nothing is assumed of an account: each setting is set explicitly (an "already so" answer is fine) and then
read back; a setting the exchange will not take, or that reads back otherwise, stops the session before
it trades, with the line that says which and why (an open position blocks a change of mode on Binance).
On Bybit (a unified trading account) the margin mode is the account's, the position mode is set per symbol,
and both are read back through other calls than Binance's (``_one_way``, ``_settings``).
The leverage brackets are read too: the largest position the exchange allows at the leverage set, which
``orders.check`` holds every entry to.

A session also refuses to start while the account holds positions or open orders on the symbols it
trades: it would not know why they are there. The one exception is a session resumed after a crash
(``analytics.live_resume``), once reconciliation found the journal and the exchange in agreement.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any, Literal

import ccxt

from quantum_trader.venues.ccxt.connect import ExchangeSetupError
from quantum_trader.venues.ccxt.rejections import exchange_code
from quantum_trader.venues.ccxt.retry import Backoff, read

MarginMode = Literal["cross", "isolated"]
NO_CHANGE = {-4059, -4046, 110025, 110026, 110043}
"""Binance's and Bybit's "no need to change" codes: the setting is already what was asked."""


@dataclass(frozen=True)
class AccountState:
    equity: Decimal
    """USDT wallet balance plus unrealised P&L."""
    max_notional: dict[str, Decimal]
    leverage: int
    margin_mode: MarginMode


def _already(exc: BaseException) -> bool:
    code, text = exchange_code(str(exc))
    return (code in NO_CHANGE or isinstance(exc, ccxt.NoChange | ccxt.MarginModeAlreadySet)
            or "no need to change" in text.lower() or "not modified" in text.lower())


async def _set(what: str, call: Any) -> None:
    try:
        await call
    except ccxt.BaseError as exc:
        if _already(exc):
            return
        code, text = exchange_code(str(exc))
        raise ExchangeSetupError(f"could not set {what}: {text}" + (f" (code {code})" if code is not None else "")
                                 ) from None


async def prepare_account(exchange: Any, symbols: Sequence[str], *, leverage: int, margin_mode: MarginMode,
                          backoff: Backoff | None = None, held: str | None = None) -> AccountState:
    """Set and verify one-way mode, ``margin_mode`` and ``leverage`` on every symbol; refuse an account holding
    positions or orders on them, unless ``held`` names the session they belong to (a resumed session whose
    journal reconciliation found in agreement with the exchange); read the equity and each symbol's leverage cap."""
    backoff = backoff or Backoff()
    if held is None:
        await _refuse_open(exchange, symbols, backoff)
    await _one_way(exchange, symbols, backoff)
    for symbol in symbols:
        await _set(f"{margin_mode} margin on {symbol}", exchange.set_margin_mode(margin_mode, symbol))
        await _set(f"leverage {leverage} on {symbol}", exchange.set_leverage(leverage, symbol))
    found = await _settings(exchange, symbols, backoff)
    for symbol in symbols:
        got_mode, got_lev = found.get(symbol, (None, None))
        if got_mode != margin_mode or got_lev is None or int(got_lev) != leverage:
            raise ExchangeSetupError(f"{symbol} reads back {got_mode} margin at leverage {got_lev}, not {margin_mode} "
                                     f"at {leverage}; refusing to trade an account set otherwise than asked")
    tiers = await read(lambda: exchange.fetch_leverage_tiers(list(symbols)), backoff)
    caps = {s: cap for s in symbols if (cap := _cap(tiers.get(s) or [], leverage)) is not None}
    for symbol in symbols:
        if symbol in tiers and symbol not in caps:
            raise ExchangeSetupError(f"{symbol}: no leverage bracket allows leverage {leverage}")
    balance = await read(lambda: exchange.fetch_balance(), backoff)
    total = (balance.get("total") or {}).get("USDT")
    if total is None:
        raise ExchangeSetupError("the account holds no USDT balance")
    return AccountState(Decimal(str(total)), caps, leverage, margin_mode)


async def _one_way(exchange: Any, symbols: Sequence[str], backoff: Backoff) -> None:
    """One-way mode, set and read back. Binance's is one setting of the account, read by ccxt's
    ``fetch_position_mode``; Bybit's is set per symbol and read from the positions it lists (index 0 one-way,
    1 and 2 the sides of hedge mode), as ccxt has no reader for it."""
    first = symbols[0]
    if exchange.has.get("fetchPositionMode"):
        mode = await read(lambda: exchange.fetch_position_mode(first), backoff)
        if mode.get("hedged"):
            await _set("one-way position mode", exchange.set_position_mode(False, first))
            mode = await read(lambda: exchange.fetch_position_mode(first), backoff)
        hedged = [first] if mode.get("hedged") else []
    else:
        hedged = []
        for symbol in symbols:
            await _set(f"one-way position mode on {symbol}", exchange.set_position_mode(False, symbol))
            listed = await read(partial(exchange.fetch_positions, [symbol]), backoff)
            if any(str((p.get("info") or {}).get("positionIdx", "0")) != "0" for p in listed):
                hedged.append(symbol)
    if hedged:
        raise ExchangeSetupError(f"the account stays in hedge mode ({', '.join(hedged)}); switch it to one-way mode")


async def _settings(exchange: Any, symbols: Sequence[str], backoff: Backoff) -> dict[str, tuple[Any, Any]]:
    """(margin mode, leverage) per symbol as the exchange reads them back. Bybit has no ``fetch_leverages``: its
    leverage is read from each symbol's position and its margin mode from the account (a unified account has
    one margin mode for all)."""
    if exchange.has.get("fetchLeverages"):
        found = await read(lambda: exchange.fetch_leverages(list(symbols)), backoff)
        return {s: ((found.get(s) or {}).get("marginMode"), (found.get(s) or {}).get("longLeverage")) for s in symbols}
    out = {}
    for symbol in symbols:
        leverage = await read(partial(exchange.fetch_leverage, symbol), backoff)
        mode = await read(partial(exchange.fetch_margin_mode, symbol), backoff)
        out[symbol] = (mode.get("marginMode"), leverage.get("longLeverage"))
    return out


def _cap(tiers: list[dict[str, Any]], leverage: int) -> Decimal | None:
    """The largest notional of the brackets whose maximum leverage is at least ``leverage``."""
    allowed = [Decimal(str(t["maxNotional"])) for t in tiers
               if t.get("maxLeverage") is not None and float(t["maxLeverage"]) >= leverage and t.get("maxNotional")]
    return max(allowed) if allowed else None


async def listed_positions(exchange: Any, symbols: Sequence[str], backoff: Backoff) -> list[dict[str, Any]]:
    """The account's positions on ``symbols`` that are not flat (ccxt's position dicts)."""
    # Bybit lists the positions held when asked for none in particular (it takes one symbol at most)
    wanted = None if exchange.id == "bybit" else list(symbols)
    positions = await read(lambda: exchange.fetch_positions(wanted), backoff)
    return [p for p in positions if p.get("symbol") in symbols and float(p.get("contracts") or 0) != 0]


async def listed_orders(exchange: Any, symbols: Sequence[str], backoff: Backoff) -> list[dict[str, Any]]:
    """The orders resting on ``symbols``, conditional ones included (Binance lists those apart)."""
    orders: list[dict[str, Any]] = []
    kinds: tuple[dict[str, Any], ...] = ({}, {"trigger": True}) if exchange.id == "binanceusdm" else ({},)
    for symbol in symbols:
        for params in kinds:
            orders.extend(await read(partial(exchange.fetch_open_orders, symbol, None, None, dict(params)), backoff))
    return orders


async def _refuse_open(exchange: Any, symbols: Sequence[str], backoff: Backoff) -> None:
    held = [f"{p['symbol']} {p.get('side') or ''} {p.get('contracts')}".strip()
            for p in await listed_positions(exchange, symbols, backoff)]
    orders = [f"{o['symbol']} {o.get('side')} {o.get('type')} {o.get('clientOrderId')}"
              for o in await listed_orders(exchange, symbols, backoff)]
    if held or orders:
        what = "; ".join([*(f"position {h}" for h in held), *(f"open order {o}" for o in orders)])
        raise ExchangeSetupError(f"the account already holds {what}: close or cancel them first (this session "
                                 "trades only what it opened; a session that did not end is resumed by starting live "
                                 "again with its settings)")
