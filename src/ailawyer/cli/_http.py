"""A bound on the size of a request's head (request line and headers) for `ailawyer serve`.

Neither of uvicorn's HTTP implementations bounds it by itself: httptools
buffers a header of any size, and h11 only refuses a head that is still
incomplete beyond `h11_max_incomplete_event_size` (a complete one that arrived
in one read passes whatever its size). So two layers:

- in the protocol, while a head is still arriving: more than `MAX_HEAD_BYTES`
  of it and the connection is answered and closed (httptools: our subclass in
  `_httptools.py`, 431; h11: its own limit, 400). This bounds the memory a
  client can make the server hold to about the limit plus one read;
- in front of the app, on the complete head: `HeadLimit` answers 431 and asks
  uvicorn to close the connection, for a head over the limit that arrived all
  at once. The app never sees it.
"""

from __future__ import annotations

import asyncio
import json
from typing import Final

from starlette.types import ASGIApp, Receive, Scope, Send

from ailawyer import messages
from ailawyer.logs import create_logger

log = create_logger("serve.http")

MAX_HEAD_BYTES: Final = 64 * 1024
_STATUS: Final = 431
_BODY: Final = json.dumps({"error": messages.HEADERS_TOO_LARGE}, ensure_ascii=False).encode()
# The same answer, written by the protocol itself before there is a request.
REFUSAL: Final = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: application/json\r\n"
    b"content-length: " + str(len(_BODY)).encode() + b"\r\n"
    b"connection: close\r\n\r\n" + _BODY
)


def head_size(scope: Scope) -> int:
    """Bytes of the request line and headers as sent (give or take the separators)."""
    size = len(scope.get("method", "")) + len(scope.get("raw_path") or b"") + 11
    size += len(scope.get("query_string") or b"")
    for name, value in scope["headers"]:
        size += len(name) + len(value) + 4
    return size


class HeadLimit:
    """431 for a complete head over `max_bytes`, and the connection closed."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_HEAD_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or head_size(scope) <= self.max_bytes:
            await self.app(scope, receive, send)
            return
        log.warning("http.head_too_large", path=scope.get("path", "")[:200], size=head_size(scope))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1009})  # uvicorn answers 403
            return
        await send(
            {
                "type": "http.response.start",
                "status": _STATUS,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(_BODY)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": _BODY})


def http_protocol() -> tuple[type[asyncio.Protocol] | str, str]:
    """uvicorn's `http` option and its name: httptools (bounded) when it can be
    imported, as uvicorn's "auto" would choose, else h11 (bounded by its option,
    `h11_max_incomplete_event_size=MAX_HEAD_BYTES`)."""
    try:
        from ailawyer.cli._httptools import BoundedHttpToolsProtocol
    except ImportError:
        return "h11", "h11"
    return BoundedHttpToolsProtocol, "httptools"
