"""The platform's clean-ups: what the `maintenance.*` schedules run.

Each deletes in batches of at most `BATCH_ROWS` rows per statement, each batch
its own short transaction: a large backlog never holds a long lock, and app and
worker go on writing meanwhile. Queues are cleaned with BullMQ's own `clean`,
which makes the retention of `removeOnComplete`/`removeOnFail` true for queues
where no job finishes any more (BullMQ applies it only when the next job of the
same queue finishes). docs/operations.md lists the schedules and their settings.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Final

from bullmq import Queue
from sqlalchemy import ColumnElement, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ailawyer.db.base import utcnow
from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, UserSession
from ailawyer.errors import NotFound
from ailawyer.logs import create_logger
from ailawyer.services.settings import RETENTION_DAYS_DEFAULT, decode_value, get_setting

log = create_logger("maintenance")

BATCH_ROWS: Final = 2000
QUEUE_BATCH: Final = 1000
DAY_MS: Final = 86_400_000
COMPLETED_KEPT_MS: Final = DAY_MS
FAILED_KEPT_MS: Final = 7 * DAY_MS


async def _delete_batches(
    database: Database,
    table: type[Notification] | type[UserSession],
    *conditions: ColumnElement[bool],
) -> int:
    """Delete the rows of `table` meeting `conditions`, BATCH_ROWS at a time."""
    total = 0
    while True:
        async with database.session() as session:
            batch = select(table.id).where(*conditions).limit(BATCH_ROWS).scalar_subquery()
            result = await session.execute(delete(table).where(table.id.in_(batch)))
            removed = int(getattr(result, "rowcount", 0) or 0)
        total += removed
        if removed < BATCH_ROWS:
            return total


async def delete_dismissed_notifications(database: Database, *, older_than: datetime) -> int:
    """Dismissed notifications created before `older_than`; returns how many."""
    removed = await _delete_batches(
        database,
        Notification,
        Notification.dismissed.is_(True),
        Notification.created_at < older_than,
    )
    log.info("maintenance.notifications_deleted", count=removed)
    return removed


async def delete_ended_sessions(database: Database) -> int:
    """Sessions that expired or were revoked (logged out, deactivated)."""
    removed = await _delete_batches(
        database,
        UserSession,
        or_(UserSession.expires_at < utcnow(), UserSession.revoked_at.is_not(None)),
    )
    log.info("maintenance.sessions_deleted", count=removed)
    return removed


async def clean_queues(queues: Iterable[Queue]) -> dict[str, int]:
    """Completed jobs older than a day and failed ones older than a week, on every
    queue (the default job options' retention); returns how many per queue."""
    cleaned: dict[str, int] = {}
    for queue in queues:
        count = 0
        for state, grace_ms in (("completed", COMPLETED_KEPT_MS), ("failed", FAILED_KEPT_MS)):
            while True:
                removed = len(await queue.clean(grace_ms, QUEUE_BATCH, state) or [])
                count += removed
                if removed < QUEUE_BATCH:
                    break
        cleaned[queue.name] = count
    log.info("maintenance.queues_cleaned", removed=cleaned)
    return cleaned


async def retention_days(session: AsyncSession, default: int = RETENTION_DAYS_DEFAULT) -> int:
    """The `notifications.retention_days` setting (its default if it is not stored)."""
    try:
        item = await get_setting(session, "notifications.retention_days")
    except NotFound:
        return default
    value = decode_value(item.type, item.value)
    return int(value) if isinstance(value, int | float) and value >= 1 else default
