"""Finding a job across every queue, and retrying a failed one for its owner."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bullmq import Job
from redis.exceptions import RedisError

from ailawyer import messages
from ailawyer.errors import BadRequest, Forbidden, NotFound, ServiceUnavailable
from ailawyer.logs import create_logger
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.producer import EnqueuedJob, QueueProducer

log = create_logger("queues.jobs")

# BullMQ ids we hand out are hex; other producers may use their own. Anything
# outside this shape cannot be a job of ours and is not looked up at all.
_JOB_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,128}$")


@asynccontextmanager
async def redis_deadline(timeout_s: float) -> AsyncIterator[None]:
    """Redis calls inside answer within `timeout_s` or raise ServiceUnavailable."""
    try:
        async with asyncio.timeout(timeout_s):
            yield
    except (RedisError, OSError, TimeoutError) as exc:
        log.error("redis.unavailable", error=type(exc).__name__)
        raise ServiceUnavailable(messages.SERVICE_UNAVAILABLE) from exc


async def find_job(producer: QueueProducer, job_id: str) -> tuple[QueueSpec, Job]:
    if not _JOB_ID.match(job_id):
        raise NotFound(messages.JOB_NOT_FOUND)
    async with redis_deadline(producer.timeout_s):
        for spec in producer.specs:
            job = await Job.fromId(producer.queue(spec.name), job_id)
            if job is not None:
                return spec, job
    raise NotFound(messages.JOB_NOT_FOUND)


def job_owner(job: Job) -> str | None:
    data = job.data if isinstance(job.data, dict) else {}
    owner = data.get("userId")
    return owner if isinstance(owner, str) else None


async def retry_failed_job(
    producer: QueueProducer, job_id: str, *, user_id: str, is_admin: bool
) -> EnqueuedJob:
    """Owner or ADMIN only; permission is checked before the state is revealed."""
    spec, job = await find_job(producer, job_id)
    if not is_admin and job_owner(job) != user_id:
        raise Forbidden(messages.NO_PERMISSION)
    async with redis_deadline(producer.timeout_s):
        state = await job.getState()
        if state != "failed":
            raise BadRequest(messages.JOB_NOT_FAILED)
        await job.retry("failed")
    log.info("job.retried", queue=spec.name, jobId=job_id, userId=user_id)
    return EnqueuedJob(id=job_id, queue=spec.name)
