"""The trace context in BullMQ's layout: the option `tm`, as bullmq-otel writes and
reads it, through real Redis (ailawyer.tracing; the whole path across processes
is tests/e2e/test_traces.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from bullmq import DelayedError, Job
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from redis.asyncio import Redis

from ailawyer.queues import DEFAULT_JOB_OPTIONS, test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.tracing.otel import QueueTracer

# What bullmq-otel (Node) stores: JSON.stringify of propagation.inject's carrier.
NODE_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
NODE_SPAN_ID = "00f067aa0ba902b7"
NODE_TM = json.dumps({"traceparent": f"00-{NODE_TRACE_ID}-{NODE_SPAN_ID}-01"})

MESSAGE = {"userId": "u1", "message": "hi"}


@pytest.fixture
def exported() -> Iterator[tuple[QueueTracer, InMemorySpanExporter]]:
    """A tracer on a provider of its own (the process's global one stays unset)."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    yield QueueTracer(provider), exporter
    provider.shutdown()


async def test_an_enqueue_stores_its_span_in_tm_as_bullmq_otel_does(
    producer: QueueProducer,
    redis_client: Redis,
    prefix: str,
    exported: tuple[QueueTracer, InMemorySpanExporter],
) -> None:
    tracer, exporter = exported
    traced = QueueProducer(producer.connection, producer.specs, prefix=prefix, tracing=tracer)
    try:
        job = await traced.enqueue(test_queue, MESSAGE)
    finally:
        await traced.close()

    [span] = exporter.get_finished_spans()
    assert span.name == "add test.test" and span.kind is SpanKind.PRODUCER
    assert span.attributes is not None
    assert span.attributes["bullmq.queue.name"] == "test"
    assert span.attributes["bullmq.job.id"] == job.id
    context = span.get_span_context()
    # Stored as BullMQ (Node) stores telemetry.metadata: a string under `tm`,
    # beside the job's other options, which are unchanged.
    stored = json.loads(await redis_client.hget(f"{prefix}:test:{job.id}", "opts"))
    assert set(json.loads(stored["tm"])) == {"traceparent"}
    version, trace_id, span_id, flags = json.loads(stored["tm"])["traceparent"].split("-")
    assert (version, trace_id, span_id) == (
        "00",
        format(context.trace_id, "032x"),
        format(context.span_id, "016x"),
    )
    assert int(flags, 16) & 1
    for key, value in DEFAULT_JOB_OPTIONS.items():
        assert stored[key] == value
    # The Python port reads it back as it is.
    read = await Job.fromId(producer.queue("test"), job.id)
    assert read.opts["tm"] == stored["tm"]


async def test_a_job_from_a_node_producer_continues_its_trace(
    producer: QueueProducer, exported: tuple[QueueTracer, InMemorySpanExporter]
) -> None:
    tracer, exporter = exported
    queue = producer.queue("test")
    # A job as a Node producer with bullmq-otel adds it.
    added = await queue.add("test", MESSAGE, {"jobId": "node-1", "tm": NODE_TM})
    job = await Job.fromId(queue, added.id)
    with tracer.job(job, "test"):
        pass

    [span] = exporter.get_finished_spans()
    assert span.name == "process test" and span.kind is SpanKind.CONSUMER
    assert format(span.get_span_context().trace_id, "032x") == NODE_TRACE_ID
    assert span.parent is not None and span.parent.is_remote
    assert format(span.parent.span_id, "016x") == NODE_SPAN_ID
    assert span.attributes is not None
    assert span.attributes["bullmq.job.id"] == "node-1"
    assert span.attributes["ailawyer.job.attempt"] == 1
    assert span.status.status_code is StatusCode.UNSET


@pytest.mark.parametrize("tm", ["kein json", "[1, 2]", '{"traceparent": "00-zz-01"}', ""])
async def test_an_unreadable_tm_starts_a_trace_of_its_own(
    producer: QueueProducer, exported: tuple[QueueTracer, InMemorySpanExporter], tm: str
) -> None:
    tracer, exporter = exported
    queue = producer.queue("test")
    added = await queue.add("test", MESSAGE, {"jobId": "odd", "tm": tm})
    job = await Job.fromId(queue, added.id)
    with tracer.job(job, "test"):
        pass
    [span] = exporter.get_finished_spans()
    assert span.parent is None


async def test_a_failed_attempt_is_an_error_a_moved_job_is_not(
    producer: QueueProducer, exported: tuple[QueueTracer, InMemorySpanExporter]
) -> None:
    tracer, exporter = exported
    queue = producer.queue("test")
    added = await queue.add("test", MESSAGE, {"jobId": "f1", "tm": NODE_TM})
    job = await Job.fromId(queue, added.id)
    with pytest.raises(RuntimeError), tracer.job(job, "test"):
        raise RuntimeError("Zeitüberschreitung")
    with pytest.raises(DelayedError), tracer.job(job, "test"):
        raise DelayedError()
    failed, moved = exporter.get_finished_spans()
    assert failed.status.status_code is StatusCode.ERROR
    [event] = failed.events
    assert event.name == "exception" and event.attributes is not None
    assert event.attributes["exception.message"] == "Zeitüberschreitung"
    assert "exception.stacktrace" not in event.attributes
    assert moved.status.status_code is StatusCode.UNSET and not moved.events
