"""One job, one run: the function BullMQ calls, wrapped around a processor.

Order matters, and is the point of this module:

1. bind `jobId`/`userId` to every log line of the run (threads included);
2. validate the payload (a bad one is permanent: `UnrecoverableError`);
3. run the processor, a plain function in the thread pool so the event loop keeps
   renewing the job's lock;
4. check the result can be stored as JSON (else the job fails with a readable
   reason instead of BullMQ's own error after the fact);
5. commit the completion notification, then emit it, and only then return to
   BullMQ, which marks the job completed. A job is never completed without its
   notification; a database outage fails the attempt, which BullMQ retries.

On a failure we decide here, before BullMQ moves the job, whether it was the last
attempt, with BullMQ's own rule (`job.py` `moveToFailed`): unrecoverable, or no
attempts left. The owner and the admins are then notified before the job lands
in the failed set. (Our backoff never returns -1 and jobs are never discarded,
the two other ways BullMQ fails a job for good.)
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from bullmq import DelayedError, UnrecoverableError, WaitingChildrenError
from pydantic import ValidationError

from ailawyer.logs import create_logger, log_context, redact_text
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.jobs import job_owner
from ailawyer.queues.payloads import JobPayload
from ailawyer.worker.context import JobContext, Processor
from ailawyer.worker.metrics import WorkerMetrics
from ailawyer.worker.notify import FinalFailure, JobNotifier

log = create_logger("worker.job")

T = TypeVar("T")

MAX_REASON_LENGTH = 1000


class JobError(Exception):
    """A failed attempt, with the readable reason BullMQ stores as `failedReason`."""


def failure_reason(error: BaseException) -> str:
    """`Type: message`, secrets masked, bounded: what admins and the dashboard see.

    An `UnrecoverableError` is raised on purpose with a message meant for people,
    so it keeps its message as it is.
    """
    message = str(error).strip()
    if not isinstance(error, UnrecoverableError):
        name = type(error).__name__
        message = f"{name}: {message}" if message else name
    message = redact_text(message) or type(error).__name__
    if len(message) > MAX_REASON_LENGTH:
        message = message[: MAX_REASON_LENGTH - 1] + "…"
    return message


def max_attempts(job: Any) -> int:
    """BullMQ's `attempts` (a job stored without it gets one run)."""
    try:
        return max(int(job.opts.get("attempts") or 1), 1)
    except (TypeError, ValueError):
        return 1


def is_final_failure(job: Any, error: BaseException) -> bool:
    """Whether BullMQ will move the job to `failed` rather than retry it."""
    if isinstance(error, UnrecoverableError):
        return True
    return int(job.attemptsMade) + 1 >= max_attempts(job)


def ensure_json(value: Any) -> None:
    """Raise `UnrecoverableError` unless BullMQ can store `value` as the return value."""
    try:
        json.dumps(value, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        # The same function will return the same kind of value on a retry.
        raise UnrecoverableError(
            f"processor returned a value that cannot be stored as JSON ({exc})"
        ) from exc


def validate(spec: QueueSpec, data: Any) -> JobPayload:
    try:
        return spec.payload.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise UnrecoverableError(f"invalid payload for queue {spec.name!r}: {problems}") from None


def is_async_callable(function: Any) -> bool:
    """An `async def` function, or an object whose `__call__` is one."""
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        type(function).__call__
    )


class ThreadPool:
    """A bounded pool for plain-function processors, counting what still runs.

    A thread cannot be cancelled: after a forced shutdown the runner asks
    `busy` and ends the process without waiting for such threads.
    """

    def __init__(self, size: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="ailawyer-job")
        self._busy = 0
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        return self._busy

    def _track(self, call: Callable[[], T]) -> T:
        with self._lock:
            self._busy += 1
        try:
            return call()
        finally:
            with self._lock:
                self._busy -= 1

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        # The context (log bindings) travels with the call, as in asyncio.to_thread.
        context = contextvars.copy_context()
        call = functools.partial(context.run, function, *args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._track, call)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class JobExecutor:
    """The processor BullMQ calls for every job of one queue."""

    def __init__(
        self,
        spec: QueueSpec,
        processor: Processor,
        *,
        notifier: JobNotifier,
        metrics: WorkerMetrics,
        threads: ThreadPool,
    ) -> None:
        self.spec = spec
        self.processor = processor
        self.notifier = notifier
        self.metrics = metrics
        self.threads = threads
        self.is_async = is_async_callable(processor)

    async def __call__(self, job: Any, token: str) -> Any:
        with log_context(jobId=str(job.id), userId=job_owner(job)):
            started = time.perf_counter()
            try:
                return await self._run(job)
            except (DelayedError, WaitingChildrenError):
                raise  # the processor moved the job itself; not a failure
            except asyncio.CancelledError:
                # Forced shutdown: the job stays active until its lock expires,
                # then another worker recovers it as stalled.
                log.warning("job.interrupted", queue=self.spec.name)
                raise
            except Exception as exc:
                raise await self._failed(job, exc) from exc
            finally:
                self.metrics.observe_duration(self.spec.name, time.perf_counter() - started)

    async def _run(self, job: Any) -> Any:
        payload = validate(self.spec, job.data)
        context: JobContext[Any] = JobContext(
            id=str(job.id),
            queue=self.spec.name,
            data=payload,
            attempt=int(job.attemptsMade) + 1,
            attempts=max_attempts(job),
            job=job,
        )
        log.debug(
            "job.started", queue=self.spec.name, attempt=context.attempt, attempts=context.attempts
        )
        if self.is_async:
            result = await self.processor(context)
        else:
            result = await self.threads.run(self.processor, context)
        ensure_json(result)
        if self.spec.notify_on_complete:
            await self.notifier.completed(self.spec, context.id, payload.user_id)
        return result

    async def _failed(self, job: Any, error: Exception) -> Exception:
        """Log, notify when it was the last attempt, and give BullMQ the error to store."""
        reason = failure_reason(error)
        attempt = int(job.attemptsMade) + 1
        final = is_final_failure(job, error)
        log.warning(
            "job.attempt_failed",
            queue=self.spec.name,
            attempt=attempt,
            attempts=max_attempts(job),
            final=final,
            reason=reason,
            # An UnrecoverableError is raised on purpose; its reason says it all.
            exc_info=None if isinstance(error, UnrecoverableError) else error,
        )
        if final:
            failure = FinalFailure(
                job_id=str(job.id), user_id=job_owner(job), attempt=attempt, reason=reason
            )
            try:
                await self.notifier.failed(self.spec, failure)
            except Exception as exc:
                # Nothing is left to retry; the job stays visible in the failed set.
                log.error(
                    "notification.persist_failed",
                    queue=self.spec.name,
                    outcome="failed",
                    error=failure_reason(exc),
                )
        replacement: Exception = (
            UnrecoverableError(reason)
            if isinstance(error, UnrecoverableError)
            else JobError(reason)
        )
        return replacement
