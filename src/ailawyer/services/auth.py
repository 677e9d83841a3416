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
snapshots (`AuthUser`, `SessionInfo`) rather than ORM objects. The API keeps
verified sessions in memory for about a second (`services.session_cache`),
forgotten in every process as soon as a session is announced ended.
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
from ailawyer.deployment import Deployment
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
    return await authenticate_token(db, token)


async def authenticate_token(
    db: AsyncSession | AsyncConnection, token: str
) -> Authenticated | None:
    """`authenticate` for a token whose cookie signature was already checked."""
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


_VALID_SESSIONS: Final = (
    select(_SESSIONS.c.id)
    .join_from(_SESSIONS, _USERS, _SESSIONS.c.user_id == _USERS.c.id)
    .where(
        _SESSIONS.c.id.in_(bindparam("session_ids", expanding=True)),
        _SESSIONS.c.revoked_at.is_(None),
        _SESSIONS.c.expires_at > bindparam("now", type_=_SESSIONS.c.expires_at.type),
        _USERS.c.active.is_(True),
    )
)


async def valid_sessions(db: AsyncSession | AsyncConnection, session_ids: set[str]) -> set[str]:
    """Those of `session_ids` that are unrevoked, unexpired, of an active user."""
    if not session_ids:
        return set()
    rows = await db.execute(_VALID_SESSIONS, {"session_ids": list(session_ids), "now": utcnow()})
    return {row[0] for row in rows}


async def revoke(session: AsyncSession, user_session: SessionInfo) -> None:
    """Mark the session revoked (flush only; the request commits)."""
    await session.execute(
        update(UserSession)
        .where(UserSession.id == user_session.id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )


# Check every counter first; only if none is at its limit, count the attempt in
# all of them. One script, so parallel attempts are decided one after another.
_RESERVE: Final = """
local blocked = -1
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call('GET', key) or '0')
  if count >= tonumber(ARGV[i + 1]) then
    blocked = math.max(blocked, redis.call('TTL', key))
  end
end
if blocked >= 0 then
  return blocked
end
for _, key in ipairs(KEYS) do
  if redis.call('INCR', key) == 1 then
    redis.call('EXPIRE', key, ARGV[1])
  end
end
return -1
"""
# A login that succeeded gives its reservation back; its own (account, address)
# failures are forgotten (the owner is in).
_REFUND: Final = """
for i, key in ipairs(KEYS) do
  if i == 1 then
    redis.call('DEL', key)
  elseif tonumber(redis.call('GET', key) or '0') > 0 then
    redis.call('DECR', key)
  end
end
return 0
"""


class LoginRateLimiter:
    """Login attempts, counted in Redis before the password is checked.

    The policy (docs/reliability.md, "Login limits"):

    - per (account, client address): `limit` attempts per window. This is the
      limit a guesser meets; it locks out that address for that account only;
    - per client address, over all accounts: `address_limit` (password spraying
      from one address);
    - per account, over all addresses: `account_limit`, a much higher ceiling that
      slows a distributed guesser down; the account's owner, on an address of
      their own, keeps logging in until that ceiling is reached.

    An attempt is counted (reserved) *before* argon2 runs, by one atomic script
    that refuses it when any counter is at its limit, so parallel attempts cannot
    slip past the limit: at most `limit` of them ever reach the password check.
    A successful login gives its reservation back. A refused attempt counts
    nowhere, so it neither renews a window nor pushes another counter up. Each
    window starts with its first attempt and is fixed.

    Counting in Redis (not in the process) makes the limits hold across every app
    process. Accounts and addresses are keyed by a hash (no e-mail or address in
    Redis in clear text), under the deployment's prefix.
    """

    def __init__(
        self,
        redis: Redis,
        *,
        deployment: Deployment,
        limit: int,
        address_limit: int,
        account_limit: int,
        window_s: int,
        timeout_s: float,
    ) -> None:
        self._redis = redis
        self._deployment = deployment
        self._limits = (limit, address_limit, account_limit)
        self._window_s = window_s
        self._timeout_s = timeout_s
        self._reserve = redis.register_script(_RESERVE)
        self._refund = redis.register_script(_REFUND)

    def _keys(self, email: str, address: str) -> list[str]:
        account = email.strip().lower()

        def digest(*parts: str) -> str:
            return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:32]

        return [
            self._deployment.key("login", "pair", digest(account, address)),
            self._deployment.key("login", "address", digest(address)),
            self._deployment.key("login", "account", digest(account)),
        ]

    async def reserve(self, email: str, address: str) -> None:
        """Count this attempt, or raise TooManyRequests (with the seconds left)."""
        async with redis_deadline(self._timeout_s):
            blocked = int(
                await self._reserve(
                    keys=self._keys(email, address), args=[self._window_s, *self._limits]
                )
            )
        if blocked < 0:
            return
        retry_after = max(blocked, 1)
        log.warning("auth.login_rate_limited", retry_after=retry_after)
        raise TooManyRequests(messages.TOO_MANY_LOGINS, retry_after=retry_after)

    async def succeeded(self, email: str, address: str) -> None:
        """Give a successful attempt's reservation back."""
        async with redis_deadline(self._timeout_s):
            await self._refund(keys=self._keys(email, address))
