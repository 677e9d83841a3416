"""JOB_LOG_SAMPLE in a real worker: a share of `job.completed`, every failure, every count."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from ailawyer.db.models import User
from ailawyer.queues import TestJobData
from ailawyer.queues.producer import QueueProducer
from tests.fixtures.jobs import wait_for_state
from tests.fixtures.processes import Processes
from tests.fixtures.queues import SleepJobData, slow_queue, unrecoverable_queue
from tests.fixtures.services import free_port
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow

JOBS = 20


async def test_sampled_completions_while_failures_are_all_logged_and_all_jobs_counted(
    processes: Processes, producer: QueueProducer, owner: User
) -> None:
    metrics_port = free_port()
    worker = await processes.worker(JOB_LOG_SAMPLE="0.25", WORKER_METRICS_PORT=str(metrics_port))
    done = [
        await producer.enqueue(slow_queue, SleepJobData(user_id=owner.id, seconds=0))
        for _ in range(JOBS)
    ]
    failed = [
        await producer.enqueue(unrecoverable_queue, TestJobData(user_id=owner.id, message="x"))
        for _ in range(2)
    ]
    for job in done:
        await wait_for_state(producer, slow_queue.name, job.id, "completed", timeout=10)
    for job in failed:
        await wait_for_state(producer, unrecoverable_queue.name, job.id, "failed", timeout=10)

    # The metrics count every job, sampled lines or not.
    async def counted() -> str | None:
        body = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).text
        completed = f'ailawyer_jobs_completed_total{{queue="{slow_queue.name}"}} {JOBS}.0'
        return body if completed in body else None

    body = await eventually(counted, timeout=5)
    assert f'ailawyer_jobs_failed_total{{queue="{unrecoverable_queue.name}"}} 2.0' in body

    # Lines are written by a background thread: wait for them, then for stragglers.
    await worker.wait_for("job.failed", count=2)
    await worker.wait_for("job.completed", count=JOBS // 4, queue=slow_queue.name)
    await asyncio.sleep(0.5)
    completed = worker.find("job.completed", queue=slow_queue.name)
    assert len(completed) == JOBS // 4  # one in four: 0.25, evenly spread
    assert all(line["sample_rate"] == 0.25 for line in completed)
    assert {line["jobId"] for line in completed} <= {job.id for job in done}
    assert all(line["userId"] == owner.id for line in completed)
    # Failures are never sampled: each attempt and each final failure has its line.
    assert {line["jobId"] for line in worker.find("job.failed")} == {job.id for job in failed}
    attempts = worker.find("job.attempt_failed", queue=unrecoverable_queue.name)
    assert {line["jobId"] for line in attempts} == {job.id for job in failed}
    assert not any("sample_rate" in line for line in worker.find("job.failed"))
