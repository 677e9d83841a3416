"""Fixtures shared by every test: real Redis, real PostgreSQL, isolation per test,
the producer and the test's own `ailawyer` processes.

Directories adjust two of them by overriding a fixture of the same name:
`extra_queue_modules` (which queue modules beyond ALL_QUEUES the test's processes
and `producer` load) and `process_env` (the settings of its processes).
"""

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
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_queues
from ailawyer.redis import get_queue_connection
from tests.fixtures.processes import Processes, process_settings
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


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    """Queue modules beyond ALL_QUEUES (WORKER_EXTRA_QUEUES) that the test's
    processes and `producer` load. None here; directories name theirs."""
    return ()


@pytest.fixture
async def producer(
    prefix: str, extra_queue_modules: tuple[str, ...]
) -> AsyncIterator[QueueProducer]:
    """Enqueues as the app does, on the test's prefix and a fail-fast connection,
    into ALL_QUEUES and the test's extra queues (also jobs the API cannot create)."""
    connection = get_queue_connection(REDIS_URL)
    made = QueueProducer(connection, load_queues(list(extra_queue_modules)), prefix=prefix)
    yield made
    await made.close()
    await connection.aclose()


WORKER_LOOPS = ("lean", "bullmq")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test marked `both_loops` runs once per worker loop (WORKER_LOOP): the
    product-level half of the conformance suite (tests/integration/worker/conformance)."""
    if metafunc.definition.get_closest_marker("both_loops") and (
        "worker_loop" in metafunc.fixturenames
    ):
        metafunc.parametrize("worker_loop", WORKER_LOOPS)


@pytest.fixture
def worker_loop() -> str:
    return "lean"


@pytest.fixture
def process_env(
    pg_url: str, prefix: str, extra_queue_modules: tuple[str, ...], worker_loop: str
) -> dict[str, str]:
    """Settings of every `ailawyer` process the test starts; directories add theirs."""
    return {
        **process_settings(
            database_url=pg_url, prefix=prefix, extra_queue_modules=extra_queue_modules
        ),
        "WORKER_LOOP": worker_loop,
    }


@pytest.fixture
def process_dir(tmp_path: Path) -> Path:
    """Where the test's processes write their output (and, in production mode, log files)."""
    return tmp_path / "logs"


@pytest.fixture
def processes(db: Database, process_env: dict[str, str], process_dir: Path) -> Iterator[Processes]:
    """Starts the test's `ailawyer` processes; stops them (by pid) before `db`
    empties the tables, so no process writes into the next test."""
    started = Processes(process_env, process_dir)
    yield started
    started.close()
