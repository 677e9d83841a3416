"""Database helpers of the operational commands (`db upgrade`, `db wait`, `seed`, `dev`).

Imported inside the commands, so `ailawyer --help` and `worker --check` stay fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from ailawyer.db.engine import create_engine

# Key of the PostgreSQL advisory lock that serializes schema changes and seeding:
# app and worker containers start at once and both run the entrypoint.
SCHEMA_LOCK_KEY = 0x41494C57  # "AILW"


def describe_database(url: str) -> str:
    """The URL as an operator writes it (no driver), without its password."""
    parsed = make_url(url)
    return parsed.set(drivername=parsed.get_backend_name()).render_as_string(hide_password=True)


def connection_problem(exc: BaseException) -> str:
    """One line saying why a connection failed, without the URL's password."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        return str(exc.orig).splitlines()[0]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


@asynccontextmanager
async def schema_lock(url: str) -> AsyncIterator[None]:
    """Hold a PostgreSQL advisory lock for the block (SQLite serializes writers itself).

    Two processes that migrate or seed an empty database at once would otherwise
    both try to create the same tables or the same first admin.
    """
    engine = create_engine(url, null_pool=True)
    try:
        if engine.dialect.name != "postgresql":
            yield
            return
        async with engine.connect() as conn:
            await conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": SCHEMA_LOCK_KEY})
            await conn.commit()
            try:
                yield
            finally:
                await conn.execute(
                    text("SELECT pg_advisory_unlock(:key)"), {"key": SCHEMA_LOCK_KEY}
                )
                await conn.commit()
    finally:
        await engine.dispose()


async def upgrade_locked(url: str, revision: str = "head") -> None:
    from ailawyer.db import migrate  # alembic logs its plugins when imported

    async with schema_lock(url):
        # Alembic's env runs its own event loop, so it gets a thread of its own.
        await asyncio.to_thread(migrate.upgrade, url, revision)


async def _select_one(url: str, limit: float) -> None:
    engine = create_engine(url, null_pool=True)
    try:
        async with asyncio.timeout(limit), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    finally:
        await engine.dispose()


async def wait_for_database(url: str, limit: float, *, interval: float = 1.0) -> str | None:
    """Try `SELECT 1` until it works or `limit` seconds have passed.

    Returns None once connected, else why the last attempt failed.
    """
    deadline = time.monotonic() + limit
    while True:
        remaining = deadline - time.monotonic()
        try:
            await _select_one(url, max(min(remaining, 5.0), 0.5))
            return None
        except (OSError, TimeoutError, SQLAlchemyError) as exc:
            problem = connection_problem(exc)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return problem
        await asyncio.sleep(min(interval, remaining))
