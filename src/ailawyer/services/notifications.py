"""Notifications: idempotent persistence (worker) and the owner's view (API).

Every query is scoped by `user_id`: another user's notification is simply not
found, so its existence is never revealed.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any, Final, cast

import asyncpg
from pydantic import Field
from sqlalchemy import (
    Select,
    Table,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ailawyer import messages
from ailawyer.db.base import new_id, utcnow
from ailawyer.db.models import Notification, User
from ailawyer.errors import BadRequest, NotFound
from ailawyer.schemas import CamelModel

MAX_PAGE = 100
# The unread count stops counting here: it costs the same for a user with a
# thousand unread notifications as for one with a million. At the cap the API
# says `unreadCountCapped: true` and the page shows "999+".
UNREAD_CAP = 1000


class NotificationOut(CamelModel):
    """A notification as the API and the `notification` Socket.IO event carry it."""

    id: str
    user_id: str
    type: str
    title: str
    message: str
    data: dict[str, Any] | None
    read: bool
    dismissed: bool
    sound_type: str | None
    created_at: datetime

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class NotificationPage(CamelModel):
    items: list[NotificationOut]
    unread_count: int = Field(
        description=f"unread and not dismissed, exact below {UNREAD_CAP}, else {UNREAD_CAP}"
    )
    unread_count_capped: bool = Field(
        description=f"true when there are {UNREAD_CAP} or more (`unreadCount` is then {UNREAD_CAP})"
    )
    next_cursor: str | None


@dataclass(frozen=True)
class NotificationDraft:
    """A notification to persist; `dedupe_key` makes a second delivery a no-op."""

    user_id: str
    type: str
    title: str
    message: str
    data: dict[str, Any] | None = None
    dedupe_key: str | None = None
    sound_type: str | None = None


_TABLE = cast(Table, Notification.__table__)
_COLUMNS = tuple(_TABLE.c)
_OUT_FIELDS = frozenset(NotificationOut.model_fields)


def _row_out(row: Any) -> NotificationOut:
    return NotificationOut.model_validate(
        {key: value for key, value in row._mapping.items() if key in _OUT_FIELDS}
    )


async def persist_notifications(
    session: AsyncSession, drafts: list[NotificationDraft], *, check_owners: bool = True
) -> list[tuple[NotificationOut | None, bool]]:
    """Insert drafts, once per (user, dedupe_key), with one INSERT.

    The one way notifications are written. Idempotent per (user, dedupe_key): a
    second delivery of the same job outcome finds the first row instead of adding
    another (INSERT … ON CONFLICT DO NOTHING, then one lookup of the rest).
    Returns, per draft, its row and whether it is new; `(None, False)` when its
    user no longer exists. The worker's hot path, hence Core rather than the ORM.

    `check_owners=False` skips looking the owners up first (a round trip): a
    draft whose user is gone then fails the whole INSERT with `IntegrityError`,
    and the caller tries again, checking.
    """
    if not drafts:
        return []
    user_ids = {d.user_id for d in drafts}
    owners = (
        set(await session.scalars(select(User.id).where(User.id.in_(user_ids))))
        if check_owners
        else user_ids
    )
    now = utcnow()
    ids = {index: new_id() for index, d in enumerate(drafts) if d.user_id in owners}
    rows = [
        {
            "id": ids[index],
            "user_id": d.user_id,
            "type": d.type,
            "title": d.title,
            "message": d.message,
            "data": d.data,
            "read": False,
            "dismissed": False,
            "sound_type": d.sound_type,
            "dedupe_key": d.dedupe_key,
            "created_at": now,
        }
        for index, d in enumerate(drafts)
        if index in ids
    ]
    inserted: dict[str, NotificationOut] = {}
    if rows:
        insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
        # Executed with a list of rows, SQLAlchemy ("insertmanyvalues") sends one
        # multi-row INSERT from a cached statement; `.values(rows)` would be
        # compiled anew for every call.
        statement = (
            insert(_TABLE)
            .on_conflict_do_nothing(index_elements=["user_id", "dedupe_key"])
            .returning(*_COLUMNS)
        )
        for row in await session.execute(statement, rows):
            inserted[row.id] = _row_out(row)
    # The rest were delivered before (a job run twice): their first row stands.
    repeated = {
        (d.user_id, d.dedupe_key)
        for index, d in enumerate(drafts)
        if index in ids and ids[index] not in inserted and d.dedupe_key is not None
    }
    stored: dict[tuple[str, str | None], NotificationOut] = {}
    if repeated:
        found = await session.execute(
            select(*_COLUMNS).where(tuple_(_TABLE.c.user_id, _TABLE.c.dedupe_key).in_(repeated))
        )
        stored = {(row.user_id, row.dedupe_key): _row_out(row) for row in found}
    results: list[tuple[NotificationOut | None, bool]] = []
    for index, d in enumerate(drafts):
        new = inserted.get(ids[index]) if index in ids else None
        if new is not None:
            results.append((new, True))
        else:
            results.append((stored.get((d.user_id, d.dedupe_key)), False))
    return results


class UnknownOwner(Exception):
    """A draft's user is gone (the foreign key refused the row): nothing was written."""


# `insert_new_notifications`' statement: the same row `persist_notifications`
# writes, as arrays (one statement, one parameter set, whatever the batch size).
# Pinned to the ORM's table by tests/integration/test_notifications_batch.py.
_DRIVER_INSERT: Final = """
INSERT INTO notifications
    (id, user_id, type, title, message, data, read, dismissed, sound_type, dedupe_key, created_at)
SELECT id, user_id, type, title, message, data, false, false, sound_type, dedupe_key, $9
FROM unnest(
    $1::varchar[], $2::varchar[], $3::varchar[], $4::varchar[],
    $5::json[], $6::text[], $7::varchar[], $8::varchar[]
) AS draft(id, user_id, type, title, data, message, sound_type, dedupe_key)
ON CONFLICT (user_id, dedupe_key) DO NOTHING
RETURNING id
"""


async def insert_new_notifications(
    connection: asyncpg.Connection, drafts: list[NotificationDraft]
) -> list[NotificationOut | None]:
    """The worker's hot path of `persist_notifications`, on PostgreSQL's driver.

    One INSERT sent by asyncpg, the rows built from the drafts. Per draft, its
    new row, or `None` when its key has a row already (delivered before: the
    caller asks `persist_notifications`, which finds that row). Raises
    `UnknownOwner` when a draft's user is gone; nothing is written then.
    """
    now = utcnow()
    ids = [new_id() for _ in drafts]
    data = [None if d.data is None else json.dumps(d.data) for d in drafts]
    try:
        inserted = await connection.fetch(
            _DRIVER_INSERT,
            ids,
            [d.user_id for d in drafts],
            [d.type for d in drafts],
            [d.title for d in drafts],
            data,
            [d.message for d in drafts],
            [d.sound_type for d in drafts],
            [d.dedupe_key for d in drafts],
            now,
        )
    except asyncpg.ForeignKeyViolationError:
        raise UnknownOwner from None
    new = {row["id"] for row in inserted}
    return [
        NotificationOut(
            id=row_id,
            user_id=d.user_id,
            type=d.type,
            title=d.title,
            message=d.message,
            data=None if encoded is None else json.loads(encoded),
            read=False,
            dismissed=False,
            sound_type=d.sound_type,
            created_at=now,
        )
        if row_id in new
        else None
        for row_id, d, encoded in zip(ids, drafts, data, strict=True)
    ]


def _encode_cursor(item: NotificationOut) -> str:
    raw = f"{item.created_at.isoformat()}|{item.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, _, item_id = raw.partition("|")
        if not item_id:
            raise ValueError(cursor)
        return datetime.fromisoformat(stamp), item_id
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadRequest("Ungültiger Cursor") from None


# The list's statements are built once, with bound parameters: building a
# select with an aliased subquery costs more than running it.
_USER_ID = bindparam("user_id", type_=_TABLE.c.user_id.type)


def _unread_count_query() -> Select[int]:
    """Count unread rows, but no more than `UNREAD_CAP` of them.

    The LIMIT inside makes it read at most that many entries of the partial
    index `ix_notifications_unread` (the conditions are its predicate), so a
    long history costs nothing. An alias: inside the list's statement it must
    not correlate with the page.
    """
    unread = _TABLE.alias("unread")
    capped = (
        select(unread.c.id)
        .where(
            unread.c.user_id == _USER_ID,
            unread.c.read.is_(False),
            unread.c.dismissed.is_(False),
        )
        # A literal: a prepared statement's generic plan then still knows how
        # few rows it needs.
        .limit(literal_column(str(UNREAD_CAP)))
        .subquery("capped")
    )
    return select(func.count()).select_from(capped)


_UNREAD_COUNT = _unread_count_query()


def is_capped(count: int) -> bool:
    return count >= UNREAD_CAP


async def unread_count(db: AsyncSession | AsyncConnection, user_id: str) -> int:
    """Unread and not dismissed: exact below `UNREAD_CAP`, else `UNREAD_CAP`."""
    return int((await db.execute(_UNREAD_COUNT, {"user_id": user_id})).scalar() or 0)


# Only what the API shows (not `dedupe_key`), as plain rows: no ORM instances.
_LIST_FIELDS = tuple(NotificationOut.model_fields)


@cache
def _page_query(unread_only: bool, after_cursor: bool) -> Select[Any]:
    """One page, newest first, with the unread count as an uncorrelated
    subquery (PostgreSQL computes it once, as an InitPlan).

    After a cursor, `created_at <= stamp` repeats what the OR implies: neither
    PostgreSQL nor SQLite derives an index range from the OR, and without it a
    deep page scanned every newer row of the user.
    """
    c = _TABLE.c
    query = select(
        *(c[name] for name in _LIST_FIELDS),
        _unread_count_query().scalar_subquery().label("unread_count"),
    ).where(c.user_id == _USER_ID, c.dismissed.is_(False))
    if unread_only:
        query = query.where(c.read.is_(False))
    if after_cursor:
        stamp = bindparam("stamp", type_=c.created_at.type)
        item_id = bindparam("item_id", type_=c.id.type)
        query = query.where(
            c.created_at <= stamp,
            or_(c.created_at < stamp, and_(c.created_at == stamp, c.id < item_id)),
        )
    return query.order_by(c.created_at.desc(), c.id.desc()).limit(bindparam("limit"))


async def list_notifications(
    db: AsyncSession | AsyncConnection,
    user_id: str,
    *,
    limit: int = 20,
    cursor: str | None = None,
    unread_only: bool = False,
) -> NotificationPage:
    """The owner's notifications, newest first, without dismissed ones.

    A read: it needs no transaction, so the API runs it on an autocommit
    connection. One statement brings the page and the unread count (capped at
    `UNREAD_CAP`, see `_unread_count_query`); only an
    empty page asks for the count on its own. Rows become `NotificationOut`
    without a second validation pass (the table types the columns).
    """
    limit = max(1, min(limit, MAX_PAGE))
    params: dict[str, Any] = {"user_id": user_id, "limit": limit + 1}
    if cursor:
        params["stamp"], params["item_id"] = _decode_cursor(cursor)
    query = _page_query(unread_only, bool(cursor))
    rows = (await db.execute(query, params)).all()
    count = int(rows[0][-1]) if rows else await unread_count(db, user_id)
    more = len(rows) > limit
    items = [
        NotificationOut.model_construct(**dict(zip(_LIST_FIELDS, row, strict=False)))
        for row in rows[:limit]
    ]
    return NotificationPage.model_construct(
        items=items,
        unread_count=count,
        unread_count_capped=is_capped(count),
        next_cursor=_encode_cursor(items[-1]) if more and items else None,
    )


async def get_own(session: AsyncSession, user_id: str, notification_id: str) -> Notification:
    item = await session.scalar(
        select(Notification).where(
            Notification.id == notification_id, Notification.user_id == user_id
        )
    )
    if item is None:
        raise NotFound(messages.NOTIFICATION_NOT_FOUND)
    return item


async def mark_read(session: AsyncSession, user_id: str, notification_id: str) -> Notification:
    item = await get_own(session, user_id, notification_id)
    item.read = True
    await session.flush()
    return item


async def dismiss(session: AsyncSession, user_id: str, notification_id: str) -> Notification:
    item = await get_own(session, user_id, notification_id)
    item.dismissed = True
    item.read = True
    await session.flush()
    return item


async def mark_all_read(session: AsyncSession, user_id: str) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.read.is_(False))
        .values(read=True)
    )
    return int(getattr(result, "rowcount", 0) or 0)
