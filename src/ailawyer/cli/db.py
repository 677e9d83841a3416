from __future__ import annotations

import typer

from ailawyer.cli._common import fail, setup
from ailawyer.db import migrate

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(revision: str = typer.Argument("head", help="Target revision.")) -> None:
    """Run the migrations up to REVISION (default: the newest)."""
    settings = setup("cli", log_to_file=False)
    try:
        migrate.upgrade(settings.effective_database_url, revision)
    except OSError as exc:
        fail(f"database unreachable: {exc.strerror or exc}")
    typer.echo(f"database at revision {revision}")


@app.command("check")
def check() -> None:
    """Exit non-zero if the models and the migrations disagree."""
    settings = setup("cli", log_to_file=False)
    migrate.check(settings.effective_database_url)
