"""The trailing-slash redirect (`/api/notifications/` → `/api/notifications`), relative.

Starlette's own (`redirect_slashes`) answers with an absolute URL built from
the request's `Host` header, so a request carrying `Host: evil.example` was
sent to `http://evil.example/api/notifications`: whoever can put a link and a
Host in front of a user (a poisoned cache, a misconfigured proxy) could send
them anywhere. This one names no host at all: `Location` is the path (as the
client sent it, with the slash added or removed) and the query string, and it
never starts with `//`, which a browser would read as another host.

Installed as the router's fallback for unmatched requests, in place of the
built-in redirect; anything else unmatched gets the router's own 404.
"""

from __future__ import annotations

import re
from typing import Final

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.routing import Match
from starlette.types import Receive, Scope, Send

# A leading run of slashes or backslashes: collapsed into one `/`.
_LEADING: Final = re.compile(rb"^[/\\]+")


def _toggled(path: str) -> str:
    return path.rstrip("/") if path.endswith("/") else path + "/"


def install_slash_redirect(app: FastAPI) -> None:
    router = app.router
    router.redirect_slashes = False
    not_found = router.default

    async def redirect_or_not_found(scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if scope["type"] == "http" and path != "/" and not path.startswith(("//", "/\\")):
            candidate = {**scope, "path": _toggled(path)}
            if any(route.matches(candidate)[0] is not Match.NONE for route in router.routes):
                raw = scope.get("raw_path") or path.encode()
                raw = raw.rstrip(b"/") if raw.endswith(b"/") else raw + b"/"
                location = _LEADING.sub(b"/", raw).decode("latin-1")
                if scope.get("query_string"):
                    location += "?" + scope["query_string"].decode("latin-1")
                await RedirectResponse(location, status_code=307)(scope, receive, send)
                return
        await not_found(scope, receive, send)

    router.default = redirect_or_not_found
