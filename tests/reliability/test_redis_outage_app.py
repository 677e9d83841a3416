"""Redis goes away under a running app: requests that need it answer 503 quickly
with a JSON error instead of hanging, the rest keeps working, and when Redis
returns on the same port the app recovers by itself (HTTP and Socket.IO)."""

from __future__ import annotations

import secrets
import time
from pathlib import Path

import pytest

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.deployment import Deployment
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.redis import get_queue_connection
from tests.fixtures.live_app import make_user
from tests.fixtures.processes import Processes
from tests.fixtures.services import RedisServer
from tests.fixtures.sockets import Recorder
from tests.fixtures.waiting import eventually
from tests.reliability.support import SecretWatch, Session, log_in

pytestmark = pytest.mark.slow

# SPEC §3: "answers 503 within about a second"; the issue allows ~2 s.
DEADLINE_S = 2.0
RECOVERY_S = 20.0


async def enqueue_waiting_job(redis_url: str, prefix: str, user_id: str) -> str:
    """A job of `user_id` that stays waiting (no worker runs here)."""
    connection = get_queue_connection(redis_url)
    producer = QueueProducer(connection, (test_queue,), prefix=prefix)
    try:
        enqueued = await producer.enqueue(test_queue, TestJobData(user_id=user_id, message="x"))
    finally:
        await producer.close()
        await connection.aclose()
    return enqueued.id


async def test_redis_outage_gives_quick_503s_and_the_app_recovers_by_itself(
    processes: Processes, db: Database, prefix: str, tmp_path: Path, watch: SecretWatch
) -> None:
    redis = RedisServer(tmp_path / "redis", password=secrets.token_urlsafe(18)).start()
    watch.add("Redis password", redis.password)
    recorder = Recorder()
    try:
        app = processes.serve(REDIS_URL=redis.url)
        admin = await make_user(db, Role.ADMIN)
        lawyer = await make_user(db, Role.ANWALT)
        job_id = await enqueue_waiting_job(redis.url, prefix, lawyer.id)
        async with app.client() as client:
            as_admin = await log_in(client, admin.email, watch)
            as_lawyer = await log_in(client, lawyer.email, watch)
            assert as_lawyer.session is not None
            await recorder.connect(app.url, f"session={as_lawyer.session}")

            needs_redis: list[tuple[str, str, Session, int]] = [
                ("POST", "/api/admin/test-job", as_admin, 201),
                ("POST", f"/api/jobs/{job_id}/retry", as_lawyer, 400),  # waiting, not failed
                ("GET", "/api/admin/queues", as_admin, 200),
                ("GET", "/api/admin/queues/test", as_admin, 200),
                ("GET", "/api/admin/queues/test/jobs?state=waiting", as_admin, 200),
                ("GET", f"/api/admin/queues/test/jobs/{job_id}", as_admin, 200),
                ("POST", "/api/admin/queues/test/pause", as_admin, 200),
                ("POST", "/api/admin/queues/test/resume", as_admin, 200),
            ]

            async def call(method: str, path: str, who: Session) -> tuple[int, object, float]:
                started = time.monotonic()
                response = await client.request(method, path, headers=who.headers(method))
                elapsed = time.monotonic() - started
                body = response.json() if response.content else None
                return response.status_code, body, elapsed

            for method, path, who, ok in needs_redis:
                status, body, _ = await call(method, path, who)
                assert status == ok, (path, status, body)

            redis.stop()

            for method, path, who, _ in needs_redis:
                status, body, elapsed = await call(method, path, who)
                assert status == 503, (path, status, body)
                assert body == {"error": messages.SERVICE_UNAVAILABLE}, (path, body)
                assert elapsed < DEADLINE_S, (path, elapsed)
            # What does not need Redis keeps working.
            for path in ("/api/auth/me", "/api/notifications"):
                status, body, elapsed = await call("GET", path, as_lawyer)
                assert status == 200, (path, status, body)
            status, body, elapsed = await call("GET", "/api/health", as_lawyer)
            assert status == 503 and isinstance(body, dict), body
            assert body["services"]["redis"]["status"] == "unhealthy"
            assert body["services"]["postgres"]["status"] == "healthy"
            assert elapsed < 3.0
            assert recorder.client.connected  # the browser's socket is not dropped

            redis.start()  # same port, empty

            async def enqueue_works() -> bool:
                status, _, _ = await call("POST", "/api/admin/test-job", as_admin)
                return status == 201

            await eventually(enqueue_works, timeout=RECOVERY_S, interval=0.25)
            # The job is gone with Redis' data: the retry finds nothing now.
            for method, path, who, ok in needs_redis:
                expected = 404 if job_id in path else ok
                status, body, elapsed = await call(method, path, who)
                assert status == expected, (path, status, body)
                assert elapsed < DEADLINE_S, (path, elapsed)

            # Real time recovers too: the app's Socket.IO subscription is back,
            # and the socket that stayed connected receives what the worker emits.
            emitter = SocketEmitter(redis.url, channel=Deployment(prefix=prefix).socketio_channel)
            try:

                async def delivered() -> bool:
                    await emitter.to_user(lawyer.id, "notification", {"probe": True})
                    return bool(recorder.events("notification"))

                await eventually(delivered, timeout=RECOVERY_S, interval=0.5)
            finally:
                await emitter.close()
        app.stop()
    finally:
        await recorder.close()
        redis.stop()
    for process in list(tmp_path.glob("logs/app-*.log")):
        assert "Traceback" not in process.read_text(encoding="utf-8"), process
    watch.check()
