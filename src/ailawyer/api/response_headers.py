"""Headers that belong on answers by where they go, not by which route made them.

- `Cache-Control: no-store` on everything under `/api`: answers name users,
  sessions and jobs, and a shared cache or the browser's back button must not
  keep them. (The pages set it themselves, with their other security headers,
  in `web/pages.py`; static assets stay cacheable.)

Pure ASGI, outermost, so error answers (404, 405, 422, the last-resort 500)
get them too.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX: Final = "/api"
_NO_STORE: Final = (b"cache-control", b"no-store")


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class ResponseHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_api(scope["path"]):
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() != b"cache-control"
                ]
                headers.append(_NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)
