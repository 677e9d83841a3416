"""Prometheus metrics of the app: its HTTP traffic, and the queues as Redis shows them.

HTTP metrics are counted in-process, labelled by route *template*
(`/api/jobs/{jobId}/retry`, never the id) so the label set stays small.
Queue figures are read from Redis at scrape time, under the same deadline as
every other Redis call: a scrape with Redis away still answers, with
`ailawyer_queue_scrape_success 0` instead of queue figures.

Jobs completed and failed are what BullMQ still keeps (completed for a day,
failed for a week); durations come from the most recently completed jobs. The
worker exposes its own exact counters separately (WORKER_METRICS_PORT).

Each app owns its registry (no process-global one), so two apps in one process
(tests) never share counts.
"""

from __future__ import annotations

import asyncio
import statistics
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ailawyer.errors import ServiceUnavailable
from ailawyer.queues.dashboard import STATES, QueueDashboard
from ailawyer.queues.producer import QueueProducer
from ailawyer.redis import redis_deadline

# The dashboard's states; `paused` is reported as a flag of its own.
QUEUE_STATES: Final = tuple(state for state in STATES if state != "paused")
DURATION_SAMPLE: Final = 50
UNMATCHED_ROUTE: Final = "<unmatched>"


@dataclass(frozen=True)
class QueueFigures:
    name: str
    counts: dict[str, int]
    paused: bool
    durations_s: list[float] = field(default_factory=list)


def _quantile(values: Sequence[float], q: float) -> float:
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(q * 100) - 1] if q < 1 else max(values)


class _QueueSnapshot(Collector):
    """Renders figures read just before; one instance per scrape."""

    def __init__(self, figures: list[QueueFigures] | None) -> None:
        self._figures = figures

    def collect(self) -> Iterator[Metric]:
        success = GaugeMetricFamily(
            "ailawyer_queue_scrape_success", "1 if the queue figures could be read from Redis"
        )
        success.add_metric([], 0 if self._figures is None else 1)
        yield success
        if self._figures is None:
            return
        jobs = GaugeMetricFamily(
            "ailawyer_queue_jobs",
            "Jobs per queue and state (as kept by BullMQ)",
            labels=["queue", "state"],
        )
        paused = GaugeMetricFamily(
            "ailawyer_queue_paused", "1 if the queue is paused", labels=["queue"]
        )
        duration = GaugeMetricFamily(
            "ailawyer_queue_recent_job_duration_seconds",
            f"Processing time of the last {DURATION_SAMPLE} completed jobs, by quantile",
            labels=["queue", "quantile"],
        )
        for queue in self._figures:
            for state in QUEUE_STATES:
                jobs.add_metric([queue.name, state], queue.counts.get(state, 0))
            paused.add_metric([queue.name], 1 if queue.paused else 0)
            if queue.durations_s:
                ordered = sorted(queue.durations_s)
                for q in (0.5, 0.9, 1.0):
                    duration.add_metric([queue.name, str(q)], _quantile(ordered, q))
        yield from (jobs, paused, duration)


def _durations(jobs: Iterable[Any]) -> list[float]:
    found = []
    for job in jobs:
        started, finished = getattr(job, "processedOn", None), getattr(job, "finishedOn", None)
        if isinstance(started, int | float) and isinstance(finished, int | float) and started > 0:
            found.append(max(finished - started, 0) / 1000)
    return found


async def read_queue_figures(producer: QueueProducer) -> list[QueueFigures] | None:
    """Counts, paused flag and recent durations of every queue; None if Redis is away.

    Counts and flags are the dashboard's overview (one read per queue, all at once).
    """
    try:
        summaries = await QueueDashboard(producer).overview()
        async with redis_deadline(producer.timeout_s):
            recent = await asyncio.gather(
                *(
                    producer.queue(summary.name).getJobs(["completed"], 0, DURATION_SAMPLE - 1)
                    for summary in summaries
                )
            )
    except ServiceUnavailable:
        return None
    return [
        QueueFigures(
            name=summary.name,
            counts={state: summary.counts.get(state, 0) for state in QUEUE_STATES},
            paused=summary.paused,
            durations_s=_durations(jobs),
        )
        for summary, jobs in zip(summaries, recent, strict=True)
    ]


class Metrics:
    """The app's registry: HTTP counters plus process figures."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.requests = Counter(
            "ailawyer_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "ailawyer_http_request_duration_seconds",
            "Time to answer an HTTP request, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method, route, str(status))
        self.requests.labels(*labels).inc()
        self.latency.labels(*labels).observe(seconds)

    async def render(self, producer: QueueProducer) -> bytes:
        snapshot = CollectorRegistry()
        snapshot.register(_QueueSnapshot(await read_queue_figures(producer)))
        return generate_latest(self.registry) + generate_latest(snapshot)
