"""The notifications of jobs committed together are published together
(`JobNotifier`, `SocketEmitter.notify_many`): every browser still gets each of
its own, once, and nobody else's."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from sqlalchemy import select

from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, Role
from ailawyer.queues import test_queue
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.worker.notify import JobNotifier
from tests.fixtures.live_app import LiveApp, login, make_user
from tests.fixtures.sockets import SENTINEL_EVENT, Recorder

MakeRecorder = Callable[[], Awaitable[Recorder]]


async def test_a_batch_of_completions_reaches_each_owner_with_each_notification(
    app: LiveApp, db: Database, emitter: SocketEmitter, recorder: MakeRecorder
) -> None:
    first, second = await make_user(db, Role.ANWALT), await make_user(db, Role.SACHBEARBEITER)
    clients: dict[str, Recorder] = {}
    for user in (first, second):
        session = await login(app.url, user)
        await session.http.aclose()
        clients[user.id] = await recorder()
        await clients[user.id].connect(app.url, session.cookie_header)

    notifier = JobNotifier(db, emitter)
    owners = [first.id] * 6 + [second.id] * 4
    # At once, as a busy worker's jobs finish: the first is written alone, the
    # others wait for it and are committed and published as one batch.
    await asyncio.gather(
        *(
            notifier.completed(test_queue, f"batch-{index}", owner)
            for index, owner in enumerate(owners)
        )
    )
    for user_id in clients:
        await emitter.to_user(user_id, SENTINEL_EVENT, {})
    await asyncio.gather(*(client.wait_for(SENTINEL_EVENT) for client in clients.values()))

    async with db.session() as session:
        rows = (await session.execute(select(Notification.id, Notification.user_id))).all()
    assert len(rows) == len(owners)
    for user_id, client in clients.items():
        received = client.events("notification")
        assert sorted(item["id"] for item in received) == sorted(
            row.id for row in rows if row.user_id == user_id
        )
        assert {item["userId"] for item in received} == {user_id}
        assert all(item["data"]["queue"] == test_queue.name for item in received)
