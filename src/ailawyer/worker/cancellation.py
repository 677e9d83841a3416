"""Cancelling a job on whichever worker process runs it.

The app ends a waiting job itself (`queues.jobs.cancel_job`). For an active job it
sets a marker key (`ailawyer:{prefix}:cancel:{queue}:{jobId}`, a day long) and
publishes the job on the deployment's cancel channel. Every worker process hears
it here:

- a job this process runs now is cancelled at once: while its processor runs,
  its task is cancelled (an async processor stops at its next `await`, a child
  process is killed, a thread is left to notice `ctx.cancelled`), and the job
  ends failed with the reason `Abgebrochen`, without a retry;
- a job this process does not (yet) run is remembered for `REMEMBER_S`: the
  process that took it from the queue a moment before the cancel was decided may
  start it a moment after hearing of it.

Pub/sub keeps nothing, so after every (re)subscription, and when a job starts
again (a retry, or recovered after its worker died), the marker decides.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Final

from redis.asyncio import Redis

from ailawyer.deployment import Deployment
from ailawyer.logs import create_logger
from ailawyer.queues.jobs import cancel_marker, parse_cancel_message
from ailawyer.worker.context import Cancellation

log = create_logger("worker.cancellation")

REMEMBER_S: Final = 600.0
MARKER_TIMEOUT_S: Final = 2.0
CANCELLED: Final = "cancelled"
TIMEOUT: Final = "timeout"

JobKey = tuple[str, str]  # (queue, job id)


@dataclass
class _Running:
    cancellation: Cancellation
    # The job's task while its processor runs (cancelling it stops the processor).
    task: asyncio.Task[object] | None = None


class InFlight:
    """The jobs this worker process runs now, by (queue, job id)."""

    def __init__(self) -> None:
        self._running: dict[JobKey, _Running] = {}
        self._heard: dict[JobKey, float] = {}

    def __len__(self) -> int:
        return len(self._running)

    def keys(self) -> list[JobKey]:
        return list(self._running)

    def start(self, key: JobKey) -> Cancellation:
        """A job starts here; its cancellation is already set if we heard of it."""
        cancellation = Cancellation()
        self._running[key] = _Running(cancellation)
        if self._heard.pop(key, None) is not None:
            cancellation.set(CANCELLED)
        return cancellation

    def processing(self, key: JobKey, task: asyncio.Task[object] | None) -> None:
        """The job's processor runs in `task` from now (None: it has returned)."""
        running = self._running.get(key)
        if running is not None:
            running.task = task

    def finish(self, key: JobKey) -> None:
        self._running.pop(key, None)

    def cancel(self, key: JobKey) -> bool:
        """Cancel the job if it runs here; else remember it. Returns whether it ran."""
        running = self._running.get(key)
        if running is None:
            now = time.monotonic()
            self._heard = {k: t for k, t in self._heard.items() if now - t < REMEMBER_S}
            self._heard[key] = now
            return False
        running.cancellation.set(CANCELLED)
        task = running.task
        if task is not None and not task.done():
            task.cancel(CANCELLED)
        log.info("job.cancel_signalled", queue=key[0], jobId=key[1])
        return True

    def time_out(self, key: JobKey) -> None:
        """The attempt ran out of time: a thread processor sees `ctx.cancelled`."""
        running = self._running.get(key)
        if running is not None:
            running.cancellation.set(TIMEOUT)

    async def on_message(self, raw: bytes | str) -> None:
        """The cancel channel's handler."""
        key = parse_cancel_message(raw)
        if key is None:
            log.warning("job.malformed_cancel_message", size=len(raw))
            return
        self.cancel(key)


class CancelMarkers:
    """The marker keys the app sets for active jobs it cancels."""

    def __init__(self, redis: Redis, deployment: Deployment) -> None:
        self._redis = redis
        self._deployment = deployment

    async def requested(self, queue: str, job_id: str) -> bool:
        try:
            async with asyncio.timeout(MARKER_TIMEOUT_S):
                return bool(
                    await self._redis.exists(cancel_marker(self._deployment, queue, job_id))
                )
        except Exception as exc:  # Redis away: the job runs; a cancel reaches it later
            log.warning("job.cancel_check_failed", error=type(exc).__name__)
            return False

    async def forget(self, queue: str, job_id: str) -> None:
        try:
            async with asyncio.timeout(MARKER_TIMEOUT_S):
                await self._redis.delete(cancel_marker(self._deployment, queue, job_id))
        except Exception as exc:  # it expires by itself
            log.warning("job.cancel_forget_failed", error=type(exc).__name__)

    async def resync(self, in_flight: InFlight) -> None:
        """After a (re)subscription: cancel the running jobs whose marker is set."""
        keys = in_flight.keys()
        if not keys:
            return
        found = await self._redis.mget([cancel_marker(self._deployment, *key) for key in keys])
        for key, value in zip(keys, found, strict=True):
            if value is not None:
                in_flight.cancel(key)
