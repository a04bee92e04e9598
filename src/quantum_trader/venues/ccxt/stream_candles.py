"""Closed candles from the exchange's kline stream (ccxt.pro ``watch_ohlcv``), for the feed to take before it polls.

ccxt.pro keeps each symbol's candles by open time as the stream updates them, but does not say when one has
closed: it drops Binance's ``"x"`` and Bybit's ``"confirm"``. So the exchange's kline handler is wrapped here
to read that flag from the exchange's own message (``closed_flags``), and a candle counts as closed when the
exchange flagged it so, or when a later candle of the symbol has come (an exchange sends a candle's last
update before the next one's first). Only closed candles leave (``closed``); the forming one never does.

Health: the stream is *live* from its first message while messages keep coming (at most ``quiet_s`` apart:
Binance pushes every 250 ms, Bybit every 1 to 60 s) and no watch has failed since. A watch that fails (the
socket dropped, a keep-alive missed) or a stream gone quiet is an incident (``stream_down``: the feed polls
the candles), and a message after it is another (``stream_resumed``: the feed waits for the stream again). The
watchers reconnect by themselves, with backoff. An exchange whose ccxt class does not stream candles
(``has['watchOHLCV']`` false) is said once and polled.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from quantum_trader.venues.ccxt.incidents import Incident, IncidentKind
from quantum_trader.venues.ccxt.retry import Backoff
from quantum_trader.venues.ccxt.watch_tasks import cancel_tasks

KEEP = 8
"""Candles kept per symbol behind the one the feed asks for."""


def closed_flags(exchange_id: str, message: Any) -> list[tuple[str, int, bool]]:
    """(market id, open time, closed) of each candle an exchange's kline message carries."""
    if not isinstance(message, dict):
        return []
    if exchange_id == "bybit":
        market_id = str(message.get("topic") or "").split(".")[-1]
        return [(market_id, int(c["start"]), bool(c.get("confirm"))) for c in message.get("data") or []
                if isinstance(c, dict) and c.get("start") is not None]
    kline = message.get("k")
    if not isinstance(kline, dict) or kline.get("t") is None:
        return []
    return [(str(kline.get("s")), int(kline["t"]), bool(kline.get("x")))]


@dataclass
class CandleStream:
    exchange: Any
    symbols: tuple[str, ...]
    timeframe: str
    tell: Callable[[Incident], None]
    now_ms: Callable[[], int]
    """The exchange's time, for incidents."""
    quiet_s: float = 90.0
    retry: Backoff = field(default_factory=lambda: Backoff(first_s=0.5, max_s=30.0))
    monotonic: Callable[[], float] = time.monotonic
    available: bool = True
    """False when the exchange's ccxt class does not stream candles."""
    _seen: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    _closed: dict[str, set[int]] = field(default_factory=dict)
    _ids: dict[str, str] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _event: asyncio.Event | None = None
    _last: float | None = None
    _failed: bool = False
    _down: bool = False

    def start(self) -> None:
        """Subscribe (one watcher per symbol); say so once if the exchange does not stream candles."""
        if self._tasks or not self.available:
            return
        if not (getattr(self.exchange, "has", None) or {}).get("watchOHLCV"):
            self.available = False
            self._say(IncidentKind.STREAM_DOWN, f"{self.exchange.id} does not stream candles through ccxt "
                      "(has['watchOHLCV'] is false): candles are polled", "polling instead")
            return
        self._ids = {self.exchange.market(s)["id"]: s for s in self.symbols}
        self._event = asyncio.Event()
        handler = self.exchange.handle_ohlcv

        def flagged(client: Any, message: Any) -> None:
            handler(client, message)
            self._heard(message)

        self.exchange.handle_ohlcv = flagged
        self._tasks = [asyncio.ensure_future(self._watch(s)) for s in self.symbols]

    async def close(self) -> None:
        await cancel_tasks(self._tasks)
        self._tasks = []

    @property
    def live(self) -> bool:
        """Delivering: a message within ``quiet_s`` and no failed watch since."""
        self.check()
        return not self._down and self._last is not None

    def closed(self, symbol: str, since: int) -> dict[int, list[float]]:
        """The symbol's closed candles opening at ``since`` or later (open, high, low, close, volume)."""
        seen = self._seen.get(symbol, {})
        flagged = self._closed.get(symbol, set())
        newest = max(seen, default=None)
        return {t: v for t, v in seen.items() if t >= since and (t in flagged or (newest is not None and t < newest))}

    async def wait(self, seconds: float) -> None:
        """Until the stream says something, or ``seconds``."""
        if self._event is None:
            await asyncio.sleep(seconds)
            return
        self._event.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), max(0.0, seconds))

    def check(self) -> None:
        """Take a stream gone quiet for down (an incident, once)."""
        quiet = self._last is not None and self.monotonic() - self._last > self.quiet_s
        if quiet and not self._down:
            self._down = True
            self._say(IncidentKind.STREAM_DOWN, f"{self.exchange.id} candle stream quiet for over "
                      f"{self.quiet_s:g} s: candles are polled until it speaks again", "polling instead")

    # ------------------------------------------------------------------ the exchange's side
    async def _watch(self, symbol: str) -> None:
        failures = 0
        while True:
            try:
                await self.exchange.watch_ohlcv(symbol, self.timeframe)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure of a watch is the stream being down
                self._failed = True
                if not self._down:
                    self._down = True
                    self._say(IncidentKind.STREAM_DOWN, f"{self.exchange.id} candle stream failed "
                              f"({type(exc).__name__}): candles are polled until it is back", "polling instead")
                await asyncio.sleep(self.retry.delay(failures))
                failures += 1
                continue
            failures = 0

    def _heard(self, message: Any) -> None:
        flags = closed_flags(self.exchange.id, message)
        stored = getattr(self.exchange, "ohlcvs", {}) or {}
        for market_id, open_ts, closed in flags:
            symbol = self._ids.get(market_id)
            if symbol is None:
                continue
            candles = (stored.get(symbol) or {}).get(self.timeframe)
            row = next((r for r in reversed(list(candles or [])[-3:]) if int(r[0]) == open_ts), None)
            if row is None:
                continue
            seen = self._seen.setdefault(symbol, {})
            seen[open_ts] = [float(v) for v in row[1:6]]
            if closed:
                self._closed.setdefault(symbol, set()).add(open_ts)
            for old in sorted(seen)[:-KEEP]:
                del seen[old]
                self._closed.get(symbol, set()).discard(old)
        self._last = self.monotonic()
        if self._down:
            self._down = self._failed = False
            self._say(IncidentKind.STREAM_RESUMED, f"{self.exchange.id} candle stream delivers again: candles "
                      "are taken from it", "")
        if self._event is not None:
            self._event.set()

    def _say(self, kind: IncidentKind, message: str, action: str) -> None:
        self.tell(Incident(self.now_ms(), kind, message, action=action))
