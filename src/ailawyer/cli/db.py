"""`ailawyer db ...`. Heavy imports stay inside the commands: the CLI starts fast."""

from __future__ import annotations

import asyncio
import time

import typer

from ailawyer.cli._common import fail, setup

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Run the migrations up to REVISION (default: the newest)."""
    from ailawyer.cli._database import upgrade_locked

    settings = setup("cli", log_to_file=False)
    try:
        asyncio.run(upgrade_locked(settings.effective_database_url, revision))
    except OSError as exc:
        fail(f"database unreachable: {exc.strerror or exc}")
    typer.echo(f"database at revision {revision}")


@app.command("check")
def check() -> None:
    """Exit non-zero if the models and the migrations disagree."""
    from ailawyer.db import migrate

    settings = setup("cli", log_to_file=False)
    migrate.check(settings.effective_database_url)


@app.command("wait")
def wait(
    timeout: float = typer.Option(
        60.0, "--timeout", min=0, help="Seconds to keep trying before giving up."
    ),
) -> None:
    """Wait until the database answers `SELECT 1`; exit 1 after TIMEOUT seconds."""
    from ailawyer.cli._database import describe_database, wait_for_database

    settings = setup("cli", log_to_file=False)
    url = settings.effective_database_url
    started = time.monotonic()
    problem = asyncio.run(wait_for_database(url, timeout))
    where = describe_database(url)
    if problem is not None:
        fail(f"database {where} not reachable after {timeout:g}s: {problem}")
    typer.echo(f"database {where} is up ({time.monotonic() - started:.1f}s)")
