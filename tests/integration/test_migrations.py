"""`ailawyer db upgrade` on empty PostgreSQL and SQLite databases builds the plan's schema."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection

from ailawyer.db import migrate
from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, User
from tests.fixtures.processes import child_env, run_cli

TABLES = {"users", "user_sessions", "akten", "akte_members", "notifications", "system_settings"}


def schema(connection: Connection) -> dict[str, Any]:
    inspector = inspect(connection)
    return {
        "tables": set(inspector.get_table_names()) - {"alembic_version"},
        "indexes": {
            table: {tuple(ix["column_names"]) for ix in inspector.get_indexes(table)}
            for table in ("notifications", "system_settings")
        },
        "unique": {
            table: {tuple(uq["column_names"]) for uq in inspector.get_unique_constraints(table)}
            for table in ("system_settings", "users", "notifications")
        },
        "fks": {
            fk["referred_table"]: fk["options"].get("ondelete")
            for fk in inspector.get_foreign_keys("notifications")
        },
        "columns": {c["name"] for c in inspector.get_columns("notifications")},
    }


async def check_schema_and_cascade(url: str) -> None:
    database = Database(url, null_pool=True)
    try:
        async with database.engine.connect() as conn:
            found = await conn.run_sync(schema)
        assert found["tables"] == TABLES
        assert ("user_id", "read") in found["indexes"]["notifications"]
        assert ("user_id", "created_at") in found["indexes"]["notifications"]
        assert ("category",) in found["indexes"]["system_settings"]
        assert ("key",) in found["unique"]["system_settings"]
        assert ("email",) in found["unique"]["users"]
        assert found["fks"] == {"users": "CASCADE"}
        assert found["columns"] >= {
            "id",
            "user_id",
            "type",
            "title",
            "message",
            "data",
            "read",
            "dismissed",
            "sound_type",
            "created_at",
        }

        async with database.session() as session:
            user = User(email="c@example.org", name="C", password_hash="x", role="ANWALT")
            session.add(user)
            await session.flush()
            session.add(Notification(user_id=user.id, type="t", title="T", message="M"))
        async with database.session() as session:
            await session.delete(await session.get(User, user.id))
        async with database.session() as session:
            left = (await session.execute(select(Notification))).scalars().all()
            assert left == []
    finally:
        await database.dispose()


@pytest.mark.slow
def test_upgrade_on_empty_postgres(empty_pg_url: str) -> None:
    result = run_cli("db", "upgrade", env=child_env(DATABASE_URL=empty_pg_url))
    assert result.returncode == 0, result.stderr
    asyncio.run(check_schema_and_cascade(empty_pg_url))
    migrate.check(empty_pg_url)  # raises if models and migrations disagree


@pytest.mark.slow
def test_upgrade_on_new_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sub' / 'new.db'}"
    result = run_cli("db", "upgrade", env=child_env(DATABASE_URL=url))
    assert result.returncode == 0, result.stderr
    asyncio.run(check_schema_and_cascade(url))
    migrate.check(url)


def test_downgrade_to_base_and_back(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'roundtrip.db'}"
    migrate.upgrade(url)
    migrate.downgrade(url, "base")
    migrate.upgrade(url)
    migrate.check(url)
