"""`persist_notifications`: many notifications in one INSERT, idempotent per key."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, Role
from ailawyer.deployment import Deployment
from ailawyer.queues.definitions import test_queue
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.services.notifications import (
    NotificationDraft,
    insert_new_notifications,
    persist_notifications,
)
from ailawyer.services.users import create_user
from ailawyer.worker.notify import JobNotifier
from tests.fixtures.services import REDIS_URL


def draft(user_id: str, key: str | None, title: str = "Fertig") -> NotificationDraft:
    return NotificationDraft(
        user_id=user_id,
        type="job:completed",
        title=title,
        message="Der Vorgang ist abgeschlossen.",
        data={"jobId": key},
        dedupe_key=key,
    )


async def test_batch_is_idempotent_keeps_order_and_skips_unknown_users(
    database: Database,
) -> None:
    async with database.session() as session:
        user = await create_user(
            session, email="batch@kanzlei.test", name="B", password="p" * 16, role=Role.ANWALT
        )
        [(earlier, _)] = await persist_notifications(
            session, [draft(user.id, "job:bench:1:completed", title="Zuerst")]
        )
        assert earlier is not None
    drafts = [
        draft(user.id, "job:bench:1:completed", title="Wiederholt"),  # delivered before
        draft(user.id, "job:bench:2:completed"),
        draft("cunknownuser0000000000000", "job:bench:3:completed"),
        draft(user.id, None),
        draft(user.id, None),
    ]
    async with database.session() as session:
        results = await persist_notifications(session, drafts)

    assert [created for _, created in results] == [False, True, False, True, True]
    repeated, second, unknown, plain_a, plain_b = (out for out, _ in results)
    assert unknown is None
    assert repeated is not None and repeated.id == earlier.id and repeated.title == "Zuerst"
    assert second is not None and second.data == {"jobId": "job:bench:2:completed"}
    assert plain_a is not None and plain_b is not None and plain_a.id != plain_b.id
    async with database.session() as session:
        count = await session.scalar(select(func.count()).select_from(Notification))
    assert count == 4

    async with database.session() as session:  # the whole batch again: nothing new
        again = await persist_notifications(session, drafts[:2])
    assert [(out.id if out else None, created) for out, created in again] == [
        (earlier.id, False),
        (second.id, False),
    ]


async def test_empty_batch(database: Database) -> None:
    async with database.session() as session:
        assert await persist_notifications(session, []) == []


async def test_unchecked_batch_refuses_an_unknown_owner(database: Database) -> None:
    async with database.session() as session:
        user = await create_user(
            session, email="unchecked@kanzlei.test", name="U", password="p" * 16, role=Role.ANWALT
        )
    with pytest.raises(IntegrityError):
        async with database.session() as session:
            await persist_notifications(
                session,
                [draft(user.id, "job:bench:7:completed"), draft("cgone0000000000000000000", "k")],
                check_owners=False,
            )
    async with database.session() as session:  # nothing of the refused batch stays
        assert await session.scalar(select(func.count()).select_from(Notification)) == 0


async def test_notifier_batch_with_a_deleted_owner_still_notifies_the_others(
    database: Database, prefix: str
) -> None:
    # Concurrent completions are written together without looking owners up; a
    # deleted owner makes that INSERT fail, and the batch is written again, checked.
    async with database.session() as session:
        users = [
            await create_user(
                session, email=f"o{i}@kanzlei.test", name="O", password="p" * 16, role=Role.ANWALT
            )
            for i in range(3)
        ]
    emitter = SocketEmitter(REDIS_URL, channel=Deployment(prefix=prefix).socketio_channel)
    notifier = JobNotifier(database, emitter)
    owners = [users[0].id, "cdeleted000000000000000000", users[1].id, users[2].id]
    try:
        await asyncio.gather(
            *(
                notifier.completed(test_queue, f"job-{index}", owner)
                for index, owner in enumerate(owners)
            )
        )
    finally:
        await emitter.close()
    async with database.session() as session:
        stored = set(await session.scalars(select(Notification.user_id)))
    assert stored == {user.id for user in users}


async def test_a_notifier_batch_run_again_finds_its_first_rows(
    database: Database, prefix: str
) -> None:
    """A batch with re-delivered and new outcomes: the new get rows, the repeated
    their first ones (on PostgreSQL the driver's INSERT, then the lookup)."""
    async with database.session() as session:
        user = await create_user(
            session, email="again@kanzlei.test", name="A", password="p" * 16, role=Role.ANWALT
        )
    emitter = SocketEmitter(REDIS_URL, channel=Deployment(prefix=prefix).socketio_channel)
    notifier = JobNotifier(database, emitter)
    try:
        await notifier.completed(test_queue, "job-1", user.id)
        await asyncio.gather(
            *(notifier.completed(test_queue, f"job-{n}", user.id) for n in (1, 2, 3, 1))
        )
    finally:
        await emitter.close()
    async with database.session() as session:
        keys = list(await session.scalars(select(Notification.dedupe_key)))
    assert sorted(keys) == sorted(f"job:test:job-{n}:completed" for n in (1, 2, 3))


@pytest.fixture
async def postgres(pg_url: str) -> AsyncIterator[Database]:
    """`database` on PostgreSQL only: `Database.driver()` is asyncpg's."""
    database = Database(pg_url, pool_size=2)
    yield database
    async with database.engine.begin() as conn:
        await conn.exec_driver_sql("TRUNCATE users CASCADE")
    await database.dispose()


async def test_the_drivers_rows_are_the_rows_the_orm_writes(postgres: Database) -> None:
    """`insert_new_notifications` spells the table out in SQL: what it returns is
    what the ORM reads back, field for field."""
    database = postgres
    async with database.session() as session:
        user = await create_user(
            session, email="driver@kanzlei.test", name="D", password="p" * 16, role=Role.ANWALT
        )
    drafts = [
        draft(user.id, "job:bench:1:completed"),
        NotificationDraft(
            user_id=user.id,
            type="job:failed",
            title="Fehlgeschlagen: Prüfung",
            message="Ä\nzwei Zeilen",
            data={"jobId": "2", "nested": {"list": [1, 2.5, None, "ß"]}},
            dedupe_key=None,
            sound_type="error",
        ),
        NotificationDraft(user_id=user.id, type="t", title="ohne Daten", message="m"),
    ]
    async with database.driver() as connection:
        written = await insert_new_notifications(connection, drafts)
    async with database.session() as session:
        again = await persist_notifications(session, drafts[:1])
        rows = {row.id: row for row in await session.scalars(select(Notification))}
    assert all(out is not None for out in written)
    assert [out.id if out else None for out, _ in again] == [written[0].id if written[0] else None]
    for out in written:
        assert out is not None
        row = rows[out.id]
        stored = {field: getattr(row, field) for field in type(out).model_fields}
        assert out.model_dump() == stored

    # Delivered before: no second row, and None in its place.
    async with database.driver() as connection:
        assert await insert_new_notifications(connection, drafts[:1]) == [None]


async def test_a_driver_connection_that_broke_is_not_handed_out_again(
    postgres: Database, pg_url: str
) -> None:
    database = postgres
    async with database.driver() as connection:
        first_pid = await connection.fetchval("SELECT pg_backend_pid()")
    killer = Database(pg_url, null_pool=True)
    try:
        async with killer.reader() as conn:
            await conn.exec_driver_sql(f"SELECT pg_terminate_backend({int(first_pid)})")
    finally:
        await killer.dispose()
    with pytest.raises(Exception) as failed:
        async with database.driver() as connection:
            await connection.fetchval("SELECT 1")
    assert "IntegrityConstraint" not in type(failed.value).__name__
    for _ in range(3):  # the pool (two connections) holds no broken one any more
        async with database.driver() as connection:
            assert await connection.fetchval("SELECT pg_backend_pid()") != first_pid
