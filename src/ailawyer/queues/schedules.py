"""Declared job schedules: "run this every N seconds", or at cron times in a time zone.

A `ScheduleSpec` names a queue and the data of the job it makes; the worker
registers every declared schedule as a BullMQ job scheduler at start
(`worker.schedules`), so schedules survive restarts, fire once per tick however
many workers run, and Node BullMQ reads them. The product's schedules are
`ALL_SCHEDULES`; a WORKER_EXTRA_QUEUES module may add its own as `SCHEDULES`.
docs/adding-a-queue.md has a worked example.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, croniter

from ailawyer.deployment import Deployment
from ailawyer.queues.payloads import MaintenanceData, Payload

DEFAULT_TZ: Final = "Europe/Berlin"
# Ids become part of BullMQ keys and job ids (`repeat:{id}:{millis}`).
SCHEDULE_ID: Final = re.compile(r"[A-Za-z0-9_.-]{1,100}")
MIN_EVERY_S: Final = 0.1


@dataclass(frozen=True)
class ScheduleSpec:
    """A job of `queue` with `data`, every `every_s` seconds or at `cron` times."""

    id: str
    queue: str
    data: dict[str, Any] | Payload = field(default_factory=dict)
    every_s: float | None = None
    cron: str | None = None
    # The cron's time zone (the wall clock "03:00" is read in).
    tz: str = DEFAULT_TZ

    def __post_init__(self) -> None:
        problems = []
        if not isinstance(self.id, str) or SCHEDULE_ID.fullmatch(self.id) is None:
            problems.append("id must be 1 to 100 of A-Z a-z 0-9 _ . -")
        if (self.every_s is None) == (self.cron is None):
            problems.append("give exactly one of every_s and cron")
        if self.every_s is not None and not (
            isinstance(self.every_s, int | float)
            and not isinstance(self.every_s, bool)
            and math.isfinite(self.every_s)
            and self.every_s >= MIN_EVERY_S
        ):
            problems.append(f"every_s must be a number ≥ {MIN_EVERY_S}, not {self.every_s!r}")
        if self.cron is not None and not _valid_cron(self.cron):
            problems.append(f"cron {self.cron!r} is not a cron expression")
        try:
            ZoneInfo(self.tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError):
            problems.append(f"tz {self.tz!r} is not a time zone")
        if problems:
            raise ValueError(f"schedule {self.id!r}: " + "; ".join(problems))

    @property
    def every_ms(self) -> int | None:
        return None if self.every_s is None else max(round(self.every_s * 1000), 1)

    def repeat_options(self) -> dict[str, Any]:
        """BullMQ's repeat options (camelCase lives in `queues.options` too)."""
        if self.every_ms is not None:
            return {"every": self.every_ms}
        return {"pattern": self.cron, "tz": self.tz}

    def job_data(self) -> dict[str, Any]:
        return self.data.to_job_data() if isinstance(self.data, Payload) else dict(self.data)

    def next_runs(self, after: datetime, count: int = 1) -> list[datetime]:
        """The next `count` fire times after `after` (cron: in `tz`, across DST)."""
        zone = ZoneInfo(self.tz)
        start = after.astimezone(zone)
        if self.every_s is not None:
            return [start + timedelta(seconds=self.every_s * (i + 1)) for i in range(count)]
        assert self.cron is not None
        runs = croniter(self.cron, start, second_at_beginning=True)
        return [runs.get_next(datetime) for _ in range(count)]


def lock_key(deployment: Deployment) -> str:
    """Held by the worker that reconciles the schedules at its start."""
    return deployment.key("schedules", "lock")


def runs_key(deployment: Deployment) -> str:
    """A hash: schedule id → its last run, `{"jobId", "state", "finishedAt"}` (ms)."""
    return deployment.key("schedules", "runs")


def _valid_cron(expression: object) -> bool:
    if not isinstance(expression, str) or not expression.strip():
        return False
    try:
        croniter(expression, second_at_beginning=True)
    except (CroniterBadCronError, ValueError, KeyError):
        return False
    return True


# The product's own: retention that really happens (docs/operations.md).
ALL_SCHEDULES: tuple[ScheduleSpec, ...] = (
    ScheduleSpec(
        id="maintenance.notifications",
        queue="maintenance",
        data=MaintenanceData(task="notifications"),
        cron="0 3 * * *",
    ),
    ScheduleSpec(
        id="maintenance.sessions",
        queue="maintenance",
        data=MaintenanceData(task="sessions"),
        cron="10 * * * *",
    ),
    ScheduleSpec(
        id="maintenance.queues",
        queue="maintenance",
        data=MaintenanceData(task="queues"),
        cron="20 * * * *",
    ),
)
