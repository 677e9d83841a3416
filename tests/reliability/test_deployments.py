"""Two deployments on one Redis server never hear or count each other.

A deployment is one Redis database plus one BullMQ prefix. Pub/sub ignores the
database number and CLIENT LIST spans every database, so both pairs are tried:
the same prefix in two databases, and two prefixes in one database. Both
deployments share one PostgreSQL database here, so one user logs in to both with
the same id: an event that crossed over would reach that user's socket on the
other deployment.

Absence is proven without sleeping: after the event that must not cross, a
sentinel is published on the other deployment's own channel. Redis delivers to
one subscriber connection in publish order, so once the sentinel has arrived, a
crossed event would have arrived before it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from redis.asyncio import Redis

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.deployment import Deployment
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.services.settings import change_message
from tests.fixtures.live_app import login, make_user
from tests.fixtures.processes import AppProcess, ChildProcess, start_app, start_worker
from tests.fixtures.services import RedisServer
from tests.fixtures.sockets import SENTINEL_EVENT, Recorder
from tests.fixtures.workers import wait_until

pytestmark = pytest.mark.slow


@dataclass
class Side:
    deployment: Deployment
    redis_url: str
    app: AppProcess


def json_lines(process: ChildProcess) -> list[dict[str, Any]]:
    found = []
    for raw in process.output().splitlines():
        try:
            item = json.loads(raw)
        except ValueError:
            continue
        if isinstance(item, dict):
            found.append(item)
    return found


def applied(process: ChildProcess, value: str) -> int:
    """How often the process applied `log.level=value` (once at start, from the database)."""
    return sum(
        line.get("message") == "settings.applied" and line.get("value") == value
        for line in json_lines(process)
    )


@pytest.fixture(params=["two-databases", "two-prefixes"])
def pair(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    db: Database,
    pg_url: str,
    prefix: str,
    tmp_path: Path,
) -> Iterator[tuple[Side, Side, ChildProcess]]:
    """Deployment A (app and worker) and B (app only) on one private redis-server."""
    base = f"redis://127.0.0.1:{redis_server.port}"
    if request.param == "two-databases":
        scopes = [(f"{base}/1", prefix), (f"{base}/2", prefix)]
    else:
        scopes = [(f"{base}/1", f"{prefix}a"), (f"{base}/1", f"{prefix}b")]
    started: list[ChildProcess] = []
    try:
        sides = []
        worker: ChildProcess | None = None
        for index, (url, scope_prefix) in enumerate(scopes):
            env = {
                "APP_ENV": "production",
                "AUTH_SECRET": "d" * 64,
                "LOG_LEVEL": "info",
                "LOG_FILE_PATH": str(tmp_path / f"files-{index}"),
                "DATABASE_URL": pg_url,
                "REDIS_URL": url,
                "BULLMQ_PREFIX": scope_prefix,
                "LOGIN_RATE_LIMIT": "10000",
                "HEALTH_CHECK_TIMEOUT_MS": "1000",
                "WORKER_HEARTBEAT_TTL": "3",
            }
            if index == 0:
                worker = start_worker(env, tmp_path / "logs")
                started.append(worker)
            app = start_app(env, tmp_path / "logs")
            started.append(app)
            sides.append(Side(Deployment.of(url, scope_prefix), url, app))
        assert worker is not None
        yield sides[0], sides[1], worker
    finally:
        for child in started:
            child.stop()


async def test_deployments_on_one_redis_server_do_not_hear_each_other(
    pair: tuple[Side, Side, ChildProcess], db: Database
) -> None:
    a, b, worker_a = pair
    assert a.deployment != b.deployment
    assert a.deployment.socketio_channel != b.deployment.socketio_channel
    assert a.deployment.settings_channel != b.deployment.settings_channel
    admin = await make_user(db, Role.ADMIN)
    on_a, on_b = await login(a.app.url, admin), await login(b.app.url, admin)
    for session in (on_a, on_b):  # Secure cookies (production): sent by hand over http
        session.http.cookies.clear()
        session.http.headers["Cookie"] = session.cookie_header
    client_a, client_b = Recorder(), Recorder()
    emitter_b = SocketEmitter(b.redis_url, channel=b.deployment.socketio_channel)
    redis_b = Redis.from_url(b.redis_url)
    try:
        # Presence: only A has a worker, and B's health says so.
        health_a = (await on_a.http.get("/api/health")).json()
        health_b = await on_b.http.get("/api/health")
        assert health_a["services"]["worker"]["status"] == "healthy"
        assert health_b.status_code == 503
        assert health_b.json()["services"]["worker"]["status"] == "unhealthy"

        # Real time: A's worker emits to the user's room; B's socket of the same
        # user hears nothing of it.
        await client_a.connect(a.app.url, on_a.cookie_header)
        await client_b.connect(b.app.url, on_b.cookie_header)
        created = await on_a.http.post("/api/admin/test-job")
        assert created.status_code == 201, created.text
        job_id = created.json()["jobId"]
        [arrived] = await client_a.wait_for("notification", timeout=15)
        assert arrived["data"]["jobId"] == job_id
        await emitter_b.to_user(admin.id, SENTINEL_EVENT, {})
        await client_b.wait_for(SENTINEL_EVENT, timeout=5)
        assert client_b.events("notification") == []
        assert client_b.events("job:failed") == []

        # Settings: A's change reaches A's worker, and not B's app.
        changed = await on_a.http.put("/api/settings/log.level", json={"value": "debug"})
        assert changed.status_code == 200, changed.text
        assert await wait_until(lambda: applied(worker_a, "debug"), timeout=10)
        assert await wait_until(lambda: applied(a.app, "debug"), timeout=10)
        # The sentinel: a change on B's own channel (logged at info, so `info`).
        before = applied(b.app, "info")
        await redis_b.publish(b.deployment.settings_channel, change_message("log.level", "info"))
        assert await wait_until(lambda: applied(b.app, "info") > before, timeout=10)
        assert applied(b.app, "debug") == 0
    finally:
        for client in (client_a, client_b):
            await client.close()
        for session in (on_a, on_b):
            await session.http.aclose()
        await emitter_b.close()
        await redis_b.aclose()
