"""The OpenTelemetry side of `ailawyer.tracing`: imported only with tracing on.

One tracer provider per process (the global one: FastAPI's telemetry and the
instrumentations look for it there), exporting in batches over OTLP/HTTP to
`$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`).

Database calls are traced at the driver, asyncpg (SQLAlchemy's instrumentation
does not support SQLAlchemy 2.1); SQLite, the `make run` database, is not traced.
Both instrumentations patch classes, so the order of imports does not matter.

A trace starts at a request or a job. A database or Redis call outside of
both (the worker waiting for its next job, heartbeats, the settings channel)
would be a trace of one span every few seconds: the sampler drops client spans
without a parent. What is left is kept as `OTEL_TRACES_SAMPLER` says (every
trace by default); the batch processor's queue bounds what a slow collector can
cost (spans beyond it are dropped, never waited for).

The `tm` option: bullmq-otel's `getMetadata` is `JSON.stringify` of what
`propagation.inject` writes into an empty object, i.e. `{"traceparent": "00-…"}`
(plus `tracestate`/`baggage` when there are any); `fromMetadata` parses it back.
BullMQ (Node) stores `telemetry.metadata` as `tm` in the job's options. We write
and read the same string with the same global propagator (W3C trace context and
baggage).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bullmq import DelayedError, WaitingChildrenError
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.instrumentation.asyncpg import AsyncPGInstrumentor
from opentelemetry.instrumentation.redis import RedisInstrumentor
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import (
    ALWAYS_OFF,
    ALWAYS_ON,
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import Link, SpanKind, Status, StatusCode
from opentelemetry.trace.span import TraceState
from opentelemetry.util.types import Attributes
from structlog.typing import EventDict, WrappedLogger

from ailawyer.config import TracesSampler
from ailawyer.logs import SERVICE_NAME as LOG_SERVICE_NAME
from ailawyer.tracing import Process

TRACER_NAME = "ailawyer"
# BullMQ's own attribute names (TelemetryAttributes in bullmq's Node sources),
# so a trace looks alike whichever side wrote it.
QUEUE_NAME = "bullmq.queue.name"
QUEUE_OPERATION = "bullmq.queue.operation"
JOB_ID = "bullmq.job.id"
JOB_NAME = "bullmq.job.name"
JOB_ATTEMPTS_MADE = "bullmq.job.attempts.made"
# Ours: the attempt this span is, counted from 1 (BullMQ's attemptsMade + 1).
JOB_ATTEMPT = "ailawyer.job.attempt"


class _NoClientRoots(Sampler):
    """Drops client spans that would start a trace; defers to `root` otherwise."""

    def __init__(self, root: Sampler) -> None:
        self._root = root

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: TraceState | None = None,
    ) -> SamplingResult:
        if kind is SpanKind.CLIENT and not _has_parent(parent_context):
            return SamplingResult(Decision.DROP)
        return self._root.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"NoClientRoots{{{self._root.get_description()}}}"


def _has_parent(context: Context | None) -> bool:
    return trace.get_current_span(context).get_span_context().is_valid


def sampler(name: TracesSampler, ratio: float) -> Sampler:
    """The SDK's sampler of that name (`OTEL_TRACES_SAMPLER`), under `_NoClientRoots`.

    `ratio` is `OTEL_TRACES_SAMPLER_ARG`, for the two `traceidratio` ones. The
    decision of a ratio is a function of the trace id, so app and worker keep
    the same traces when both have the same ratio.
    """
    parent_based = name.startswith("parentbased_")
    base = name.removeprefix("parentbased_")
    root: Sampler
    if base == "always_on":
        root = ALWAYS_ON
    elif base == "always_off":
        root = ALWAYS_OFF
    else:
        root = TraceIdRatioBased(ratio)
    return ParentBased(root=_NoClientRoots(root)) if parent_based else _NoClientRoots(root)


def _traces_endpoint(base: str) -> str:
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or f"{base.rstrip('/')}/v1/traces"


def start(
    process: Process,
    endpoint: str,
    sampler_name: TracesSampler = "parentbased_always_on",
    ratio: float = 1.0,
) -> TracerProvider:
    """The global tracer provider of this process, and the instrumentations."""
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        return current  # started already (OpenTelemetry allows one per process)
    service = os.environ.get("OTEL_SERVICE_NAME") or f"{LOG_SERVICE_NAME}-{process}"
    provider = TracerProvider(
        resource=Resource.create({SERVICE_NAME: service}),
        sampler=sampler(sampler_name, ratio),
    )
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(_traces_endpoint(endpoint))))
    trace.set_tracer_provider(provider)
    # Statements without their parameters (e-mail addresses, session hashes).
    AsyncPGInstrumentor(capture_parameters=False).instrument(  # type: ignore[no-untyped-call]
        tracer_provider=provider
    )
    RedisInstrumentor().instrument(tracer_provider=provider)
    return provider


def stop() -> None:
    """Export the buffered spans (bounded: the exporter's own timeout) and stop."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.shutdown()


def add_trace_ids(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: `traceId` and `spanId` of the active span, if any."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event_dict.setdefault("traceId", format(context.trace_id, "032x"))
        event_dict.setdefault("spanId", format(context.span_id, "016x"))
    return event_dict


def _parent(metadata: Any) -> Context | None:
    """The context bullmq-otel's `fromMetadata` would read from `tm`, or None."""
    if not isinstance(metadata, str) or not metadata:
        return None
    try:
        carrier = json.loads(metadata)
    except ValueError:
        return None
    if not isinstance(carrier, dict):
        return None
    headers = {str(k): v for k, v in carrier.items() if isinstance(v, str)}
    return propagate.extract(headers)


class QueueTracer:
    """`ailawyer.tracing.QueueTracing` on the global tracer provider."""

    def __init__(self, provider: trace.TracerProvider | None = None) -> None:
        self._tracer = trace.get_tracer(TRACER_NAME, tracer_provider=provider)

    @contextmanager
    def enqueue(self, queue: str, name: str, job_id: str) -> Iterator[str]:
        attributes = {
            QUEUE_NAME: queue,
            QUEUE_OPERATION: "add",
            JOB_NAME: name,
            JOB_ID: job_id,
        }
        with self._tracer.start_as_current_span(
            f"add {queue}.{name}", kind=SpanKind.PRODUCER, attributes=attributes
        ):
            carrier: dict[str, str] = {}
            propagate.inject(carrier)
            yield json.dumps(carrier, separators=(",", ":"))

    @contextmanager
    def job(self, job: Any, queue: str) -> Iterator[None]:
        options = job.opts if isinstance(job.opts, dict) else {}
        attempts_made = int(job.attemptsMade or 0)
        attributes: dict[str, str | int] = {
            QUEUE_NAME: queue,
            QUEUE_OPERATION: "process",
            JOB_ID: str(job.id),
            JOB_NAME: str(job.name),
            JOB_ATTEMPTS_MADE: attempts_made,
            JOB_ATTEMPT: attempts_made + 1,
        }
        with self._tracer.start_as_current_span(
            f"process {queue}",
            context=_parent(options.get("tm")),
            kind=SpanKind.CONSUMER,
            attributes=attributes,
            record_exception=False,
            set_status_on_exception=False,
        ) as span:
            try:
                yield
            except (DelayedError, WaitingChildrenError):
                raise  # the processor moved the job itself: not a failure
            except Exception as exc:
                # The job runner has replaced the processor's error by one with the
                # readable, redacted reason. No stack trace: it would print the
                # original error (its message unredacted) as the cause.
                reason = str(exc)
                span.add_event(
                    "exception",
                    {"exception.type": type(exc).__name__, "exception.message": reason},
                )
                span.set_status(Status(StatusCode.ERROR, reason))
                raise

    def current_ids(self) -> dict[str, str]:
        context = trace.get_current_span().get_span_context()
        if not context.is_valid:
            return {}
        return {
            "traceId": format(context.trace_id, "032x"),
            "spanId": format(context.span_id, "016x"),
        }
