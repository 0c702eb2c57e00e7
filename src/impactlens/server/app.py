"""The FastAPI application: ingest API, read API and dashboard over served workspaces.

``create_app(settings)`` builds the app; its lifespan opens every workspace's
warehouse, spool and loader and closes them on shutdown. One exception handler
maps errors: ``UserError`` to its 4xx with the message, ``Unauthorized`` to one
fixed 401, anything else to a 500 that says nothing about the internals.

>>> # uvicorn.run(create_app(settings_for_workspace(load_workspace(Path("acme")))))
"""

from __future__ import annotations

import gc
import logging
import threading
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from impactlens.errors import UserError, ValidationError
from impactlens.server.auth import UNAUTHORIZED_BODY, Unauthorized
from impactlens.server.runtime import Runtime
from impactlens.server.settings import ServerSettings

log = logging.getLogger("impactlens.server")

_SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer makes Chromium send Origin: null
    (b"x-frame-options", b"DENY"),
    (
        b"content-security-policy",
        b"default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        b"frame-ancestors 'none'; base-uri 'none'",
    ),
]


class SecurityHeaders:
    """Pure ASGI middleware (no per-request task overhead on the ingest hot path)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + _SECURITY_HEADERS
            await send(message)

        await self.app(scope, receive, send_with_headers)


_NUL_BODY = (
    b'{"success":false,"code":"bad_request",'
    b'"message":"the URL contains a NUL character (%00), which no name or value may hold"}'
)


class RejectNul:
    """Answer 400 to a URL holding a NUL character, before any route sees it.

    Path and query values end up as literals in the queries Ibis compiles, and
    DuckDB's parser ends a string literal at a NUL byte: without this check such
    a value is a parser error (a 500) instead of the user's mistake it is.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
            "\x00" in scope["path"] or b"%00" in scope.get("query_string", b"")
        ):
            await send({
                "type": "http.response.start", "status": 400,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(_NUL_BODY)).encode())],
            })  # fmt: skip
            await send({"type": "http.response.body", "body": _NUL_BODY})
            return
        await self.app(scope, receive, send)


def _wants_html(request: Request) -> bool:
    path = request.url.path
    return not (path.startswith("/api/") or path.startswith("/v1/") or path == "/openapi.json")


_CODES = {400: "bad_request", 404: "not_found", 413: "payload_too_large"}


def _error_body(exc: UserError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "success": False,
        "code": getattr(exc, "code", None) or _CODES.get(exc.http_status, "bad_request"),
        "message": str(exc).splitlines()[0] if isinstance(exc, ValidationError) else str(exc),
    }
    if isinstance(exc, ValidationError):
        body["problems"] = [p.to_dict() for p in exc.problems]
    return body


def _install_error_handlers(app: FastAPI) -> None:
    from impactlens.server.pages import render_error, render_login_redirect

    @app.exception_handler(Unauthorized)
    async def unauthorized(request: Request, exc: Unauthorized) -> Response:
        if _wants_html(request):
            return render_login_redirect(request)
        return JSONResponse(
            UNAUTHORIZED_BODY,
            status_code=401,
            headers={"WWW-Authenticate": 'Basic realm="impactlens"'},
        )

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError) -> Response:
        status = exc.http_status if 400 <= exc.http_status < 500 else 400
        if _wants_html(request):
            return render_error(request, status, str(exc))
        return JSONResponse(_error_body(exc), status_code=status)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        message = "internal server error; the server log has the details"
        if _wants_html(request):
            return render_error(request, 500, message)
        return JSONResponse(
            {"success": False, "code": "internal", "message": message}, status_code=500
        )


def _add_security_schemes(schema: dict[str, Any]) -> dict[str, Any]:
    schemes = schema.setdefault("components", {}).setdefault("securitySchemes", {})
    schemes["basicAuth"] = {
        "type": "http",
        "scheme": "basic",
        "description": "The key as the username, empty password (as Segment does).",
    }
    schemes["bearerAuth"] = {"type": "http", "scheme": "bearer", "description": "A read key."}
    return schema


def _freeze_heap() -> None:
    """Move what start-up built (modules, Ibis, DuckDB, warm caches) out of the GC's sight.

    The cyclic collector's full passes walk every live object; with the ~250k
    objects of a loaded server they took ~10% of ingest CPU, charged to whatever
    allocated next (JSON parsing). Frozen objects are never collected, so this
    runs after start-up work, whose own garbage is collected first.
    """
    gc.collect()
    gc.freeze()


def create_app(settings: ServerSettings) -> FastAPI:
    """The ASGI app serving ``settings.workspaces``."""
    from impactlens import __version__
    from impactlens.server import (
        pages,
        pages_analyses,
        routes_api,
        routes_api_analyses,
        routes_ingest,
        views_analyses,
    )

    def warm(served: Any) -> None:
        pages.warm_overview(served)
        views_analyses.warm_analyses(served)
        _freeze_heap()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime = await run_in_threadpool(Runtime, settings)
        runtime.start()
        app.state.runtime = runtime
        _freeze_heap()
        for served in runtime.workspaces.values():
            threading.Thread(target=warm, args=(served,), daemon=True).start()
        try:
            yield
        finally:
            for served in runtime.workspaces.values():
                await run_in_threadpool(views_analyses.close_analyses, served)
            await run_in_threadpool(runtime.stop)

    app = FastAPI(
        title="impactlens",
        version=__version__,
        description="Segment-compatible ingest API, read API and dashboard of impactlens.",
        lifespan=lifespan,
        docs_url=None,  # Swagger UI loads from a CDN; /openapi.json is the description
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    default_openapi = app.openapi
    app.openapi = lambda: _add_security_schemes(default_openapi())  # type: ignore[method-assign]
    _install_error_handlers(app)
    app.include_router(routes_ingest.router)
    app.include_router(routes_api.router)
    app.include_router(routes_api_analyses.router)
    app.include_router(pages.router)
    app.include_router(pages_analyses.router)
    static = resources.files("impactlens.server").joinpath("static")
    app.mount("/static", StaticFiles(directory=str(static)), name="static")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> Response:
        return HTMLResponse("ok", media_type="text/plain")

    app.add_middleware(RejectNul)
    app.add_middleware(SecurityHeaders)
    return app


def run_server(
    settings: ServerSettings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    log_level: str = "info",
    access_log: bool = False,
) -> None:
    """Serve ``settings`` on uvicorn until interrupted (SIGINT/SIGTERM drain and stop)."""
    import uvicorn

    uvicorn.run(
        create_app(settings),
        host=host,
        port=port,
        log_level=log_level,
        access_log=access_log,
        timeout_graceful_shutdown=30,
    )
