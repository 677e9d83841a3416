"""Jobs of our queues: what an id may look like, finding a job, its owner, retrying it.

The one home of these for every caller: the retry endpoint (`retry_failed_job`,
for the job's owner or an ADMIN) and the admin dashboard (`queues.dashboard`).
Nothing here sets a deadline; the callers run it under `redis_deadline`.

A job lives at `{prefix}:{queue}:{id}` (a hash), next to BullMQ's own keys for
the queue (`wait`, `meta`, `events`, ...) and its own (`{id}:logs`, `{id}:lock`).
So an id is also a key name, and an id that names one of those keys would read
(or, through an action, change) that key instead of a job: such ids are never
looked up. Two shapes are accepted: our own (`is_job_id`, for the retry
endpoint every user can call) and, for the ADMIN dashboard, what other
producers may choose (`is_foreign_job_id`: up to 256 characters, spaces, `#`,
unicode). A key of another type answers WRONGTYPE and a hash that is not a
job's lacks a job's fields: both are "no such job".
"""

from __future__ import annotations

import re
from typing import Final

from bullmq import Job, Queue
from redis.exceptions import ResponseError

from ailawyer import messages
from ailawyer.errors import BadRequest, Forbidden, NotFound
from ailawyer.logs import create_logger
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.producer import EnqueuedJob, QueueProducer
from ailawyer.redis import redis_deadline

log = create_logger("queues.jobs")

# Ids we hand out are hex; other producers and BullMQ's own schedulers use
# letters, digits and `_.:-` (`repeat:{key}:{millis}`). Anything else cannot be a
# job of ours and is not looked up by the retry endpoint.
JOB_ID: Final = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
# What the dashboard looks up for other producers: any text but control characters.
MAX_FOREIGN_JOB_ID: Final = 256
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# BullMQ's keys under `{prefix}:{queue}:` (its QueueKeys, plus the families
# `metrics:*`, `de:{id}` and `repeat:{id}` that start with one of them) ...
_QUEUE_KEYS: Final = frozenset(
    {
        "active", "wait", "waiting-children", "paused", "completed", "failed", "delayed",
        "prioritized", "repeat", "stalled", "stalled-check", "limiter", "id", "meta", "pc",
        "events", "marker", "de", "metrics",
    }
)  # fmt: skip
# ... and what it appends to a job's own key.
_JOB_KEY_SUFFIXES: Final = frozenset(
    {"lock", "logs", "dependencies", "processed", "failed", "unsuccessful"}
)
_JOB_FIELDS: Final = frozenset({"name", "data", "opts", "timestamp"})


def names_bullmq_key(value: str) -> bool:
    """Whether `value`, as `{prefix}:{queue}:{value}`, is a key of BullMQ's other
    than a job's hash. Repeatable jobs (`repeat:{key}:{millis}`) are jobs."""
    parts = value.split(":")
    if parts[0] in _QUEUE_KEYS:
        return not (parts[0] == "repeat" and len(parts) >= 3 and parts[-1].isdigit())
    return len(parts) > 1 and parts[-1] in _JOB_KEY_SUFFIXES


def is_job_id(value: str) -> bool:
    """Whether `value` has the shape of one of our job ids (all of it: `\\n` at
    the end fails) and names no other key."""
    return JOB_ID.fullmatch(value) is not None and not names_bullmq_key(value)


def is_foreign_job_id(value: str) -> bool:
    """Whether `value` may be the id another producer gave a job (the dashboard's lookup)."""
    return (
        0 < len(value) <= MAX_FOREIGN_JOB_ID
        and _CONTROL.search(value) is None
        and not names_bullmq_key(value)
    )


def job_owner(job: Job) -> str | None:
    """The `userId` of a job's payload, if it has one."""
    data = job.data if isinstance(job.data, dict) else {}
    owner = data.get("userId")
    return owner if isinstance(owner, str) else None


async def _fetch(queue: Queue, job_id: str) -> Job | None:
    """The job at the id's key, or None: nothing there, another type (WRONGTYPE),
    or a hash without a job's fields."""
    try:
        raw = await queue.backend.getJobData(job_id)
    except ResponseError as exc:
        if str(exc).startswith("WRONGTYPE"):
            return None
        raise
    if not raw or not raw.keys() >= _JOB_FIELDS:
        return None
    try:
        return Job.fromJSON(queue, raw, job_id)
    except (ValueError, TypeError):  # a job's hash that BullMQ itself cannot read
        log.warning("job.unreadable", queue=queue.name, jobId=job_id)
        return None


async def job_in(queue: Queue, job_id: str, *, foreign: bool = False) -> Job:
    """The job `job_id` of `queue`, or NotFound. `foreign`: ids of other producers too."""
    if not (is_foreign_job_id(job_id) if foreign else is_job_id(job_id)):
        raise NotFound(messages.JOB_NOT_FOUND)
    job = await _fetch(queue, job_id)
    if job is None:
        raise NotFound(messages.JOB_NOT_FOUND)
    return job


async def find_job(producer: QueueProducer, job_id: str) -> tuple[QueueSpec, Job]:
    """The job `job_id` (our shape), looked up in every queue the producer knows, or NotFound."""
    if not is_job_id(job_id):
        raise NotFound(messages.JOB_NOT_FOUND)
    for spec in producer.specs:
        job = await _fetch(producer.queue(spec.name), job_id)
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
