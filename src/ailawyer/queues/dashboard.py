"""The admin queue dashboard's logic: counts, job lists, a job's detail, actions.

A `QueueDashboard` is a thin view over the `Queue` objects of the app's
`QueueProducer` (which the lifespan's State owns); the routes build one per
request, which costs nothing. So the dashboard sees exactly the queues the app
knows (`ALL_QUEUES` plus the extra modules of WORKER_EXTRA_QUEUES) and opens no
Redis connection of its own. Jobs are looked up and retried by `queues.jobs`,
as the retry endpoint does, but with the ids other producers may choose
(`is_foreign_job_id`). Every Redis call runs under `redis_deadline`: with
Redis gone, the dashboard answers 503 instead of hanging. The HTTP layer is
`api/routes/admin_queues.py`.

BullMQ 5 keeps the jobs of a paused queue in `wait`; pausing only sets a flag,
which is reported as `paused`. The legacy `paused` list is counted as BullMQ
counts it (older producers may still fill it).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any, Final, Literal

from bullmq import Job, Queue

from ailawyer import messages
from ailawyer.errors import BadRequest, Conflict, NotFound
from ailawyer.logs import create_logger
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.jobs import is_foreign_job_id, job_in, job_owner, retry_job
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.throughput import MetricsRange, Throughput, read_throughput
from ailawyer.redis import redis_deadline
from ailawyer.schemas import CamelModel

log = create_logger("queues.dashboard")

JobState = Literal[
    "waiting",
    "active",
    "delayed",
    "prioritized",
    "waiting-children",
    "completed",
    "failed",
    "paused",
]
CleanableState = Literal["completed", "failed", "delayed", "waiting", "prioritized", "paused"]

STATES: Final[tuple[JobState, ...]] = (
    "waiting",
    "active",
    "delayed",
    "prioritized",
    "waiting-children",
    "completed",
    "failed",
    "paused",
)
# BullMQ's own order per state (its getWaiting/getCompleted/... helpers):
# pending work oldest first, finished work newest first.
_ASCENDING: Final[dict[str, bool]] = {
    "waiting": True,
    "active": True,
    "delayed": True,
    "prioritized": True,
    "waiting-children": True,
    "paused": True,
    "completed": False,
    "failed": False,
}
# Lua scripts address the waiting list by its key name, `wait`.
_KEY_NAME: Final[dict[str, str]] = {"waiting": "wait"}

MAX_PAGE_SIZE: Final = 100
MAX_CLEAN_LIMIT: Final = 10_000
# Cleaning walks a whole sorted set; it gets more time than a read.
CLEAN_TIMEOUT_S: Final = 5.0
_REASON_PREVIEW: Final = 300


class QueueSummary(CamelModel):
    name: str
    label: str
    paused: bool
    counts: dict[str, int]


class JobUser(CamelModel):
    """Who a job belongs to, as the dashboard shows it (the id goes in a tooltip)."""

    id: str
    name: str
    email: str


class JobSummary(CamelModel):
    id: str
    name: str
    state: str
    user_id: str | None
    # Filled in by the API from the database; None for system jobs and for
    # owners that no longer exist.
    user: JobUser | None = None
    attempts_made: int
    progress: Any
    failed_reason: str | None
    timestamp: int | None
    processed_on: int | None
    finished_on: int | None
    delay: int


class JobPage(CamelModel):
    queue: str
    state: str
    total: int
    page: int
    page_size: int
    jobs: list[JobSummary]


class JobLogs(CamelModel):
    count: int
    lines: list[str]


class JobDetail(CamelModel):
    id: str
    queue: str
    name: str
    state: str
    data: Any
    options: dict[str, Any]
    attempts_made: int
    attempts_started: int
    failed_reason: str | None
    stacktrace: list[str]
    returnvalue: Any
    progress: Any
    logs: JobLogs
    timestamp: int | None
    processed_on: int | None
    finished_on: int | None
    delay: int
    priority: int


@dataclass(frozen=True)
class QueueDashboard:
    """Dashboard operations over one producer's queues."""

    producer: QueueProducer

    @property
    def timeout_s(self) -> float:
        return self.producer.timeout_s

    def _queue(self, name: str) -> Queue:
        return self.producer.queue(self.producer.spec(name).name)

    # ---- reads -------------------------------------------------------------

    async def _summary(self, spec: QueueSpec) -> QueueSummary:
        queue = self.producer.queue(spec.name)
        counts, paused = await asyncio.gather(queue.getJobCounts(*STATES), queue.isPaused())
        return QueueSummary(
            name=spec.name,
            label=spec.label,
            paused=bool(paused),
            counts={state: int(counts.get(state, 0) or 0) for state in STATES},
        )

    async def overview(self) -> list[QueueSummary]:
        """Every queue with its counts per state, in declaration order."""
        async with redis_deadline(self.timeout_s):
            return list(await asyncio.gather(*(self._summary(s) for s in self.producer.specs)))

    async def queue_summary(self, name: str) -> QueueSummary:
        spec = self.producer.spec(name)
        async with redis_deadline(self.timeout_s):
            return await self._summary(spec)

    async def throughput(self, name: str, window: MetricsRange) -> Throughput:
        """Completed and failed jobs per bucket from BullMQ's metrics (`queues.throughput`)."""
        queue = self._queue(name)
        async with redis_deadline(self.timeout_s):
            return await read_throughput(queue, window)

    async def jobs(self, name: str, state: str, *, page: int = 1, page_size: int = 20) -> JobPage:
        """One page of a state's jobs (page is 1-based)."""
        checked = _state(state)
        page = max(page, 1)
        page_size = max(1, min(page_size, MAX_PAGE_SIZE))
        queue = self._queue(name)
        start = (page - 1) * page_size
        async with redis_deadline(self.timeout_s):
            counts = await queue.getJobCounts(checked)
            found = await queue.getJobs(
                [checked], start, start + page_size - 1, _ASCENDING[checked]
            )
        return JobPage(
            queue=name,
            state=checked,
            total=int(counts.get(checked, 0) or 0),
            page=page,
            page_size=page_size,
            jobs=[_summarize(job, checked) for job in found if job is not None],
        )

    async def job(self, name: str, job_id: str) -> JobDetail:
        queue = self._queue(name)
        async with redis_deadline(self.timeout_s):
            job = await job_in(queue, job_id, foreign=True)
            state, logs = await asyncio.gather(job.getState(), queue.getJobLogs(job_id))
        return JobDetail(
            id=str(job.id),
            queue=name,
            name=str(job.name),
            state=str(state),
            data=job.data,
            options=dict(job.opts or {}),
            attempts_made=int(job.attemptsMade or 0),
            attempts_started=int(job.attemptsStarted or 0),
            failed_reason=job.failedReason,
            stacktrace=[str(line) for line in (job.stacktrace or [])],
            returnvalue=job.returnvalue,
            progress=job.progress,
            logs=JobLogs(count=int(logs.get("count", 0)), lines=list(logs.get("logs", []))),
            timestamp=job.timestamp or None,
            processed_on=job.processedOn or None,
            finished_on=job.finishedOn or None,
            delay=int(job.delay or 0),
            priority=int(job.priority or 0),
        )

    async def find(self, job_id: str) -> JobDetail:
        """The job `job_id` in whichever queue holds it (declaration order), or NotFound."""
        if not is_foreign_job_id(job_id):
            raise NotFound(messages.JOB_NOT_FOUND)
        async with redis_deadline(self.timeout_s):
            for spec in self.producer.specs:
                try:
                    await job_in(self.producer.queue(spec.name), job_id, foreign=True)
                except NotFound:
                    continue
                return await self.job(spec.name, job_id)
        raise NotFound(messages.JOB_NOT_FOUND)

    # ---- actions -----------------------------------------------------------

    async def retry(self, name: str, job_id: str) -> None:
        queue = self._queue(name)
        async with redis_deadline(self.timeout_s):
            await retry_job(await job_in(queue, job_id, foreign=True))
        log.info("dashboard.job_retried", queue=name, jobId=job_id)

    async def remove(self, name: str, job_id: str) -> None:
        queue = self._queue(name)
        async with redis_deadline(self.timeout_s):
            job = await job_in(queue, job_id, foreign=True)
            # A job a worker holds is locked: BullMQ refuses (0) rather than lose
            # its result. `Queue.remove` answers with that count; `Job.remove`
            # would raise a bare Exception instead.
            removed = await queue.remove(str(job.id))
        if not removed:
            raise Conflict(messages.JOB_LOCKED)
        log.info("dashboard.job_removed", queue=name, jobId=str(job.id))

    async def promote(self, name: str, job_id: str) -> None:
        queue = self._queue(name)
        async with redis_deadline(self.timeout_s):
            job = await job_in(queue, job_id, foreign=True)
            if await job.getState() != "delayed":
                raise BadRequest(messages.JOB_NOT_DELAYED)
            await job.promote()
        log.info("dashboard.job_promoted", queue=name, jobId=job_id)

    async def clean(
        self, name: str, state: CleanableState, *, older_than_s: int = 0, limit: int = 1000
    ) -> int:
        """Remove up to `limit` jobs of `state` older than `older_than_s`. Returns how many."""
        queue = self._queue(name)
        limit = max(1, min(limit, MAX_CLEAN_LIMIT))
        grace_ms = max(older_than_s, 0) * 1000
        async with redis_deadline(CLEAN_TIMEOUT_S):
            removed = await queue.clean(grace_ms, limit, _KEY_NAME.get(state, state))
        count = len(removed or [])
        log.info("dashboard.queue_cleaned", queue=name, state=state, removed=count)
        return count

    async def set_paused(self, name: str, paused: bool) -> bool:
        queue = self._queue(name)
        async with redis_deadline(self.timeout_s):
            if paused:
                await queue.pause()
            else:
                await queue.resume()
            now = bool(await queue.isPaused())
        log.info("dashboard.queue_paused" if paused else "dashboard.queue_resumed", queue=name)
        return now


def _state(value: str) -> JobState:
    for state in STATES:
        if state == value:
            return state
    raise BadRequest(messages.UNKNOWN_JOB_STATE, details={"states": list(STATES)})


def _summarize(job: Job, state: str) -> JobSummary:
    reason = job.failedReason
    if isinstance(reason, str) and len(reason) > _REASON_PREVIEW:
        reason = reason[:_REASON_PREVIEW] + "…"
    return JobSummary(
        id=str(job.id),
        name=str(job.name),
        state=state,
        user_id=job_owner(job),
        attempts_made=int(job.attemptsMade or 0),
        progress=job.progress,
        failed_reason=reason,
        timestamp=job.timestamp or None,
        processed_on=job.processedOn or None,
        finished_on=job.finishedOn or None,
        delay=int(job.delay or 0),
    )
