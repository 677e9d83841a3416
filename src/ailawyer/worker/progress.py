"""A running job's progress: stored on the job and pushed to its owner's browser.

`JobContext.report_progress` may be called from the event loop, from a job's
thread, or (through the process pool) for a child process; it only hands the
value over and returns. On the event loop the latest value is written at most
every `MIN_INTERVAL_S`: as BullMQ's progress of the job (`updateProgress`, which
Bull Board and Node BullMQ read too), and as `job:progress` to `user:{owner}`.
One write at a time, so updates arrive in order; values reported meanwhile are
coalesced into the next write. Before the job's outcome is announced, the last
value is written (`close`): the browser sees 100 before the notification.

A write that fails (Redis away) is logged and never fails the job.
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any, Final

from ailawyer.logs import create_logger
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.realtime.rooms import JOB_PROGRESS_EVENT
from ailawyer.worker.context import Progress

log = create_logger("worker.progress")

MIN_INTERVAL_S: Final = 0.1
WRITE_TIMEOUT_S: Final = 3.0
_UNSET: Final = object()


class ProgressReporter:
    def __init__(
        self,
        job: Any,
        *,
        queue: str,
        label: str,
        owner: str | None,
        emitter: SocketEmitter,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        self._job = job
        self._queue = queue
        self._label = label
        self._owner = owner
        self._emitter = emitter
        self._loop = loop
        self._loop_thread = threading.get_ident()
        self._latest: Any = _UNSET
        self._written_at = 0.0
        self._task: asyncio.Task[None] | None = None
        self.writes = 0

    def report(self, value: Progress) -> None:
        """From any thread: never blocks."""
        if threading.get_ident() == self._loop_thread:
            self._take(value)
        else:
            self._loop.call_soon_threadsafe(self._take, value)

    def _take(self, value: Progress) -> None:
        self._latest = value
        if self._task is None or self._task.done():
            self._task = self._loop.create_task(self._write_latest(), name="job-progress")

    async def _write_latest(self) -> None:
        while self._latest is not _UNSET:
            wait = self._written_at + MIN_INTERVAL_S - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            value, self._latest = self._latest, _UNSET
            await self._write(value)
            self._written_at = time.monotonic()

    async def _write(self, value: Progress) -> None:
        self.writes += 1
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await self._job.updateProgress(value)
                if self._owner is not None:
                    await self._emitter.to_user(
                        self._owner,
                        JOB_PROGRESS_EVENT,
                        {
                            "jobId": str(self._job.id),
                            "queue": self._queue,
                            "label": self._label,
                            "progress": value,
                        },
                    )
        except Exception as exc:
            log.warning("job.progress_failed", queue=self._queue, error=type(exc).__name__)

    async def close(self) -> None:
        """Write what is still pending, now (the job is about to end)."""
        task = self._task
        if task is None:
            return
        try:
            async with asyncio.timeout(WRITE_TIMEOUT_S * 2):
                await asyncio.shield(task)
        except TimeoutError:
            task.cancel()
