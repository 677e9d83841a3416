"""Request dependencies, as `Annotated` aliases: `ReadDep`, `SessionDep`,
`CurrentUser`, `AdminUser`.

A request touches the database through one `RequestDatabase`, one pooled
connection at a time. Reads that need no transaction (the session lookup of
every authenticated request, a list) go through `ReadDep`: an autocommit
connection, taken on first use, so they cost their statements and no
BEGIN/COMMIT. An endpoint that writes asks for `SessionDep`: the autocommit
connection, if any, goes back to the pool first, and from then on every read
of the request, authentication included, runs inside that unit of work. So an
endpoint that needs nothing from the database beyond who is calling (an
enqueue) opens no transaction at all.

`SessionDep` is the request's unit of work. It is the boundary that commits:
when the endpoint returns, it commits, and only then are the request's
`PostCommit` jobs and messages sent. Both are function-scoped dependencies, so
this happens *before* the response goes out: a client never sees 2xx for
something that was not committed, and an exception rolls everything back and
sends nothing.

Authentication reads the `session` cookie. A state-changing request (POST, PUT,
PATCH, DELETE) carrying it must also carry `X-CSRF-Token` (double submit,
docs/api.md); the token is derived from the session, so there is nothing to store.

Every dependency is `async def`: FastAPI would run a plain `def` in its thread
pool, a needless hop for work that never blocks.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Annotated, Final, cast

from fastapi import Depends, Request
from fastapi.security import APIKeyCookie, APIKeyHeader
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ailawyer import messages
from ailawyer.api.post_commit import PostCommit
from ailawyer.api.state import STATE_KEY, AppState
from ailawyer.db.engine import Database
from ailawyer.errors import Forbidden, ServiceUnavailable, Unauthorized
from ailawyer.logs import bind_context, create_logger
from ailawyer.queues.producer import QueueProducer
from ailawyer.services import auth

log = create_logger("api.deps")

SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
# Per-request values kept in the ASGI scope.
_AUTH_KEY: Final = "ailawyer.auth"
_DB_KEY: Final = "ailawyer.request_db"
DB_CONNECT_TIMEOUT_S: Final = 5.0

# Declared as security schemes so the OpenAPI document says how to authenticate.
_session_cookie = APIKeyCookie(
    name=auth.SESSION_COOKIE, auto_error=False, description="Set by POST /api/auth/login"
)
_csrf_header = APIKeyHeader(
    name=auth.CSRF_HEADER,
    auto_error=False,
    description="The login's csrfToken; required on POST, PUT, PATCH and DELETE",
)


async def get_state(request: Request) -> AppState:
    return cast(AppState, getattr(request.state, STATE_KEY))


StateDep = Annotated[AppState, Depends(get_state)]


# The state is read from the request here, not through `StateDep`: a
# sub-dependency costs FastAPI more per request than what it resolves.
def _state(request: Request) -> AppState:
    return cast(AppState, getattr(request.state, STATE_KEY))


async def get_producer(request: Request) -> QueueProducer:
    return _state(request).producer


ProducerDep = Annotated[QueueProducer, Depends(get_producer)]


async def get_post_commit(request: Request) -> AsyncIterator[PostCommit]:
    state = _state(request)
    buffer = PostCommit(state.producer, state.redis)
    yield buffer
    # Reached only when the endpoint (and the commit after it) succeeded.
    await buffer.flush()


PostCommitDep = Annotated[PostCommit, Depends(get_post_commit, scope="function")]


@asynccontextmanager
async def _deadline() -> AsyncIterator[None]:
    """Taking a connection, under a deadline: a database that is gone or does
    not answer is a 503, not a hung request or a 500."""
    try:
        async with asyncio.timeout(DB_CONNECT_TIMEOUT_S):
            yield
    except (DBAPIError, OSError, TimeoutError) as exc:
        log.error("database.unavailable", error=type(exc).__name__)
        raise ServiceUnavailable(messages.SERVICE_UNAVAILABLE) from exc


class RequestDatabase:
    """One request's database access: at most one pooled connection at a time
    (two per request could exhaust the pool under load and wait on itself)."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._reader: AbstractAsyncContextManager[AsyncConnection] | None = None
        self._connection: AsyncConnection | None = None
        self._session: AsyncSession | None = None

    async def reads(self) -> AsyncSession | AsyncConnection:
        """The unit of work if the request has one, else an autocommit connection."""
        if self._session is not None:
            return self._session
        if self._connection is None:
            reader = self._database.reader()
            async with _deadline():
                self._connection = await reader.__aenter__()
            self._reader = reader
        return self._connection

    async def release(self) -> None:
        """Give the autocommit connection back, if one was taken."""
        reader, self._reader, self._connection = self._reader, None, None
        if reader is not None:
            await reader.__aexit__(None, None, None)

    @asynccontextmanager
    async def unit_of_work(self) -> AsyncIterator[AsyncSession]:
        """The request's transaction: commits when the block ends without error."""
        await self.release()
        async with self._database.session() as session:
            async with _deadline():
                await session.connection()
            self._session = session
            try:
                yield session
            finally:
                self._session = None


async def get_request_db(request: Request, state: StateDep) -> AsyncIterator[RequestDatabase]:
    db = RequestDatabase(state.database)
    # Authentication (resolved before or after this) reads through it too.
    request.scope[_DB_KEY] = db
    try:
        yield db
    finally:
        request.scope.pop(_DB_KEY, None)
        await db.release()


RequestDatabaseDep = Annotated[RequestDatabase, Depends(get_request_db, scope="function")]


async def get_reader(db: RequestDatabaseDep) -> AsyncSession | AsyncConnection:
    return await db.reads()


ReadDep = Annotated[AsyncSession | AsyncConnection, Depends(get_reader)]


async def get_db_session(
    db: RequestDatabaseDep, _after: PostCommitDep
) -> AsyncIterator[AsyncSession]:
    """Depends on `PostCommitDep`, so it is entered after it and exits (commits)
    before the buffer is flushed."""
    async with db.unit_of_work() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_db_session, scope="function")]


async def _lookup(request: Request, state: AppState, token: str) -> auth.Authenticated | None:
    """The database's answer, on the request's connection if it has one (never a
    second connection beside its unit of work), else on one taken just for this."""
    db = cast(RequestDatabase | None, request.scope.get(_DB_KEY))
    if db is not None:
        return await auth.authenticate_token(await db.reads(), token)
    async with _deadline():
        reader = state.database.reader()
        conn = await reader.__aenter__()
    try:
        return await auth.authenticate_token(conn, token)
    finally:
        await reader.__aexit__(None, None, None)


async def _authenticate(request: Request) -> auth.Authenticated:
    """Cookie, CSRF and session in one step (no sub-dependencies: FastAPI's
    resolution of each costs more than the check itself). A verified session is
    answered from `AppState.sessions` for up to SESSION_CACHE_TTL_S."""
    found = cast(auth.Authenticated | None, request.scope.get(_AUTH_KEY))
    if found is not None:
        return found
    state = _state(request)
    secret = state.settings.auth_secret.get_secret_value()
    token = auth.token_from_cookie(secret, request.cookies.get(auth.SESSION_COOKIE))
    if token is None:
        raise Unauthorized(messages.NOT_AUTHENTICATED)
    if request.method not in SAFE_METHODS and not auth.csrf_matches(
        secret, token, request.headers.get(auth.CSRF_HEADER)
    ):
        raise Forbidden(messages.CSRF_FAILED)
    cache = state.sessions
    found = cache.get(auth.session_id(token))
    if found is None:
        generation = cache.generation()
        found = await _lookup(request, state, token)
        if found is None:
            raise Unauthorized(messages.NOT_AUTHENTICATED)
        cache.put(found, generation)
    request.scope[_AUTH_KEY] = found
    bind_context(userId=found.user.id)
    return found


# The OpenAPI document still says how to authenticate: `document_security` adds
# these schemes to every operation that depends on one of the functions below.
SESSION_SCHEMES: Final = (_session_cookie, _csrf_header)


async def get_auth(request: Request) -> auth.Authenticated:
    return await _authenticate(request)


AuthDep = Annotated[auth.Authenticated, Depends(get_auth)]


async def get_current_user(request: Request) -> auth.AuthUser:
    return (await _authenticate(request)).user


CurrentUser = Annotated[auth.AuthUser, Depends(get_current_user)]


async def get_admin_user(request: Request) -> auth.AuthUser:
    user = (await _authenticate(request)).user
    if not user.is_admin:
        raise Forbidden(messages.NO_PERMISSION)
    return user


AdminUser = Annotated[auth.AuthUser, Depends(get_admin_user)]

AUTH_DEPENDENCIES: Final = frozenset({get_auth, get_current_user, get_admin_user})
