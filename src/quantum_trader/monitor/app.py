"""The dashboard's web app: the page, the JSON API (OpenAPI docs at ``/docs``), server-sent events, ``/metrics``.

Every figure comes from one :class:`~quantum_trader.monitor.source.DashboardSource`, so the page, the API
and Prometheus agree. The page updates without reload: ``/api/events`` polls the source's
:meth:`version` (the newest row ids, one cheap query) and pushes the portfolio and the alerts whenever it
changes. Plotly is served from the ``plotly`` package itself: the page works offline.

Control routes exist only when a token is configured (see ``security.py``); each one is journalled by
the source's :class:`Controls` with the operator and the reason the request names.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from quantum_trader.monitor.metrics import render_metrics
from quantum_trader.monitor.security import bearer_matches, csrf_refusal
from quantum_trader.monitor.source import ActionRefused, Controls, DashboardSource, SourceError
from quantum_trader.monitor.views import (
    ActionResult,
    Alerts,
    Asset,
    CorrelationHistory,
    Gates,
    Portfolio,
    PriceChart,
    Problem,
    Regimes,
    RiskHistory,
)

STATIC = "static"
SYMBOL = re.compile(r"^[A-Z0-9]{1,20}(/[A-Z0-9]{1,10}(:[A-Z0-9]{1,10})?)?$")
OPERATOR = r"^[A-Za-z0-9][A-Za-z0-9_.@ -]{0,63}$"


@dataclass(frozen=True, slots=True)
class Settings:
    token: str | None = None
    allowed_hosts: frozenset[str] = frozenset({"127.0.0.1:8050", "localhost:8050"})
    poll_s: float = 0.2
    """How often the events stream asks the source whether anything changed."""
    heartbeat_s: float = 15.0


class Action(BaseModel):
    """A control request: who and why, both recorded with the action."""

    model_config = ConfigDict(extra="forbid")
    operator: str = Field(pattern=OPERATOR, description="Who acts (recorded).")
    reason: str = Field(min_length=1, max_length=500, description="Why (recorded).")


class ResetAction(Action):
    force: bool = Field(default=False, description="Reset although the condition that tripped it still holds.")


class PromoteAction(Action):
    force: bool = Field(default=False, description="Promote although the gate refuses (recorded as forced).")


class AckAction(BaseModel):
    model_config = ConfigDict(extra="forbid")
    operator: str = Field(pattern=OPERATOR, description="Who acknowledges (recorded).")


def _static_file(name: str) -> Path:
    return Path(str(resources.files("quantum_trader.monitor").joinpath(STATIC, name)))


def plotly_js() -> Path:
    """plotly.js as the ``plotly`` Python package ships it (no CDN: the page works offline)."""
    return Path(str(resources.files("plotly").joinpath("package_data", "plotly.min.js")))


def _problem(status: int, detail: str) -> JSONResponse:
    return JSONResponse(Problem(detail=detail).model_dump(), status_code=status)


def _validation_line(exc: RequestValidationError) -> str:
    """The first problem as one line naming the field (``body.reason: ...``)."""
    errors = exc.errors()
    if not errors:
        return "invalid request"
    first = errors[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


def create_app(source: DashboardSource, controls: Controls | None = None, settings: Settings | None = None) -> FastAPI:
    """The app on ``source``; control routes only when ``settings.token`` and ``controls`` are both given."""
    conf = settings or Settings()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        close = getattr(source, "close", None)  # a journal's source stops its gate worker
        if callable(close):
            close()

    app = FastAPI(title="Quantum Trader dashboard", version="1", lifespan=lifespan,
                  description=f"Risk against the policy's limits, read from {source.description}. Read-only unless a "
                              "control token is configured.")

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        return _problem(422, _validation_line(exc))

    @app.exception_handler(SourceError)
    async def _unknown(_: Request, exc: SourceError) -> JSONResponse:
        return _problem(404, str(exc))

    @app.exception_handler(ActionRefused)
    async def _refused(_: Request, exc: ActionRefused) -> JSONResponse:
        return _problem(409, f"refused: {exc}")

    @app.exception_handler(ValueError)
    async def _unreadable(_: Request, exc: ValueError) -> JSONResponse:
        return _problem(503, f"cannot read {source.description}: {exc}")

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return _problem(exc.status_code, str(exc.detail))

    @app.middleware("http")
    async def same_host(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Every request must name this dashboard in ``Host``: a page on another site that rebinds its DNS name to
        127.0.0.1 (DNS rebinding) names its own. And no page may frame this one (clickjacking the controls)."""
        host = request.headers.get("host", "").lower()
        if "*" not in conf.allowed_hosts and host not in conf.allowed_hosts:
            return _problem(421, f"Host {host or '(none)'!r} is not this dashboard's "
                                 f"({', '.join(sorted(conf.allowed_hosts))}); behind a proxy that forwards another "
                                 "name, pass --allowed-host NAME")
        response = await call_next(request)
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Content-Security-Policy"] = "frame-ancestors 'none'"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    _pages(app, source, conf)
    _reads(app, source)
    _events(app, source, conf)
    if conf.token is not None and controls is not None:
        _controls(app, controls, conf.token, conf.allowed_hosts)
    return app


def _pages(app: FastAPI, source: DashboardSource, conf: Settings) -> None:
    page = _static_file("index.html").read_text(encoding="utf-8")

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index() -> HTMLResponse:
        controls = "true" if conf.token is not None else "false"
        return HTMLResponse(page.replace("__CONTROLS__", controls).replace("__SOURCE__", _html(source.description)))

    @app.get("/static/plotly.min.js", include_in_schema=False)
    def plotly() -> FileResponse:
        return FileResponse(plotly_js(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})

    @app.get("/static/{name}", include_in_schema=False)
    def static(name: Annotated[str, PathParam(pattern=r"^dashboard\.(js|css)$")]) -> FileResponse:
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(_static_file(name), media_type=kind)

    @app.get("/metrics", include_in_schema=False)
    def metrics() -> Response:
        body, kind = render_metrics(source)
        return Response(body, media_type=kind)


def _html(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _reads(app: FastAPI, source: DashboardSource) -> None:
    @app.get("/api/portfolio", response_model=Portfolio, tags=["read"])
    def portfolio() -> Portfolio:
        """Equity, exposure against its limit and alert line, 24h P&L, slots by tier, the kill switch, the phase."""
        return source.portfolio()

    @app.get("/api/history", response_model=RiskHistory, tags=["read"])
    def history(since: Annotated[int | None, Query(ge=0, description="From (epoch ms).")] = None,
                until: Annotated[int | None, Query(ge=0, description="To (epoch ms).")] = None,
                points: Annotated[int, Query(ge=2, le=5000)] = 600) -> RiskHistory:
        """Equity, exposure, correlated exposure, daily loss and drawdown at bar closes, sampled server-side."""
        if since is not None and until is not None and until < since:
            raise HTTPException(422, f"until {until} is before since {since}")
        return source.risk_history(since, until, points)

    @app.get("/api/correlation", response_model=CorrelationHistory, tags=["read"])
    def correlation(frames: Annotated[int, Query(ge=1, le=500)] = 120) -> CorrelationHistory:
        """The correlation matrix at its updates, oldest first (the last one is now), at most ``frames``."""
        return source.correlation_history(frames)

    @app.get("/api/assets", response_model=list[Asset], tags=["read"])
    def assets() -> list[Asset]:
        """Each open position: entry, mark, P&L, risk to the stop and against the per-asset daily limit, tier,
        regime."""
        return source.assets()

    @app.get("/api/regimes", response_model=Regimes, tags=["read"])
    def regimes() -> Regimes:
        """Each symbol's regime (trending up or down, ranging, high volatility, unknown) and since when."""
        return source.regimes()

    @app.get("/api/assets/{symbol:path}/prices", response_model=PriceChart, tags=["read"])
    def prices(symbol: str, points: Annotated[int, Query(ge=2, le=5000)] = 800) -> PriceChart:
        """Closes of ``symbol`` (e.g. ``BTC/USDT:USDT``) with the fills that entered and exited."""
        if not SYMBOL.match(symbol):
            raise HTTPException(422, f"symbol {symbol[:40]!r}: expected a unified symbol such as BTC/USDT:USDT")
        return source.price_chart(symbol, points)

    @app.get("/api/alerts", response_model=Alerts, tags=["read"])
    def alerts(limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Alerts:
        """Alerts and incidents, newest first."""
        return source.alerts(limit)

    @app.get("/api/gates", response_model=Gates, tags=["read"])
    def gates() -> Gates:
        """The current phase and the criteria of the gate out of it."""
        return source.gates()

    @app.get("/api/health", tags=["read"])
    def health() -> dict[str, Any]:
        return {"ok": True, "source": source.description, "version": list(source.version())}


def _events(app: FastAPI, source: DashboardSource, conf: Settings) -> None:
    async def stream(request: Request) -> AsyncIterator[str]:
        last: tuple[int, ...] | None = None
        quiet = 0.0
        while not await request.is_disconnected():
            version = await asyncio.to_thread(source.version)
            if version != last:
                last = version
                portfolio, alerts = await asyncio.to_thread(lambda: (source.portfolio(), source.alerts(100)))
                data = json.dumps({"version": list(version), "portfolio": portfolio.model_dump(),
                                   "alerts": alerts.model_dump()})
                quiet = 0.0
                yield f"event: update\ndata: {data}\n\n"
            elif quiet >= conf.heartbeat_s:
                quiet = 0.0
                yield ": heartbeat\n\n"
            await asyncio.sleep(conf.poll_s)
            quiet += conf.poll_s

    @app.get("/api/events", tags=["read"], response_class=StreamingResponse)
    async def events(request: Request) -> StreamingResponse:
        """Server-sent events: ``update`` with the portfolio and the alerts whenever the journal changes."""
        return StreamingResponse(stream(request), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})


def _controls(app: FastAPI, controls: Controls, token: str, hosts: frozenset[str]) -> None:
    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Every state-changing request is checked before its body is even read: cross-site first, then the token."""
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            refusal = csrf_refusal(request.method, request.headers, hosts)
            if refusal is not None:
                return _problem(403, refusal)
            if not bearer_matches(request.headers.get("authorization"), token):
                return _problem(401, "control actions need the dashboard token (Authorization: Bearer ...)")
        return await call_next(request)

    responses: dict[int | str, dict[str, Any]] = {
        code: {"model": Problem} for code in (401, 403, 404, 409, 422)}

    def route(path: str, act: Callable[..., ActionResult], summary: str) -> None:
        app.post(path, response_model=ActionResult, responses=responses, tags=["control"], summary=summary)(act)

    def trip(body: Action) -> ActionResult:
        return controls.trip(body.operator, body.reason)

    def reset(body: ResetAction) -> ActionResult:
        return controls.reset(body.operator, body.reason, body.force)

    def promote(body: PromoteAction) -> ActionResult:
        return controls.promote(body.operator, body.reason, body.force)

    def demote(body: Action) -> ActionResult:
        return controls.demote(body.operator, body.reason)

    def acknowledge(alert_id: Annotated[int, PathParam(ge=1)], body: AckAction) -> ActionResult:
        return controls.acknowledge(alert_id, body.operator)

    route("/api/killswitch/trip", trip, "Trip the kill switch (journalled with who and why)")
    route("/api/killswitch/reset", reset, "Reset the kill switch (refused while its condition holds, unless force)")
    route("/api/phase/promote", promote, "Promote one phase through the gate (force: recorded as forced)")
    route("/api/phase/demote", demote, "Demote one phase")
    route("/api/alerts/{alert_id}/ack", acknowledge, "Acknowledge an alert")
