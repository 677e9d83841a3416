"""The soak test's queue (WORKER_EXTRA_QUEUES=tests.reliability.soak_queue).

Every run of a job records itself in `soak_runs` (one row per execution, so
re-executions after a crash are counted), works for SOAK_WORK_MS, then applies
its side effect: one row in `soak_effects`, keyed by the job id with
`ON CONFLICT DO NOTHING`. A job that runs twice therefore leaves two runs and
one effect: at-least-once execution, exactly-once effect. Both tables live in
the test's own database (the worker's DATABASE_URL).

The module imports without side effects; each worker process opens its
connection pool at the first job.
"""

from __future__ import annotations

import asyncio
import os

import asyncpg
from pydantic import Field

from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.payloads import JobPayload
from ailawyer.worker.context import JobContext, Processor

MODULE = "tests.reliability.soak_queue"
WORK_MS_ENV = "SOAK_WORK_MS"

SCHEMA = (
    "CREATE TABLE soak_runs ("
    " id bigserial PRIMARY KEY, job_id text NOT NULL, pid integer NOT NULL,"
    " attempt integer NOT NULL, started_at timestamptz NOT NULL DEFAULT now())",
    "CREATE TABLE soak_effects ("
    " job_id text PRIMARY KEY, seq integer NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())",
)


class SoakJobData(JobPayload):
    seq: int = Field(ge=0)


soak_queue = QueueSpec(name="soak", payload=SoakJobData, label="Dauertest")

QUEUES = [soak_queue]


class _Pool:
    """One asyncpg pool per worker process, opened by the first job."""

    def __init__(self) -> None:
        self._pool: asyncpg.Pool | None = None
        self._lock = asyncio.Lock()

    async def get(self) -> asyncpg.Pool:
        async with self._lock:
            if self._pool is None:
                self._pool = await asyncpg.create_pool(
                    os.environ["DATABASE_URL"], min_size=1, max_size=4
                )
            return self._pool


_pool = _Pool()


async def process(job: JobContext[SoakJobData]) -> dict[str, int]:
    pool = await _pool.get()
    await pool.execute(
        "INSERT INTO soak_runs (job_id, pid, attempt) VALUES ($1, $2, $3)",
        job.id,
        os.getpid(),
        job.attempt,
    )
    await asyncio.sleep(int(os.environ.get(WORK_MS_ENV, "100")) / 1000)
    await pool.execute(
        "INSERT INTO soak_effects (job_id, seq) VALUES ($1, $2) ON CONFLICT (job_id) DO NOTHING",
        job.id,
        job.data.seq,
    )
    return {"seq": job.data.seq}


PROCESSORS: dict[str, Processor] = {soak_queue.name: process}
