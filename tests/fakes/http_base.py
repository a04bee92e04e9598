"""What every fake exchange's HTTP side does the same way: route, check the key, meet a fault, answer.

A venue's server (``binance_http.FakeBinanceServer``, ``bybit_http.FakeBybitServer``) says only how its
exchange words things: its routes, its key header, its public paths, its error class, and its answers for
success, an error, a rate limit, a hung backend and a "status unknown". The faults are the same on both:
``Fault(method, path, kind)`` makes the next matching request(s) answer a rate limit, hang without acting, act
and then never answer in time (``drop``), act and answer "status unknown", answer 500, answer an exchange
error without acting (``reject``), or answer success without acting (``ack``: a setting that does not stick).

A venue's websockets (``stream_hub``) are mounted on the same app (``_mount``) and told of what a request did
before its answer leaves (``_published``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

REFUSALS = ("429", "hang", "reject", "500", "ack")
"""Fault kinds answered without acting."""


@dataclass
class Fault:
    method: str
    path: str
    kind: str
    """429, hang, drop, unknown, 500, reject, or ack (answer success without acting: a setting that does not
    stick)."""
    times: int = 1
    code: int = -1000
    msg: str = "An unknown error occured while processing the request."
    seconds: float = 2.0


Handler = Callable[[dict[str, Any]], Any]


@dataclass(kw_only=True)
class FakeServer:
    api_key: str | None = "fake-key"
    skew_ms: int = 0
    """Added to the server's clock: a machine clock this far behind the exchange's."""
    frozen: bool = False
    """No bar closes any more (a stale feed)."""
    serve_forming: bool = False
    """Candles end with the bar forming now, as the exchanges' do (the replay's own clock then must be the wall's)."""
    faults: list[Fault] = field(default_factory=list)
    log: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)

    key_header = ""
    error_type: type[Exception] = Exception

    # ------------------------------------------------------------------ what a venue says
    def _routes(self) -> dict[tuple[str, str], Handler]:
        raise NotImplementedError

    def _lock(self) -> Any:
        raise NotImplementedError

    def _public(self, path: str) -> bool:
        raise NotImplementedError

    async def _params(self, request: web.Request) -> dict[str, Any]:
        raise NotImplementedError

    def _ok(self, payload: Any) -> web.Response:
        raise NotImplementedError

    def _error(self, exc: Any) -> web.Response:
        raise NotImplementedError

    def _not_served(self, method: str, path: str) -> web.Response:
        raise NotImplementedError

    def _bad_key(self) -> web.Response:
        raise NotImplementedError

    def _rate_limited(self) -> web.Response:
        raise NotImplementedError

    def _hung(self) -> web.Response:
        raise NotImplementedError

    def _unknown(self) -> web.Response:
        raise NotImplementedError

    def _acked(self) -> web.Response:
        raise NotImplementedError

    def _rejected(self, fault: Fault) -> web.Response:
        raise NotImplementedError

    def _mount(self, app: web.Application) -> None:
        """The venue's websocket routes (before the REST catch-all)."""

    async def _published(self) -> None:
        """Tell the websockets what changed."""

    # ------------------------------------------------------------------ the same on every venue
    def app(self) -> web.Application:
        app = web.Application()
        self._mount(app)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.Response:
        params = await self._params(request)
        method, path = request.method, request.path
        self.log.append((method, path, params))
        route = self._routes().get((method, path))
        if route is None:
            return self._not_served(method, path)
        if not self._public(path) and self.api_key is not None and request.headers.get(self.key_header) != self.api_key:
            return self._bad_key()
        fault = self._fault(method, path)
        if fault is not None and fault.kind in REFUSALS:
            return await self._refuse(fault)
        try:
            with self._lock():
                payload = route(params)
        except self.error_type as exc:
            return self._error(exc)
        finally:
            await self._published()
        if fault is not None and fault.kind == "drop":
            await asyncio.sleep(fault.seconds)
        if fault is not None and fault.kind == "unknown":
            return self._unknown()
        return self._ok(payload)

    def _fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.times > 0 and fault.method == method and fault.path == path:
                fault.times -= 1
                return fault
        return None

    async def _refuse(self, fault: Fault) -> web.Response:
        if fault.kind == "429":
            return self._rate_limited()
        if fault.kind == "hang":
            await asyncio.sleep(fault.seconds)
            return self._hung()
        if fault.kind == "500":
            return web.Response(status=500, text="Internal Server Error")
        if fault.kind == "ack":
            return self._acked()
        return self._rejected(fault)
