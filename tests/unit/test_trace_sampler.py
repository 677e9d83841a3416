"""`OTEL_TRACES_SAMPLER` and `_ARG`: which traces app and worker keep
(docs/operations.md, "Traces"). Spans go through the SDK's own tracer provider
into its in-memory exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, SpanKind, TraceFlags

from ailawyer.config import TracesSampler
from ailawyer.tracing.otel import sampler

TRACES = 400


class Recorder:
    def __init__(self, name: TracesSampler, ratio: float = 1.0) -> None:
        self.exporter = InMemorySpanExporter()
        provider = TracerProvider(sampler=sampler(name, ratio))
        provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.tracer = provider.get_tracer("test")

    def request_with_a_query(self) -> None:
        """A request (a server root) and a database call inside it (a client child)."""
        with (
            self.tracer.start_as_current_span("GET /api/x", kind=SpanKind.SERVER),
            self.tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT),
        ):
            pass

    def heartbeat(self) -> None:
        """A Redis call outside any request or job: a client span without a parent."""
        with self.tracer.start_as_current_span("SET", kind=SpanKind.CLIENT):
            pass

    def job_of_a_sampled_producer(self) -> None:
        """A job whose `tm` carries a parent the producer kept."""
        parent = SpanContext(
            trace_id=0x1234,
            span_id=0x99,
            is_remote=True,
            trace_flags=TraceFlags(TraceFlags.SAMPLED),
        )
        context = trace.set_span_in_context(NonRecordingSpan(parent))
        with self.tracer.start_as_current_span("process q", context, kind=SpanKind.CONSUMER):
            pass

    def kinds(self) -> list[str]:
        return [span.kind.name for span in self.exporter.get_finished_spans()]


@pytest.fixture
def always_on() -> Iterator[Recorder]:
    yield Recorder("parentbased_always_on")


def test_by_default_every_request_is_kept_with_its_calls(always_on: Recorder) -> None:
    always_on.request_with_a_query()
    assert sorted(always_on.kinds()) == ["CLIENT", "SERVER"]


@pytest.mark.parametrize(
    "name",
    [
        "always_on",
        "parentbased_always_on",
        "traceidratio",
        "parentbased_traceidratio",
    ],
)
def test_a_call_outside_requests_and_jobs_starts_no_trace(name: TracesSampler) -> None:
    recorder = Recorder(name, ratio=1.0)
    recorder.heartbeat()
    recorder.request_with_a_query()
    assert sorted(recorder.kinds()) == ["CLIENT", "SERVER"]


@pytest.mark.parametrize("name", ["always_off", "parentbased_always_off"])
def test_always_off_keeps_no_request(name: TracesSampler) -> None:
    recorder = Recorder(name)
    recorder.request_with_a_query()
    assert recorder.kinds() == []


def test_parent_based_follows_the_producer_even_when_off() -> None:
    """The worker keeps a job whose request the app kept: one whole trace."""
    parent_based = Recorder("parentbased_always_off")
    parent_based.job_of_a_sampled_producer()
    assert parent_based.kinds() == ["CONSUMER"]

    plain = Recorder("always_off")
    plain.job_of_a_sampled_producer()
    assert plain.kinds() == []


@pytest.mark.parametrize("name", ["traceidratio", "parentbased_traceidratio"])
def test_a_ratio_keeps_about_that_share_of_traces_with_their_calls(name: TracesSampler) -> None:
    recorder = Recorder(name, ratio=0.25)
    for _ in range(TRACES):
        recorder.request_with_a_query()
    kinds = recorder.kinds()
    kept = kinds.count("SERVER")
    # Binomial(400, 0.25): mean 100, standard deviation about 8.7.
    assert 50 <= kept <= 150, kept
    # A kept request keeps its database call, a dropped one drops it.
    assert kinds.count("CLIENT") == kept


def test_the_same_ratio_keeps_the_same_traces_in_app_and_worker() -> None:
    app, worker = sampler("traceidratio", 0.5), sampler("traceidratio", 0.5)
    trace_ids = [n * 0x9E3779B97F4A7C15 % (1 << 64) for n in range(1, TRACES + 1)]
    app_kept = [app.should_sample(None, t, "x", SpanKind.SERVER).decision for t in trace_ids]
    worker_kept = [worker.should_sample(None, t, "x", SpanKind.SERVER).decision for t in trace_ids]
    assert app_kept == worker_kept
    assert 0 < sum(decision.is_sampled() for decision in app_kept) < TRACES
