"""The running app (with the retryable test queue), a producer, and jobs in every state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from bullmq import Job, Worker

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.queues.definitions import test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_queues
from ailawyer.redis import get_queue_connection
from tests.fixtures.live_app import LiveApp, LoggedIn, app_settings, live_app, login, make_user
from tests.fixtures.retryable_queue import MODULE, retryable_queue
from tests.fixtures.services import REDIS_URL

Processor = Callable[[Job, str], Awaitable[Any]]


@pytest.fixture
async def app(db: Database, pg_url: str, prefix: str) -> AsyncIterator[LiveApp]:
    async with live_app(app_settings(pg_url, prefix, extra_queues=MODULE)) as running:
        yield running


@pytest.fixture
async def producer(prefix: str) -> AsyncIterator[QueueProducer]:
    """A producer of its own (same prefix as the app), to put jobs in place."""
    connection = get_queue_connection(REDIS_URL)
    made = QueueProducer(connection, load_queues([MODULE]), prefix=prefix)
    yield made
    await made.close()
    await connection.aclose()


@pytest.fixture
async def admin(app: LiveApp, db: Database) -> AsyncIterator[LoggedIn]:
    session = await login(app.url, await make_user(db, Role.ADMIN))
    yield session
    await session.http.aclose()


@pytest.fixture
async def lawyer(app: LiveApp, db: Database) -> AsyncIterator[LoggedIn]:
    session = await login(app.url, await make_user(db, Role.ANWALT))
    yield session
    await session.http.aclose()


async def run_worker(
    producer: QueueProducer, queue: str, processor: Processor, *, until: dict[str, int]
) -> None:
    """A real BullMQ worker on `queue` until its counts reach `until`, then closed."""
    worker = Worker(
        queue,
        processor,
        {"connection": REDIS_URL, "prefix": producer.prefix, "autorun": False, "drainDelay": 1},
    )
    task = asyncio.create_task(worker.run())
    try:
        async with asyncio.timeout(20):
            while True:
                counts = await producer.queue(queue).getJobCounts(*until)
                if all(counts[state] >= wanted for state, wanted in until.items()):
                    break
                await asyncio.sleep(0.05)
    finally:
        await worker.close()
        await task


async def succeed(job: Job, token: str) -> dict[str, bool]:
    await job.log("verarbeitet")
    return {"success": True}


async def fail(job: Job, token: str) -> None:
    await job.log("erster Versuch")
    raise RuntimeError("Testfehler im Dashboard")


@pytest.fixture
def queues() -> tuple[str, str]:
    return test_queue.name, retryable_queue.name
