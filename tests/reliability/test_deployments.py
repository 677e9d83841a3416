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

from dataclasses import dataclass

import pytest
from redis.asyncio import Redis

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.deployment import Deployment
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.services.settings import change_message
from tests.fixtures.live_app import login, make_user
from tests.fixtures.processes import ChildProcess, Processes
from tests.fixtures.services import RedisServer
from tests.fixtures.sockets import SENTINEL_EVENT, Recorder
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow


@dataclass
class Side:
    deployment: Deployment
    redis_url: str
    app: ChildProcess


def applied(process: ChildProcess, value: str) -> int:
    """How often the process applied `log.level=value` (once at start, from the database)."""
    return len(process.find("settings.applied", value=value))


@pytest.fixture(params=["two-databases", "two-prefixes"])
async def pair(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    processes: Processes,
    prefix: str,
) -> tuple[Side, Side, ChildProcess]:
    """Deployment A (app and worker) and B (app only) on one private redis-server,
    in production mode (JSON log lines), sharing one PostgreSQL database."""
    base = f"redis://127.0.0.1:{redis_server.port}"
    if request.param == "two-databases":
        scopes = [(f"{base}/1", prefix), (f"{base}/2", prefix)]
    else:
        scopes = [(f"{base}/1", f"{prefix}a"), (f"{base}/1", f"{prefix}b")]
    (url_a, prefix_a), (url_b, prefix_b) = scopes
    worker = await processes.worker(
        REDIS_URL=url_a, BULLMQ_PREFIX=prefix_a, WORKER_HEARTBEAT_TTL="3"
    )
    sides = [
        Side(Deployment.of(url, scope), url, processes.serve(REDIS_URL=url, BULLMQ_PREFIX=scope))
        for url, scope in ((url_a, prefix_a), (url_b, prefix_b))
    ]
    return sides[0], sides[1], worker


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
        assert await eventually(lambda: applied(worker_a, "debug"), timeout=10)
        assert await eventually(lambda: applied(a.app, "debug"), timeout=10)
        # The sentinel: a change on B's own channel (logged at info, so `info`).
        before = applied(b.app, "info")
        await redis_b.publish(b.deployment.settings_channel, change_message("log.level", "info"))
        assert await eventually(lambda: applied(b.app, "info") > before, timeout=10)
        assert applied(b.app, "debug") == 0
    finally:
        for client in (client_a, client_b):
            await client.close()
        for session in (on_a, on_b):
            await session.http.aclose()
        await emitter_b.close()
        await redis_b.aclose()
