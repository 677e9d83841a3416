"""The running app, the worker's emitter and recording clients, per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from ailawyer.db.engine import Database
from ailawyer.deployment import Deployment
from ailawyer.realtime.emitter import SocketEmitter
from tests.fixtures.live_app import LiveApp, app_settings, live_app
from tests.fixtures.services import REDIS_URL
from tests.fixtures.sockets import Recorder


@pytest.fixture
async def app(db: Database, pg_url: str, prefix: str) -> AsyncIterator[LiveApp]:
    async with live_app(app_settings(pg_url, prefix)) as running:
        yield running


@pytest.fixture
async def emitter(prefix: str) -> AsyncIterator[SocketEmitter]:
    """The worker's emitter, exactly as the worker builds it (the app's deployment)."""
    emitter = SocketEmitter(REDIS_URL, channel=Deployment(prefix=prefix).socketio_channel)
    yield emitter
    await emitter.close()


@pytest.fixture
async def recorder() -> AsyncIterator[Callable[[], Awaitable[Recorder]]]:
    """Makes recording clients; every one is closed after the test."""
    made: list[Recorder] = []

    async def make() -> Recorder:
        made.append(Recorder())
        return made[-1]

    yield make
    for item in made:
        await item.close()
