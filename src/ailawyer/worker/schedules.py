"""Declared schedules become BullMQ job schedulers: reconciled when a worker starts.

Every worker, at start, makes Redis hold exactly the schedules the code declares
(`ALL_SCHEDULES` and the extra modules' `SCHEDULES`) on the queues it knows:

- a declared schedule that is missing is added (`schedule.added`), one whose
  rhythm, time zone, data or job options changed is replaced (`schedule.changed`), an
  unchanged one is left alone (so a restart neither fires it nor moves its next
  run);
- a scheduler on one of our queues that no code declares any more is removed
  (`schedule.removed`), with the job it had waiting.

Workers that start together do it once: the first takes a short Redis lock
(`ailawyer:{prefix}:schedules:lock`), the others wait until it is released.
BullMQ does the rest: one job per tick, however many workers run (the next
iteration is added by the worker that takes the current one).

While a worker runs, it keeps the last run of each schedule (`ScheduleRuns`) for
the schedules view: which job, in which state, when it finished.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any, Final

from bullmq import Queue
from redis.asyncio import Redis

from ailawyer.deployment import Deployment
from ailawyer.logs import create_logger
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.options import scheduled_job_options
from ailawyer.queues.schedules import ScheduleSpec, lock_key, runs_key

log = create_logger("worker.schedules")

LOCK_MS: Final = 15_000
_RELEASE: Final = """
if redis.call("GET", KEYS[1]) == ARGV[1] then
  return redis.call("DEL", KEYS[1])
end
return 0
"""


def _stored(record: Mapping[str, Any]) -> tuple[Any, ...]:
    """What a scheduler in Redis does, in the shape of `_declared` (BullMQ leaves
    empty data and options out of the template)."""
    template = record.get("template") or {}
    return (
        record.get("every"),
        record.get("pattern"),
        record.get("tz") if record.get("pattern") else None,
        json.dumps(template.get("data") or {}, sort_keys=True),
        json.dumps(template.get("opts") or {}, sort_keys=True),
    )


def _declared(schedule: ScheduleSpec, spec: QueueSpec) -> tuple[Any, ...]:
    return (
        schedule.every_ms,
        schedule.cron,
        schedule.tz if schedule.cron else None,
        json.dumps(schedule.job_data(), sort_keys=True),
        json.dumps(scheduled_job_options(spec), sort_keys=True),
    )


async def upsert(queue: Queue, schedule: ScheduleSpec, spec: QueueSpec) -> None:
    await queue.upsertJobScheduler(
        schedule.id,
        schedule.repeat_options(),
        job_name=schedule.id,
        job_data=schedule.job_data(),
        opts=scheduled_job_options(spec),
    )


async def reconcile(
    redis: Redis,
    deployment: Deployment,
    queues: Mapping[str, Queue],
    specs: Mapping[str, QueueSpec],
    schedules: tuple[ScheduleSpec, ...],
) -> bool:
    """Make Redis hold the declared schedules; False if another worker did it."""
    token = secrets.token_hex(8)
    key = lock_key(deployment)
    if not await redis.set(key, token, nx=True, px=LOCK_MS):
        # The other worker's lock lives in Redis: nothing local to wait on.
        deadline = time.monotonic() + LOCK_MS / 1000
        while await redis.exists(key) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.1)
        log.debug("schedule.reconciled_elsewhere")
        return False
    try:
        for name, queue in queues.items():
            declared = {s.id: s for s in schedules if s.queue == name}
            existing = {str(record["key"]): record for record in await queue.getJobSchedulers()}
            for scheduler_id in existing.keys() - declared.keys():
                await queue.removeJobScheduler(scheduler_id)
                log.info("schedule.removed", schedule=scheduler_id, queue=name)
            for schedule in declared.values():
                record = existing.get(schedule.id)
                if record is not None and _stored(record) == _declared(schedule, specs[name]):
                    continue
                await upsert(queue, schedule, specs[name])
                log.info(
                    "schedule.added" if record is None else "schedule.changed",
                    schedule=schedule.id,
                    queue=name,
                    every_ms=schedule.every_ms,
                    cron=schedule.cron,
                    tz=schedule.tz if schedule.cron else None,
                )
        return True
    finally:
        await redis.eval(_RELEASE, 1, key, token)


class ScheduleRuns:
    """The last run of each schedule, for the schedules view (best effort)."""

    def __init__(self, redis: Redis, deployment: Deployment, ids: set[str]) -> None:
        self._redis = redis
        self._key = runs_key(deployment)
        self.ids = ids

    def of(self, job: Any) -> str | None:
        """The schedule a job was made for (its scheduler, or a "Jetzt ausführen")."""
        name = str(getattr(job, "repeatJobKey", None) or getattr(job, "name", "") or "")
        return name if name in self.ids else None

    async def record(
        self, schedule_id: str, job_id: str, state: str, finished: bool = False
    ) -> None:
        value = {
            "jobId": job_id,
            "state": state,
            "finishedAt": int(time.time() * 1000) if finished else None,
        }
        try:
            async with asyncio.timeout(2):
                await self._redis.hset(self._key, schedule_id, json.dumps(value))
        except Exception as exc:
            log.warning("schedule.run_not_recorded", schedule=schedule_id, error=type(exc).__name__)
