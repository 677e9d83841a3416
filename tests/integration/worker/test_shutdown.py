"""SIGTERM/SIGINT: in-flight jobs finish, or are left for another worker."""

from __future__ import annotations

import asyncio
import signal
import time

import pytest
from redis.asyncio import Redis

from ailawyer.db.engine import Database
from ailawyer.db.models import User
from ailawyer.deployment import Deployment
from ailawyer.presence import index_key, record_key
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from tests.fixtures.jobs import notifications_of, wait_for_state
from tests.fixtures.processes import Processes
from tests.fixtures.queues import SleepJobData, slow_queue
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow

SHUTDOWN_LINES = ("Received shutdown signal", "All workers closed")


@pytest.mark.both_loops
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_signal_lets_in_flight_jobs_finish_then_exits_0(
    sig: signal.Signals,
    processes: Processes,
    producer: QueueProducer,
    db: Database,
    owner: User,
    prefix: str,
    redis_client: Redis,
) -> None:
    worker = await processes.worker()
    ids = [
        (await producer.enqueue(test_queue, TestJobData(user_id=owner.id, message=str(n)))).id
        for n in range(5)
    ]
    await worker.wait_for("test_job.processing", count=5, timeout=5)
    worker.send(sig)
    assert await worker.wait_exit(timeout=10) == 0

    for job_id in ids:
        job = await wait_for_state(producer, "test", job_id, "completed", timeout=0)
        assert job.stalledCounter == 0
    counts = await producer.queue("test").getJobCounts("active", "wait", "delayed", "failed")
    assert counts == {"active": 0, "wait": 0, "delayed": 0, "failed": 0}
    assert await redis_client.scard(f"{prefix}:test:stalled") == 0
    assert len(await notifications_of(db, owner.id)) == 5

    # The heartbeat is deleted on the way out: health checks see it at once.
    [started] = worker.find("Worker started")
    deployment = Deployment(prefix=prefix)
    assert await redis_client.exists(record_key(deployment, started["workerId"])) == 0
    assert await redis_client.zscore(index_key(deployment), started["workerId"]) is None

    messages = [line["message"] for line in worker.lines()]
    [received] = worker.find(SHUTDOWN_LINES[0])
    assert received["signal"] == sig.name
    assert messages.count(SHUTDOWN_LINES[1]) == 1
    # The five were in flight when the signal came, and finished during the drain.
    received_at = messages.index(SHUTDOWN_LINES[0])
    completed_at = [i for i, message in enumerate(messages) if message == "job.completed"]
    assert len(completed_at) == 5 and min(completed_at) > received_at
    assert messages.index(SHUTDOWN_LINES[1]) > max(completed_at)


@pytest.mark.both_loops
async def test_shutdown_timeout_force_closes_and_another_worker_recovers_the_job(
    processes: Processes,
    producer: QueueProducer,
    db: Database,
    owner: User,
) -> None:
    workers = await asyncio.gather(*(processes.worker(SHUTDOWN_TIMEOUT="1") for _ in range(2)))
    enqueued = await producer.enqueue(slow_queue, SleepJobData(user_id=owner.id, seconds=4))
    first = await eventually(lambda: next((w for w in workers if w.find("slow.run")), None), 5)
    [second] = [worker for worker in workers if worker is not first]

    signalled = time.monotonic()
    first.send(signal.SIGTERM)
    assert await first.wait_exit(timeout=5) == 0
    assert time.monotonic() - signalled < 1 + 1.0
    assert first.find("shutdown.timeout")[0]["jobIds"] == [enqueued.id]
    assert first.find("All workers closed")
    assert await notifications_of(db, owner.id) == []

    job = await wait_for_state(producer, "slow", enqueued.id, "completed", timeout=15)
    assert job.stalledCounter == 1  # recovered as stalled, not finished by the first worker
    assert len(second.find("slow.run", jobId=enqueued.id)) == 1
    await eventually(lambda: second.find("job.completed", jobId=enqueued.id), 2)
    [row] = await notifications_of(db, owner.id)
    assert row.type == "job:completed"


async def test_a_second_signal_exits_at_once(
    processes: Processes, producer: QueueProducer, owner: User
) -> None:
    worker = await processes.worker()
    await producer.enqueue(slow_queue, SleepJobData(user_id=owner.id, seconds=10))
    await worker.wait_for("slow.run", timeout=5)
    worker.send(signal.SIGTERM)
    await worker.wait_for("Received shutdown signal", timeout=2)
    signalled = time.monotonic()
    worker.send(signal.SIGTERM)
    assert await worker.wait_exit(timeout=2) != 0
    assert time.monotonic() - signalled < 1
    assert worker.find("shutdown.forced")
