"""What every subcommand does first: settings (or a clear refusal), then logging."""

from __future__ import annotations

from typing import Literal, NoReturn

import typer
from pydantic import ValidationError

from ailawyer.config import Settings, format_settings_error, get_settings
from ailawyer.logs import configure_logging
from ailawyer.tracing import start_tracing


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as exc:
        typer.echo(format_settings_error(exc), err=True)
        raise typer.Exit(2) from None


def setup(process: Literal["app", "worker", "cli"], *, log_to_file: bool = True) -> Settings:
    """Settings and logging for a process (and tracing, for app and worker, when
    OTEL_EXPORTER_OTLP_ENDPOINT is set). Short CLI commands log to stdout only."""
    settings = load_settings()
    tracing = process != "cli" and settings.tracing_enabled
    configure_logging(
        level=settings.log_level,
        json_output=settings.is_production,
        file_path=settings.log_path_for(process)
        if settings.is_production and log_to_file
        else None,
        max_bytes=settings.log_max_bytes,
        # The app and the worker log per request and per job: write from a thread.
        background=process != "cli",
        log_sql=settings.log_sql,
        trace_ids=tracing,
        sample={"job.completed": settings.job_log_sample} if process == "worker" else None,
    )
    if tracing:
        assert process != "cli"
        start_tracing(settings, process)
    return settings
