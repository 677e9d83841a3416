"""Headers that belong on answers by where they go, not by which route made them.

- `Cache-Control: no-store` on everything under `/api`: answers name users,
  sessions and jobs, and a shared cache or the browser's back button must not
  keep them. (The pages set it themselves, with their other security headers,
  in `web/pages.py`; static assets stay cacheable.)
- `Strict-Transport-Security` on every answer in production when the request
  came over TLS (scope scheme `https`: uvicorn sets it from
  `X-Forwarded-Proto` for a proxy in FORWARDED_ALLOW_IPS). One year, this
  host only: no `includeSubDomains` (other hosts of the firm's domain are not
  ours to decide for) and no `preload`. Over plain HTTP a browser ignores the
  header, and sending it there would only confuse a plain-HTTP setup.

Pure ASGI, outermost, so error answers (404, 405, 422, the last-resort 500)
get them too.
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_PREFIX: Final = "/api"
_NO_STORE: Final = (b"cache-control", b"no-store")
HSTS: Final = "max-age=31536000"
_HSTS: Final = (b"strict-transport-security", HSTS.encode())


def _is_api(path: str) -> bool:
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class ResponseHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = _is_api(scope["path"])
        hsts = self.hsts and scope.get("scheme") == "https"
        if not api and not hsts:
            await self.app(scope, receive, send)
            return
        replaced = {b"cache-control"} if api else set()
        added = [*([_NO_STORE] if api else []), *([_HSTS] if hsts else [])]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (name, value)
                    for name, value in message.get("headers", [])
                    if name.lower() not in replaced
                ]
                message = {**message, "headers": [*headers, *added]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
