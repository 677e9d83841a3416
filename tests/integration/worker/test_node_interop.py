"""A Node BullMQ producer and consumer sharing our queues (examples/node, docs/interop.md)."""

from __future__ import annotations

import json
import subprocess

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import User
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from tests.fixtures.jobs import notifications_of, wait_for_state
from tests.fixtures.node_example import node_env, node_example, run_node
from tests.fixtures.processes import Processes
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow


async def test_a_job_from_a_node_producer_is_processed_by_our_worker(
    processes: Processes, producer: QueueProducer, owner: User, prefix: str, db: Database
) -> None:
    await processes.worker()
    payload = json.dumps({"userId": owner.id, "message": "aus Node"})
    added = run_node("producer.mjs", test_queue.name, payload, prefix=prefix)

    job = await wait_for_state(producer, test_queue.name, added["jobId"], "completed", timeout=30)
    assert job.returnvalue == {"success": True}
    assert job.opts["attempts"] == 4
    assert TestJobData.model_validate(job.data).message == "aus Node"
    # Our worker told the owner, as for any job of ours.
    assert await eventually(lambda: notifications_of(db, owner.id), timeout=10)


async def test_a_node_worker_with_our_backoff_retries_our_job(
    producer: QueueProducer, owner: User, prefix: str
) -> None:
    job = await producer.enqueue(test_queue, TestJobData(user_id=owner.id, message="nochmal"))
    # The first attempt fails; the custom backoff puts the job back after 10 s.
    ran = subprocess.run(
        ["node", "worker.mjs", test_queue.name, "1", "1"],
        cwd=node_example(),
        env=node_env(prefix),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    events = [json.loads(line) for line in ran.stdout.splitlines() if line.startswith("{")]
    failed = next(e for e in events if e["event"] == "failed")
    assert failed["jobId"] == job.id and failed["attemptsMade"] == 1
    started = [e["attempt"] for e in events if e["event"] == "started"]
    assert started == [1, 2]
    done = await wait_for_state(producer, test_queue.name, job.id, "completed", timeout=5)
    assert done.attemptsMade == 2
    assert done.returnvalue == {"success": True, "by": "node"}
    # 10 s between the attempts: our first backoff step, not Node's default.
    assert done.processedOn - done.timestamp >= 10_000
