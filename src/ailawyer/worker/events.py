"""What BullMQ reports about jobs, as log lines and metrics.

BullMQ calls these listeners synchronously and ignores what they return; an
exception inside one would make it try to fail a job that is already finished.
So every listener is guarded, and none does I/O: notifications were already
committed by the job's wrapper (`execution`) before BullMQ moved the job.

`job.completed` is the one line the worker writes for every job; with
JOB_LOG_SAMPLE below 1 the logging pipeline keeps only that share of them
(`logs.EventSampler`). The counters here count every job regardless, and so do
the queue metrics of the dashboard. Failures and retries are always logged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ailawyer.logs import create_logger, log_context
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.jobs import job_owner
from ailawyer.worker.metrics import WorkerMetrics

log = create_logger("worker")


def listen(worker: Any, spec: QueueSpec, metrics: WorkerMetrics) -> None:
    """Attach the listeners of one BullMQ `Worker`."""
    queue = spec.name
    completed_total = metrics.completed.labels(queue=queue)
    failed_total = metrics.failed.labels(queue=queue)
    retried_total = metrics.retried.labels(queue=queue)

    def guarded(handler: Callable[..., None]) -> Callable[..., None]:
        def call(*args: Any) -> None:
            try:
                handler(*args)
            except Exception:
                log.exception("worker.event_handler_failed", queue=queue)

        return call

    def completed(job: Any, _result: Any) -> None:
        completed_total.inc()
        # One line per job, the worker's most frequent: the ids as fields (what
        # `log_context` would add, without binding and resetting context
        # variables). JOB_LOG_SAMPLE may keep only a share of these lines.
        owner = job_owner(job)
        if owner is None:
            log.info("job.completed", queue=queue, attempts=job.attemptsMade, jobId=str(job.id))
        else:
            log.info(
                "job.completed",
                queue=queue,
                attempts=job.attemptsMade,
                jobId=str(job.id),
                userId=owner,
            )

    def failed(job: Any, _error: Any) -> None:
        with log_context(jobId=str(job.id), userId=job_owner(job)):
            if job.finishedOn:  # moved to `failed`: no retry follows
                failed_total.inc()
                log.error(
                    "job.failed", queue=queue, attempts=job.attemptsMade, reason=job.failedReason
                )
            else:
                retried_total.inc()
                log.info(
                    "job.retry_scheduled",
                    queue=queue,
                    attempts=job.attemptsMade,
                    delay_ms=job.delay,
                )

    def error(err: BaseException, job: Any = None) -> None:
        log.error(
            "worker.error",
            queue=queue,
            jobId=str(job.id) if job is not None else None,
            error=f"{type(err).__name__}: {err}",
        )

    def stalled(job_id: str, *_: Any) -> None:
        # Seen by the worker that recovers the job, not the one that lost it.
        log.warning("job.stalled", queue=queue, jobId=job_id)

    def lock_renewal_failed(job_ids: list[str]) -> None:
        log.warning("job.lock_renewal_failed", queue=queue, jobIds=job_ids)

    worker.on("completed", guarded(completed))
    worker.on("failed", guarded(failed))
    worker.on("error", guarded(error))
    worker.on("stalled", guarded(stalled))
    worker.on("lockRenewalFailed", guarded(lock_renewal_failed))
