"""`python -m bench.tracing`: what tracing costs per request and per job, in CPU time.

A micro-benchmark in one process, so a busy machine distorts it less than the
wall-clock figures of `python -m bench`: CPU time (`time.process_time`) of

- a request through a FastAPI app (one route with a dependency, over ASGI
  in-process): with FastAPI's default `telemetry=` (what the app had before
  tracing: FastAPI looks for providers on every request and finds none), with
  the one `ailawyer.tracing.fastapi_telemetry` gives when tracing is off, and
  when it is on (an SDK provider whose batch processor hands spans to an
  exporter that drops them);
- the spans of one job, `QueueTracer.enqueue` (with the `tm` it injects) and
  `QueueTracer.job` (extracting it), on the same kind of provider; when tracing is
  off the producer and the job runner skip them with one `is None` test.

Rounds alternate off and on; the figures are medians over the rounds, per call.
The export itself (protobuf, HTTP) runs in the SDK's thread in production and is
left out here; `python -m bench` with OTEL_EXPORTER_OTLP_ENDPOINT set includes it.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

import httpx
from fastapi import Depends, FastAPI
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from pydantic import SecretStr

from ailawyer.config import Settings
from ailawyer.tracing import fastapi_telemetry
from ailawyer.tracing.otel import QueueTracer


class _Drop(SpanExporter):
    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return SpanExportResult.SUCCESS


def _provider() -> TracerProvider:
    provider = TracerProvider()
    provider.add_span_processor(BatchSpanProcessor(_Drop()))
    return provider


def _app(settings: Settings | None, provider: TracerProvider | None) -> FastAPI:
    if settings is None:
        app = FastAPI()
    else:
        telemetry = fastapi_telemetry(settings)
        if provider is not None:
            telemetry = {**telemetry, "tracer_provider": provider}
        app = FastAPI(telemetry=telemetry)

    async def user() -> dict[str, str]:
        return {"id": "u1"}

    @app.get("/api/things/{thing}")
    async def thing(thing: str, who: dict[str, str] = Depends(user)) -> dict[str, str]:  # noqa: B008
        return {"thing": thing, "user": who["id"]}

    return app


async def _requests(app: FastAPI, count: int) -> float:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        await client.get("/api/things/warm")
        started = time.process_time()
        for index in range(count):
            response = await client.get(f"/api/things/{index}")
            assert response.status_code == 200
        return (time.process_time() - started) / count


def _job_spans(tracer: QueueTracer, count: int) -> float:
    started = time.process_time()
    for index in range(count):
        with tracer.enqueue("bench", "bench", str(index)) as tm:
            pass
        job: Any = SimpleNamespace(id=str(index), name="bench", attemptsMade=0, opts={"tm": tm})
        with tracer.job(job, "bench"):
            pass
    return (time.process_time() - started) / count


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.tracing", description=__doc__)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=5000)
    options = parser.parse_args()

    secret = SecretStr("b" * 64)
    off = Settings(app_env="test", auth_secret=secret, _env_file=None)  # type: ignore[call-arg]
    on = Settings(
        app_env="test",
        auth_secret=secret,
        otel_exporter_otlp_endpoint="http://127.0.0.1:4318",
        _env_file=None,  # type: ignore[call-arg]
    )
    provider = _provider()
    tracer = QueueTracer(provider)
    default_app, off_app, on_app = _app(None, None), _app(off, None), _app(on, provider)
    request_default, request_off, request_on, spans = [], [], [], []
    for _ in range(options.rounds):
        request_default.append(asyncio.run(_requests(default_app, options.requests)))
        request_off.append(asyncio.run(_requests(off_app, options.requests)))
        request_on.append(asyncio.run(_requests(on_app, options.requests)))
        spans.append(_job_spans(tracer, options.jobs))
    provider.shutdown()

    def us(values: list[float]) -> float:
        return statistics.median(values) * 1e6

    default_us, off_us, on_us = us(request_default), us(request_off), us(request_on)
    print(f"request, FastAPI's default: {default_us:8.1f} µs CPU")
    print(f"request, tracing off: {off_us:8.1f} µs CPU  ({off_us / default_us:.2f} x)")
    print(f"request, tracing on:  {on_us:8.1f} µs CPU  ({on_us / off_us:.2f} x)")
    print(f"job spans (enqueue + attempt), tracing on: {us(spans):8.1f} µs CPU per job")


if __name__ == "__main__":
    main()
