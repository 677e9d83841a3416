"""Fixtures shared by every test: real Redis, real PostgreSQL, isolation per test."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import structlog
from redis.asyncio import Redis

from ailawyer.config import get_settings
from ailawyer.db import migrate
from ailawyer.db.engine import Database
from tests.fixtures.services import (
    REDIS_URL,
    RedisServer,
    create_pg_database,
    drop_pg_database,
)

# Tests never read a developer's .env or inherit production settings.
for _name in ("APP_ENV", "NODE_ENV", "DATABASE_URL", "LOG_FILE_PATH", "AUTH_SECRET"):
    os.environ.pop(_name, None)
os.environ["REDIS_URL"] = REDIS_URL
os.environ["APP_ENV"] = "test"


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """For tests that call configure_logging in this process."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def prefix() -> str:
    """A BullMQ prefix of its own for each test (instead of FLUSHALL)."""
    return f"t{secrets.token_hex(4)}"


@pytest.fixture
async def redis_client() -> AsyncIterator[Redis]:
    client = Redis.from_url(REDIS_URL)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL database built by the real migrations, for the whole run."""
    url = create_pg_database()
    migrate.upgrade(url)
    yield url
    drop_pg_database(url)


@pytest.fixture
def empty_pg_url() -> Iterator[str]:
    url = create_pg_database()
    yield url
    drop_pg_database(url)


TABLES = ("notifications", "akte_members", "akten", "user_sessions", "system_settings", "users")


@pytest.fixture
async def db(pg_url: str) -> AsyncIterator[Database]:
    """The session database, emptied after each test (workers commit their own)."""
    database = Database(pg_url, pool_size=2)
    yield database
    async with database.engine.begin() as conn:
        await conn.exec_driver_sql(f"TRUNCATE {', '.join(TABLES)} CASCADE")
    await database.dispose()


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path / "redis").start()
    yield server
    server.stop()
