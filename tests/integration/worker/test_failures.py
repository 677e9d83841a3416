"""Failed attempts: the backoff steps, the final failure and who is told."""

from __future__ import annotations

import time

import pytest
from bullmq import Job
from redis.asyncio import Redis

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, User
from ailawyer.deployment import Deployment
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.services.outcomes import failed_admin_key, failed_key
from tests.fixtures.jobs import job_state, notifications_of, wait_for_state
from tests.fixtures.processes import Processes
from tests.fixtures.queues import SECRET_IN_ERROR, failing_queue, unrecoverable_queue
from tests.fixtures.services import free_port
from tests.fixtures.sockets import next_emit
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow


async def delayed_due_ms(redis: Redis, prefix: str, queue: str, job_id: str) -> int:
    """When the delayed job is due: the delayed set's score is `due_ms << 12 | seq`."""

    async def score() -> float | None:
        value: float | None = await redis.zscore(f"{prefix}:{queue}:delayed", job_id)
        return value

    return int(await eventually(score, timeout=5)) >> 12


@pytest.mark.both_loops
async def test_retries_after_10s_60s_5min_then_fails_and_notifies_owner_and_admin(
    processes: Processes,
    producer: QueueProducer,
    db: Database,
    owner: User,
    admin: User,
    prefix: str,
    redis_client: Redis,
) -> None:
    await processes.worker()
    enqueued = await producer.enqueue(failing_queue, TestJobData(user_id=owner.id, message="x"))
    queue = producer.queue(failing_queue.name)
    key = f"{prefix}:{failing_queue.name}:{enqueued.id}"

    for attempt, expected_ms in enumerate((10_000, 60_000, 300_000), start=1):
        due = await delayed_due_ms(redis_client, prefix, failing_queue.name, enqueued.id)
        failed_at = int(await redis_client.hget(key, "processedOn"))  # the run just failed
        assert 0 <= due - failed_at - expected_ms < 1000, (attempt, due - failed_at)
        assert int(await redis_client.hget(key, "delay")) == expected_ms
        job = await Job.fromId(queue, enqueued.id)
        assert job.attemptsMade == attempt
        assert job.failedReason == f"RuntimeError: absichtlich fehlgeschlagen (Versuch {attempt})"
        assert await notifications_of(db, owner.id) == []  # not final yet
        await job.promote()  # instead of waiting minutes

    job = await wait_for_state(producer, failing_queue.name, enqueued.id, "failed", timeout=5)
    assert job.attemptsMade == 4
    assert job.failedReason == "RuntimeError: absichtlich fehlgeschlagen (Versuch 4)"

    [mine] = await notifications_of(db, owner.id)
    assert (mine.type, mine.title, mine.message) == (
        "job:failed",
        messages.JOB_FAILED_TITLE,
        "Vorgang fehlgeschlagen. Erneut versuchen?",
    )
    assert mine.data == {"jobId": enqueued.id, "queue": failing_queue.name, "retryable": True}
    assert mine.dedupe_key == failed_key(failing_queue.name, enqueued.id, 4)

    [theirs] = await notifications_of(db, admin.id)
    assert theirs.title == messages.JOB_FAILED_ADMIN_TITLE
    assert theirs.data is not None
    assert theirs.data["error"] == job.failedReason
    assert (theirs.data["jobId"], theirs.data["queue"]) == (enqueued.id, failing_queue.name)
    assert job.failedReason in theirs.message and enqueued.id in theirs.message
    assert theirs.dedupe_key == failed_admin_key(failing_queue.name, enqueued.id, 4)


async def test_unrecoverable_error_fails_at_once_and_keeps_secrets_out(
    processes: Processes,
    producer: QueueProducer,
    db: Database,
    owner: User,
    admin: User,
    prefix: str,
    redis_client: Redis,
) -> None:
    worker = await processes.worker()
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(Deployment(prefix=prefix).socketio_channel)
    try:
        enqueued = await producer.enqueue(
            unrecoverable_queue, TestJobData(user_id=owner.id, message="x")
        )
        job = await wait_for_state(producer, "unrecoverable", enqueued.id, "failed", timeout=5)
        to_admins = await next_emit(pubsub, "role:ADMIN", event="job:failed")
    finally:
        await pubsub.aclose()
    assert to_admins["event"] == "job:failed"
    [event] = to_admins["data"]
    assert (event["jobId"], event["queue"], event["error"]) == (
        enqueued.id,
        "unrecoverable",
        job.failedReason,
    )
    assert job.attemptsMade == 1
    assert job.failedReason.startswith("Akte existiert nicht (api_key=")
    assert await redis_client.zcard(f"{prefix}:unrecoverable:delayed") == 0

    [mine] = await notifications_of(db, owner.id)
    assert mine.message == messages.JOB_FAILED_MESSAGE
    # A retry would fail the same way: the browser says so beside the button.
    assert mine.data is not None and mine.data["retryable"] is False
    [theirs] = await notifications_of(db, admin.id)
    assert "Akte existiert nicht" in theirs.message
    assert theirs.data is not None and theirs.data["retryable"] is False
    assert event["retryable"] is False
    for text in (job.failedReason, theirs.message, str(theirs.data), worker.output(), str(event)):
        assert SECRET_IN_ERROR not in text


async def test_database_outage_fails_the_attempt_instead_of_completing_the_job(
    processes: Processes, producer: QueueProducer, prefix: str, redis_client: Redis
) -> None:
    unreachable = f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"
    worker = await processes.worker(DATABASE_URL=unreachable)
    enqueued = await producer.enqueue(test_queue, TestJobData(user_id="u1", message="x"))

    due = await delayed_due_ms(redis_client, prefix, "test", enqueued.id)
    assert due - time.time() * 1000 > 8_000  # the 10 s backoff, not completed
    assert await job_state(producer, "test", enqueued.id) == "delayed"
    job = await Job.fromId(producer.queue("test"), enqueued.id)
    assert job.attemptsMade == 1
    assert "Connect call failed" in job.failedReason or "refused" in job.failedReason.lower()
    assert worker.find("job.completed") == []


async def test_an_admin_whose_own_job_fails_gets_one_notification(
    processes: Processes, producer: QueueProducer, db: Database, owner: User, admin: User
) -> None:
    """The admin copy (error, retry) only; the other admins' copies as always."""
    await processes.worker()
    enqueued = await producer.enqueue(
        unrecoverable_queue, TestJobData(user_id=admin.id, message="x")
    )
    await wait_for_state(producer, "unrecoverable", enqueued.id, "failed", timeout=5)

    async def rows() -> list[Notification] | None:
        found = await notifications_of(db, admin.id)
        return found or None

    [only] = await eventually(rows, timeout=5)
    assert only.title == messages.JOB_FAILED_ADMIN_TITLE
    assert only.dedupe_key == failed_admin_key("unrecoverable", enqueued.id, 1)
    assert only.data is not None and only.data["userId"] == admin.id
    assert await notifications_of(db, owner.id) == []
