"""With Redis gone, the dashboard answers 503 within its deadline instead of hanging."""

from __future__ import annotations

import time

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from tests.fixtures.live_app import app_settings, live_app, login, make_user
from tests.fixtures.services import RedisServer


@pytest.mark.slow  # a redis-server of its own
async def test_dashboard_answers_503_while_redis_is_down(
    db: Database,
    pg_url: str,
    prefix: str,
    redis_server: RedisServer,
    extra_queue_modules: tuple[str, ...],
) -> None:
    extra_queues = ",".join(extra_queue_modules)
    settings = app_settings(pg_url, prefix, extra_queues=extra_queues, redis_url=redis_server.url)
    async with live_app(settings) as app:
        admin = await login(app.url, await make_user(db, Role.ADMIN))
        try:
            assert (await admin.http.get("/api/admin/queues")).status_code == 200
            redis_server.stop()

            for method, path in (
                ("GET", "/api/admin/queues"),
                ("GET", "/api/admin/queues/test/jobs?state=failed"),
                ("POST", "/api/admin/queues/test/pause"),
                ("POST", "/api/admin/queues/test/clean"),
            ):
                started = time.monotonic()
                body = {"state": "completed"} if path.endswith("clean") else None
                response = await admin.http.request(method, path, json=body)
                elapsed = time.monotonic() - started
                assert response.status_code == 503, (path, response.text)
                assert response.json()["error"].startswith("Dienst vorübergehend nicht verfügbar")
                assert elapsed < 6, (path, elapsed)
        finally:
            await admin.http.aclose()
