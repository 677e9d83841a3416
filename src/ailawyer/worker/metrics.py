"""The worker's Prometheus metrics, served on WORKER_METRICS_PORT when it is set.

A registry of its own per runner (not the library's global one), so a process
or a test can build several without "duplicated timeseries" errors. Counters
are fed from BullMQ's `completed`/`failed` events, i.e. after Redis has
recorded the outcome; the duration covers the processor and the notification.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, start_http_server

# From a quick test job to a long OCR/AI run.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)


class WorkerMetrics:
    def __init__(self, queues: Iterable[str]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.completed = Counter(
            "ailawyer_jobs_completed",
            "Jobs completed, per queue.",
            ["queue"],
            registry=self.registry,
        )
        self.failed = Counter(
            "ailawyer_jobs_failed",
            "Jobs failed for good (retries exhausted or unrecoverable), per queue.",
            ["queue"],
            registry=self.registry,
        )
        self.retried = Counter(
            "ailawyer_job_retries",
            "Failed attempts that BullMQ will retry, per queue.",
            ["queue"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "ailawyer_job_duration_seconds",
            "Time of one run (processor and notification), per queue.",
            ["queue"],
            buckets=DURATION_BUCKETS,
            registry=self.registry,
        )
        for queue in queues:  # every queue shows up with 0 before its first job
            for metric in (self.completed, self.failed, self.retried, self.duration):
                metric.labels(queue=queue)
        self._durations: dict[str, Any] = {}  # per queue, looked up once
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def observe_duration(self, queue: str, seconds: float) -> None:
        child = self._durations.get(queue)
        if child is None:
            child = self._durations[queue] = self.duration.labels(queue=queue)
        child.observe(seconds)

    def serve(self, port: int, host: str = "0.0.0.0") -> None:  # noqa: S104 - scraped from outside the container
        """Start the /metrics endpoint in a daemon thread (raises OSError if the port is taken)."""
        self._server, self._thread = start_http_server(port, addr=host, registry=self.registry)

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=2)
            self._thread = None
