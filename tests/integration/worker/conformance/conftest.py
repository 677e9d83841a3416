"""The conformance suite: the same behaviours against bullmq's own `Worker` and
against ours (`worker.lean.LeanWorker`), in this process, on the real Redis.

Every test gets `rig`, parametrized over both loops. A test that fails for one
loop only is a difference between the two; a test that fails for both after a
bullmq upgrade is a change in bullmq that the product would feel.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from bullmq import Job, Queue, Worker

from ailawyer.worker.bullmq_connection import bullmq_worker_redis
from ailawyer.worker.lean import LeanWorker
from tests.fixtures.services import REDIS_URL

QUEUE = "conformance"
LOOPS = {"lean": LeanWorker, "bullmq": Worker}

Processor = Callable[[Job, str], Awaitable[Any]]


@dataclass
class Activity:
    """What processors saw: start times per job id, and how many ran at once."""

    started: dict[str, list[float]] = field(default_factory=dict)
    running: int = 0
    most: int = 0
    events: dict[str, list[Any]] = field(default_factory=dict)

    def begin(self, job: Job) -> None:
        self.started.setdefault(str(job.id), []).append(time.monotonic())
        self.running += 1
        self.most = max(self.most, self.running)

    def end(self) -> None:
        self.running -= 1

    def runs(self) -> int:
        return sum(len(times) for times in self.started.values())


@dataclass
class Rig:
    loop: str
    prefix: str
    queue: Queue
    activity: Activity = field(default_factory=Activity)
    workers: list[tuple[Worker, asyncio.Task[Any]]] = field(default_factory=list)

    def options(self, **extra: Any) -> dict[str, Any]:
        return {
            "connection": bullmq_worker_redis(REDIS_URL, name=f"{self.prefix}-{self.loop}"),
            "prefix": self.prefix,
            "autorun": False,
            "concurrency": 1,
            **extra,
        }

    def tracked(self, body: Callable[[Job], Awaitable[Any]]) -> Processor:
        async def processor(job: Job, _token: str) -> Any:
            self.activity.begin(job)
            try:
                return await body(job)
            finally:
                self.activity.end()

        return processor

    async def start(self, processor: Processor, **options: Any) -> Worker:
        worker = LOOPS[self.loop](QUEUE, processor, self.options(**options))
        for event in ("completed", "failed", "active", "stalled", "error"):
            worker.on(event, self._recorder(event))
        task = asyncio.create_task(worker.run())
        deadline = time.monotonic() + 10
        while not worker.running:
            assert time.monotonic() < deadline, "worker did not start"
            await asyncio.sleep(0.01)
        self.workers.append((worker, task))
        return worker

    def _recorder(self, event: str) -> Callable[..., None]:
        def record(*args: Any) -> None:
            self.activity.events.setdefault(event, []).append(args)

        return record

    def count(self, event: str) -> int:
        return len(self.activity.events.get(event, []))

    async def counts(self) -> dict[str, int]:
        found: dict[str, int] = await self.queue.getJobCounts(
            "waiting", "active", "completed", "failed", "delayed", "prioritized"
        )
        return found

    async def state(self, job_id: str) -> str:
        found: str = await self.queue.getJobState(job_id)
        return found

    async def job(self, job_id: str) -> Job:
        return await Job.fromId(self.queue, job_id)

    async def close(self) -> None:
        for worker, task in self.workers:
            if not worker.closed:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(worker.close(force=True), 5)
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


@pytest.fixture(params=sorted(LOOPS))
async def rig(request: pytest.FixtureRequest, prefix: str) -> AsyncIterator[Rig]:
    queue = Queue(QUEUE, {"connection": REDIS_URL, "prefix": prefix})
    found = Rig(loop=request.param, prefix=prefix, queue=queue)
    try:
        yield found
    finally:
        await found.close()
        await queue.obliterate(force=True)
        await queue.close()
