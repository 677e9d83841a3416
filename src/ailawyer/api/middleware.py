"""Pure ASGI middleware: request context, logging and metrics; the body limit.

Pure ASGI rather than `BaseHTTPMiddleware`: the request runs in the same task
and context, so `userId` bound by the auth dependency is still there when the
request's log line is written, and streaming is left alone.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
import uuid
from collections.abc import Mapping
from typing import Final

import structlog
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ailawyer import messages
from ailawyer.api.metrics import UNMATCHED_ROUTE, Metrics
from ailawyer.logs import create_logger

log = create_logger("api.http")

REQUEST_ID_HEADER: Final = "x-request-id"
_REQUEST_ID: Final = re.compile(r"^[A-Za-z0-9._-]{8,64}$")
# Probes, scrapes and Socket.IO long-polls (one per client every 25 s) would
# drown the log at info.
_QUIET_PATHS: Final = frozenset({"/api/health/live", "/metrics", "/socket.io/"})


async def _send_json(send: Send, status: int, body: dict[str, object]) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class RequestContextMiddleware:
    """A request id in every log line and the `X-Request-ID` header; one access
    line per request (never headers, cookies or bodies); HTTP metrics; and a
    JSON 500 instead of a crash for anything unhandled."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = Headers(scope=scope).get(REQUEST_ID_HEADER, "")
        request_id = sent if _REQUEST_ID.match(sent) else uuid.uuid4().hex
        status = 500
        started_response = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, started_response
            if message["type"] == "http.response.start":
                status = message["status"]
                started_response = True
                headers = list(message.get("headers", []))
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        started = time.perf_counter()
        with structlog.contextvars.bound_contextvars(requestId=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception:
                log.exception("http.unhandled_error", method=scope["method"], path=scope["path"])
                status = 500
                if not started_response:
                    await _send_json(send_with_id, 500, {"error": messages.INTERNAL_ERROR})
            finally:
                elapsed = time.perf_counter() - started
                self.metrics.observe(scope["method"], _route_template(scope), status, elapsed)
                fields = {
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 1),
                }
                if status >= 500 and status != 503:
                    log.error("http.request", **fields)
                elif status == 503:  # a dependency is away; its own line says which
                    log.warning("http.request", **fields)
                elif scope["path"] in _QUIET_PATHS:
                    log.debug("http.request", **fields)
                else:
                    log.info("http.request", **fields)
                # userId was bound by the auth dependency inside this request.
                structlog.contextvars.unbind_contextvars("userId")


class BodyRefused(Exception):
    """Raised into the app when it reads past the body limit (already answered 413)."""


class BodyLimitMiddleware:
    """413 for bodies over the limit, decided before anything parses them.

    A declared Content-Length over the limit is refused without reading. A body
    without one (chunked) is counted as it arrives, chunk by chunk, and refused
    the moment it goes over: the 413 is sent, and the app's read of the body
    raises (`BodyRefused`, which ends the request here; whatever the app answers
    instead is dropped). Nothing is buffered here, so a refused body costs at
    most the limit, once.

    `path_limits` sets a tighter limit under a path prefix (Socket.IO's polling
    POSTs never carry more than one Engine.IO payload, 16 KiB).
    """

    def __init__(
        self, app: ASGIApp, max_bytes: int, path_limits: Mapping[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    def _limit(self, path: str) -> int:
        for prefix, limit in self.path_limits.items():
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self._limit(scope["path"])
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await _send_json(send, 400, {"error": messages.INVALID_INPUT})
                return
            if int(length) > limit:
                await _send_json(send, 413, {"error": messages.BODY_TOO_LARGE})
                return
        received = 0
        refused = False
        answered = False

        async def counted() -> Message:
            nonlocal received, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    refused = True
                    if not answered:
                        await _send_json(send, 413, {"error": messages.BODY_TOO_LARGE})
                    raise BodyRefused
            return message

        async def guarded(message: Message) -> None:
            nonlocal answered
            if refused:
                return  # the 413 is the answer
            if message["type"] == "http.response.start":
                answered = True
            await send(message)

        with contextlib.suppress(BodyRefused):  # answered with 413 above
            await self.app(scope, counted, guarded)
