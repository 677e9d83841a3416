"""The `ailawyer` command. One module per group of subcommands."""

from __future__ import annotations

import typer

from ailawyer.cli import db, dev, seed, serve, users, worker

app = typer.Typer(
    name="ailawyer",
    help="ailawyer: app, worker and operations of the AI-Lawyer job foundation.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.command("seed")(seed.seed)
app.command("dev")(dev.dev)
app.command("worker")(worker.worker)
app.command("serve")(serve.serve)

__all__ = ["app"]
