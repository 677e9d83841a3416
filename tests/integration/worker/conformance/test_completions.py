"""The lean loop's pipelined completions (`worker.lean.Completions`), on real Redis."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from bullmq import Job, Queue
from redis.asyncio import Redis

from ailawyer.worker.bullmq_connection import bullmq_worker_redis
from ailawyer.worker.lean import LeanWorker
from tests.fixtures.services import REDIS_URL, RedisServer
from tests.fixtures.waiting import eventually
from tests.integration.worker.conformance.conftest import QUEUE


async def _active(worker: LeanWorker, count: int) -> list[Job]:
    jobs = []
    for index in range(count):
        job = await worker.moveToActive(f"{worker.id}:{index}")
        assert job is not None
        jobs.append(job)
    return jobs


async def test_completions_of_one_turn_each_keep_their_own_reply(prefix: str) -> None:
    queue = Queue(QUEUE, {"connection": REDIS_URL, "prefix": prefix})
    worker = LeanWorker(
        QUEUE,
        None,
        {"connection": bullmq_worker_redis(REDIS_URL), "prefix": prefix, "autorun": False},
    )
    try:
        await queue.addBulk(
            [{"name": "n", "data": {}, "opts": {"jobId": f"c{i}"}} for i in range(4)]
        )
        first, second, third, fourth = await _active(worker, 4)
        sends = []
        for job, token in (
            (first, first.token),
            (second, "not-its-token"),  # its lock is someone else's
            (third, third.token),
            (fourth, fourth.token),
        ):
            keys, args = worker.scripts.moveToCompletedArgs(
                job, {"ok": job.id}, False, token, False
            )
            sends.append(worker._completions.send(str(job.id), keys, args))
        replies = await asyncio.gather(*sends, return_exceptions=True)
        assert isinstance(replies[1], TypeError)
        assert "Lock mismatch for job c1" in str(replies[1])
        assert [reply for index, reply in enumerate(replies) if index != 1] == [[None] * 4] * 3
        assert [await queue.getJobState(f"c{i}") for i in range(4)] == [
            "completed",
            "active",
            "completed",
            "completed",
        ]
        assert (await Job.fromId(queue, "c3")).returnvalue == {"ok": "c3"}
    finally:
        await worker.close(force=True)
        await queue.obliterate(force=True)
        await queue.close()


@pytest.mark.slow
async def test_completions_load_the_script_again_after_a_flush(tmp_path: Path) -> None:
    """Eight jobs released at once finish in one turn: one pipeline, whose
    scripts Redis has forgotten meanwhile."""
    server = RedisServer(tmp_path / "redis").start()
    queue = Queue(QUEUE, {"connection": server.url, "prefix": "flush"})
    gate = asyncio.Event()
    running: list[str] = []
    done: list[str] = []

    async def gated(job: Job, _token: str) -> str:
        running.append(str(job.id))
        await gate.wait()
        return str(job.id)

    worker = LeanWorker(
        QUEUE,
        gated,
        {
            "connection": bullmq_worker_redis(server.url),
            "prefix": "flush",
            "autorun": False,
            "concurrency": 8,
        },
    )
    worker.on("completed", lambda job, _result: done.append(str(job.id)))
    loop = asyncio.create_task(worker.run())
    admin = Redis.from_url(server.url)
    try:
        await queue.addBulk(
            [{"name": "n", "data": {}, "opts": {"jobId": f"a{i}"}} for i in range(8)]
        )
        await eventually(lambda: len(running) == 8, 10)
        await admin.script_flush()
        gate.set()
        await eventually(lambda: len(done) == 8, 10)
        assert sorted(done) == sorted(f"a{i}" for i in range(8))
        assert await queue.getJobCounts("completed", "active") == {"completed": 8, "active": 0}
        # And the loop goes on with the script loaded again.
        await queue.add("n", {}, {"jobId": "after"})
        await eventually(lambda: len(done) == 9, 10)
    finally:
        await worker.close()
        await loop
        await queue.close()
        await admin.aclose()
        server.stop()
