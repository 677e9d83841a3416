"""Headers every API answer carries, whatever route, status or caller."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.live_app import LoggedIn
from tests.fixtures.processes import ChildProcess, Processes, production

pytestmark = pytest.mark.slow


async def test_api_answers_are_never_cached(
    anonymous: httpx.AsyncClient, as_lawyer: LoggedIn, as_admin: LoggedIn
) -> None:
    answers = {
        "health": await anonymous.get("/api/health"),
        "liveness": await anonymous.get("/api/health/live"),
        "401": await anonymous.get("/api/auth/me"),
        "404": await anonymous.get("/api/gibt-es-nicht"),
        "405": await anonymous.delete("/api/auth/login"),
        "422": await anonymous.post("/api/auth/login", json={"email": 1}),
        "me": await as_lawyer.http.get("/api/auth/me"),
        "notifications": await as_lawyer.http.get("/api/notifications"),
        "403": await as_lawyer.http.get("/api/settings"),
        "settings": await as_admin.http.get("/api/settings"),
        "queues": await as_admin.http.get("/api/admin/queues"),
        "openapi": await anonymous.get("/api/openapi.json"),
    }
    cached = {
        name: (response.status_code, response.headers.get("cache-control"))
        for name, response in answers.items()
        if response.headers.get("cache-control") != "no-store"
    }
    assert not cached, f"API answers without Cache-Control: no-store: {cached}"
    # Static assets stay cacheable: only the API (and the pages) say no-store.
    asset = await anonymous.get("/static/app.css")
    assert asset.status_code == 200
    assert asset.headers.get("cache-control") != "no-store"


async def test_trailing_slash_redirect_names_no_host(anonymous: httpx.AsyncClient) -> None:
    """Starlette's redirect copied the Host header into Location: with a hostile
    Host (or X-Forwarded-Host), a link to our API sent the browser elsewhere."""
    for path, target in (
        ("/api/notifications/", "/api/notifications"),
        (
            "/api/notifications/?limit=5&unreadOnly=true",
            "/api/notifications?limit=5&unreadOnly=true",
        ),
        ("/api/health/live/", "/api/health/live"),
        ("/benachrichtigungen/", "/benachrichtigungen"),
    ):
        for host in ("evil.example", "evil.example:443", "127.0.0.1"):
            response = await anonymous.get(
                path, headers={"Host": host, "X-Forwarded-Host": "evil.example"}
            )
            assert response.status_code in (307, 308), (path, host, response.status_code)
            assert response.headers["location"] == target, (path, host)
    # A path that only looks like a redirect target elsewhere stays a 404.
    for raw in (
        b"//evil.example/",
        b"//api/notifications/",
        b"/\\evil.example/",
        b"///api/health/",
    ):
        url = anonymous.base_url.copy_with(raw_path=raw)
        response = await anonymous.get(url, headers={"Host": "evil.example"})
        assert response.status_code == 404, (raw, response.headers.get("location"))


HSTS = "max-age=31536000"
PATHS = ("/api/health/live", "/api/gibt-es-nicht", "/login", "/static/app.css", "/")


async def hsts_by_path(app: ChildProcess, headers: dict[str, str]) -> dict[str, str | None]:
    async with app.client() as client:
        return {
            path: (await client.get(path, headers=headers)).headers.get("strict-transport-security")
            for path in PATHS
        }


async def test_production_over_tls_sets_hsts(processes: Processes) -> None:
    """Behind a TLS proxy (uvicorn trusts X-Forwarded-Proto from 127.0.0.1,
    FORWARDED_ALLOW_IPS), every answer carries HSTS; over plain HTTP none does
    (a browser ignores it there anyway, and it would lock out a plain-HTTP setup)."""
    in_production = processes.serve(**production(processes.directory / "files"))
    over_tls = await hsts_by_path(in_production, {"X-Forwarded-Proto": "https"})
    assert over_tls == dict.fromkeys(PATHS, HSTS)
    assert await hsts_by_path(in_production, {}) == dict.fromkeys(PATHS)

    development = processes.serve(APP_ENV="development")
    assert await hsts_by_path(development, {"X-Forwarded-Proto": "https"}) == dict.fromkeys(PATHS)
