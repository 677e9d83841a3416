"""The `bench` queue, loaded by `ailawyer worker` through WORKER_EXTRA_QUEUES=bench.queues.

Its processor does nothing but note when it started, so what the harness measures
is the worker's own path around it: fetch, payload validation, log context, the
completion notification (persisted in PostgreSQL, then emitted) and BullMQ's
completion. The start time comes back as the job's return value (`startedAt`,
`time.time()` in the worker process); the harness compares it with the
`time.time()` it took just before adding the job. Both read the same kernel clock
(CLOCK_REALTIME) on the same machine.
"""

from __future__ import annotations

import time

from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.payloads import JobPayload
from ailawyer.worker.context import JobContext, Processor

BENCH_QUEUE = "bench"


class BenchJobData(JobPayload):
    """Only the owner, like every job: the notification goes to `user:{userId}`."""


bench_queue = QueueSpec(name=BENCH_QUEUE, payload=BenchJobData, label="Messauftrag")


async def noop(job: JobContext[BenchJobData]) -> dict[str, float]:
    return {"startedAt": time.time()}


QUEUES = [bench_queue]
PROCESSORS: dict[str, Processor] = {BENCH_QUEUE: noop}
