"""The app as a real `ailawyer serve` process, a worker beside it when a test needs
one, and users with logged-in clients.

Each test gets a freshly emptied database (the `db` fixture). Apps and workers
a test starts for itself (`app_factory`, `worker_factory`, `pipeline`) use the
test's own BullMQ prefix and are stopped before the database is emptied.
Login limits are high: every test logs in from 127.0.0.1 against the shared
Redis; the rate-limit test runs on a private Redis with a low limit.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from bullmq import Job

from ailawyer.db.engine import Database
from ailawyer.db.models import Role, User
from ailawyer.queues import test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.redis import get_queue_connection
from tests.fixtures.live_app import LoggedIn, login, make_user
from tests.fixtures.processes import (
    AppProcess,
    ChildProcess,
    launch_worker,
    start_app,
    wait_worker_started,
)
from tests.fixtures.retryable_queue import MODULE as RETRYABLE_QUEUE_MODULE
from tests.fixtures.retryable_queue import retryable_queue
from tests.fixtures.services import REDIS_URL

StartApp = Callable[..., AppProcess]


def base_env(pg_url: str, prefix: str) -> dict[str, str]:
    """What app and worker of one test share."""
    return {
        "DATABASE_URL": pg_url,
        "BULLMQ_PREFIX": prefix,
        "WORKER_EXTRA_QUEUES": RETRYABLE_QUEUE_MODULE,
        "LOGIN_RATE_LIMIT": "1000",
        "LOG_LEVEL": "info",
        "HEALTH_CHECK_TIMEOUT_MS": "1000",
    }


@pytest.fixture
def api_env(pg_url: str, prefix: str) -> dict[str, str]:
    return base_env(pg_url, prefix)


@pytest.fixture
def app_factory(db: Database, api_env: dict[str, str], tmp_path: Path) -> Iterator[StartApp]:
    """Start `ailawyer serve` with the test's environment plus overrides."""
    started: list[AppProcess] = []

    def start(**overrides: str) -> AppProcess:
        app = start_app({**api_env, **overrides}, tmp_path / "logs")
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()


@pytest.fixture
def worker_factory(
    db: Database, api_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., ChildProcess]]:
    """Launch `ailawyer worker` (not waiting for it: see `wait_worker_started`)."""
    started: list[ChildProcess] = []

    def launch(**overrides: str) -> ChildProcess:
        worker = launch_worker({**api_env, **overrides}, tmp_path / "logs")
        started.append(worker)
        return worker

    yield launch
    for worker in started:
        worker.stop()


@pytest.fixture
def pipeline(
    worker_factory: Callable[..., ChildProcess], app_factory: StartApp
) -> tuple[AppProcess, ChildProcess]:
    """App and worker of one test, started side by side."""
    worker = worker_factory()
    app = app_factory()
    return app, wait_worker_started(worker)


@pytest.fixture(scope="module")
def shared_app(pg_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppProcess]:
    """One app for a module's tests that need nothing of their own.

    Starting a process costs seconds; tests that only log in and call the API
    share one. They still get an emptied database each (`db`); anything that
    enqueues, needs other settings or reads the app's log starts its own app
    (`app_factory`, `pipeline`) on the test's own BullMQ prefix.
    """
    app = start_app(
        base_env(pg_url, f"m{secrets.token_hex(4)}"), tmp_path_factory.mktemp("shared-app")
    )
    yield app
    app.stop()


@pytest.fixture
def app_server(db: Database, request: pytest.FixtureRequest) -> AppProcess:
    """The test's app: the one of `pipeline` when the test uses that, else the
    module's shared app."""
    name = "pipeline" if "pipeline" in request.fixturenames else "shared_app"
    found = request.getfixturevalue(name)
    return found[0] if isinstance(found, tuple) else found  # type: ignore[no-any-return]


@pytest.fixture
async def admin(db: Database) -> User:
    return await make_user(db, Role.ADMIN)


@pytest.fixture
async def lawyer(db: Database) -> User:
    return await make_user(db, Role.ANWALT)


@pytest.fixture
async def other_lawyer(db: Database) -> User:
    return await make_user(db, Role.SACHBEARBEITER)


@pytest.fixture
async def as_admin(app_server: AppProcess, admin: User) -> AsyncIterator[LoggedIn]:
    session = await login(app_server.url, admin)
    yield session
    await session.http.aclose()


@pytest.fixture
async def as_lawyer(app_server: AppProcess, lawyer: User) -> AsyncIterator[LoggedIn]:
    session = await login(app_server.url, lawyer)
    yield session
    await session.http.aclose()


@pytest.fixture
async def as_other(app_server: AppProcess, other_lawyer: User) -> AsyncIterator[LoggedIn]:
    session = await login(app_server.url, other_lawyer)
    yield session
    await session.http.aclose()


@pytest.fixture
async def anonymous(app_server: AppProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with app_server.client() as client:
        yield client


@pytest.fixture
async def producer(prefix: str) -> AsyncIterator[QueueProducer]:
    """A producer on the test's prefix, for jobs the API cannot create (failing ones)."""
    connection = get_queue_connection(REDIS_URL)
    producer = QueueProducer(connection, (test_queue, retryable_queue), prefix=prefix)
    yield producer
    await producer.close()
    await connection.aclose()


async def wait_for_state(
    producer: QueueProducer, queue: str, job_id: str, state: str, timeout: float
) -> float:
    """Seconds until the job reached `state`; fails with the last state seen."""
    started = time.monotonic()
    seen = None
    while time.monotonic() - started < timeout:
        job = await Job.fromId(producer.queue(queue), job_id)
        seen = await job.getState() if job is not None else None
        if seen == state:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {queue}/{job_id} is {seen!r}, not {state!r}, after {timeout} s")
