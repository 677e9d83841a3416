"""A plain-`def` processor still blocking at SHUTDOWN_TIMEOUT is abandoned.

A thread cannot be cancelled: the worker gives up on it, closes everything
else, and exits 0 soon after SHUTDOWN_TIMEOUT instead of waiting for the
thread (the interpreter would, at exit). The job stays `active` until its lock
expires; another worker recovers it as stalled and runs it to the end, once.
"""

from __future__ import annotations

import asyncio
import signal
import time

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import User
from ailawyer.queues.producer import QueueProducer
from tests.fixtures.jobs import notifications_of, wait_for_state
from tests.fixtures.processes import Processes
from tests.fixtures.queues import SleepJobData, blocking_queue
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow

SHUTDOWN_TIMEOUT_S = 2
BLOCK_S = 15  # well beyond the timeout and its bound


async def test_a_blocking_thread_is_abandoned_at_the_timeout_and_recovered_elsewhere(
    processes: Processes, producer: QueueProducer, db: Database, owner: User
) -> None:
    workers = await asyncio.gather(
        *(processes.worker(SHUTDOWN_TIMEOUT=str(SHUTDOWN_TIMEOUT_S)) for _ in range(2))
    )
    enqueued = await producer.enqueue(
        blocking_queue, SleepJobData(user_id=owner.id, seconds=BLOCK_S)
    )
    first = await eventually(lambda: next((w for w in workers if w.find("blocking.run")), None), 5)
    [second] = [worker for worker in workers if worker is not first]

    signalled = time.monotonic()
    first.send(signal.SIGTERM)
    code = await first.wait_exit(timeout=SHUTDOWN_TIMEOUT_S + 8)
    took = time.monotonic() - signalled
    assert code == 0, first.output()[-3000:]
    # It waited for the job (about SHUTDOWN_TIMEOUT), not for the thread (BLOCK_S).
    assert SHUTDOWN_TIMEOUT_S - 0.5 <= took < SHUTDOWN_TIMEOUT_S + 5, took
    assert first.find("shutdown.timeout")[0]["jobIds"] == [enqueued.id]
    assert first.find("shutdown.threads_abandoned")[0]["count"] == 1
    assert first.find("All workers closed")
    assert not first.find("job.completed")

    job = await wait_for_state(producer, "blocking", enqueued.id, "completed", timeout=BLOCK_S + 15)
    assert job.stalledCounter == 1  # recovered as stalled, not finished by the first worker
    assert len(second.find("blocking.run", jobId=enqueued.id)) == 1
    await eventually(lambda: second.find("job.completed", jobId=enqueued.id), 2)
    [row] = await notifications_of(db, owner.id)
    assert row.type == "job:completed"
