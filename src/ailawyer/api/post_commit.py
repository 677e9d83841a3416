"""Side effects that other processes see, held back until the request commits.

A job enqueued inside a request must not reach a worker before the rows it
refers to are committed (the worker would not find them), and must not be sent
at all when the request fails and rolls back. The same holds for a
`settings:changed` message. So a request collects them here; the request's
session dependency commits, then `flush()` sends them in order. A request that
raises never flushes.

The payload is validated and the job id chosen when the job is *added*, so a
bad payload fails the request before anything is written, and the response can
already carry the id.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis

from ailawyer.logs import create_logger
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.payloads import Payload
from ailawyer.queues.producer import (
    EnqueuedJob,
    QueueProducer,
    check_enqueue_options,
    new_job_id,
    validate_payload,
)
from ailawyer.redis import redis_deadline

log = create_logger("api.post_commit")


class PostCommit:
    """One request's buffer of jobs and messages."""

    def __init__(self, producer: QueueProducer, redis: Redis) -> None:
        self._producer = producer
        self._redis = redis
        self._actions: list[Callable[[], Awaitable[Any]]] = []

    def enqueue(
        self,
        spec: QueueSpec,
        data: Payload | dict[str, Any],
        *,
        delay_ms: int | None = None,
        priority: int | None = None,
        dedupe_id: str | None = None,
    ) -> EnqueuedJob:
        """`QueueProducer.enqueue`, sent after the commit. The id comes back at
        once; with `dedupe_id` it is the id the job gets if it is added (when an
        earlier job with that id is still unfinished at the commit, nothing is
        added: `job.deduplicated` in the log names that job)."""
        payload = validate_payload(spec, data)
        check_enqueue_options(delay_ms=delay_ms, priority=priority, dedupe_id=dedupe_id)
        job_id = new_job_id()

        async def send() -> None:
            await self._producer.enqueue(
                spec,
                payload,
                job_id=job_id,
                delay_ms=delay_ms,
                priority=priority,
                dedupe_id=dedupe_id,
            )

        self._actions.append(send)
        return EnqueuedJob(id=job_id, queue=spec.name)

    def publish(self, channel: str, message: str) -> None:
        async def send() -> None:
            async with redis_deadline(self._producer.timeout_s):
                await self._redis.publish(channel, message)
            log.debug("redis.published", channel=channel)

        self._actions.append(send)

    async def flush(self) -> None:
        """Send everything, in order. Raises ServiceUnavailable if Redis is away."""
        actions, self._actions = self._actions, []
        for action in actions:
            await action()
