"""Login, logout and the current user (docs/api.md, "Logging in").

Login answers the same for an unknown e-mail, a wrong password and an inactive
account, after the same amount of work (`services.auth.verify_credentials`).
Attempts are counted before the password is checked, per (account, address),
per address and per account (`services.auth.LoginRateLimiter`); once a limit is
reached, attempts get 429 with Retry-After until the window ends.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import Field

from ailawyer import messages
from ailawyer.api.deps import AuthDep, PostCommitDep, SessionDep, StateDep
from ailawyer.api.errors import error_responses
from ailawyer.config import Settings
from ailawyer.db.models import User
from ailawyer.errors import Unauthorized
from ailawyer.logs import bind_context, create_logger
from ailawyer.schemas import CamelModel
from ailawyer.services import auth

router = APIRouter(prefix="/api/auth", tags=["auth"])
log = create_logger("api.auth")


class LoginRequest(CamelModel):
    email: Annotated[str, Field(min_length=1, max_length=320)]
    # Bounded: argon2 over a megabyte of "password" is a cheap denial of service.
    password: Annotated[str, Field(min_length=1, max_length=1024)]


class UserOut(CamelModel):
    id: str
    email: str
    name: str
    role: str


class SessionOut(CamelModel):
    user: UserOut
    csrf_token: str
    expires_at: datetime


class LogoutOut(CamelModel):
    success: bool


def _user_out(user: User | auth.AuthUser) -> UserOut:
    return UserOut(id=user.id, email=user.email, name=user.name, role=user.role)


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _set_cookies(response: Response, settings: Settings, issued: auth.IssuedSession) -> None:
    for name, value, httponly in (
        (auth.SESSION_COOKIE, issued.cookie, True),
        # Readable by the page's script, which echoes it in X-CSRF-Token.
        (auth.CSRF_COOKIE, issued.csrf_token, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=settings.session_max_age_s,
            path="/",
            secure=settings.is_production,
            httponly=httponly,
            samesite="lax",
        )


def _clear_cookies(response: Response, settings: Settings) -> None:
    for name, httponly in ((auth.SESSION_COOKIE, True), (auth.CSRF_COOKIE, False)):
        response.delete_cookie(
            name, path="/", secure=settings.is_production, httponly=httponly, samesite="lax"
        )


@router.post(
    "/login",
    response_model=SessionOut,
    summary="Log in with e-mail and password",
    responses=error_responses(401, 429, 503),
)
async def login(
    body: LoginRequest, request: Request, response: Response, state: StateDep, session: SessionDep
) -> SessionOut:
    address = _client_address(request)
    limiter = state.login_limiter
    # Counted before the password is checked: parallel attempts cannot outrun it.
    await limiter.reserve(body.email, address)
    user = await auth.verify_credentials(session, body.email, body.password)
    if user is None:
        log.info("auth.login_failed")
        raise Unauthorized(messages.INVALID_LOGIN)
    await limiter.succeeded(body.email, address)
    settings = state.settings
    issued = await auth.start_session(
        session,
        user,
        secret=settings.auth_secret.get_secret_value(),
        max_age_s=settings.session_max_age_s,
    )
    _set_cookies(response, settings, issued)
    bind_context(userId=user.id)
    log.info("auth.login")
    return SessionOut(
        user=_user_out(user), csrf_token=issued.csrf_token, expires_at=issued.expires_at
    )


@router.post(
    "/logout",
    response_model=LogoutOut,
    summary="End the current session (it is revoked, not just forgotten)",
    responses=error_responses(401, 403, 503),
)
async def logout(
    found: AuthDep,
    response: Response,
    state: StateDep,
    session: SessionDep,
    after_commit: PostCommitDep,
) -> LogoutOut:
    await auth.revoke(session, found.session)
    # Every app process ends this session's sockets once the revocation is committed.
    after_commit.publish(state.settings.deployment.sessions_channel, found.session.id)
    _clear_cookies(response, state.settings)
    log.info("auth.logout")
    return LogoutOut(success=True)


@router.get(
    "/me",
    response_model=SessionOut,
    summary="The logged-in user, and the CSRF token for this session",
    responses=error_responses(401, 503),
)
async def me(found: AuthDep, state: StateDep) -> SessionOut:
    secret = state.settings.auth_secret.get_secret_value()
    return SessionOut(
        user=_user_out(found.user),
        csrf_token=auth.csrf_token(secret, found.token),
        expires_at=found.session.expires_at,
    )
