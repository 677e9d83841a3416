"""The pool's liveness check against the real PostgreSQL: a pooled connection
that died while it sat idle is replaced before anyone uses it; one in steady
use is handed out again without a ping."""

from __future__ import annotations

import asyncio

from ailawyer.db.engine import PING_AFTER_IDLE_S, Database


async def backend_pid(database: Database) -> int:
    async with database.reader() as conn:
        return int((await conn.exec_driver_sql("SELECT pg_backend_pid()")).scalar_one())


async def test_a_connection_that_died_while_idle_is_replaced_unseen(pg_url: str) -> None:
    database = Database(pg_url, pool_size=1)
    killer = Database(pg_url, pool_size=1)
    try:
        first = await backend_pid(database)
        assert await backend_pid(database) == first  # reused while in steady use
        async with killer.reader() as conn:
            await conn.exec_driver_sql(f"SELECT pg_terminate_backend({first})")
        await asyncio.sleep(PING_AFTER_IDLE_S + 0.2)
        # The dead connection is pinged, found dead and replaced: no error.
        assert await backend_pid(database) != first
    finally:
        await database.dispose()
        await killer.dispose()
