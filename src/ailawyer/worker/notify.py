"""A job's outcome as notifications: persisted first, emitted after the commit.

Idempotent per job and outcome. Delivery is at-least-once: a job can run again
after a worker crashed between committing its notification and telling BullMQ.
Each row therefore carries a dedupe key, and the unique (user, dedupe key)
constraint turns the second insert into a lookup of the first row:

- completed: `job:{queue}:{jobId}:completed`
- failed, for the owner: `job:{queue}:{jobId}:failed:{attempt}`
- failed, for each admin: `job:{queue}:{jobId}:failed:{attempt}:admin`

The attempt number is in the failure keys because "Erneut versuchen" retries the
same job id: a job that fails again after a manual retry fails at a later attempt
and must notify again, while a re-run of the same attempt (a crash) must not.

Emitting is best effort (pub/sub): the row is already committed and browsers
refetch on reconnect. A re-run emits the existing row again, with the same id,
so a browser that keys notifications by id shows it once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer import messages
from ailawyer.batching import GroupCall
from ailawyer.db.engine import Database
from ailawyer.db.models import Role, User
from ailawyer.logs import create_logger
from ailawyer.queues.definitions import QueueSpec
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.realtime.rooms import JOB_FAILED_EVENT
from ailawyer.services.notifications import (
    NotificationDraft,
    NotificationOut,
    persist_notifications,
)

log = create_logger("worker.notify")

COMPLETED_TYPE = "job:completed"
FAILED_TYPE = "job:failed"
EMIT_TIMEOUT_S = 3.0
# At most this many notifications per transaction (one multi-row INSERT).
MAX_BATCH = 100

Persisted = tuple[NotificationOut | None, bool]


def completed_key(queue: str, job_id: str) -> str:
    return f"job:{queue}:{job_id}:completed"


def failed_key(queue: str, job_id: str, attempt: int) -> str:
    return f"job:{queue}:{job_id}:failed:{attempt}"


def failed_admin_key(queue: str, job_id: str, attempt: int) -> str:
    return failed_key(queue, job_id, attempt) + ":admin"


@dataclass(frozen=True)
class FinalFailure:
    """What the notifications of a job that failed for good say."""

    job_id: str
    user_id: str | None
    attempt: int
    # Already readable and free of secrets (see `execution.failure_reason`).
    reason: str


async def _admin_ids(session: AsyncSession) -> list[str]:
    rows = await session.execute(
        select(User.id).where(User.role == Role.ADMIN.value, User.active.is_(True))
    )
    return list(rows.scalars())


class JobNotifier:
    """Persists and emits the notifications of job outcomes for one worker process."""

    def __init__(self, database: Database, emitter: SocketEmitter) -> None:
        self.database = database
        self.emitter = emitter
        # Completions of concurrent jobs are committed together (one transaction,
        # one INSERT); each job still returns only once its own row is committed,
        # and a database error fails every job of that write.
        self._persist: GroupCall[NotificationDraft, Persisted] = GroupCall(
            self._persist_batch, max_batch=MAX_BATCH
        )

    async def _persist_batch(self, drafts: list[NotificationDraft]) -> list[Persisted]:
        # Owners almost always exist: insert at once, and look them up only when
        # one was deleted meanwhile (the foreign key refuses its row). The INSERT
        # is one statement, atomic alone: no BEGIN/COMMIT round trips around it.
        try:
            async with self.database.statement() as session:
                return await persist_notifications(session, drafts, check_owners=False)
        except IntegrityError:
            async with self.database.session() as session:
                return await persist_notifications(session, drafts)

    async def completed(self, spec: QueueSpec, job_id: str, user_id: str) -> None:
        """Commit the owner's notification (raises when the database fails), then emit."""
        draft = NotificationDraft(
            user_id=user_id,
            type=COMPLETED_TYPE,
            title=messages.JOB_COMPLETED_TITLE,
            message=messages.JOB_COMPLETED_MESSAGE.format(queue=spec.label),
            data={"jobId": job_id, "queue": spec.name},
            dedupe_key=completed_key(spec.name, job_id),
        )
        out, created = await self._persist(draft)
        if out is None:
            log.warning("notification.owner_unknown", queue=spec.name, outcome="completed")
            return
        # `job.completed` (info) follows for every job; this line is detail.
        log.debug(
            "notification.persisted", outcome="completed", notificationId=out.id, created=created
        )
        await self._emit([out])

    async def failed(self, spec: QueueSpec, failure: FinalFailure) -> None:
        """Commit the owner's and every admin's notification (one INSERT), then emit them."""
        admin_data: dict[str, Any] = {
            "jobId": failure.job_id,
            "queue": spec.name,
            "userId": failure.user_id,
            "attempt": failure.attempt,
            "error": failure.reason,
        }
        async with self.database.session() as session:
            drafts: list[NotificationDraft] = []
            if failure.user_id:
                drafts.append(
                    NotificationDraft(
                        user_id=failure.user_id,
                        type=FAILED_TYPE,
                        title=messages.JOB_FAILED_TITLE,
                        message=messages.JOB_FAILED_MESSAGE,
                        data={"jobId": failure.job_id, "queue": spec.name},
                        dedupe_key=failed_key(spec.name, failure.job_id, failure.attempt),
                    )
                )
            admin_message = messages.JOB_FAILED_ADMIN_MESSAGE.format(
                job_id=failure.job_id, queue=spec.name, reason=failure.reason
            )
            drafts += [
                NotificationDraft(
                    user_id=admin_id,
                    type=FAILED_TYPE,
                    title=messages.JOB_FAILED_ADMIN_TITLE,
                    message=admin_message,
                    data=admin_data,
                    dedupe_key=failed_admin_key(spec.name, failure.job_id, failure.attempt),
                )
                for admin_id in await _admin_ids(session)
            ]
            persisted = await persist_notifications(session, drafts)
        if failure.user_id and persisted[0][0] is None:
            log.warning("notification.owner_unknown", queue=spec.name, outcome="failed")
        outs = [out for out, _ in persisted if out is not None]
        log.info("notification.persisted", outcome="failed", count=len(outs))
        await self._emit(outs)
        await self._emit_to_admins(admin_data)

    async def _emit_to_admins(self, data: dict[str, Any]) -> None:
        """The failure with its error to `role:ADMIN`, for every admin connected now."""
        try:
            async with asyncio.timeout(EMIT_TIMEOUT_S):
                await self.emitter.to_role(Role.ADMIN.value, JOB_FAILED_EVENT, data)
        except Exception as exc:
            log.warning("admin_event.emit_failed", error=type(exc).__name__)

    async def _emit(self, notifications: list[NotificationOut]) -> None:
        # Each row goes to its owner's room. Admin rows are one per admin (each can
        # be marked read on its own), so they go to `user:{adminId}` rather than to
        # `role:ADMIN`, where every admin would receive every admin's copy.
        for notification in notifications:
            try:
                async with asyncio.timeout(EMIT_TIMEOUT_S):
                    await self.emitter.notify(notification)
            except Exception as exc:
                log.warning(
                    "notification.emit_failed",
                    notificationId=notification.id,
                    error=type(exc).__name__,
                )
            else:
                log.debug("notification.emitted", notificationId=notification.id)
