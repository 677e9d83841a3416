"""The running app (with the retryable test queue) and logged-in users; jobs are
put in place with `producer` and `tests.fixtures.jobs.run_worker`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from tests.fixtures import retryable_queue
from tests.fixtures.live_app import LiveApp, LoggedIn, app_settings, live_app, login, make_user


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (retryable_queue.MODULE,)


@pytest.fixture
async def app(
    db: Database, pg_url: str, prefix: str, extra_queue_modules: tuple[str, ...]
) -> AsyncIterator[LiveApp]:
    settings = app_settings(pg_url, prefix, extra_queues=",".join(extra_queue_modules))
    async with live_app(settings) as running:
        yield running


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
