"""Cancelling jobs and following their progress, through the API and Socket.IO,
with a real app and worker (`POST /api/jobs/{id}/cancel`, `GET /api/jobs/active`,
the `job:progress` event)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bullmq import Job
from sqlalchemy import select

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, User
from ailawyer.queues.producer import QueueProducer
from tests.fixtures import platform_queues, retryable_queue
from tests.fixtures.jobs import wait_for_state
from tests.fixtures.live_app import LoggedIn, login
from tests.fixtures.platform_queues import (
    WorkData,
    cpu_queue,
    waits_async_queue,
    waits_thread_queue,
)
from tests.fixtures.processes import ChildProcess
from tests.fixtures.sockets import Recorder

pytestmark = pytest.mark.slow

Stack = tuple[ChildProcess, ChildProcess]


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (retryable_queue.MODULE, platform_queues.MODULE)


@pytest.fixture
def stack(pipeline: Stack) -> Stack:
    return pipeline


@pytest.fixture
async def owner_session(stack: Stack, lawyer: User) -> AsyncIterator[LoggedIn]:
    session = await login(stack[0].url, lawyer)
    yield session
    await session.http.aclose()


@pytest.fixture
async def other_session(stack: Stack, other_lawyer: User) -> AsyncIterator[LoggedIn]:
    session = await login(stack[0].url, other_lawyer)
    yield session
    await session.http.aclose()


@pytest.fixture
async def admin_session(stack: Stack, admin: User) -> AsyncIterator[LoggedIn]:
    session = await login(stack[0].url, admin)
    yield session
    await session.http.aclose()


async def cancelled_notifications(db: Database, user_id: str, job_id: str) -> list[Notification]:
    async with db.session() as session:
        rows = await session.scalars(select(Notification).where(Notification.user_id == user_id))
        return [
            row
            for row in rows
            if row.type == "job:cancelled" and (row.data or {}).get("jobId") == job_id
        ]


async def assert_cancelled(
    producer: QueueProducer, db: Database, queue: str, job_id: str, owner: User
) -> None:
    await wait_for_state(producer, queue, job_id, "failed", 15)
    job = await Job.fromId(producer.queue(queue), job_id)
    assert job is not None
    assert job.failedReason == "Abgebrochen"
    await asyncio.sleep(0.5)  # nothing retries it
    assert await producer.queue(queue).getJobState(job_id) == "failed"

    async def one() -> bool:
        return len(await cancelled_notifications(db, owner.id, job_id)) == 1

    for _ in range(100):
        if await one():
            break
        await asyncio.sleep(0.05)
    [row] = await cancelled_notifications(db, owner.id, job_id)
    assert row.title == messages.JOB_CANCELLED_TITLE
    # Not the failure's notifications: no "Erneut versuchen", no admin error.
    async with db.session() as session:
        failed = await session.scalars(
            select(Notification).where(Notification.type == "job:failed")
        )
        assert [n for n in failed if (n.data or {}).get("jobId") == job_id] == []


@pytest.mark.both_loops
async def test_the_owner_cancels_an_active_async_job(
    stack: Stack,
    producer: QueueProducer,
    db: Database,
    lawyer: User,
    owner_session: LoggedIn,
    other_session: LoggedIn,
) -> None:
    enqueued = await producer.enqueue(waits_async_queue, WorkData(user_id=lawyer.id, seconds=60))
    await wait_for_state(producer, waits_async_queue.name, enqueued.id, "active", 10)

    active = (await owner_session.http.get("/api/jobs/active")).json()["jobs"]
    assert [(j["jobId"], j["state"], j["label"]) for j in active] == [
        (enqueued.id, "active", waits_async_queue.label)
    ]
    assert (await other_session.http.get("/api/jobs/active")).json()["jobs"] == []

    refused = await other_session.http.post(f"/api/jobs/{enqueued.id}/cancel")
    assert refused.status_code == 403
    assert refused.json() == {"error": messages.NO_PERMISSION}
    answer = await owner_session.http.post(f"/api/jobs/{enqueued.id}/cancel")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"success": True, "jobId": enqueued.id, "queue": "waits-async"}
    await assert_cancelled(producer, db, waits_async_queue.name, enqueued.id, lawyer)

    again = await owner_session.http.post(f"/api/jobs/{enqueued.id}/cancel")
    assert again.status_code == 400
    assert again.json() == {"error": messages.JOB_NOT_ACTIVE}
    assert (await owner_session.http.post("/api/jobs/gibt-es-nicht/cancel")).status_code == 404


async def test_an_admin_cancels_a_process_job_and_its_child_is_killed(
    stack: Stack,
    producer: QueueProducer,
    db: Database,
    lawyer: User,
    admin_session: LoggedIn,
    tmp_path: Path,
) -> None:
    pid_file = tmp_path / "cpu.pid"
    enqueued = await producer.enqueue(
        cpu_queue, WorkData(user_id=lawyer.id, seconds=60, pid_file=str(pid_file))
    )
    for _ in range(600):
        if pid_file.exists():
            break
        await asyncio.sleep(0.1)
    child = int(pid_file.read_text().split()[0])
    everyone = (await admin_session.http.get("/api/jobs/active")).json()["jobs"]
    assert enqueued.id in {j["jobId"] for j in everyone}
    answer = await admin_session.http.post(f"/api/jobs/{enqueued.id}/cancel")
    assert answer.status_code == 200
    await assert_cancelled(producer, db, cpu_queue.name, enqueued.id, lawyer)
    for _ in range(100):
        if not Path(f"/proc/{child}").exists():
            break
        await asyncio.sleep(0.05)
    assert not Path(f"/proc/{child}").exists()


async def test_a_thread_job_sees_ctx_cancelled(
    stack: Stack,
    producer: QueueProducer,
    db: Database,
    lawyer: User,
    owner_session: LoggedIn,
) -> None:
    enqueued = await producer.enqueue(waits_thread_queue, WorkData(user_id=lawyer.id, seconds=60))
    await wait_for_state(producer, waits_thread_queue.name, enqueued.id, "active", 10)
    answer = await owner_session.http.post(f"/api/jobs/{enqueued.id}/cancel")
    assert answer.status_code == 200
    await assert_cancelled(producer, db, waits_thread_queue.name, enqueued.id, lawyer)
    worker = stack[1]
    assert worker.wait_for_output("thread.noticed_cancel", 10)


async def test_a_waiting_job_is_cancelled_by_the_app_itself(
    stack: Stack,
    producer: QueueProducer,
    db: Database,
    lawyer: User,
    owner_session: LoggedIn,
) -> None:
    # Delayed by a minute: no worker will see it before it is cancelled.
    waiting = await producer.enqueue(
        waits_async_queue, WorkData(user_id=lawyer.id, seconds=1), delay_ms=60_000
    )
    deduped = await producer.enqueue(
        waits_async_queue,
        WorkData(user_id=lawyer.id, seconds=1),
        dedupe_id="einmalig",
        delay_ms=60_000,
    )
    client = Recorder()
    await client.connect(stack[0].url, owner_session.cookie_header)
    try:
        for job in (waiting, deduped):
            answer = await owner_session.http.post(f"/api/jobs/{job.id}/cancel")
            assert answer.status_code == 200
            await assert_cancelled(producer, db, waits_async_queue.name, job.id, lawyer)
        pushed = await client.wait_for("notification", count=2)
        assert {item["data"]["jobId"] for item in pushed} == {waiting.id, deduped.id}
        assert all(item["type"] == "job:cancelled" for item in pushed)
    finally:
        await client.close()
    # Its deduplication ended with it: the same id adds a job again.
    again = await producer.enqueue(
        waits_async_queue, WorkData(user_id=lawyer.id, seconds=0), dedupe_id="einmalig"
    )
    assert again.id != deduped.id


@pytest.mark.both_loops
async def test_the_owner_sees_the_test_jobs_progress_before_its_notification(
    stack: Stack, admin_session: LoggedIn
) -> None:
    client = Recorder()
    await client.connect(stack[0].url, admin_session.cookie_header)
    try:
        created = await admin_session.http.post("/api/admin/test-job")
        job_id = created.json()["jobId"]
        await client.wait_for("notification", timeout=15)
    finally:
        await client.close()
    events = [
        (name, data) for name, data in client.received if name in ("job:progress", "notification")
    ]
    progress = [data["progress"] for name, data in events if name == "job:progress"]
    assert len(progress) >= 2
    assert progress == sorted(progress) and progress[-1] == 100
    assert events[-1][0] == "notification"
    assert all(data["jobId"] == job_id for name, data in events if name == "job:progress")
