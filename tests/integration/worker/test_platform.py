"""The queue platform, against real worker processes: per-queue concurrency, time
limits, rate limits, the process pool, priorities and deduplication.

The queues are in `tests/fixtures/platform_queues.py`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from bullmq import Job

from ailawyer.db.models import User
from ailawyer.queues.producer import QueueProducer
from tests.fixtures import platform_queues, queues
from tests.fixtures.jobs import wait_for_state
from tests.fixtures.platform_queues import (
    WorkData,
    cpu_queue,
    pair_queue,
    quick_queue,
    rated_queue,
    single_queue,
    slow_async_queue,
    spin_queue,
)
from tests.fixtures.processes import Processes
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (queues.MODULE, platform_queues.MODULE)


def children_of(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        text = (task / "children").read_text().split()
        found.update(int(child) for child in text)
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return "X"


@pytest.mark.both_loops
async def test_a_queue_runs_at_most_its_own_concurrency(
    processes: Processes, producer: QueueProducer, owner: User
) -> None:
    await processes.worker(WORKER_CONCURRENCY="5")
    ids = [
        (await producer.enqueue(pair_queue, WorkData(user_id=owner.id, seconds=0.5))).id
        for _ in range(10)
    ]
    jobs = [await wait_for_state(producer, pair_queue.name, i, "completed", 30) for i in ids]
    spans = [(job.processedOn, job.finishedOn) for job in jobs]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 2


@pytest.mark.both_loops
async def test_an_async_attempt_over_its_time_limit_fails_and_others_go_on(
    processes: Processes, producer: QueueProducer, owner: User
) -> None:
    await processes.worker()
    started = time.monotonic()
    slow = await producer.enqueue(slow_async_queue, WorkData(user_id=owner.id, seconds=5))
    await wait_for_state(producer, slow_async_queue.name, slow.id, "active", 5)
    quick = await producer.enqueue(quick_queue, WorkData(user_id=owner.id))
    await wait_for_state(producer, quick_queue.name, quick.id, "completed", 5)
    # ...while the slow one still ran.
    assert await producer.queue(slow_async_queue.name).getJobState(slow.id) == "active"
    # Retried like any failure: it waits for its next attempt.
    job = await wait_for_state(producer, slow_async_queue.name, slow.id, "delayed", 5)
    assert time.monotonic() - started < 3
    assert job.failedReason.startswith("Zeitüberschreitung")
    assert "1 s" in job.failedReason


async def test_a_process_attempt_over_its_time_limit_kills_its_child(
    processes: Processes, producer: QueueProducer, owner: User, tmp_path: Path
) -> None:
    worker = await processes.worker()
    pid_file = tmp_path / "spin.pid"
    spun = await producer.enqueue(spin_queue, WorkData(user_id=owner.id, pid_file=str(pid_file)))
    await eventually(pid_file.exists, 30)
    child = int(pid_file.read_text().split()[0])
    assert child in children_of(worker.pid)
    pool = len(children_of(worker.pid))
    assert pool == 2  # one per slot of the two process queues
    job = await wait_for_state(producer, spin_queue.name, spun.id, "delayed", 5)
    assert job.failedReason.startswith("Zeitüberschreitung")
    await eventually(lambda: not alive(child), 5)
    # Its place is taken by a new child; no process is left behind.
    await eventually(lambda: len(children_of(worker.pid)) == pool, 30)
    assert child not in children_of(worker.pid)
    assert worker.process.poll() is None


@pytest.mark.both_loops
async def test_the_rate_limit_holds_across_two_workers(
    processes: Processes, producer: QueueProducer, owner: User
) -> None:
    for _ in range(2):
        await processes.worker()
    ids = [(await producer.enqueue(rated_queue, WorkData(user_id=owner.id))).id for _ in range(15)]
    jobs = [await wait_for_state(producer, rated_queue.name, i, "completed", 30) for i in ids]
    starts = sorted(job.processedOn for job in jobs)
    assert starts[-1] - starts[0] >= 2000
    assert max(sum(1 for s in starts if t <= s < t + 1000) for t in starts) <= 5
    assert await producer.queue(rated_queue.name).getGlobalRateLimit() == {
        "max": 5,
        "duration": 1000,
    }


async def test_a_cpu_bound_process_job_keeps_its_lock_and_the_loop_free(
    processes: Processes, producer: QueueProducer, owner: User
) -> None:
    await processes.worker(
        WORKER_LOCK_DURATION_MS="1500",
        WORKER_STALLED_INTERVAL_MS="1000",
    )
    # The pool's children start in the background: the first job waits for one.
    warm = await producer.enqueue(cpu_queue, WorkData(user_id=owner.id, seconds=0))
    await wait_for_state(producer, cpu_queue.name, warm.id, "completed", 60)

    heavy = await producer.enqueue(cpu_queue, WorkData(user_id=owner.id, seconds=3))
    await wait_for_state(producer, cpu_queue.name, heavy.id, "active", 5)
    await asyncio.sleep(0.5)
    quick = await producer.enqueue(quick_queue, WorkData(user_id=owner.id))
    picked = await wait_for_state(producer, quick_queue.name, quick.id, "completed", 5)
    assert picked.processedOn - picked.timestamp < 100

    job = await wait_for_state(producer, cpu_queue.name, heavy.id, "completed", 30)
    assert job.attemptsMade == 1
    assert job.stalledCounter == 0
    assert job.progress == 50  # reported in the child, stored by the parent


async def test_a_child_killed_mid_job_fails_that_attempt_only(
    processes: Processes, producer: QueueProducer, owner: User, tmp_path: Path
) -> None:
    worker = await processes.worker()
    pid_file = tmp_path / "cpu.pid"
    enqueued = await producer.enqueue(
        cpu_queue, WorkData(user_id=owner.id, seconds=0.2, pid_file=str(pid_file))
    )
    await eventually(lambda: pid_file.exists() and pid_file.read_text().endswith(" 1\n"), 60)
    os.kill(int(pid_file.read_text().split()[0]), signal.SIGKILL)
    job = await wait_for_state(producer, cpu_queue.name, enqueued.id, "completed", 60)
    assert job.attemptsMade == 2
    failed = await worker.wait_for("job.attempt_failed", jobId=enqueued.id)
    assert failed[0]["reason"] == "Prozess des Auftrags unerwartet beendet (Signal 9)"
    assert worker.process.poll() is None
    [started] = worker.find("Worker started")
    assert started["executors"]["cpu"] == "process"


@pytest.mark.parametrize("finishes", [True, False], ids=["drained", "forced"])
async def test_sigterm_during_a_process_job(
    processes: Processes, producer: QueueProducer, owner: User, finishes: bool
) -> None:
    timeout = "10" if finishes else "1"
    env = {
        "SHUTDOWN_TIMEOUT": timeout,
        "WORKER_LOCK_DURATION_MS": "2000",
        "WORKER_STALLED_INTERVAL_MS": "1000",
    }
    worker = await processes.worker(**env)
    warm = await producer.enqueue(cpu_queue, WorkData(user_id=owner.id, seconds=0))
    await wait_for_state(producer, cpu_queue.name, warm.id, "completed", 60)
    children = children_of(worker.pid)
    enqueued = await producer.enqueue(cpu_queue, WorkData(user_id=owner.id, seconds=3))
    await wait_for_state(producer, cpu_queue.name, enqueued.id, "active", 5)
    worker.send(signal.SIGTERM)
    assert await worker.wait_exit(timeout=20) == 0
    for child in children:
        assert not alive(child)
    if finishes:
        job = await Job.fromId(producer.queue(cpu_queue.name), enqueued.id)
        assert job is not None and job.finishedOn and job.returnvalue is not None
        return
    # Given up after SHUTDOWN_TIMEOUT: another worker recovers it as stalled.
    assert await producer.queue(cpu_queue.name).getJobState(enqueued.id) == "active"
    await processes.worker(**env)
    job = await wait_for_state(producer, cpu_queue.name, enqueued.id, "completed", 60)
    assert job.stalledCounter == 1


async def test_dedupe_id_adds_one_job(producer: QueueProducer, owner: User) -> None:
    data = WorkData(user_id=owner.id)
    first = await producer.enqueue(quick_queue, data, dedupe_id="akte-4711-ocr")
    second = await producer.enqueue(quick_queue, data, dedupe_id="akte-4711-ocr")
    other = await producer.enqueue(quick_queue, data, dedupe_id="akte-4712-ocr")
    assert second.id == first.id != other.id
    assert (await producer.queue(quick_queue.name).getJobCounts("waiting"))["waiting"] == 2
    with pytest.raises(ValueError, match="priority"):
        await producer.enqueue(quick_queue, data, priority=0)


@pytest.mark.both_loops
async def test_the_highest_priority_runs_first(
    processes: Processes, producer: QueueProducer, owner: User
) -> None:
    queue = producer.queue(single_queue.name)
    await queue.pause()
    low = [
        (await producer.enqueue(single_queue, WorkData(user_id=owner.id), priority=10)).id
        for _ in range(10)
    ]
    urgent = await producer.enqueue(single_queue, WorkData(user_id=owner.id), priority=1)
    await processes.worker()
    await queue.resume()
    jobs = [
        await wait_for_state(producer, single_queue.name, i, "completed", 30)
        for i in [urgent.id, *low]
    ]
    first = min(jobs, key=lambda job: job.processedOn)
    assert first.id == urgent.id
