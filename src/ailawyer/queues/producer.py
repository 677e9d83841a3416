"""Enqueueing: validate, give the job an unguessable id, add it with a deadline.
A job with an owner is first noted in that user's index (`queues.owned`).

The producer owns one fail-fast Redis client and one BullMQ `Queue` per spec.
With Redis down an enqueue raises `ServiceUnavailable` within `timeout_s`
instead of hanging the request. With tracing on, each add is a span whose
context the job carries to the worker (`ailawyer.tracing`).
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
from ailawyer.queues import owned
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.options import (
    MAX_PRIORITY,
    job_options,
    queue_options,
    with_trace_metadata,
)
from ailawyer.queues.payloads import Payload, owner_of
from ailawyer.tracing import QueueTracing

log = create_logger("queues.producer")

ENQUEUE_TIMEOUT_S = 1.0


def new_job_id() -> str:
    """Random, not BullMQ's counter: ids appear in URLs and must not be guessable."""
    return uuid.uuid4().hex


@dataclass(frozen=True)
class EnqueuedJob:
    id: str
    queue: str


def check_enqueue_options(
    *, delay_ms: int | None = None, priority: int | None = None, dedupe_id: str | None = None
) -> None:
    """Refuse options BullMQ would misread (a programming error: ValueError)."""
    if delay_ms is not None and (isinstance(delay_ms, bool) or delay_ms < 0):
        raise ValueError(f"delay_ms must be ≥ 0, not {delay_ms!r}")
    if priority is not None and (isinstance(priority, bool) or not 1 <= priority <= MAX_PRIORITY):
        raise ValueError(f"priority must be from 1 (highest) to {MAX_PRIORITY}, not {priority!r}")
    if dedupe_id is not None and not (
        isinstance(dedupe_id, str) and 1 <= len(dedupe_id) <= 200 and dedupe_id.isprintable()
    ):
        raise ValueError("dedupe_id must be 1 to 200 printable characters")


def validate_payload(spec: QueueSpec, data: Payload | dict[str, Any]) -> Payload:
    if isinstance(data, spec.payload):
        return data
    raw = data.to_job_data() if isinstance(data, Payload) else data
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
        tracing: QueueTracing | None = None,
    ) -> None:
        self.connection = connection
        self.tracing = tracing
        self.specs = specs
        self.prefix = prefix or "bull"
        self.timeout_s = timeout_s
        options = queue_options(connection=connection, prefix=prefix)
        self.queues: dict[str, Queue] = {spec.name: Queue(spec.name, options) for spec in specs}
        self._specs = {spec.name: spec for spec in specs}
        self._owned = owned.Recorder(connection, self.prefix)

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
        data: Payload | dict[str, Any],
        *,
        job_id: str | None = None,
        delay_ms: int | None = None,
        priority: int | None = None,
        dedupe_id: str | None = None,
        name: str | None = None,
    ) -> EnqueuedJob:
        """Add one job. With `dedupe_id`, while an earlier job with that id has not
        finished, nothing is added and the earlier job's id comes back."""
        payload = validate_payload(spec, data)
        check_enqueue_options(delay_ms=delay_ms, priority=priority, dedupe_id=dedupe_id)
        job_id = job_id or new_job_id()
        options = job_options(
            spec.job_options,
            job_id=job_id,
            delay_ms=delay_ms,
            priority=priority,
            dedupe_id=dedupe_id,
        )
        name = name or spec.name
        if self.tracing is None:
            return await self._add(spec, name, payload, options, job_id, dedupe_id, delay_ms)
        with self.tracing.enqueue(spec.name, name, job_id) as metadata:
            traced = with_trace_metadata(options, metadata)
            return await self._add(spec, name, payload, traced, job_id, dedupe_id, delay_ms)

    async def _add(
        self,
        spec: QueueSpec,
        name: str,
        payload: Payload,
        options: dict[str, Any],
        job_id: str,
        dedupe_id: str | None,
        delay_ms: int | None,
    ) -> EnqueuedJob:
        owner = owner_of(payload)
        try:
            async with asyncio.timeout(self.timeout_s):
                if owner is not None:  # so that its owner finds it (`queues.owned`)
                    await self._owned.record(owner, spec.name, job_id, delay_ms or 0)
                job = await self.queues[spec.name].add(name, payload.to_job_data(), options)
        except (RedisError, OSError, TimeoutError) as exc:
            log.error("job.enqueue_failed", queue=spec.name, jobId=job_id, error=type(exc).__name__)
            raise ServiceUnavailable(messages.SERVICE_UNAVAILABLE) from exc
        added = str(job.id) if job is not None and job.id else job_id
        if added != job_id:
            log.info("job.deduplicated", queue=spec.name, jobId=added, dedupeId=dedupe_id)
            if owner is not None:  # nothing was added under the id it noted
                await self._forget(owner, spec.name, job_id)
        else:
            log.info("job.enqueued", queue=spec.name, jobId=job_id, userId=owner)
        return EnqueuedJob(id=added, queue=spec.name)

    async def _forget(self, owner: str, queue: str, job_id: str) -> None:
        try:
            async with asyncio.timeout(self.timeout_s):
                await owned.forget(self.connection, self.prefix, owner, [(queue, job_id)])
        except (RedisError, OSError, TimeoutError) as exc:
            # Harmless: the next reader of the index drops a member without a job.
            log.warning(
                "job.owned_forget_failed", queue=queue, jobId=job_id, error=type(exc).__name__
            )

    async def close(self) -> None:
        for queue in self.queues.values():
            await queue.close()
