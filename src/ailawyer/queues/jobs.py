"""Jobs of our queues: what an id may look like, finding a job, its owner, retrying it.

The one home of these for every caller: the retry endpoint (`retry_failed_job`,
for the job's owner or an ADMIN) and the admin dashboard (`queues.dashboard`).
Nothing here sets a deadline; the callers run it under `redis_deadline`.
"""

from __future__ import annotations

import re
from typing import Final

from bullmq import Job, Queue

from ailawyer import messages
from ailawyer.errors import BadRequest, Forbidden, NotFound
from ailawyer.logs import create_logger
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.producer import EnqueuedJob, QueueProducer
from ailawyer.redis import redis_deadline

log = create_logger("queues.jobs")

# Ids we hand out are hex; other producers and BullMQ's own schedulers use
# letters, digits and `_.:-` (`repeat:{key}:{millis}`). Anything else cannot be a
# job of ours and is not looked up at all.
JOB_ID: Final = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


def is_job_id(value: str) -> bool:
    """Whether `value` has the shape of a job id (all of it: `\\n` at the end fails)."""
    return JOB_ID.fullmatch(value) is not None


def job_owner(job: Job) -> str | None:
    """The `userId` of a job's payload, if it has one."""
    data = job.data if isinstance(job.data, dict) else {}
    owner = data.get("userId")
    return owner if isinstance(owner, str) else None


async def job_in(queue: Queue, job_id: str) -> Job:
    """The job `job_id` of `queue`, or NotFound."""
    if not is_job_id(job_id):
        raise NotFound(messages.JOB_NOT_FOUND)
    job = await Job.fromId(queue, job_id)
    if job is None:
        raise NotFound(messages.JOB_NOT_FOUND)
    return job


async def find_job(producer: QueueProducer, job_id: str) -> tuple[QueueSpec, Job]:
    """The job `job_id`, looked up in every queue the producer knows, or NotFound."""
    if not is_job_id(job_id):
        raise NotFound(messages.JOB_NOT_FOUND)
    for spec in producer.specs:
        job = await Job.fromId(producer.queue(spec.name), job_id)
        if job is not None:
            return spec, job
    raise NotFound(messages.JOB_NOT_FOUND)


async def retry_job(job: Job) -> None:
    """Move a failed job back to waiting; BadRequest if it is not failed."""
    if await job.getState() != "failed":
        raise BadRequest(messages.JOB_NOT_FAILED)
    await job.retry("failed")


async def retry_failed_job(
    producer: QueueProducer, job_id: str, *, user_id: str, is_admin: bool
) -> EnqueuedJob:
    """Owner or ADMIN only; permission is checked before the state is revealed."""
    async with redis_deadline(producer.timeout_s):
        spec, job = await find_job(producer, job_id)
        if not is_admin and job_owner(job) != user_id:
            raise Forbidden(messages.NO_PERMISSION)
        await retry_job(job)
    log.info("job.retried", queue=spec.name, jobId=job_id, userId=user_id)
    return EnqueuedJob(id=job_id, queue=spec.name)
