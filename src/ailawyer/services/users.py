"""User accounts: create, look up, count, deactivate and activate, a new
password or role.

Every change that must reach a signed-in user at once (deactivating, a new
password, a new role) revokes the account's open sessions and returns their
ids; the caller announces them on the sessions channel after the commit, and
every app process then closes their sockets."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ailawyer.db.base import utcnow
from ailawyer.db.models import Role, User, UserSession
from ailawyer.errors import Conflict, Invalid, NotFound
from ailawyer.security import MIN_PASSWORD_LENGTH, hash_password


def parse_role(value: str) -> Role:
    try:
        return Role(value.strip().upper())
    except ValueError:
        raise Invalid(
            f"unknown role {value!r}; use one of {', '.join(r.value for r in Role)}"
        ) from None


def normalize_email(email: str) -> str:
    email = email.strip().lower()
    local, _, domain = email.partition("@")
    if not local or "." not in domain or any(c.isspace() for c in email) or len(email) > 320:
        raise Invalid(f"not an e-mail address: {email!r}")
    return email


async def create_user(
    session: AsyncSession, *, email: str, name: str, password: str, role: Role | str
) -> User:
    """Add a user (flushes, does not commit). Raises Conflict for a taken e-mail."""
    role = parse_role(role) if isinstance(role, str) else role
    email = normalize_email(email)
    name = name.strip()
    if not name:
        raise Invalid("name must not be empty")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    if await get_user_by_email(session, email) is not None:
        raise Conflict(f"a user with e-mail {email} already exists")
    user = User(email=email, name=name, role=role.value, password_hash=hash_password(password))
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"a user with e-mail {email} already exists") from None
    return user


async def get_user_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.execute(select(User).where(User.email == email.strip().lower()))
    return result.scalar_one_or_none()


async def names_by_id(
    db: AsyncSession | AsyncConnection, ids: set[str]
) -> dict[str, tuple[str, str]]:
    """`(name, email)` of each of these users that exists, by id (one query)."""
    if not ids:
        return {}
    rows = await db.execute(select(User.id, User.name, User.email).where(User.id.in_(ids)))
    return {row.id: (row.name, row.email) for row in rows}


async def count_users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def _account(session: AsyncSession, email: str) -> User:
    user = await get_user_by_email(session, email)
    if user is None:
        raise NotFound(f"no user with e-mail {email.strip().lower()}")
    return user


async def revoke_sessions(session: AsyncSession, user_id: str) -> list[str]:
    """Revoke every open session of the account (flush only); their ids."""
    result = await session.execute(
        update(UserSession)
        .where(UserSession.user_id == user_id, UserSession.revoked_at.is_(None))
        .values(revoked_at=utcnow())
        .returning(UserSession.id)
    )
    return list(result.scalars())


async def set_active(session: AsyncSession, email: str, active: bool) -> tuple[User, list[str]]:
    """Activate or deactivate an account (flush only). Deactivating also revokes
    every open session of the account; returns the user and the revoked session
    ids, which the caller announces on the sessions channel after the commit."""
    user = await _account(session, email)
    user.active = active
    revoked = [] if active else await revoke_sessions(session, user.id)
    await session.flush()
    return user, revoked


async def set_password(session: AsyncSession, email: str, password: str) -> tuple[User, list[str]]:
    """A new password (flush only). The account's sessions end, so whoever held
    them (a lost laptop, a guessed password) must log in with the new one."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(f"password must have at least {MIN_PASSWORD_LENGTH} characters")
    user = await _account(session, email)
    user.password_hash = hash_password(password)
    revoked = await revoke_sessions(session, user.id)
    await session.flush()
    return user, revoked


async def set_role(session: AsyncSession, email: str, role: Role | str) -> tuple[User, list[str]]:
    """A new role (flush only). Its sessions end, so the new role applies at once
    everywhere, open sockets and their rooms included; the same role again
    changes nothing and ends nothing."""
    role = parse_role(role) if isinstance(role, str) else role
    user = await _account(session, email)
    if user.role == role.value:
        return user, []
    user.role = role.value
    revoked = await revoke_sessions(session, user.id)
    await session.flush()
    return user, revoked
