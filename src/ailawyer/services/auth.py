"""Logins and sessions: credential checks, signed session tokens, CSRF tokens,
and the login rate limit.

A session is a random token. The database keeps only its SHA-256 (`user_sessions.id`),
so a leaked table cannot be replayed; the cookie carries the token plus an HMAC
with AUTH_SECRET, so a forged cookie is refused before any query. The CSRF token
is derived from the session token (HMAC again, another purpose label): nothing
extra is stored, and it dies with the session.

No HTTP types here: the API sets cookies and maps errors, the Socket.IO server
calls `authenticate` with the handshake's cookie.

`authenticate` runs on every authenticated request, so it is one statement
(session joined to its user, only the columns we use, every condition in SQL)
that works on a session or on an autocommit connection, and it returns plain
snapshots (`AuthUser`, `SessionInfo`) rather than ORM objects. Nothing is
cached: a revoked session or a deactivated user is refused by the very next
request, in every process.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, cast

from redis.asyncio import Redis
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ailawyer import messages
from ailawyer.db.base import utcnow
from ailawyer.db.models import Role, User, UserSession
from ailawyer.errors import TooManyRequests
from ailawyer.logs import create_logger
from ailawyer.redis import redis_deadline
from ailawyer.security import dummy_hash, verify_password

log = create_logger("auth")

SESSION_COOKIE: Final = "session"
CSRF_COOKIE: Final = "csrf_token"
CSRF_HEADER: Final = "X-CSRF-Token"

_TOKEN_BYTES: Final = 32
# Purpose labels keep a session signature from ever being valid as a CSRF token.
_SESSION_PURPOSE: Final = b"session:"
_CSRF_PURPOSE: Final = b"csrf:"
_RATE_KEY: Final = "ailawyer:login:"


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _mac(secret: str, purpose: bytes, token: str) -> str:
    return _b64(hmac.new(secret.encode(), purpose + token.encode(), hashlib.sha256).digest())


def _same(sent: str, expected: str) -> bool:
    """Constant-time equality for any text: `compare_digest` refuses `str` with
    non-ASCII characters (a TypeError, i.e. a 500), and the sent side is the
    client's, so it is compared as UTF-8 bytes."""
    return hmac.compare_digest(sent.encode(), expected.encode())


def session_id(token: str) -> str:
    """The stored id of a session: the token's SHA-256, never the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def cookie_value(secret: str, token: str) -> str:
    return f"{token}.{_mac(secret, _SESSION_PURPOSE, token)}"


def token_from_cookie(secret: str, value: str | None) -> str | None:
    """The session token if the cookie's signature is ours, else None."""
    if not value or len(value) > 256:
        return None
    token, _, signature = value.partition(".")
    if not token or not signature:
        return None
    if not _same(signature, _mac(secret, _SESSION_PURPOSE, token)):
        return None
    return token


def csrf_token(secret: str, token: str) -> str:
    return _mac(secret, _CSRF_PURPOSE, token)


def csrf_matches(secret: str, token: str, sent: str | None) -> bool:
    return bool(sent) and _same(str(sent), csrf_token(secret, token))


@dataclass(frozen=True)
class IssuedSession:
    """A new login: what the API puts into cookies and the response body."""

    user: User
    cookie: str
    csrf_token: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuthUser:
    """The authenticated user, as a request needs it (not an ORM object: it
    outlives any database session and costs no identity-map bookkeeping)."""

    id: str
    email: str
    name: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN


@dataclass(frozen=True, slots=True)
class SessionInfo:
    id: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A request's verified session."""

    user: AuthUser
    session: SessionInfo
    token: str


_SESSIONS = cast(Table, UserSession.__table__)
_USERS = cast(Table, User.__table__)
# One statement, compiled once and cached by SQLAlchemy (and prepared by asyncpg).
_SESSION_LOOKUP: Final = (
    select(
        _SESSIONS.c.expires_at,
        _USERS.c.id,
        _USERS.c.email,
        _USERS.c.name,
        _USERS.c.role,
    )
    .join_from(_SESSIONS, _USERS, _SESSIONS.c.user_id == _USERS.c.id)
    .where(
        _SESSIONS.c.id == bindparam("session_id", type_=_SESSIONS.c.id.type),
        _SESSIONS.c.revoked_at.is_(None),
        _SESSIONS.c.expires_at > bindparam("now", type_=_SESSIONS.c.expires_at.type),
        _USERS.c.active.is_(True),
    )
)


async def verify_credentials(session: AsyncSession, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, else None.

    Unknown e-mail, wrong password and inactive account are indistinguishable:
    each costs exactly one argon2 verification (against a dummy hash when there
    is no user), run in a thread so the event loop keeps serving others.
    """
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    stored = user.password_hash if user is not None else dummy_hash()
    ok = await asyncio.to_thread(verify_password, password, stored)
    if user is None or not ok or not user.active:
        return None
    return user


async def start_session(
    session: AsyncSession, user: User, *, secret: str, max_age_s: int
) -> IssuedSession:
    """Store a new session for `user` (flush only; the request commits)."""
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    expires_at = utcnow() + timedelta(seconds=max_age_s)
    session.add(UserSession(id=session_id(token), user_id=user.id, expires_at=expires_at))
    await session.flush()
    return IssuedSession(
        user=user,
        cookie=cookie_value(secret, token),
        csrf_token=csrf_token(secret, token),
        expires_at=expires_at,
    )


async def authenticate(
    db: AsyncSession | AsyncConnection, *, secret: str, cookie: str | None
) -> Authenticated | None:
    """The session behind a cookie, if it is signed, known, unrevoked, unexpired
    and its user is still active. Anything else is simply no session."""
    token = token_from_cookie(secret, cookie)
    if token is None:
        return None
    sid = session_id(token)
    row = (await db.execute(_SESSION_LOOKUP, {"session_id": sid, "now": utcnow()})).first()
    if row is None:
        return None
    expires_at, user_id, email, name, role = row
    return Authenticated(
        user=AuthUser(id=user_id, email=email, name=name, role=role),
        session=SessionInfo(id=sid, expires_at=expires_at),
        token=token,
    )


async def revoke(session: AsyncSession, user_session: SessionInfo) -> None:
    """Mark the session revoked (flush only; the request commits)."""
    await session.execute(
        update(UserSession)
        .where(UserSession.id == user_session.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


class LoginRateLimiter:
    """Failed logins per account and per client address, counted in Redis.

    Counting in Redis (not in the process) makes the limit hold across every app
    process. The account is keyed by a hash of the e-mail, so no address sits in
    Redis in clear text. Once either counter reaches the limit, every attempt
    (even a correct one) is refused until the window ends; a success resets the
    account's counter, not the address's.

    Keys are scoped by `namespace` (the deployment's BULLMQ_PREFIX), so two
    deployments, or two test runs, sharing one Redis do not share counters.
    """

    def __init__(
        self, redis: Redis, *, limit: int, window_s: int, timeout_s: float, namespace: str
    ) -> None:
        self._redis = redis
        self._limit = limit
        self._window_s = window_s
        self._timeout_s = timeout_s
        self._prefix = f"{_RATE_KEY}{namespace}:"

    def _keys(self, email: str, address: str) -> tuple[str, str]:
        account = hashlib.sha256(email.strip().lower().encode()).hexdigest()
        return f"{self._prefix}account:{account}", f"{self._prefix}address:{address}"

    async def check(self, email: str, address: str) -> None:
        """Raise TooManyRequests (with the seconds left) once a limit is reached."""
        keys = self._keys(email, address)
        async with redis_deadline(self._timeout_s):
            counts = await self._redis.mget(keys)
            blocked = [
                key
                for key, count in zip(keys, counts, strict=True)
                if count is not None and int(count) >= self._limit
            ]
            if not blocked:
                return
            ttls = [await self._redis.ttl(key) for key in blocked]
        retry_after = max([*ttls, 1])
        log.warning("auth.login_rate_limited", retry_after=retry_after)
        raise TooManyRequests(messages.TOO_MANY_LOGINS, retry_after=retry_after)

    async def record_failure(self, email: str, address: str) -> None:
        async with (
            redis_deadline(self._timeout_s),
            self._redis.pipeline(transaction=True) as pipe,
        ):
            for key in self._keys(email, address):
                # The window starts with the first failure (NX keeps it fixed).
                pipe.incr(key)
                pipe.expire(key, self._window_s, nx=True)
            await pipe.execute()

    async def reset_account(self, email: str) -> None:
        account_key, _ = self._keys(email, "-")
        async with redis_deadline(self._timeout_s):
            await self._redis.delete(account_key)
