"""`ailawyer worker [--check]`. Heavy imports stay inside: the CLI starts fast."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

import typer

from ailawyer.cli._common import setup
from ailawyer.tracing import stop_tracing


def worker(
    check: bool = typer.Option(
        False,
        "--check",
        help="Exit 0 if some worker's heartbeat is fresh, 1 if not (for health checks).",
    ),
) -> None:
    """Run the BullMQ workers of every queue until SIGINT/SIGTERM."""
    if check:
        from ailawyer.presence import worker_alive

        settings = setup("cli", log_to_file=False)
        alive = asyncio.run(worker_alive(settings.redis, settings.deployment))
        typer.echo("worker alive" if alive else "no live worker", err=not alive)
        raise typer.Exit(0 if alive else 1)

    from ailawyer.worker.runner import run_worker

    settings = setup("worker")
    code = run_worker(settings)
    stop_tracing(settings)  # os._exit below skips the exporter's own flush at exit
    # Everything is closed by now. Skip the interpreter's teardown of a large
    # import graph (up to a second on a busy host): the stop grace period is
    # for jobs, not for garbage collection.
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
