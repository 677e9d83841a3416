"""The notifications of a job's outcome: what each says, and its dedupe key.

Written by the worker (a job completed, failed for good, or was cancelled while
it ran) and by the app (a waiting job cancelled), so both build them here.
Idempotent per job and outcome: delivery is at-least-once (a job can run again
after a worker crashed between committing its notification and telling BullMQ),
so each row carries a dedupe key, and the unique (user, dedupe key) constraint
turns a second insert into a lookup of the first row:

- completed: `job:{queue}:{jobId}:completed`
- failed, for the owner: `job:{queue}:{jobId}:failed:{attempt}`
- failed, for each admin: `job:{queue}:{jobId}:failed:{attempt}:admin`
- cancelled: `job:{queue}:{jobId}:cancelled`

The attempt number is in the failure keys because "Erneut versuchen" retries the
same job id: a job that fails again after a manual retry fails at a later attempt
and must notify again, while a re-run of the same attempt (a crash) must not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from ailawyer import messages
from ailawyer.queues.definitions import QueueSpec
from ailawyer.services.notifications import NotificationDraft

COMPLETED_TYPE: Final = "job:completed"
FAILED_TYPE: Final = "job:failed"
CANCELLED_TYPE: Final = "job:cancelled"


def completed_key(queue: str, job_id: str) -> str:
    return f"job:{queue}:{job_id}:completed"


def failed_key(queue: str, job_id: str, attempt: int) -> str:
    return f"job:{queue}:{job_id}:failed:{attempt}"


def failed_admin_key(queue: str, job_id: str, attempt: int) -> str:
    return failed_key(queue, job_id, attempt) + ":admin"


def cancelled_key(queue: str, job_id: str) -> str:
    return f"job:{queue}:{job_id}:cancelled"


@dataclass(frozen=True)
class FinalFailure:
    """What the notifications of a job that failed for good say."""

    job_id: str
    user_id: str | None
    attempt: int
    # Already readable and free of secrets (see `worker.execution.failure_reason`).
    reason: str
    # False when the processor said the failure is permanent (`UnrecoverableError`):
    # "Erneut versuchen" would fail the same way until its cause is fixed.
    retryable: bool = True


def completed_draft(spec: QueueSpec, job_id: str, user_id: str) -> NotificationDraft:
    return NotificationDraft(
        user_id=user_id,
        type=COMPLETED_TYPE,
        title=messages.JOB_COMPLETED_TITLE,
        message=messages.JOB_COMPLETED_MESSAGE.format(queue=spec.label),
        data={"jobId": job_id, "queue": spec.name},
        dedupe_key=completed_key(spec.name, job_id),
    )


def cancelled_draft(spec: QueueSpec, job_id: str, user_id: str) -> NotificationDraft:
    return NotificationDraft(
        user_id=user_id,
        type=CANCELLED_TYPE,
        title=messages.JOB_CANCELLED_TITLE,
        message=messages.JOB_CANCELLED_MESSAGE.format(queue=spec.label),
        data={"jobId": job_id, "queue": spec.name},
        dedupe_key=cancelled_key(spec.name, job_id),
    )


def failure_admin_data(spec: QueueSpec, failure: FinalFailure) -> dict[str, Any]:
    """The failure as admins see it (their rows, and the `job:failed` event)."""
    return {
        "jobId": failure.job_id,
        "queue": spec.name,
        "userId": failure.user_id,
        "attempt": failure.attempt,
        "error": failure.reason,
        "retryable": failure.retryable,
    }


def failure_drafts(
    spec: QueueSpec, failure: FinalFailure, admin_ids: list[str]
) -> list[NotificationDraft]:
    """The owner's row (if the job has one), then one row per admin.

    An owner who is an admin gets the admin row only: it says what failed and
    why, and offers the retry, so a second row would tell them the same twice.
    """
    drafts: list[NotificationDraft] = []
    if failure.user_id and failure.user_id not in admin_ids:
        drafts.append(
            NotificationDraft(
                user_id=failure.user_id,
                type=FAILED_TYPE,
                title=messages.JOB_FAILED_TITLE,
                message=messages.JOB_FAILED_MESSAGE,
                data={"jobId": failure.job_id, "queue": spec.name, "retryable": failure.retryable},
                dedupe_key=failed_key(spec.name, failure.job_id, failure.attempt),
            )
        )
    admin_message = messages.JOB_FAILED_ADMIN_MESSAGE.format(
        job_id=failure.job_id, queue=spec.name, reason=failure.reason
    )
    admin_data = failure_admin_data(spec, failure)
    drafts += [
        NotificationDraft(
            user_id=admin_id,
            type=FAILED_TYPE,
            title=messages.JOB_FAILED_ADMIN_TITLE,
            message=admin_message,
            data=admin_data,
            dedupe_key=failed_admin_key(spec.name, failure.job_id, failure.attempt),
        )
        for admin_id in admin_ids
    ]
    return drafts
