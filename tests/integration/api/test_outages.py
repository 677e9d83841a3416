"""Redis or PostgreSQL gone while the app runs: a quick 503, never a hung request."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ailawyer import messages
from ailawyer.db import migrate
from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from tests.fixtures.live_app import login, make_user
from tests.fixtures.processes import Processes
from tests.fixtures.services import RedisServer, drop_pg_database

pytestmark = pytest.mark.slow


async def test_enqueue_with_redis_down_is_503_within_about_a_second(
    processes: Processes, db: Database, tmp_path: Path
) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        app = processes.serve(REDIS_URL=redis.url)
        admin = await make_user(db, Role.ADMIN)
        session = await login(app.url, admin)
        redis.stop()
        try:
            started = time.monotonic()
            response = await session.http.post("/api/admin/test-job")
            elapsed = time.monotonic() - started
            # Reading the database still works without Redis.
            me = await session.http.get("/api/auth/me")
        finally:
            await session.http.aclose()
    finally:
        redis.stop()
    assert response.status_code == 503
    assert response.json() == {"error": messages.SERVICE_UNAVAILABLE}
    assert elapsed < 2.0
    assert me.status_code == 200


async def test_database_gone_is_503(processes: Processes, empty_pg_url: str) -> None:
    await asyncio.to_thread(migrate.upgrade, empty_pg_url)
    database = Database(empty_pg_url, null_pool=True)
    try:
        user = await make_user(database, Role.ANWALT)
    finally:
        await database.dispose()
    app = processes.serve(DATABASE_URL=empty_pg_url)
    session = await login(app.url, user)
    try:
        # Terminates the app's connections too.
        await asyncio.to_thread(drop_pg_database, empty_pg_url)
        started = time.monotonic()
        response = await session.http.get("/api/notifications")
        elapsed = time.monotonic() - started
        health = await session.http.get("/api/health")
    finally:
        await session.http.aclose()
    assert response.status_code == 503, response.text
    assert response.json() == {"error": messages.SERVICE_UNAVAILABLE}
    assert elapsed < 5.0
    assert health.status_code == 503
    assert health.json()["services"]["postgres"]["status"] == "unhealthy"
