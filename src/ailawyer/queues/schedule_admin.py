"""The schedules as admins see them (`GET /api/admin/schedules`), and "Jetzt ausführen".

The list is what Redis holds: the job schedulers on every queue the app knows,
with BullMQ's next run, and the last run the workers recorded
(`queues.schedules.runs_key`). A schedule removed from the code is gone from
Redis, and from here, once a worker has started with the new code.
"""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from bullmq import Job

from ailawyer import messages
from ailawyer.deployment import Deployment
from ailawyer.errors import NotFound
from ailawyer.logs import create_logger
from ailawyer.queues.producer import EnqueuedJob, QueueProducer
from ailawyer.queues.schedules import DEFAULT_TZ, ScheduleSpec, runs_key
from ailawyer.redis import redis_deadline
from ailawyer.schemas import CamelModel

log = create_logger("queues.schedules")


class LastRun(CamelModel):
    job_id: str
    state: str
    finished_at: datetime | None


class ScheduleOut(CamelModel):
    id: str
    queue: str
    label: str
    every: int | None
    cron: str | None
    tz: str
    next_run_at: datetime | None
    last_run: LastRun | None


def _moment(millis: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(millis) / 1000, tz=UTC)
    except (TypeError, ValueError, OverflowError):
        return None


async def _last_run(producer: QueueProducer, queue: str, raw: Any) -> LastRun | None:
    try:
        run = json.loads(raw)
        job_id, state = str(run["jobId"]), str(run["state"])
    except (TypeError, ValueError, KeyError):
        return None
    finished = _moment(run.get("finishedAt"))
    if state in ("active", "delayed"):
        # Recorded while it ran; it may have ended since (or its worker died).
        job = await Job.fromId(producer.queue(queue), job_id)
        if job is not None:
            state = str(await job.getState())
            finished = _moment(job.finishedOn) if job.finishedOn else finished
    return LastRun(job_id=job_id, state=state, finished_at=finished)


async def list_schedules(producer: QueueProducer, deployment: Deployment) -> list[ScheduleOut]:
    """Every registered schedule, soonest first."""
    async with redis_deadline(producer.timeout_s):
        per_queue = await asyncio.gather(
            *(producer.queue(spec.name).getJobSchedulers() for spec in producer.specs)
        )
        runs = await producer.connection.hgetall(runs_key(deployment))
        found = []
        for spec, records in zip(producer.specs, per_queue, strict=True):
            for record in records:
                schedule_id = str(record["key"])
                found.append(
                    ScheduleOut(
                        id=schedule_id,
                        queue=spec.name,
                        label=spec.label,
                        every=record.get("every"),
                        cron=record.get("pattern"),
                        tz=record.get("tz") or DEFAULT_TZ,
                        next_run_at=_moment(record.get("next")),
                        last_run=await _last_run(producer, spec.name, runs.get(schedule_id)),
                    )
                )
    far = datetime.max.replace(tzinfo=UTC)
    found.sort(key=lambda item: (item.next_run_at or far, item.id))
    return found


async def run_now(
    producer: QueueProducer, schedules: tuple[ScheduleSpec, ...], schedule_id: str
) -> EnqueuedJob:
    """One job of a declared schedule, now (named after the schedule, so its run
    is recorded as the schedule's); NotFound for an unknown id."""
    schedule = next((item for item in schedules if item.id == schedule_id), None)
    if schedule is None:
        raise NotFound(messages.SCHEDULE_NOT_FOUND)
    job = await producer.enqueue(
        producer.spec(schedule.queue), schedule.job_data(), name=schedule.id
    )
    log.info("schedule.run_now", schedule=schedule.id, queue=schedule.queue, jobId=job.id)
    return job
