"""What a processor receives, and what a processor is.

A processor is a function of one `JobContext`. It may be `async def` (runs on the
event loop: await, never block) or a plain `def` (runs in the worker's thread
pool, so it may block without stopping lock renewal). It returns something JSON
can store (BullMQ keeps it as the job's return value), or raises: any exception
is a failed attempt that is retried; `bullmq.UnrecoverableError` fails the job
at once (bad payload, missing record, no permission).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeAlias, TypeVar

from ailawyer.queues.payloads import JobPayload

P = TypeVar("P", bound=JobPayload)


@dataclass(frozen=True)
class JobContext(Generic[P]):
    """One run of one job. `data` is already validated against the queue's model."""

    id: str
    queue: str
    data: P
    # 1 on the first run; `attempts` is how many runs BullMQ allows in total.
    attempt: int
    attempts: int
    # The raw `bullmq.Job`, for `updateProgress`/`log` from async processors.
    job: Any


Processor: TypeAlias = Callable[[JobContext[Any]], Any]
