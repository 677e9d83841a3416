"""A queue's throughput from BullMQ's own metrics: completed and failed jobs per minute.

Our workers run with BullMQ's `metrics` option (`queues.options`), so the
shared Lua script `moveToFinished` counts every finished job in two keys per
kind, `{prefix}:{queue}:metrics:{completed|failed}` (a hash) and `…:data` (a
list), exactly as Node BullMQ does. This module reads them with the semantics
of Node's `Queue.getMetrics` and its `collectMetrics` script:

- the hash has `count` (all jobs ever counted), `prevTS` (ms, the time of the
  job that opened the current minute) and `prevCount` (`count` then);
- the list holds one count per finished minute, newest first: entry `i` is the
  minute `floor(prevTS / 60 s) - 1 - i` (minutes without jobs are pushed as 0);
- the minute of `prevTS` is still open: its count is `count - prevCount`.
  Minutes after it, up to now, had no job.

`read_throughput` turns that into buckets, oldest first, the last one holding
the current minute: `1h` is 60 one-minute buckets, `24h` 96 of 15 minutes, `7d`
168 of one hour. The list keeps one week of minutes (`METRICS_MAX_DATA_POINTS`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

from bullmq import Queue

from ailawyer.schemas import CamelModel

MetricsRange = Literal["1h", "24h", "7d"]
MetricKind = Literal["completed", "failed"]

MINUTE_MS: Final = 60_000


@dataclass(frozen=True)
class Window:
    minutes: int
    bucket_minutes: int


WINDOWS: Final[dict[str, Window]] = {
    "1h": Window(minutes=60, bucket_minutes=1),
    "24h": Window(minutes=24 * 60, bucket_minutes=15),
    "7d": Window(minutes=7 * 24 * 60, bucket_minutes=60),
}


class Throughput(CamelModel):
    """Jobs per bucket, oldest first. Bucket `i` covers `[start + i·step, start + (i+1)·step)`;
    the last one holds the current minute (still counting)."""

    range: MetricsRange
    start: datetime
    step: int
    completed: list[int]
    failed: list[int]


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def per_minute(meta: list[Any], data: list[Any], first_minute: int, last_minute: int) -> list[int]:
    """Counts for the minutes `first_minute..last_minute` (minute numbers since the epoch)."""
    minutes = [0] * (last_minute - first_minute + 1)
    count, prev_ts, prev_count = (_int(value) for value in meta)
    if meta[1] is None:
        return minutes  # nothing counted yet
    # A worker whose clock runs ahead of ours: its open minute is our current one.
    open_minute = min(prev_ts // MINUTE_MS, last_minute)
    for index in range(len(minutes)):
        minute = first_minute + index
        if minute == open_minute:
            minutes[index] = max(count - prev_count, 0)
        elif minute < open_minute:
            position = open_minute - 1 - minute
            if position < len(data):
                minutes[index] = _int(data[position])
    return minutes


def _buckets(minutes: list[int], size: int) -> list[int]:
    return [sum(minutes[i : i + size]) for i in range(0, len(minutes), size)]


async def _read_kind(queue: Queue, kind: MetricKind, first: int, last: int) -> list[int]:
    meta_key = queue.toKey(f"metrics:{kind}")
    async with queue.client.pipeline(transaction=False) as pipe:
        pipe.hmget(meta_key, "count", "prevTS", "prevCount")
        # Entry i is minute open - 1 - i: the window never needs more than its length.
        pipe.lrange(f"{meta_key}:data", 0, last - first)
        meta, data = await pipe.execute()
    return per_minute(meta, data, first, last)


async def read_throughput(
    queue: Queue, window: MetricsRange, now_ms: int | None = None
) -> Throughput:
    spec = WINDOWS[window]
    now = int(time.time() * 1000) if now_ms is None else now_ms
    last = now // MINUTE_MS
    first = last - spec.minutes + 1
    completed, failed = await asyncio.gather(
        _read_kind(queue, "completed", first, last), _read_kind(queue, "failed", first, last)
    )
    return Throughput(
        range=window,
        start=datetime.fromtimestamp(first * 60, tz=UTC),
        step=spec.bucket_minutes * 60,
        completed=_buckets(completed, spec.bucket_minutes),
        failed=_buckets(failed, spec.bucket_minutes),
    )
