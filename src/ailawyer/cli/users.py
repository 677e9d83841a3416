from __future__ import annotations

import asyncio
import sys

import typer

from ailawyer.cli._common import fail, setup
from ailawyer.db.models.user import Role
from ailawyer.errors import AppError

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
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)

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


def _set_active(email: str, active: bool) -> None:
    from redis.exceptions import RedisError

    from ailawyer.db.engine import Database
    from ailawyer.redis import get_queue_connection
    from ailawyer.services.users import set_active

    settings = setup("cli", log_to_file=False)

    async def run() -> tuple[str, int, bool]:
        database = Database(settings.effective_database_url, null_pool=True)
        try:
            async with database.session() as session:
                user, revoked = await set_active(session, email, active)
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
        return user.email, len(revoked), announced

    try:
        found, revoked, announced = asyncio.run(run())
    except AppError as exc:
        fail(exc.message)
    except OSError as exc:
        fail(f"database unreachable: {exc.strerror or exc}")
    if active:
        typer.echo(f"activated {found}")
        return
    typer.echo(f"deactivated {found}; {revoked} session(s) revoked")
    if revoked and not announced:
        typer.echo(
            "warning: Redis did not answer; open sockets of the account close at the "
            "apps' next session check (within 30 s)",
            err=True,
        )


@app.command("deactivate")
def deactivate(
    email: str = typer.Option(..., help="The account's login e-mail."),
) -> None:
    """Deactivate an account: it cannot log in, its sessions end, its sockets close."""
    _set_active(email, False)


@app.command("activate")
def activate(
    email: str = typer.Option(..., help="The account's login e-mail."),
) -> None:
    """Let a deactivated account log in again."""
    _set_active(email, True)
