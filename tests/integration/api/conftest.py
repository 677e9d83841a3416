"""The app as a real `ailawyer serve` process, a worker beside it when a test needs
one, and users with logged-in clients.

Each test gets a freshly emptied database (the `db` fixture). Apps and workers
a test starts for itself (`processes`, `pipeline`) use the test's own BullMQ
prefix and are stopped before the database is emptied. Login limits are high:
every test logs in from 127.0.0.1 against the shared Redis; the rate-limit test
starts an app with a low limit.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role, User
from tests.fixtures import retryable_queue
from tests.fixtures.live_app import LoggedIn, login, make_user
from tests.fixtures.processes import ChildProcess, Processes, process_settings


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (retryable_queue.MODULE,)


@pytest.fixture
def pipeline(processes: Processes) -> tuple[ChildProcess, ChildProcess]:
    """App and worker of one test, started side by side."""
    worker = processes.launch_worker()
    app = processes.serve()
    return app, worker.wait_ready()


@pytest.fixture(scope="module")
def shared_app(
    pg_url: str, extra_queue_modules: tuple[str, ...], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ChildProcess]:
    """One app for a module's tests that need nothing of their own.

    Starting a process costs seconds; tests that only log in and call the API
    share one. They still get an emptied database each (`db`); anything that
    enqueues, needs other settings or reads the app's log starts its own app
    (`processes`, `pipeline`) on the test's own BullMQ prefix.
    """
    settings = process_settings(
        database_url=pg_url,
        prefix=f"m{secrets.token_hex(4)}",
        extra_queue_modules=extra_queue_modules,
    )
    started = Processes(settings, tmp_path_factory.mktemp("shared-app"))
    yield started.serve()
    started.close()


@pytest.fixture
def app_server(db: Database, request: pytest.FixtureRequest) -> ChildProcess:
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
async def as_admin(app_server: ChildProcess, admin: User) -> AsyncIterator[LoggedIn]:
    session = await login(app_server.url, admin)
    yield session
    await session.http.aclose()


@pytest.fixture
async def as_lawyer(app_server: ChildProcess, lawyer: User) -> AsyncIterator[LoggedIn]:
    session = await login(app_server.url, lawyer)
    yield session
    await session.http.aclose()


@pytest.fixture
async def as_other(app_server: ChildProcess, other_lawyer: User) -> AsyncIterator[LoggedIn]:
    session = await login(app_server.url, other_lawyer)
    yield session
    await session.http.aclose()


@pytest.fixture
async def anonymous(app_server: ChildProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with app_server.client() as client:
        yield client
