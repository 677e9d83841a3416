"""Every queue the product has. To add one, see docs/adding-a-queue.md.

A `QueueSpec` is what app and worker share about a queue: its BullMQ name, its
payload model, how its notifications read, and how its jobs run: how many at
once, for how long at most, how often, and where (the event loop, a thread, a
child process). The processor is bound to the spec in the worker
(`ailawyer.worker.processors`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal

from ailawyer.queues.payloads import MaintenanceData, Payload, TestJobData

Executor = Literal["async", "thread", "process"]
EXECUTORS: tuple[Executor, ...] = ("async", "thread", "process")


@dataclass(frozen=True)
class RateLimit:
    """At most `max` jobs of a queue start per `per_s` seconds, across every worker."""

    max: int
    per_s: float

    def __post_init__(self) -> None:
        if not isinstance(self.max, int) or isinstance(self.max, bool) or self.max < 1:
            raise ValueError(f"RateLimit.max must be a whole number ≥ 1, not {self.max!r}")
        if not _positive(self.per_s):
            raise ValueError(f"RateLimit.per_s must be a number > 0, not {self.per_s!r}")

    @property
    def duration_ms(self) -> int:
        return max(round(self.per_s * 1000), 1)


@dataclass(frozen=True)
class QueueSpec:
    name: str
    payload: type[Payload]
    # German, shown in notifications ("Der Vorgang „Testauftrag“ …").
    label: str
    # Overrides of DEFAULT_JOB_OPTIONS (BullMQ camelCase), e.g. {"attempts": 1}.
    job_options: dict[str, Any] = field(default_factory=dict)
    # Whether a completed job notifies its user (a failed one always does).
    notify_on_complete: bool = True
    # Jobs of this queue at once, per worker process (None: WORKER_CONCURRENCY).
    concurrency: int | None = None
    # Longest run of one attempt in seconds; longer fails ("Zeitüberschreitung")
    # and is retried like any failure. None: no limit.
    timeout_s: float | None = None
    # Starts per time window, across every worker process. None: no limit.
    rate_limit: RateLimit | None = None
    # Where the processor runs; None: `async def` on the event loop, `def` in a
    # thread. "process": a child process (a top-level function, for CPU-bound work).
    executor: Executor | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.concurrency is not None and (
            not isinstance(self.concurrency, int)
            or isinstance(self.concurrency, bool)
            or not 1 <= self.concurrency <= 1000
        ):
            problems.append(
                f"concurrency must be a whole number from 1 to 1000, not {self.concurrency!r}"
            )
        if self.timeout_s is not None and not _positive(self.timeout_s):
            problems.append(f"timeout_s must be a number > 0, not {self.timeout_s!r}")
        if self.rate_limit is not None and not isinstance(self.rate_limit, RateLimit):
            problems.append("rate_limit must be a RateLimit(max, per_s)")
        if self.executor is not None and self.executor not in EXECUTORS:
            problems.append(
                f"executor must be one of {', '.join(EXECUTORS)}, not {self.executor!r}"
            )
        if problems:
            raise ValueError(f"queue {self.name!r}: " + "; ".join(problems))


def _positive(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )


test_queue = QueueSpec(name="test", payload=TestJobData, label="Testauftrag")
# The platform's own clean-ups, run by the schedules `maintenance.*` (system jobs).
maintenance_queue = QueueSpec(
    name="maintenance", payload=MaintenanceData, label="Wartung", concurrency=1, timeout_s=1800
)

ALL_QUEUES: tuple[QueueSpec, ...] = (test_queue, maintenance_queue)
