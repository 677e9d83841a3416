from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import typer

from ailawyer.cli._common import fail, setup
from ailawyer.db.models.user import Role
from ailawyer.errors import AppError

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ailawyer.db.models import User

app = typer.Typer(help="User accounts.", no_args_is_help=True)

ROLES = ", ".join(role.value for role in Role)


@app.command("create")
def create(
    email: str = typer.Option(..., help="Login e-mail (unique, case-insensitive)."),
    name: str = typer.Option(..., help="Display name."),
    role: str = typer.Option(..., help=f"One of {ROLES}."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Create a user. The password is read from stdin or asked for, never an argument."""
    from ailawyer.db.engine import Database
    from ailawyer.services.users import create_user, parse_role

    settings = setup("cli", log_to_file=False)
    try:
        parsed_role = parse_role(role)
    except AppError as exc:
        fail(exc.message)
    password = _read_password(password_stdin)

    async def run() -> str:
        database = Database(settings.effective_database_url, null_pool=True)
        try:
            async with database.session() as session:
                user = await create_user(
                    session, email=email, name=name, password=password, role=parsed_role
                )
                return user.id
        finally:
            await database.dispose()

    try:
        user_id = asyncio.run(run())
    except AppError as exc:
        fail(exc.message)
    except OSError as exc:
        fail(f"database unreachable: {exc.strerror or exc}")
    typer.echo(f"created user {user_id} ({email.strip().lower()}, {parsed_role.value})")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True))


def _change_account(
    change: Callable[[AsyncSession], Awaitable[tuple[User, list[str]]]],
) -> tuple[str, str]:
    """Run `change` in one transaction, then announce the sessions it revoked on the
    deployment's sessions channel (every app process closes their sockets).
    Returns the account's e-mail and how many sessions ended, in words. A refusal
    exits non-zero with one line, and nothing is changed."""
    from redis.exceptions import RedisError

    from ailawyer.db.engine import Database
    from ailawyer.redis import get_queue_connection

    settings = setup("cli", log_to_file=False)

    async def run() -> tuple[str, list[str], bool]:
        database = Database(settings.effective_database_url, null_pool=True)
        try:
            async with database.session() as session:
                user, revoked = await change(session)
                email = user.email
        finally:
            await database.dispose()
        # Committed: now every app process may end the sessions' sockets.
        announced = True
        if revoked:
            redis = get_queue_connection(settings.redis)
            try:
                async with asyncio.timeout(5):
                    for session_id in revoked:
                        await redis.publish(settings.deployment.sessions_channel, session_id)
            except (RedisError, OSError, TimeoutError):
                announced = False
            finally:
                await redis.aclose()
        return email, revoked, announced

    try:
        email, revoked, announced = asyncio.run(run())
    except AppError as exc:
        fail(exc.message)
    except OSError as exc:
        fail(f"database unreachable: {exc.strerror or exc}")
    if revoked and not announced:
        typer.echo(
            "warning: Redis did not answer; open sockets of the account close at the "
            "apps' next session check (within 30 s)",
            err=True,
        )
    return email, f"{len(revoked)} session(s) revoked"


@app.command("deactivate")
def deactivate(
    email: str = typer.Option(..., help="The account's login e-mail."),
) -> None:
    """Deactivate an account: it cannot log in, its sessions end, its sockets close."""
    from ailawyer.services.users import set_active

    found, revoked = _change_account(lambda session: set_active(session, email, False))
    typer.echo(f"deactivated {found}; {revoked}")


@app.command("activate")
def activate(
    email: str = typer.Option(..., help="The account's login e-mail."),
) -> None:
    """Let a deactivated account log in again."""
    from ailawyer.services.users import set_active

    found, _ = _change_account(lambda session: set_active(session, email, True))
    typer.echo(f"activated {found}")


@app.command("set-password")
def set_password(
    email: str = typer.Option(..., help="The account's login e-mail."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from standard input."
    ),
) -> None:
    """Give an account a new password (from stdin or asked for, never an argument).
    Its sessions end: everyone logs in again with the new one."""
    from ailawyer.services import users

    password = _read_password(password_stdin)
    found, revoked = _change_account(lambda session: users.set_password(session, email, password))
    typer.echo(f"new password for {found}; {revoked}")


@app.command("set-role")
def set_role(
    email: str = typer.Option(..., help="The account's login e-mail."),
    role: str = typer.Option(..., help=f"One of {ROLES}."),
) -> None:
    """Give an account another role. Its sessions end, so the new role applies at
    once, on every page and socket."""
    from ailawyer.services import users

    try:
        parsed_role = users.parse_role(role)
    except AppError as exc:
        fail(exc.message)
    found, revoked = _change_account(lambda session: users.set_role(session, email, parsed_role))
    typer.echo(f"{found} is now {parsed_role.value}; {revoked}")
