"""Engine and the session scope.

Only boundaries commit: the API's request dependency and the worker's job
helper use `Database.session()`; services only `flush()`.

`Database.reader()` is for reads that need no transaction (a session lookup, a
health probe, a list): an autocommit connection from the same pool, so a read
costs its statement and no BEGIN/COMMIT round trips.

`Database.driver()` hands out the pooled asyncpg connection itself, for the
worker's one statement per finished job (`services.notifications`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Final

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from ailawyer.config import normalize_database_url

QUERY_TIMEOUT_S = 30.0
# A pooled connection idle for longer than this is pinged before it is handed
# out; one used more recently is trusted.
PING_AFTER_IDLE_S: Final = 1.0
_CHECKED_IN: Final = "ailawyer_checked_in_at"


def create_engine(url: str, *, pool_size: int = 10, null_pool: bool = False) -> AsyncEngine:
    """An async engine for PostgreSQL (asyncpg) or SQLite (aiosqlite).

    SQLite gets foreign keys (for the cascades), WAL (app and worker write at
    once) and a busy timeout instead of immediate "database is locked".
    """
    url = normalize_database_url(url)
    parsed = make_url(url)
    # Parameters (password hashes, e-mail addresses) stay out of error messages,
    # which reach the log.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        kwargs = {"connect_args": {"timeout": 30}, "hide_parameters": True}
    elif null_pool:
        kwargs["poolclass"] = NullPool
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size, pool_recycle=1800)
    if parsed.get_backend_name() == "postgresql":
        # A hung query must not hold a request or a job forever.
        kwargs["connect_args"] = {"command_timeout": QUERY_TIMEOUT_S}
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        _ping_idle_connections(engine)
    return engine


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """`pool_pre_ping`, for connections that sat idle only.

    SQLAlchemy's pre-ping costs three round trips with asyncpg (BEGIN, `;`,
    ROLLBACK) on every checkout, i.e. on every request and every job; it was the
    most expensive statement of an authenticated request. A connection that was
    in use less than `PING_AFTER_IDLE_S` ago is handed out as it is; one that
    sat longer (the case after a database restart or a network cut) is pinged,
    and a dead one is replaced before anyone sees it. A connection that dies
    within that second fails its statement like any connection that dies
    mid-request: a 503 (or a retried job), and SQLAlchemy then replaces every
    pooled connection older than the failure.
    """
    dialect: Dialect = engine.sync_engine.dialect

    def checkin(_dbapi: Any, record: Any) -> None:
        record.info[_CHECKED_IN] = time.monotonic()

    def checkout(dbapi: Any, record: Any, _proxy: Any) -> None:
        checked_in = record.info.get(_CHECKED_IN)
        if checked_in is None or time.monotonic() - checked_in < PING_AFTER_IDLE_S:
            return  # new, or used a moment ago
        try:
            alive = dialect.do_ping(dbapi)
        except Exception as exc:
            raise DisconnectionError() from exc
        if not alive:
            raise DisconnectionError()

    event.listen(engine.sync_engine, "checkin", checkin)
    event.listen(engine.sync_engine, "checkout", checkout)


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """Owns one engine and its session factory."""

    def __init__(self, url: str, *, pool_size: int = 10, null_pool: bool = False) -> None:
        self.engine = create_engine(url, pool_size=pool_size, null_pool=null_pool)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        # The same pool, without BEGIN/COMMIT round trips around each statement.
        self._autocommit_engine = self.engine.execution_options(isolation_level="AUTOCOMMIT")
        self._autocommit_sessionmaker = async_sessionmaker(
            self._autocommit_engine, expire_on_commit=False
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commits when the block ends, rolls back on error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def statement(self) -> AsyncIterator[AsyncSession]:
        """A session whose every statement commits on its own (autocommit).

        For a unit of work that is one statement (a multi-row INSERT is atomic by
        itself): it saves the BEGIN and COMMIT round trips of `session()`.
        """
        async with self._autocommit_sessionmaker() as session:
            yield session

    @asynccontextmanager
    async def reader(self) -> AsyncIterator[AsyncConnection]:
        """A pooled connection in autocommit mode: every statement stands alone.

        For reads only. Setting and resetting the isolation level costs no round
        trip with asyncpg (the driver only stops wrapping statements in a
        transaction); SQLite runs the statement in its own implicit transaction.
        """
        async with self.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            yield conn

    @asynccontextmanager
    async def driver(self) -> AsyncIterator[asyncpg.Connection]:
        """The pooled asyncpg connection itself, outside any transaction (PostgreSQL only).

        For a statement run so often that SQLAlchemy's execution layer costs more
        CPU than the round trip: a one-row INSERT through a session takes about
        twice the CPU of the same INSERT sent by asyncpg (bench/README, "Fifth
        round"). Checkout, the idle ping and check-in stay SQLAlchemy's. A
        connection whose statement failed for any reason but a refused row (a
        constraint: the connection is fine) is dropped from the pool, as
        SQLAlchemy drops one that fails its own statements.
        """
        if self.is_sqlite:
            raise RuntimeError("Database.driver() is for PostgreSQL")
        async with self._autocommit_engine.connect() as conn:
            raw = await conn.get_raw_connection()
            try:
                yield raw.driver_connection
            except asyncpg.IntegrityConstraintViolationError:
                raise
            except BaseException:
                await conn.invalidate()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
