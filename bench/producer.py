"""The harness's side of a `bench` queue: adding jobs and watching them finish.

Jobs get exactly what the product's producer gives them (`job_options`: random
id, four attempts, custom backoff, `removeOnComplete` by age), so raw and
product workers run the same Lua scripts on the same kind of job. Completion is
read from BullMQ's own `completed` set, which the jobs stay in (kept for a day).
"""

from __future__ import annotations

import json
import time
from typing import Any

from bullmq import Queue
from redis.asyncio import Redis

from ailawyer.queues.options import job_options
from ailawyer.queues.producer import new_job_id
from bench.queues import BENCH_QUEUE, BenchJobData, bench_queue

BULK = 500


class BenchQueue:
    def __init__(self, redis_url: str, prefix: str, owner_id: str) -> None:
        self.prefix = prefix
        self.redis = Redis.from_url(redis_url, decode_responses=True)
        self.queue = Queue(BENCH_QUEUE, {"connection": self.redis, "prefix": prefix})
        self.data = BenchJobData(user_id=owner_id).to_job_data()

    def key(self, kind: str) -> str:
        return f"{self.prefix}:{BENCH_QUEUE}:{kind}"

    def _job(self) -> dict[str, Any]:
        return {
            "name": BENCH_QUEUE,
            "data": self.data,
            "opts": job_options(bench_queue.job_options, job_id=new_job_id()),
        }

    async def add(self) -> tuple[str, float]:
        """One job; returns its id and the wall-clock time just before the add."""
        job = self._job()
        sent = time.time()
        await self.queue.add(job["name"], job["data"], job["opts"])
        return job["opts"]["jobId"], sent

    async def add_many(self, count: int) -> tuple[list[str], float]:
        """`count` jobs in pipelines of BULK; returns ids and the time before the first."""
        ids: list[str] = []
        sent = time.time()
        while len(ids) < count:
            batch = [self._job() for _ in range(min(BULK, count - len(ids)))]
            await self.queue.addBulk(batch)
            ids.extend(job["opts"]["jobId"] for job in batch)
        return ids, sent

    async def completed(self) -> int:
        return int(await self.redis.zcard(self.key("completed")))

    async def failed(self) -> int:
        return int(await self.redis.zcard(self.key("failed")))

    async def waiting(self) -> int:
        return int(await self.redis.llen(self.key("wait")))

    async def started_at(self, ids: list[str]) -> dict[str, float]:
        """The processor's `startedAt` of each finished job (from its return value)."""
        found: dict[str, float] = {}
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            async with self.redis.pipeline(transaction=False) as pipe:
                for job_id in chunk:
                    pipe.hget(self.key(job_id), "returnvalue")
                values = await pipe.execute()
            for job_id, value in zip(chunk, values, strict=True):
                if value:
                    found[job_id] = float(json.loads(value)["startedAt"])
        return found

    async def pause(self) -> None:
        await self.queue.pause()

    async def resume(self) -> None:
        await self.queue.resume()

    async def close(self) -> None:
        await self.queue.close()
        await self.redis.aclose()
