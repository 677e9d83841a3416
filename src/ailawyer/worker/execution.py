"""One job, one run: the function BullMQ calls, wrapped around a processor.

Order matters, and is the point of this module:

1. bind `jobId`/`userId` to every log line of the run (threads and child
   processes included);
2. validate the payload (a bad one is permanent: `UnrecoverableError`);
3. run the processor where its queue says (`worker.executors`), under the
   queue's time limit, where a cancel can reach it (`worker.cancellation`), with
   its progress going to the job and its owner (`worker.progress`);
4. check the result can be stored as JSON (else the job fails with a readable
   reason instead of BullMQ's own error after the fact);
5. commit the completion notification, then emit it, and only then return to
   BullMQ, which marks the job completed. A job is never completed without its
   notification; a database outage fails the attempt, which BullMQ retries.

On a failure we decide here, before BullMQ moves the job, whether it was the last
attempt, with BullMQ's own rule (`job.py` `moveToFailed`): unrecoverable, or no
attempts left. The owner and the admins are then notified before the job lands
in the failed set. (Our backoff never returns -1 and jobs are never discarded,
the two other ways BullMQ fails a job for good.) A cancelled job ends failed with
the reason `Abgebrochen`, not retried, and only its owner hears of it ("Vorgang
abgebrochen"). An attempt over the queue's `timeout_s` fails with a reason that
starts `Zeitüberschreitung` and is retried like any other failure.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any, Final

from bullmq import DelayedError, UnrecoverableError, WaitingChildrenError
from pydantic import TypeAdapter, ValidationError

from ailawyer import messages
from ailawyer.logs import create_logger, log_context, redact_text
from ailawyer.queues.definitions import Executor, QueueSpec
from ailawyer.queues.jobs import CANCELLED_REASON, job_owner
from ailawyer.queues.payloads import Payload, owner_of
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.services.outcomes import FinalFailure
from ailawyer.tracing import QueueTracing
from ailawyer.worker.cancellation import CANCELLED, CancelMarkers, InFlight
from ailawyer.worker.context import JobContext, Processor, Progress, WorkerResources
from ailawyer.worker.executors import ThreadPool
from ailawyer.worker.metrics import WorkerMetrics
from ailawyer.worker.notify import JobNotifier
from ailawyer.worker.processes import ChildDied, ProcessorFailed, ProcessPool, reference
from ailawyer.worker.progress import ProgressReporter
from ailawyer.worker.schedules import ScheduleRuns

log = create_logger("worker.job")

MAX_REASON_LENGTH: Final = 1000


class JobError(Exception):
    """A failed attempt, with the readable reason BullMQ stores as `failedReason`."""


class JobTimedOut(Exception):
    """The attempt ran longer than its queue's `timeout_s`."""


class JobCancelled(Exception):
    """The job was cancelled (`POST /api/jobs/{id}/cancel`) while it ran."""


def failure_reason(error: BaseException) -> str:
    """`Type: message`, secrets masked, bounded: what admins and the dashboard see.

    Errors raised on purpose with a message meant for people (an
    `UnrecoverableError`, a timeout, a child process that died) keep their
    message as it is; a processor's error in a child process is named by what it
    raised there.
    """
    message = str(error).strip()
    if isinstance(error, ProcessorFailed):
        message = f"{error.type_name}: {message}" if message else error.type_name
    elif not isinstance(error, UnrecoverableError | JobTimedOut | ChildDied):
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


# `json.dumps` with options builds a new encoder per call; this one serves every job.
_encode_result = json.JSONEncoder(separators=(",", ":"), allow_nan=False).encode


def ensure_json(value: Any) -> None:
    """Raise `UnrecoverableError` unless BullMQ can store `value` as the return value."""
    try:
        _encode_result(value)
    except (TypeError, ValueError) as exc:
        # The same function will return the same kind of value on a retry.
        raise UnrecoverableError(
            f"processor returned a value that cannot be stored as JSON ({exc})"
        ) from exc


def payload_validator(spec: QueueSpec) -> Callable[[Any], Payload]:
    """The validation of a queue's payloads, built once per queue (a `TypeAdapter`
    over its model), not per job."""
    validate_python: Callable[[Any], Payload] = TypeAdapter(spec.payload).validate_python
    return validate_python


def validate(
    spec: QueueSpec, data: Any, validator: Callable[[Any], Payload] | None = None
) -> Payload:
    try:
        return (validator or spec.payload.model_validate)(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'payload'}: {err['msg']}"
            for err in exc.errors(include_url=False, include_input=False)
        )
        raise UnrecoverableError(f"invalid payload for queue {spec.name!r}: {problems}") from None


class JobExecutor:
    """The processor BullMQ calls for every job of one queue."""

    def __init__(
        self,
        spec: QueueSpec,
        processor: Processor,
        executor: Executor,
        *,
        notifier: JobNotifier,
        emitter: SocketEmitter,
        metrics: WorkerMetrics,
        in_flight: InFlight,
        markers: CancelMarkers,
        resources: WorkerResources | None = None,
        runs: ScheduleRuns | None = None,
        threads: ThreadPool | None = None,
        processes: ProcessPool | None = None,
        tracing: QueueTracing | None = None,
    ) -> None:
        self.spec = spec
        self.tracing = tracing
        self.processor = processor
        self.executor = executor
        self.notifier = notifier
        self.emitter = emitter
        self.metrics = metrics
        self.in_flight = in_flight
        self.markers = markers
        self.resources = resources
        self.runs = runs
        self.threads = threads
        self.processes = processes
        if executor == "thread" and threads is None:
            raise ValueError(f"queue {spec.name!r}: a thread executor needs the thread pool")
        if executor == "process" and processes is None:
            raise ValueError(f"queue {spec.name!r}: a process executor needs the process pool")
        self._validate = payload_validator(spec)
        self._references = (
            (reference(processor), reference(spec.payload)) if executor == "process" else None
        )

    async def __call__(self, job: Any, token: str) -> Any:
        if self.tracing is None:
            return await self._process(job)
        # One span per attempt, around all of it: the log lines of the run carry
        # its ids, its database and Redis calls are its children.
        with self.tracing.job(job, self.spec.name):
            return await self._process(job)

    async def _process(self, job: Any) -> Any:
        owner = job_owner(job)
        schedule = self.runs.of(job) if self.runs is not None and self.runs.ids else None
        if schedule is None:
            return await self._outcome(job, owner)
        assert self.runs is not None
        await self.runs.record(schedule, str(job.id), "active")
        try:
            result = await self._outcome(job, owner)
        except BaseException as exc:
            final = isinstance(exc, UnrecoverableError) or is_final_failure(job, exc)
            if not isinstance(exc, asyncio.CancelledError):
                await self.runs.record(
                    schedule, str(job.id), "failed" if final else "delayed", finished=final
                )
            raise
        await self.runs.record(schedule, str(job.id), "completed", finished=True)
        return result

    async def _outcome(self, job: Any, owner: str | None) -> Any:
        with log_context(jobId=str(job.id), userId=owner):
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
            except JobCancelled:
                raise await self._cancelled(job, owner) from None
            except Exception as exc:
                raise await self._failed(job, exc) from exc
            finally:
                self.metrics.observe_duration(self.spec.name, time.perf_counter() - started)

    async def _run(self, job: Any) -> Any:
        payload = validate(self.spec, job.data, self._validate)
        job_id = str(job.id)
        key = (self.spec.name, job_id)
        cancellation = self.in_flight.start(key)
        reporter: ProgressReporter | None = None

        def report(value: Progress) -> None:
            nonlocal reporter
            if reporter is None:
                reporter = ProgressReporter(
                    job,
                    queue=self.spec.name,
                    label=self.spec.label,
                    owner=owner_of(payload),
                    emitter=self.emitter,
                    loop=loop,
                )
            reporter.report(value)

        loop = asyncio.get_running_loop()
        context: JobContext[Any] = JobContext(
            id=job_id,
            queue=self.spec.name,
            data=payload,
            attempt=int(job.attemptsMade) + 1,
            attempts=max_attempts(job),
            job=job,
            cancelled=cancellation,
            resources=self.resources,
            _progress=report,
        )
        try:
            # A job that starts again (a retry, a stalled job recovered) may have
            # been cancelled while no worker ran it: the marker says.
            if int(getattr(job, "attemptsStarted", 0) or 0) > 1 and await self.markers.requested(
                *key
            ):
                cancellation.set(CANCELLED)
            if cancellation:
                raise JobCancelled
            log.debug(
                "job.started",
                queue=self.spec.name,
                attempt=context.attempt,
                attempts=context.attempts,
            )
            result = await self._call(context, key, report)
        finally:
            self.in_flight.finish(key)
            if reporter is not None:
                await reporter.close()
        ensure_json(result)
        owner = owner_of(payload)
        if self.spec.notify_on_complete and owner is not None:
            await self.notifier.completed(self.spec, job_id, owner)
        return result

    async def _call(
        self, context: JobContext[Any], key: tuple[str, str], report: Callable[[Progress], None]
    ) -> Any:
        """The processor, where a cancel can stop it and within the time limit."""
        task = asyncio.current_task()
        assert task is not None
        limit = self.spec.timeout_s
        self.in_flight.processing(key, task)
        try:
            async with asyncio.timeout(limit) as deadline:
                return await self._execute(context, report)
        except asyncio.CancelledError:
            if context.cancelled.reason != CANCELLED:
                raise  # not ours: a forced shutdown
            task.uncancel()
            raise JobCancelled from None
        except TimeoutError:
            if not deadline.expired():
                raise  # the processor's own timeout, a failure like any other
            self.in_flight.time_out(key)
            assert limit is not None
            raise JobTimedOut(messages.JOB_TIMED_OUT.format(limit=f"{limit:g}")) from None
        finally:
            self.in_flight.processing(key, None)

    async def _execute(self, context: JobContext[Any], report: Callable[[Progress], None]) -> Any:
        if self.executor == "async":
            return await self.processor(context)
        if self.executor == "thread":
            assert self.threads is not None
            return await self.threads.run(self.processor, context)
        assert self.processes is not None and self._references is not None
        function, payload = self._references
        message = {
            "type": "run",
            "function": function,
            "payload": payload,
            "job": {
                "id": context.id,
                "queue": context.queue,
                "data": context.data.to_job_data(),
                "attempt": context.attempt,
                "attempts": context.attempts,
                "userId": owner_of(context.data),
                # The child's log lines name the parent's job span.
                **(self.tracing.current_ids() if self.tracing is not None else {}),
            },
        }
        return await self.processes.run(message, report)

    async def _cancelled(self, job: Any, owner: str | None) -> UnrecoverableError:
        """Only the owner hears of it; BullMQ stores `Abgebrochen` and retries nothing."""
        log.info("job.cancelled", queue=self.spec.name, attempt=int(job.attemptsMade) + 1)
        await self.markers.forget(self.spec.name, str(job.id))
        if owner is not None:
            try:
                await self.notifier.cancelled(self.spec, str(job.id), owner)
            except Exception as exc:
                log.error(
                    "notification.persist_failed",
                    queue=self.spec.name,
                    outcome="cancelled",
                    error=failure_reason(exc),
                )
        return UnrecoverableError(CANCELLED_REASON)

    async def _failed(self, job: Any, error: Exception) -> Exception:
        """Log, notify when it was the last attempt, and give BullMQ the error to store."""
        reason = failure_reason(error)
        attempt = int(job.attemptsMade) + 1
        final = is_final_failure(job, error)
        readable = isinstance(error, UnrecoverableError | JobTimedOut | ChildDied | ProcessorFailed)
        log.warning(
            "job.attempt_failed",
            queue=self.spec.name,
            attempt=attempt,
            attempts=max_attempts(job),
            final=final,
            reason=reason,
            # Raised on purpose, or already logged where it happened: the reason says it all.
            exc_info=None if readable else error,
        )
        if final:
            failure = FinalFailure(
                job_id=str(job.id),
                user_id=job_owner(job),
                attempt=attempt,
                reason=reason,
                # Raised as permanent (an invalid payload, say): the same run fails
                # the same way until its cause is fixed.
                retryable=not isinstance(error, UnrecoverableError),
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
