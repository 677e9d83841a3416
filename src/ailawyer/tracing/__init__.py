"""Traces from a request to the worker, over OpenTelemetry (docs/operations.md, "Traces").

On only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set. This module imports nothing
of OpenTelemetry: whoever needs a tracer asks `queue_tracing(settings)`, which
is `None` when tracing is off, and the call sites test for `None` (one
comparison per request or job, nothing else). Only with tracing on is
`ailawyer.tracing.otel` imported, and with it the SDK, the exporter and the
instrumentations.

What is traced: the HTTP request (FastAPI's native telemetry, `fastapi_telemetry`),
the enqueue (`add <queue>.<name>`, a producer span), the job's run in the worker
(`process <queue>`, a consumer span per attempt), and the database and Redis calls
made inside any of them. The context travels in the job's option `tm`, as
bullmq-otel writes it (a JSON object of W3C trace-context headers), so a Node
worker with bullmq-otel continues the same trace, and our worker continues a
Node producer's.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from fastapi.telemetry import TelemetryConfig

    from ailawyer.config import Settings

Process = Literal["app", "worker"]

# Paths whose requests start no trace: probes and scrapes, several a minute.
UNTRACED_PREFIXES = ("/api/health", "/metrics")


class QueueTracing(Protocol):
    """The spans of the job pipeline (implemented by `ailawyer.tracing.otel`)."""

    def enqueue(self, queue: str, name: str, job_id: str) -> AbstractContextManager[str]:
        """A producer span around one `Queue.add`; yields the `tm` option's value."""

    def job(self, job: Any, queue: str) -> AbstractContextManager[None]:
        """A consumer span around one attempt, a child of the context in `tm`."""

    def current_ids(self) -> dict[str, str]:
        """`traceId`/`spanId` of the active span (empty when none), for a child process."""


def queue_tracing(settings: Settings) -> QueueTracing | None:
    if not settings.tracing_enabled:
        return None
    from ailawyer.tracing.otel import QueueTracer

    return QueueTracer()


def start_tracing(settings: Settings, process: Process) -> None:
    """Set up the exporter and the instrumentations (asyncpg, Redis), once per
    process, before the app or the worker is built."""
    if not settings.tracing_enabled:
        return
    from ailawyer.tracing.otel import start

    assert settings.otel_exporter_otlp_endpoint is not None
    start(
        process,
        settings.otel_exporter_otlp_endpoint,
        settings.otel_traces_sampler,
        settings.otel_traces_sampler_arg,
    )


def stop_tracing(settings: Settings) -> None:
    """Export what is still buffered (a process that ends with `os._exit` must)."""
    if not settings.tracing_enabled:
        return
    from ailawyer.tracing.otel import stop

    stop()


def _untraced(scope: MutableMapping[str, Any]) -> bool:
    path = scope.get("path", "")
    return isinstance(path, str) and path.startswith(UNTRACED_PREFIXES)


def fastapi_telemetry(settings: Settings) -> TelemetryConfig:
    """FastAPI's `telemetry=` option. Off: every part switched off, so FastAPI
    skips its telemetry per request without even asking for a provider. On: the
    request spans (and FastAPI's operation spans inside them) on the global
    tracer provider that `start_tracing` set; no metrics or logs over OTLP
    (metrics are Prometheus', logs are ours)."""
    if not settings.tracing_enabled:
        return {
            "tracing": False,
            "metrics": False,
            "logs": False,
            "operation_spans": False,
            "auto_configure": False,
        }
    return {
        "tracing": True,
        "metrics": False,
        "logs": False,
        "operation_spans": True,
        "auto_configure": False,
        "exclude": _untraced,
    }


def log_fields(ids: Mapping[str, Any]) -> dict[str, str]:
    """The `traceId`/`spanId` of a message from the parent (a child process's job)."""
    return {key: str(ids[key]) for key in ("traceId", "spanId") if ids.get(key)}
