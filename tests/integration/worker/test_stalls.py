"""Locks and stalled jobs: a blocking processor keeps its lock, a dead worker's
job is recovered by another one, and either way the owner is notified once."""

from __future__ import annotations

import asyncio
import signal

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import User
from ailawyer.queues.producer import QueueProducer
from tests.fixtures.jobs import notifications_of, wait_for_state
from tests.fixtures.processes import Processes
from tests.fixtures.queues import SleepJobData, blocking_queue, slow_queue
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.mark.both_loops
async def test_blocking_processor_keeps_its_lock_and_runs_once(
    processes: Processes, producer: QueueProducer, db: Database, owner: User
) -> None:
    # Two workers that check for stalled jobs every 0.5 s; the 3 s time.sleep
    # outlasts the 2 s lock, so only renewal (from the free event loop) saves it.
    fast_checks = {"WORKER_LOCK_DURATION_MS": "2000", "WORKER_STALLED_INTERVAL_MS": "500"}
    workers = await asyncio.gather(processes.worker(**fast_checks), processes.worker(**fast_checks))
    enqueued = await producer.enqueue(blocking_queue, SleepJobData(user_id=owner.id, seconds=3))

    job = await wait_for_state(producer, "blocking", enqueued.id, "completed", timeout=10)
    assert job.returnvalue == {"slept": 3}
    assert (job.attemptsMade, job.stalledCounter) == (1, 0)
    runs = [line for worker in workers for line in worker.find("blocking.run")]
    assert len(runs) == 1
    assert runs[0]["jobId"] == enqueued.id  # the context reached the thread
    for worker in workers:
        assert worker.find("job.stalled") == []
        assert worker.find("job.lock_renewal_failed") == []
    assert len(await notifications_of(db, owner.id)) == 1


@pytest.mark.both_loops
async def test_killed_worker_job_is_recovered_and_notified_once(
    processes: Processes, producer: QueueProducer, db: Database, owner: User
) -> None:
    workers = list(await asyncio.gather(processes.worker(), processes.worker()))
    enqueued = await producer.enqueue(slow_queue, SleepJobData(user_id=owner.id, seconds=2))
    doomed = await eventually(lambda: next((w for w in workers if w.find("slow.run")), None), 5)
    doomed.send(signal.SIGKILL)
    assert await doomed.wait_exit(timeout=5) == -signal.SIGKILL
    [rescuer] = [worker for worker in workers if worker is not doomed]

    job = await wait_for_state(producer, "slow", enqueued.id, "completed", timeout=15)
    assert job.stalledCounter == 1
    assert rescuer.find("job.stalled")[0]["jobId"] == enqueued.id
    assert len(rescuer.find("slow.run", jobId=enqueued.id)) == 1
    [row] = await notifications_of(db, owner.id)
    assert (row.type, row.data) == ("job:completed", {"jobId": enqueued.id, "queue": "slow"})
