"""Traces from a request to the worker: real `ailawyer serve` and `ailawyer worker`
processes exporting over OTLP/HTTP to a receiver on loopback (docs/operations.md,
"Traces")."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis.asyncio import Redis

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.queues.producer import QueueProducer
from tests.fixtures import platform_queues
from tests.fixtures.live_app import login, make_user
from tests.fixtures.otlp import ReceivedSpan, Receiver, descends, otlp_receiver
from tests.fixtures.processes import Processes, production

# Export within a fifth of a second instead of the SDK's five.
FAST_EXPORT = {"OTEL_BSP_SCHEDULE_DELAY": "200"}


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (platform_queues.MODULE,)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with otlp_receiver() as made:
        yield made


def _is_redis(span: ReceivedSpan) -> bool:
    return span.kind == "client" and span.attributes.get("db.system") == "redis"


def _is_sql(span: ReceivedSpan) -> bool:
    return span.kind == "client" and span.attributes.get("db.system") == "postgresql"


@pytest.mark.slow
async def test_a_test_job_is_one_trace_from_the_request_to_the_worker(
    processes: Processes,
    receiver: Receiver,
    db: Database,
    redis_client: Redis,
    prefix: str,
    process_dir: Path,
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, **FAST_EXPORT, **production(process_dir)}
    worker = processes.launch_worker(**env)
    app = processes.serve(**env)
    await asyncio.to_thread(worker.wait_ready)
    admin = await make_user(db, Role.ADMIN)
    session = await login(app.url, admin)
    try:
        # Production cookies are Secure: httpx keeps them from plain HTTP.
        created = await session.http.post(
            "/api/admin/test-job", headers={"Cookie": session.cookie_header}
        )
    finally:
        await session.http.aclose()
    assert created.status_code == 201, created.text
    job_id = created.json()["jobId"]

    job_span = await asyncio.to_thread(
        receiver.wait_for,
        lambda s: s.kind == "consumer" and s.attributes.get("bullmq.job.id") == job_id,
        30.0,
        "job span",
    )
    request_span = await asyncio.to_thread(
        receiver.wait_for,
        lambda s: s.trace_id == job_span.trace_id and s.kind == "server",
        10.0,
        "request span in the job's trace",
    )
    # The worker's database and Redis calls inside the job end with it, the app's
    # inside the request with the request: both are exported by now, or soon.
    await asyncio.to_thread(
        receiver.wait_for,
        lambda s: s.trace_id == job_span.trace_id and _is_sql(s) and s.service.endswith("worker"),
        10.0,
        "worker SQL span",
    )
    spans = receiver.trace(job_span.trace_id)

    # The request, in the app.
    assert request_span.service == "ai-lawyer-app"
    assert request_span.name == "POST /api/admin/test-job"
    assert request_span.parent_id == ""  # the trace starts here
    assert request_span.attributes["http.route"] == "/api/admin/test-job"

    # The enqueue: a producer span inside the request.
    [enqueue] = [s for s in spans if s.kind == "producer"]
    assert enqueue.service == "ai-lawyer-app"
    assert enqueue.name == "add test.test"
    assert enqueue.attributes["bullmq.queue.name"] == "test"
    assert enqueue.attributes["bullmq.job.id"] == job_id
    assert descends(enqueue, request_span, spans)

    # The job's run: the worker continues the trace under the enqueue.
    assert job_span.service == "ai-lawyer-worker"
    assert job_span.name == "process test"
    assert job_span.parent_id == enqueue.span_id
    assert descends(job_span, request_span, spans)
    assert job_span.attributes["bullmq.queue.name"] == "test"
    assert job_span.attributes["ailawyer.job.attempt"] == 1
    assert job_span.attributes["bullmq.job.attempts.made"] == 0
    assert not job_span.error

    # Database and Redis calls of both processes, each under its own side.
    app_spans = [s for s in spans if s.service == "ai-lawyer-app"]
    worker_spans = [s for s in spans if s.service == "ai-lawyer-worker"]
    assert any(_is_sql(s) and descends(s, request_span, spans) for s in app_spans), app_spans
    assert any(_is_redis(s) and descends(s, enqueue, spans) for s in app_spans), app_spans
    assert any(_is_sql(s) and descends(s, job_span, spans) for s in worker_spans), worker_spans
    assert any(_is_redis(s) and descends(s, job_span, spans) for s in worker_spans), worker_spans

    # Nothing outside a request or a job starts a trace: no lone Redis calls
    # (the worker's polling, heartbeats) or SQL.
    roots = [s for s in receiver.snapshot() if s.parent_id == ""]
    assert roots and all(s.kind in ("server", "consumer") for s in roots), roots

    # The context is stored in BullMQ's layout: the option `tm`, bullmq-otel's
    # JSON object of trace-context headers, naming the enqueue span.
    opts = json.loads(await redis_client.hget(f"{prefix}:test:{job_id}", "opts"))
    carrier = json.loads(opts["tm"])
    version, trace_id, parent_id, flags = carrier["traceparent"].split("-")
    assert (version, trace_id, parent_id) == ("00", job_span.trace_id, enqueue.span_id)
    assert int(flags, 16) & 1  # sampled

    # Log lines in the request and in the job carry the ids of their span.
    app_lines = [
        line
        for line in app.lines()
        if line.get("message") == "job.enqueued" and line.get("jobId") == job_id
    ]
    assert app_lines and app_lines[0]["traceId"] == job_span.trace_id
    assert app_lines[0]["spanId"] == enqueue.span_id
    worker_lines = [
        line for line in worker.lines() if line.get("jobId") == job_id and "traceId" in line
    ]
    assert worker_lines, worker.output()[-3000:]
    assert {line["traceId"] for line in worker_lines} == {job_span.trace_id}
    # Lines outside any span carry none.
    assert not [
        line
        for line in worker.lines()
        if line.get("message") == "Worker started" and "traceId" in line
    ]


@pytest.mark.slow
async def test_a_process_pool_job_is_one_span_in_the_parent_named_by_its_childs_lines(
    processes: Processes,
    receiver: Receiver,
    producer: QueueProducer,
    db: Database,
    process_dir: Path,
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, **FAST_EXPORT, **production(process_dir)}
    worker = await processes.worker(**env)
    owner = await make_user(db, Role.ANWALT)
    # Enqueued without tracing (the test's producer): the job starts its own trace.
    job = await producer.enqueue(platform_queues.cpu_queue, {"userId": owner.id, "seconds": 0})

    job_span = await asyncio.to_thread(
        receiver.wait_for,
        lambda s: s.kind == "consumer" and s.attributes.get("bullmq.job.id") == job.id,
        30.0,
        "job span",
    )
    assert job_span.name == "process cpu" and job_span.parent_id == ""
    assert job_span.service == "ai-lawyer-worker" and not job_span.error
    # The processor ran in a child process; its line carries the parent's span.
    [line] = await worker.wait_for("cpu.run", jobId=job.id)
    assert line["pid"] != worker.pid
    assert (line["traceId"], line["spanId"]) == (job_span.trace_id, job_span.span_id)
