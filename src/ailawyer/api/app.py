"""The app factory: `create_fastapi_app` builds the API, `create_app` the ASGI app
that `ailawyer serve` runs.

Nothing happens at import time. `create_fastapi_app` only declares (routes,
middleware, error handlers); connections are opened by the lifespan
(`api.state.open_state`). `create_app` is the place for whatever wraps or joins
the API as one ASGI application (the Socket.IO endpoint, the web pages).

Middleware, outermost first: response headers (`Cache-Control` on the API,
HSTS in production over TLS), request context (request id, access log,
metrics, last-resort 500), then the body limit, then FastAPI's own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Scope

from ailawyer.api.errors import install_error_handlers
from ailawyer.api.metrics import Metrics
from ailawyer.api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from ailawyer.api.openapi_security import document_security
from ailawyer.api.response_headers import ResponseHeadersMiddleware
from ailawyer.api.routes import ROUTERS
from ailawyer.api.slash_redirect import install_slash_redirect
from ailawyer.api.state import STATE_KEY, AppState, lifespan_state, open_state
from ailawyer.config import Settings, get_settings
from ailawyer.errors import StartupError
from ailawyer.logs import create_logger
from ailawyer.realtime.server import (
    MAX_MESSAGE_BYTES,
    SOCKETIO_PATH,
    SocketEndpoint,
    SocketServer,
)
from ailawyer.tracing import fastapi_telemetry
from ailawyer.web import install_web

log = create_logger("api.app")

API_TITLE = "ailawyer"
API_DESCRIPTION = (
    "JSON API of the AI-Lawyer job foundation. Log in with `POST /api/auth/login`; "
    "the `session` cookie authenticates, and every POST/PUT/PATCH/DELETE also "
    "sends the login's `csrfToken` as `X-CSRF-Token`. Errors are "
    '`{"error": "<Nachricht>", ...}`.'
)


def create_fastapi_app(settings: Settings) -> FastAPI:
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[dict[str, Any]]:
        async with AsyncExitStack() as stack:
            try:
                state = await stack.enter_async_context(open_state(settings, metrics))
            except StartupError as exc:
                # A refusal with a reason (Redis, the database, the queues), not a
                # bug: one line. `ailawyer serve` keeps the server's traceback of
                # it out of the log (`cli.serve`) and exits 3.
                log.error("app.start_failed", error=str(exc))
                raise
            yield lifespan_state(state)

    app = FastAPI(
        title=API_TITLE,
        description=API_DESCRIPTION,
        version="0.1.0",
        lifespan=lifespan,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        telemetry=fastapi_telemetry(settings),
    )
    install_error_handlers(app)
    for router in ROUTERS:
        app.include_router(router)
    install_slash_redirect(app)
    document_security(app)
    # add_middleware wraps: the last one added is the outermost.
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={SOCKETIO_PATH + "/": MAX_MESSAGE_BYTES},
    )
    app.add_middleware(RequestContextMiddleware, metrics=metrics)
    app.add_middleware(ResponseHeadersMiddleware, hsts=settings.is_production)
    return app


def _socket_server(scope: Scope) -> SocketServer:
    state: AppState = scope["state"][STATE_KEY]
    return state.socket


def create_app(settings: Settings | None = None) -> ASGIApp:
    """The ASGI application of `ailawyer serve`."""
    app = create_fastapi_app(settings or get_settings())
    # Same origin as the API: Socket.IO (server owned by the lifespan) and the pages.
    app.mount(SOCKETIO_PATH, SocketEndpoint(_socket_server))
    install_web(app)
    return app
