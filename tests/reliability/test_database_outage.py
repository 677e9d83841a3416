"""PostgreSQL goes away while jobs complete: no job is completed without its
notification, the attempts are retried per the backoff, and after recovery
every job completes with exactly one notification. The app's health endpoint
says `postgres: unhealthy` meanwhile.

The database is a private cluster (`PostgresCluster`) so that the test can stop
and start it; it has a password, which must never reach a log line.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from bullmq import Job

from ailawyer.db import migrate
from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.services.users import create_user
from tests.fixtures.pg_cluster import PostgresCluster
from tests.fixtures.processes import FAST_WORKER, ChildProcess, Processes
from tests.fixtures.waiting import eventually
from tests.reliability.support import assert_no_secrets, log_files

pytestmark = pytest.mark.slow

JOBS = 10
BACKOFF_MS = (10_000, 60_000)
# GET /api/health answers within its check timeout (1 s here) plus a margin.
HEALTH_DEADLINE_S = 3.0


@pytest.fixture
def cluster() -> Iterator[PostgresCluster]:
    running = PostgresCluster().start()
    yield running
    running.destroy()


@pytest.fixture
def cluster_db(cluster: PostgresCluster) -> str:
    url = cluster.create_database("ailawyer")
    migrate.upgrade(url)
    return url


@pytest.fixture
def process_env(process_env: dict[str, str], cluster_db: str) -> dict[str, str]:
    """App and worker on the private cluster; the worker recovers within seconds."""
    return {**process_env, **FAST_WORKER, "DATABASE_URL": cluster_db}


@pytest.fixture
async def owner_id(cluster_db: str) -> str:
    database = Database(cluster_db, pool_size=1)
    try:
        async with database.session() as session:
            user = await create_user(
                session,
                email="anwalt@kanzlei.test",
                name="Anwalt",
                password="x" * 16,
                role=Role.ANWALT,
            )
    finally:
        await database.dispose()
    return user.id


async def health(app: ChildProcess) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    async with app.client() as client:
        response = await client.get("/api/health")
    return response.status_code, response.json(), time.monotonic() - started


async def states(producer: QueueProducer, ids: list[str]) -> dict[str, str]:
    queue = producer.queue(test_queue.name)
    return {job_id: await queue.getJobState(job_id) for job_id in ids}


async def jobs(producer: QueueProducer, ids: list[str]) -> list[Job]:
    found = [await Job.fromId(producer.queue(test_queue.name), job_id) for job_id in ids]
    assert all(job is not None for job in found)
    return found


async def completion_notes(url: str) -> dict[str, list[float]]:
    """Each job id's completion notifications, as their creation times (epoch s)."""
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT data->>'jobId' AS job_id, created_at FROM notifications"
            " WHERE type = 'job:completed'"
        )
    finally:
        await conn.close()
    found: dict[str, list[float]] = {}
    for row in rows:
        found.setdefault(row["job_id"], []).append(row["created_at"].timestamp())
    return found


async def test_database_outage_fails_attempts_and_loses_no_notification(
    cluster: PostgresCluster,
    cluster_db: str,
    owner_id: str,
    producer: QueueProducer,
    processes: Processes,
) -> None:
    worker = processes.launch_worker()
    app = processes.serve()
    try:
        worker.wait_ready()
        await eventually(lambda: _healthy(app), timeout=15)

        before = [
            (await producer.enqueue(test_queue, TestJobData(user_id=owner_id, message="vorher"))).id
            for _ in range(3)
        ]
        await eventually(lambda: _all_in(producer, before, "completed"), timeout=15)

        # -- the outage ----------------------------------------------------------
        cluster.stop("fast")
        status, body, took = await health(app)
        assert status == 503 and body["status"] == "degraded", body
        assert body["services"]["postgres"]["status"] == "unhealthy"
        assert body["services"]["redis"]["status"] == "healthy"
        assert body["services"]["worker"]["status"] == "healthy"
        assert took < HEALTH_DEADLINE_S
        assert cluster.password not in str(body)

        during = [
            (await producer.enqueue(test_queue, TestJobData(user_id=owner_id, message="x"))).id
            for _ in range(JOBS)
        ]
        for attempt, delay_ms in enumerate(BACKOFF_MS, start=1):
            # Each run does its work, cannot commit the notification, and fails:
            # the job waits for its next attempt instead of being completed.
            seen = await _settled(producer, during, timeout=20)
            assert set(seen.values()) == {"delayed"}, f"attempt {attempt} during the outage: {seen}"
            for job in await jobs(producer, during):
                assert job.attemptsMade == attempt
                assert job.delay == delay_ms
                assert not job.finishedOn
                reason = job.failedReason.lower()
                assert "connect" in reason or "refused" in reason, job.failedReason
                assert cluster.password not in job.failedReason
            if attempt < len(BACKOFF_MS):
                for job in await jobs(producer, during):
                    await job.promote()  # instead of waiting 10 s
        assert not any(worker.find("job.completed", jobId=job_id) for job_id in during)
        status, body, _ = await health(app)
        assert status == 503 and body["services"]["postgres"]["status"] == "unhealthy"

        # -- recovery -------------------------------------------------------------
        cluster.start()
        await eventually(lambda: _healthy(app), timeout=15)
        for job in await jobs(producer, during):
            await job.promote()  # instead of waiting 60 s
        await eventually(lambda: _all_in(producer, during, "completed"), timeout=20)
        finished = {job.id: job for job in await jobs(producer, during + before)}
    finally:
        processes.close()

    notes = await completion_notes(cluster_db)
    assert set(notes) == set(during + before)
    assert all(len(times) == 1 for times in notes.values()), notes
    for job_id, job in finished.items():
        # Persisted first, then completed: never a completed job without its row.
        assert notes[job_id][0] <= job.finishedOn / 1000 + 0.001
    assert all(finished[job_id].attemptsMade == len(BACKOFF_MS) + 1 for job_id in during)

    assert_no_secrets(
        log_files(processes.directory),
        {
            "AUTH_SECRET": processes.settings["AUTH_SECRET"],
            "PostgreSQL password": cluster.password,
        },
    )


async def _healthy(app: ChildProcess) -> bool:
    try:
        status, body, _ = await health(app)
    except httpx.HTTPError:
        return False
    return status == 200 and body["services"]["postgres"]["status"] == "healthy"


async def _settled(producer: QueueProducer, ids: list[str], timeout: float) -> dict[str, str]:
    """The jobs' states once none is waiting or running any more."""
    busy = {"waiting", "active", "prioritized"}

    async def settled() -> dict[str, str] | None:
        seen = await states(producer, ids)
        return None if busy & set(seen.values()) else seen

    found: dict[str, str] = await eventually(settled, timeout)
    return found


async def _all_in(producer: QueueProducer, ids: list[str], state: str) -> bool:
    return set((await states(producer, ids)).values()) == {state}
