"""The unread count stops at `UNREAD_CAP`: exact below it, flagged at it.

On PostgreSQL and SQLite, through the service the API calls. The plans are
checked too: the count reads the partial index `ix_notifications_unread`, and
a page after a cursor starts its index range at the cursor.
"""

from __future__ import annotations

from sqlalchemy import update

from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, Role
from ailawyer.services import notifications as service
from ailawyer.services.notifications import (
    UNREAD_CAP,
    NotificationDraft,
    list_notifications,
    persist_notifications,
    unread_count,
)
from ailawyer.services.users import create_user


async def _user(database: Database, name: str) -> str:
    async with database.session() as session:
        user = await create_user(
            session, email=f"{name}@kanzlei.test", name=name, password="p" * 16, role=Role.ANWALT
        )
        return user.id


async def _add(database: Database, user_id: str, count: int) -> list[str]:
    drafts = [
        NotificationDraft(user_id=user_id, type="info", title=f"N{i}", message="M")
        for i in range(count)
    ]
    async with database.session() as session:
        rows = await persist_notifications(session, drafts, check_owners=False)
    return [row.id for row, _ in rows if row is not None]


async def _set(database: Database, ids: list[str], **values: bool) -> None:
    async with database.session() as session:
        await session.execute(update(Notification).where(Notification.id.in_(ids)).values(values))


async def _count(database: Database, user_id: str) -> tuple[int, bool, int, bool]:
    """The count alone, and as the list's page carries it (both list kinds agree)."""
    async with database.engine.connect() as conn:
        alone = await unread_count(conn, user_id)
        page = await list_notifications(conn, user_id, limit=5)
        unread_page = await list_notifications(conn, user_id, limit=5, unread_only=True)
    assert (unread_page.unread_count, unread_page.unread_count_capped) == (
        page.unread_count,
        page.unread_count_capped,
    )
    return alone, service.is_capped(alone), page.unread_count, page.unread_count_capped


async def test_exact_below_the_cap_without_read_dismissed_or_others(database: Database) -> None:
    me, other = await _user(database, "ich"), await _user(database, "andere")
    await _add(database, other, UNREAD_CAP + 200)  # another user's: never counted
    mine = await _add(database, me, UNREAD_CAP + 10)
    await _set(database, mine[:6], read=True)
    # Dismissed but not read (dismissing marks read too; a row like this still
    # must not count).
    await _set(database, mine[6:11], dismissed=True)
    # 1,010 - 6 read - 5 dismissed: one below the cap, exact.
    assert await _count(database, me) == (UNREAD_CAP - 1, False, UNREAD_CAP - 1, False)
    assert await _count(database, await _user(database, "leer")) == (0, False, 0, False)

    # One more reaches the cap: from here on it is "at least UNREAD_CAP".
    await _set(database, mine[:1], read=False)
    assert await _count(database, me) == (UNREAD_CAP, True, UNREAD_CAP, True)
    await _add(database, me, 300)
    assert await _count(database, me) == (UNREAD_CAP, True, UNREAD_CAP, True)

    # Back below it: exact again.
    async with database.session() as session:
        # Every unread row, the five dismissed ones included.
        assert await service.mark_all_read(session, me) == UNREAD_CAP + 305
    assert await _count(database, me) == (0, False, 0, False)
    assert await _count(database, other) == (UNREAD_CAP, True, UNREAD_CAP, True)


async def test_count_and_pages_use_their_indexes(database: Database) -> None:
    me = await _user(database, "plan")
    await _add(database, me, 50)
    async with database.engine.connect() as conn:
        page = await list_notifications(conn, me, limit=5)
        assert page.next_cursor is not None
        stamp, item_id = service._decode_cursor(page.next_cursor)
        params = {"user_id": me, "stamp": stamp, "item_id": item_id, "limit": 6}
        if database.is_sqlite:
            explain = "EXPLAIN QUERY PLAN "
        else:
            # Few rows: make the planner show which index it can use at all.
            await conn.exec_driver_sql("SET enable_seqscan = off")
            await conn.exec_driver_sql("SET enable_bitmapscan = off")
            explain = "EXPLAIN "

        async def plan(statement: object) -> str:
            compiled = statement.compile(dialect=conn.dialect)  # type: ignore[attr-defined]
            values = compiled.construct_params(params)
            positional = tuple(values[name] for name in compiled.positiontup)
            result = await conn.exec_driver_sql(explain + str(compiled), positional)
            return "\n".join(str(row[-1]) for row in result)

        count_plan = await plan(service._UNREAD_COUNT)
        after_cursor = await plan(service._page_query(False, True))
        unread_after_cursor = await plan(service._page_query(True, True))
    if database.is_sqlite:
        assert "SEARCH unread USING" in count_plan, count_plan
        assert "created_at<?" in after_cursor, after_cursor
        assert "ix_notifications_unread (user_id=? AND created_at<?)" in unread_after_cursor
    else:
        assert "Index Only Scan using ix_notifications_unread" in count_plan, count_plan
        assert "Limit" in count_plan
        for found in (after_cursor, unread_after_cursor):
            assert "Index Cond: (((user_id)::text = " in found, found
            assert "AND (created_at <= " in found, found
        assert "ix_notifications_unread" in unread_after_cursor
