"""A job's way through a real worker process: processed, persisted, pushed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from bullmq import Queue
from redis.asyncio import Redis

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import User
from ailawyer.deployment import Deployment
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.services.outcomes import completed_key
from tests.fixtures.jobs import notifications_of, wait_for_state
from tests.fixtures.processes import Processes, run_cli
from tests.fixtures.queues import bad_result_queue
from tests.fixtures.services import REDIS_URL, free_port
from tests.fixtures.sockets import next_emit
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.mark.both_loops
async def test_enqueued_job_is_completed_persisted_and_emitted(
    processes: Processes,
    producer: QueueProducer,
    db: Database,
    owner: User,
    redis_client: Redis,
    prefix: str,
) -> None:
    metrics_port = free_port()
    worker = await processes.worker(WORKER_METRICS_PORT=str(metrics_port))
    pubsub = redis_client.pubsub()
    await pubsub.subscribe(Deployment(prefix=prefix).socketio_channel)
    try:
        started = time.monotonic()
        enqueued = await producer.enqueue(
            test_queue, TestJobData(user_id=owner.id, message="Hallo Worker")
        )
        job = await wait_for_state(producer, "test", enqueued.id, "completed", timeout=5)
        assert time.monotonic() - started < 5
        assert job.returnvalue == {"success": True}
        assert len(enqueued.id) == 32 and enqueued.id != "1"  # not BullMQ's counter

        [row] = await notifications_of(db, owner.id)
        assert (row.type, row.title) == ("job:completed", messages.JOB_COMPLETED_TITLE)
        assert row.message == messages.JOB_COMPLETED_MESSAGE.format(queue=test_queue.label)
        assert row.data == {"jobId": enqueued.id, "queue": "test"}
        assert row.dedupe_key == completed_key("test", enqueued.id)

        before: list[dict[str, Any]] = []
        emitted = await next_emit(pubsub, f"user:{owner.id}", skipped=before)
        # The test job reports 0, 50 and 100 on the way; the last before the outcome.
        progress = [item["data"][0] for item in before if item["event"] == "job:progress"]
        assert [item["progress"] for item in progress] == [0, 50, 100]
        assert {(item["jobId"], item["queue"]) for item in progress} == {(enqueued.id, "test")}
        assert job.progress == 100
        [wire] = emitted["data"]
        assert wire["id"] == row.id
        assert (wire["userId"], wire["type"], wire["read"]) == (owner.id, "job:completed", False)

        [started] = worker.find("Worker started")
        assert started["eventLoop"] == "uvloop"
        # Start-up's objects are out of the collector's full passes (heap.py).
        assert started["frozenObjects"] > 50_000
        # The job's lines carry its id and owner, the processor's own included.
        [processing] = worker.find("test_job.processing", jobId=enqueued.id)
        assert processing["userId"] == owner.id
        assert processing["data"] == {"userId": owner.id, "message": "Hallo Worker"}
        await worker.wait_for("job.completed", jobId=enqueued.id)

        # Delivered again (as after a crash before BullMQ heard of the outcome):
        # the job runs again, the notification is not stored twice, the same row
        # is pushed again.
        await job.retry("completed")
        await eventually(lambda: len(worker.find("job.completed", jobId=enqueued.id)) == 2, 5)
        assert [n.id for n in await notifications_of(db, owner.id)] == [row.id]
        assert (await next_emit(pubsub, f"user:{owner.id}"))["data"][0]["id"] == row.id

        body = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        assert 'ailawyer_jobs_completed_total{queue="test"} 2.0' in body
        assert 'ailawyer_job_duration_seconds_count{queue="test"} 2.0' in body
        assert 'ailawyer_jobs_failed_total{queue="test"} 0.0' in body
    finally:
        await pubsub.aclose()


async def test_bad_payload_and_bad_result_fail_that_job_and_the_worker_goes_on(
    processes: Processes,
    producer: QueueProducer,
    db: Database,
    owner: User,
    prefix: str,
) -> None:
    worker = await processes.worker()
    # Another producer (say, Node BullMQ) may send anything; it is checked again here.
    foreign = Queue("test", {"connection": REDIS_URL, "prefix": prefix})
    try:
        bad = await foreign.add(
            "test", {"userId": owner.id, "unexpected": True}, {"jobId": "foreign-1", "attempts": 4}
        )
    finally:
        await foreign.close()
    result = await producer.enqueue(bad_result_queue, TestJobData(user_id=owner.id, message="x"))
    good = await producer.enqueue(test_queue, TestJobData(user_id=owner.id, message="ok"))

    failed = await wait_for_state(producer, "test", bad.id, "failed", timeout=5)
    assert failed.attemptsMade == 1  # unrecoverable: no retries
    assert failed.failedReason.startswith("invalid payload for queue 'test': ")
    assert "message: Field required" in failed.failedReason
    assert "unexpected: Extra inputs are not permitted" in failed.failedReason

    failed = await wait_for_state(producer, "bad-result", result.id, "failed", timeout=5)
    assert failed.attemptsMade == 1
    assert "cannot be stored as JSON" in failed.failedReason
    assert "datetime" in failed.failedReason

    await wait_for_state(producer, "test", good.id, "completed", timeout=5)
    assert worker.running
    kinds = sorted(n.type for n in await notifications_of(db, owner.id))
    assert kinds == ["job:completed", "job:failed", "job:failed"]


def test_a_queue_without_processor_stops_the_worker_at_start(processes: Processes) -> None:
    env = processes.env(WORKER_EXTRA_QUEUES="tests.fixtures.no_such_module")
    result = run_cli("worker", env=env, timeout=30)
    assert result.returncode == 2
    assert "cannot import 'tests.fixtures.no_such_module'" in result.stdout
    assert "Worker started" not in result.stdout
