"""A job's outcome as notifications: persisted first, emitted after the commit.

What each notification says, and its dedupe key, is `services.outcomes`.
Emitting is best effort (pub/sub): the row is already committed and browsers
refetch on reconnect. A re-run emits the existing row again, with the same id,
so a browser that keys notifications by id shows it once.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

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
    UnknownOwner,
    insert_new_notifications,
    persist_notifications,
)
from ailawyer.services.outcomes import (
    FinalFailure,
    cancelled_draft,
    completed_draft,
    failure_admin_data,
    failure_drafts,
)

log = create_logger("worker.notify")

EMIT_TIMEOUT_S: Final = 3.0
# At most this many notifications per transaction (one multi-row INSERT).
MAX_BATCH: Final = 100

Persisted = tuple[NotificationOut | None, bool]


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
        # Outcomes of concurrent jobs are committed together (one transaction,
        # one INSERT); each job still returns only once its own row is committed,
        # and a database error fails every job of that write.
        self._persist: GroupCall[NotificationDraft, Persisted] = GroupCall(
            self._persist_batch, max_batch=MAX_BATCH
        )

    async def _persist_batch(self, drafts: list[NotificationDraft]) -> list[Persisted]:
        """Commit the batch, then emit its rows together; one result per draft."""
        persisted = await self._insert(drafts)
        outs = [out for out, _ in persisted if out is not None]
        # `job.completed` (info) follows for every job; this line is detail.
        log.debug("notification.persisted", notificationIds=[out.id for out in outs])
        # Inside the batch: its jobs return once their rows are committed and
        # published, as before, and the batch's messages go out in one round trip.
        await self._emit(outs)
        return persisted

    async def _insert(self, drafts: list[NotificationDraft]) -> list[Persisted]:
        # Owners almost always exist: insert at once, and look them up only when
        # one was deleted meanwhile (the foreign key refuses the INSERT, which
        # is one statement, atomic alone: no BEGIN/COMMIT round trips around it).
        # On PostgreSQL the statement goes through the driver: through a
        # session it costs about twice the CPU, most of a job's at low concurrency.
        try:
            if self.database.is_sqlite:
                async with self.database.statement() as session:
                    return await persist_notifications(session, drafts, check_owners=False)
            async with self.database.driver() as connection:
                inserted = await insert_new_notifications(connection, drafts)
        except (IntegrityError, UnknownOwner):
            async with self.database.session() as session:
                return await persist_notifications(session, drafts)
        if all(out is not None for out in inserted):
            return [(out, True) for out in inserted]
        # Delivered before (a job run again): the first rows stand, found by key.
        repeated = [draft for draft, out in zip(drafts, inserted, strict=True) if out is None]
        async with self.database.statement() as session:
            found = iter(await persist_notifications(session, repeated, check_owners=False))
        return [(out, True) if out is not None else next(found) for out in inserted]

    async def _one(self, draft: NotificationDraft, outcome: str, queue: str) -> None:
        """Commit one outcome's notification with its neighbours; emitted by the batch."""
        out, _ = await self._persist(draft)
        if out is None:
            log.warning("notification.owner_unknown", queue=queue, outcome=outcome)

    async def completed(self, spec: QueueSpec, job_id: str, user_id: str) -> None:
        """Commit the owner's notification (raises when the database fails), then emit."""
        await self._one(completed_draft(spec, job_id, user_id), "completed", spec.name)

    async def cancelled(self, spec: QueueSpec, job_id: str, user_id: str) -> None:
        """ "Vorgang abgebrochen" for the owner of a job cancelled while it ran."""
        await self._one(cancelled_draft(spec, job_id, user_id), "cancelled", spec.name)

    async def failed(self, spec: QueueSpec, failure: FinalFailure) -> None:
        """Commit the owner's and every admin's notification (one INSERT), then emit them."""
        async with self.database.session() as session:
            admins = await _admin_ids(session)
            drafts = failure_drafts(spec, failure, admins)
            persisted = await persist_notifications(session, drafts)
        owner_row = bool(failure.user_id) and failure.user_id not in admins
        if owner_row and persisted[0][0] is None:
            log.warning("notification.owner_unknown", queue=spec.name, outcome="failed")
        outs = [out for out, _ in persisted if out is not None]
        log.info("notification.persisted", outcome="failed", count=len(outs))
        await self._emit(outs)
        await self._emit_to_admins(failure_admin_data(spec, failure))

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
        if not notifications:
            return
        try:
            async with asyncio.timeout(EMIT_TIMEOUT_S):
                await self.emitter.notify_many(notifications)
        except Exception as exc:
            # Committed all the same: the browsers refetch on their next connect.
            for notification in notifications:
                log.warning(
                    "notification.emit_failed",
                    notificationId=notification.id,
                    error=type(exc).__name__,
                )
        else:
            log.debug("notification.emitted", notificationIds=[n.id for n in notifications])
