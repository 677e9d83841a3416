"""Fixtures of the worker tests: worker processes, a producer, users to notify.

Isolation: every test has its own BullMQ prefix (workers and producer share it),
and the `db` fixture truncates the tables afterwards.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role, User
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_queues
from ailawyer.redis import get_queue_connection
from ailawyer.services.users import create_user
from tests.fixtures.services import REDIS_URL
from tests.fixtures.workers import EXTRA_QUEUES, WorkerFactory


@pytest.fixture
def worker_process(prefix: str, pg_url: str, tmp_path: Path) -> Iterator[WorkerFactory]:
    factory = WorkerFactory(prefix=prefix, database_url=pg_url, directory=tmp_path / "workers")
    yield factory
    factory.close()


@pytest.fixture
async def producer(prefix: str) -> AsyncIterator[QueueProducer]:
    connection = get_queue_connection(REDIS_URL)
    queue_producer = QueueProducer(connection, load_queues([EXTRA_QUEUES]), prefix=prefix)
    yield queue_producer
    await queue_producer.close()
    await connection.aclose()


async def _user(db: Database, email: str, role: Role) -> User:
    async with db.session() as session:
        return await create_user(
            session, email=email, name=email.split("@")[0], password="x" * 12, role=role
        )


@pytest.fixture
async def owner(db: Database) -> User:
    return await _user(db, "anwalt@kanzlei.test", Role.ANWALT)


@pytest.fixture
async def admin(db: Database) -> User:
    return await _user(db, "admin@kanzlei.test", Role.ADMIN)
