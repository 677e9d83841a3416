"""Jobs of our queues: what an id may look like, finding a job, its owner, and what
its owner (or an ADMIN) may do with it: retry it, cancel it, see it run.

The one home of these for every caller: the job endpoints (`api/routes/jobs.py`)
and the admin dashboard (`queues.dashboard`). The low-level pieces set no
deadline; the actions (`retry_failed_job`, `cancel_job`, `active_jobs`) run
under `redis_deadline`.

Cancelling (docs/adding-a-queue.md, "Cancellation"): a job that waits (or is
delayed, or prioritized) is ended here, by one script that takes it out of its
list and puts it into the failed set with the reason `Abgebrochen`, as BullMQ's
own scripts would (the job's fields, the `failed` event, its deduplication
key). An active job is the worker's: a marker key and a message on the
deployment's cancel channel reach whichever worker process runs it.

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

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Final

from bullmq import Job, Queue
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from ailawyer import messages
from ailawyer.deployment import Deployment
from ailawyer.errors import BadRequest, Forbidden, NotFound
from ailawyer.logs import create_logger
from ailawyer.queues import owned
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.producer import EnqueuedJob, QueueProducer
from ailawyer.redis import redis_deadline
from ailawyer.schemas import CamelModel

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


# ---- cancelling ---------------------------------------------------------------

# The failed reason of a cancelled job (also what the worker stores).
CANCELLED_REASON: Final = "Abgebrochen"
CANCELLABLE_STATES: Final = frozenset({"active", "waiting", "delayed", "prioritized", "paused"})
# How long the marker of an active job's cancel is kept (for a worker that missed
# the message, or a job that starts again after its worker died).
CANCEL_MARKER_S: Final = 86_400

# KEYS: job hash, wait, paused, delayed, prioritized, failed, events, meta
# ARGV: job id, now (ms), reason, key prefix of the queue ("{prefix}:{queue}:")
# Returns 1 when the job waited and is now failed, 0 when it did not wait
# (active, or finished), -1 when it does not exist.
_FAIL_WAITING: Final = """
if redis.call("EXISTS", KEYS[1]) == 0 then
  return -1
end
local jobId = ARGV[1]
local removed = redis.call("LREM", KEYS[2], 0, jobId) + redis.call("LREM", KEYS[3], 0, jobId)
  + redis.call("ZREM", KEYS[4], jobId) + redis.call("ZREM", KEYS[5], jobId)
if removed == 0 then
  return 0
end
redis.call("HSET", KEYS[1], "failedReason", ARGV[3], "finishedOn", ARGV[2])
local dedupe = redis.call("HGET", KEYS[1], "deid")
if dedupe then
  local dedupeKey = ARGV[4] .. "de:" .. dedupe
  if redis.call("GET", dedupeKey) == jobId then
    redis.call("DEL", dedupeKey)
  end
end
redis.call("ZADD", KEYS[6], ARGV[2], jobId)
local maxEvents = redis.call("HGET", KEYS[8], "opts.maxLenEvents") or 10000
redis.call("XADD", KEYS[7], "MAXLEN", "~", maxEvents, "*", "event", "failed",
  "jobId", jobId, "failedReason", ARGV[3], "prev", "waiting")
return 1
"""


def cancel_marker(deployment: Deployment, queue: str, job_id: str) -> str:
    return deployment.key("cancel", queue, job_id)


def cancel_message(queue: str, job_id: str) -> str:
    return json.dumps({"queue": queue, "jobId": job_id})


def parse_cancel_message(raw: bytes | str) -> tuple[str, str] | None:
    """(queue, job id) of a cancel channel message, or None if malformed."""
    try:
        message = json.loads(raw)
        queue, job_id = message["queue"], message["jobId"]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(queue, str) and isinstance(job_id, str) and is_job_id(job_id):
        return queue, job_id
    return None


@dataclass(frozen=True)
class CancelledJob:
    spec: QueueSpec
    job_id: str
    owner: str | None
    # True: it was waiting and is failed now; False: the worker running it was told.
    ended: bool


async def _fail_waiting(queue: Queue, job_id: str) -> int:
    keys = queue.keys
    client: Redis = queue.client
    script = client.register_script(_FAIL_WAITING)
    result = await script(
        keys=[
            queue.toKey(job_id),
            keys["wait"],
            keys["paused"],
            keys["delayed"],
            keys["prioritized"],
            keys["failed"],
            keys["events"],
            keys["meta"],
        ],
        args=[job_id, int(time.time() * 1000), CANCELLED_REASON, queue.toKey("")],
    )
    return int(result)


async def cancel_job(
    producer: QueueProducer,
    deployment: Deployment,
    job_id: str,
    *,
    user_id: str,
    is_admin: bool,
    queue: str | None = None,
) -> CancelledJob:
    """Owner or ADMIN only, checked before the state is revealed; then only a job
    that is active, waiting, delayed or prioritized. `queue`: look only there
    (the dashboard)."""
    async with redis_deadline(producer.timeout_s):
        if queue is None:
            spec, job = await find_job(producer, job_id)
        else:
            spec = producer.spec(queue)
            job = await job_in(producer.queue(queue), job_id, foreign=True)
        owner = job_owner(job)
        if not is_admin and owner != user_id:
            raise Forbidden(messages.NO_PERMISSION)
        if await job.getState() not in CANCELLABLE_STATES:
            raise BadRequest(messages.JOB_NOT_ACTIVE)
        ended = await _fail_waiting(producer.queue(spec.name), job_id) == 1
        if not ended:
            # Active (or taken by a worker just now): its worker ends it.
            async with producer.connection.pipeline(transaction=True) as pipe:
                pipe.set(cancel_marker(deployment, spec.name, job_id), "1", ex=CANCEL_MARKER_S)
                pipe.publish(deployment.cancel_channel, cancel_message(spec.name, job_id))
                await pipe.execute()
    log.info("job.cancelled", queue=spec.name, jobId=job_id, userId=user_id, waiting=ended)
    return CancelledJob(spec=spec, job_id=job_id, owner=owner, ended=ended)


# ---- running jobs, for their owners -------------------------------------------

ACTIVE_STATES: Final = ("active", "waiting", "prioritized", "delayed")
# Per queue and state, the first this many jobs are looked at (oldest first).
ACTIVE_SCAN_LIMIT: Final = 200
# How many of a user's indexed jobs are read at once (each is two calls).
OWNED_LOOKUPS: Final = 8


class ActiveJob(CamelModel):
    job_id: str
    queue: str
    label: str
    state: str
    progress: Any
    user_id: str | None
    timestamp: int | None
    processed_on: int | None


async def active_jobs(producer: QueueProducer, *, user_id: str, is_admin: bool) -> list[ActiveJob]:
    """The caller's jobs that have not finished (an ADMIN's: everyone's), running
    first, then by when they were added.

    The head of each queue and state (`ACTIVE_SCAN_LIMIT` jobs) is read for
    everyone's jobs, and the caller's own index (`queues.owned`) for theirs
    wherever they are; the index drops what it finds finished or gone."""

    def entry(spec: QueueSpec, job: Job, state: str) -> ActiveJob:
        return ActiveJob(
            job_id=str(job.id),
            queue=spec.name,
            label=spec.label,
            state=state,
            progress=job.progress,
            user_id=job_owner(job),
            timestamp=job.timestamp or None,
            processed_on=job.processedOn or None,
        )

    async def of(spec: QueueSpec, state: str) -> list[ActiveJob]:
        found = await producer.queue(spec.name).getJobs([state], 0, ACTIVE_SCAN_LIMIT - 1, True)
        return [
            entry(spec, job, state)
            for job in found
            if job is not None and (is_admin or job_owner(job) == user_id)
        ]

    lookups = asyncio.Semaphore(OWNED_LOOKUPS)

    async def look(queue: str, job_id: str) -> tuple[Job | None, str]:
        if queue not in producer.queues or not is_foreign_job_id(job_id):
            return None, "unknown"
        async with lookups:
            job = await _fetch(producer.queue(queue), job_id)
            return (job, str(await job.getState())) if job is not None else (None, "unknown")

    async def own() -> list[ActiveJob]:
        pairs = await owned.owned(producer.connection, producer.prefix, user_id)
        looked = await asyncio.gather(*(look(queue, job_id) for queue, job_id in pairs))
        listed: list[ActiveJob] = []
        gone: list[tuple[str, str]] = []
        for (queue, job_id), (job, state) in zip(pairs, looked, strict=True):
            if job is None or state == "completed":
                gone.append((queue, job_id))
            elif state in ACTIVE_STATES and job_owner(job) == user_id:
                listed.append(entry(producer.spec(queue), job, state))
        await owned.forget(producer.connection, producer.prefix, user_id, gone)
        return listed

    async with redis_deadline(producer.timeout_s):
        groups = await asyncio.gather(
            own(), *(of(spec, state) for spec in producer.specs for state in ACTIVE_STATES)
        )
    unique = {(job.queue, job.job_id): job for group in groups for job in group}
    jobs = list(unique.values())
    jobs.sort(key=lambda job: (job.state != "active", job.timestamp or 0))
    return jobs
