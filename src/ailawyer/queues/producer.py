"""Enqueueing: validate, give the job an unguessable id, add it with a deadline.

The producer owns one fail-fast Redis client and one BullMQ `Queue` per spec.
With Redis down an enqueue raises `ServiceUnavailable` within `timeout_s`
instead of hanging the request.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from bullmq import Queue
from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ailawyer import messages
from ailawyer.errors import Invalid, NotFound, ServiceUnavailable
from ailawyer.logs import create_logger
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.options import job_options, queue_options
from ailawyer.queues.payloads import JobPayload

log = create_logger("queues.producer")

ENQUEUE_TIMEOUT_S = 1.0


def new_job_id() -> str:
    """Random, not BullMQ's counter: ids appear in URLs and must not be guessable."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class EnqueuedJob:
    id: str
    queue: str


def validate_payload(spec: QueueSpec, data: JobPayload | dict[str, Any]) -> JobPayload:
    if isinstance(data, spec.payload):
        return data
    raw = data.to_job_data() if isinstance(data, JobPayload) else data
    try:
        return spec.payload.model_validate(raw)
    except ValidationError as exc:
        problems = [
            {"field": ".".join(str(p) for p in err["loc"]), "problem": err["msg"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        raise Invalid(
            f"Ungültige Auftragsdaten für Queue „{spec.name}“",
            details={"queue": spec.name, "errors": problems},
        ) from None


class QueueProducer:
    """Owns the `Queue` objects of one process. Close it when the process ends."""

    def __init__(
        self,
        connection: Redis,
        specs: tuple[QueueSpec, ...],
        *,
        prefix: str | None = None,
        timeout_s: float = ENQUEUE_TIMEOUT_S,
    ) -> None:
        self.connection = connection
        self.specs = specs
        self.prefix = prefix or "bull"
        self.timeout_s = timeout_s
        options = queue_options(connection=connection, prefix=prefix)
        self.queues: dict[str, Queue] = {spec.name: Queue(spec.name, options) for spec in specs}
        self._specs = {spec.name: spec for spec in specs}

    def queue(self, name: str) -> Queue:
        return self.queues[name]

    def spec(self, name: str) -> QueueSpec:
        """The spec of a queue this producer knows, or NotFound."""
        spec = self._specs.get(name)
        if spec is None:
            raise NotFound(messages.QUEUE_NOT_FOUND)
        return spec

    async def enqueue(
        self,
        spec: QueueSpec,
        data: JobPayload | dict[str, Any],
        *,
        job_id: str | None = None,
        delay_ms: int | None = None,
        name: str | None = None,
    ) -> EnqueuedJob:
        payload = validate_payload(spec, data)
        job_id = job_id or new_job_id()
        options = job_options(spec.job_options, job_id=job_id, delay_ms=delay_ms)
        try:
            async with asyncio.timeout(self.timeout_s):
                await self.queues[spec.name].add(name or spec.name, payload.to_job_data(), options)
        except (RedisError, OSError, TimeoutError) as exc:
            log.error("job.enqueue_failed", queue=spec.name, jobId=job_id, error=type(exc).__name__)
            raise ServiceUnavailable(messages.SERVICE_UNAVAILABLE) from exc
        log.info("job.enqueued", queue=spec.name, jobId=job_id, userId=payload.user_id)
        return EnqueuedJob(id=job_id, queue=spec.name)

    async def close(self) -> None:
        for queue in self.queues.values():
            await queue.close()
