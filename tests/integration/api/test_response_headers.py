"""Headers every API answer carries, whatever route, status or caller."""

from __future__ import annotations

import httpx
import pytest

from tests.fixtures.live_app import LoggedIn

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
