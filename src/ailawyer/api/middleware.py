"""Pure ASGI middleware: request context, logging and metrics; the body limit.

Pure ASGI rather than `BaseHTTPMiddleware`: the request runs in the same task
and context, so `userId` bound by the auth dependency is still there when the
request's log line is written, and streaming is left alone.
"""

from __future__ import annotations

import json
import re
import time
import uuid
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


class BodyLimitMiddleware:
    """413 for bodies over `max_bytes`, decided before anything parses them.

    A declared Content-Length over the limit is refused without reading. A body
    without one (chunked) is read up to the limit and refused when it goes
    over; otherwise it is replayed to the app unchanged.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def _refuse(self, send: Send) -> None:
        await _send_json(send, 413, {"error": messages.BODY_TOO_LARGE})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None:
            if not length.isdigit():
                await _send_json(send, 400, {"error": messages.INVALID_INPUT})
                return
            if int(length) > self.max_bytes:
                await self._refuse(send)
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
