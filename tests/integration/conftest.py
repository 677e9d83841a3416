"""Fixtures of the service-level tests that run on both databases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ailawyer.db import migrate
from ailawyer.db.engine import Database


@pytest.fixture(params=["postgresql", "sqlite"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The session's migrated PostgreSQL database, or a new migrated SQLite file."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        return url
    url = f"sqlite:///{tmp_path / 'service.db'}"
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
