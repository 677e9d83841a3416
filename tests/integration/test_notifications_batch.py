"""`persist_notifications`: many notifications in one INSERT, idempotent per key."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ailawyer.db import migrate
from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, Role
from ailawyer.services.notifications import (
    NotificationDraft,
    persist_notification,
    persist_notifications,
)
from ailawyer.services.users import create_user


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    url = f"sqlite:///{tmp_path / 'batch.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=2)
    yield database
    if not database.is_sqlite:  # the session's PostgreSQL database is shared
        async with database.engine.begin() as conn:
            await conn.exec_driver_sql("TRUNCATE users CASCADE")
    await database.dispose()


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
        earlier, _ = await persist_notification(
            session,
            user_id=user.id,
            type="job:completed",
            title="Zuerst",
            message="m",
            dedupe_key="job:bench:1:completed",
        )
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
