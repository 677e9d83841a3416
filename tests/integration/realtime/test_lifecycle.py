"""The lifespan owns the Socket.IO server: a clean stop leaves nothing running."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ailawyer.db.engine import Database
from tests.fixtures.live_app import app_settings, live_app, login, make_user
from tests.fixtures.sockets import Recorder


async def test_stop_disconnects_clients_and_leaves_no_task(
    db: Database, pg_url: str, prefix: str, recorder: Callable[[], Awaitable[Recorder]]
) -> None:
    async with live_app(app_settings(pg_url, prefix)) as app:
        session = await login(app.url, await make_user(db))
        await session.http.aclose()
        websocket = await recorder()
        await websocket.connect(app.url, session.cookie_header)
        polling = await recorder()
        await polling.connect(app.url, session.cookie_header, transports=["polling"])
        assert websocket.client.connected and polling.client.connected

        await app.stop()

        # The server said goodbye; the clients did not have to time out.
        async with asyncio.timeout(5):
            while websocket.client.connected or polling.client.connected:
                await asyncio.sleep(0.05)
    await websocket.close()
    await polling.close()

    left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert left == [], [task.get_coro() for task in left]
