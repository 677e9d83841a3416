"""BullMQ's options, in BullMQ's own camelCase. The only module that speaks it.

Retries: three, after 10 s, 60 s and 5 min. BullMQ counts the first run as an
attempt, so three retries are `attempts: 4` (`attempts: 3` would retry only
twice and never reach the 5-minute step; docs/adding-a-queue.md says more).
"""

from __future__ import annotations

from typing import Any, Final

from ailawyer.config import Settings
from ailawyer.queues.definitions import QueueSpec, RateLimit

BACKOFF_DELAYS_MS: Final = (10_000, 60_000, 300_000)
RETRIES: Final = len(BACKOFF_DELAYS_MS)
ATTEMPTS: Final = RETRIES + 1

DAY_S: Final = 86_400

# BullMQ's throughput metrics: completed and failed jobs per minute, kept by the
# shared Lua scripts in `{prefix}:{queue}:metrics:completed|failed` (Node's
# `Queue.getMetrics` and Bull Board read them too). One week of minutes.
METRICS_MAX_DATA_POINTS: Final = 7 * 24 * 60

DEFAULT_JOB_OPTIONS: Final[dict[str, Any]] = {
    "attempts": ATTEMPTS,
    "backoff": {"type": "custom"},
    "removeOnComplete": {"age": DAY_S},
    "removeOnFail": {"age": 7 * DAY_S},
}


def calculate_backoff(attempts_made: int) -> int:
    """Delay in ms before the next try, after `attempts_made` failed runs (1-based)."""
    index = min(max(attempts_made, 1), len(BACKOFF_DELAYS_MS)) - 1
    return BACKOFF_DELAYS_MS[index]


def backoff_strategy(attempts_made: int, _type: str | None, _err: Any, _job: Any) -> int:
    """BullMQ's custom backoff hook (`settings.backoffStrategy`)."""
    return calculate_backoff(attempts_made)


# BullMQ's priorities: 1 is the highest; 0 (no priority) sorts before all of them.
MAX_PRIORITY: Final = 2_097_152


def job_options(
    overrides: dict[str, Any] | None = None,
    *,
    job_id: str,
    delay_ms: int | None = None,
    priority: int | None = None,
    dedupe_id: str | None = None,
) -> dict[str, Any]:
    options = {**DEFAULT_JOB_OPTIONS, **(overrides or {}), "jobId": job_id}
    if delay_ms:
        options["delay"] = delay_ms
    if priority is not None:
        options["priority"] = priority
    if dedupe_id is not None:
        # Until the first job with this id has finished, adding another is a no-op.
        options["deduplication"] = {"id": dedupe_id}
    return options


def with_trace_metadata(options: dict[str, Any], metadata: str) -> dict[str, Any]:
    """The options with a propagated trace context, where BullMQ (Node) stores its
    `telemetry.metadata` and bullmq-otel reads it: the option `tm` (ailawyer.tracing)."""
    return {**options, "tm": metadata}


def scheduled_job_options(spec: QueueSpec) -> dict[str, Any]:
    """The options of the jobs a schedule makes (BullMQ chooses their ids)."""
    return {**DEFAULT_JOB_OPTIONS, **spec.job_options}


def worker_options(
    settings: Settings,
    *,
    connection: Any,
    concurrency: int,
    prefix: str | None = None,
    rate_limit: RateLimit | None = None,
    name: str | None = None,
) -> dict[str, Any]:
    options: dict[str, Any] = {
        "connection": connection,
        "concurrency": concurrency,
        "autorun": False,
        "lockDuration": settings.worker_lock_duration_ms,
        "stalledInterval": settings.worker_stalled_interval_ms,
        "maxStalledCount": 1,
        "settings": {"backoffStrategy": backoff_strategy},
        "metrics": {"maxDataPoints": METRICS_MAX_DATA_POINTS},
    }
    if prefix:
        options["prefix"] = prefix
    if name:
        options["name"] = name
    if rate_limit is not None:
        options["limiter"] = {"max": rate_limit.max, "duration": rate_limit.duration_ms}
    return options


def queue_options(*, connection: Any, prefix: str | None = None) -> dict[str, Any]:
    options: dict[str, Any] = {"connection": connection}
    if prefix:
        options["prefix"] = prefix
    return options
