"""Without OTEL_EXPORTER_OTLP_ENDPOINT, tracing costs nothing: a real `ailawyer serve`
and a real `ailawyer worker`, after a job went through both, have loaded nothing of
OpenTelemetry beyond what FastAPI and redis-py import by themselves (no trace SDK,
exporter, instrumentation or protobuf), and set no tracer provider.
docs/operations.md, "Traces", says why those modules are there: FastAPI imports
OpenTelemetry's API for its native telemetry, redis-py the SDK's metrics when the
SDK is installed."""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from tests.fixtures.live_app import login, make_user
from tests.fixtures.processes import REPO_ROOT, ChildProcess, Processes
from tests.fixtures.services import free_port
from tests.fixtures.waiting import wait_until

PROBE = ("-m", "tests.fixtures.module_probe")
# Parts of OpenTelemetry that only tracing uses; none may be loaded. (Not all of
# the SDK: redis-py imports `opentelemetry.sdk.metrics`, with the SDK's resources
# and some semantic conventions, by itself.)
TRACING_ONLY = (
    "opentelemetry.sdk.trace",
    "opentelemetry.sdk._logs",
    "opentelemetry.exporter",
    "opentelemetry.instrumentation",
    "opentelemetry.proto",
    "google.protobuf",
    "ailawyer.tracing.otel",
)


def _otel(modules: list[str]) -> set[str]:
    return {name for name in modules if name.split(".")[0] == "opentelemetry"}


def _imported_by(*imports: str) -> set[str]:
    """The OpenTelemetry modules a bare interpreter has after `import <imports>`."""
    code = (
        "import json, sys\n"
        + "".join(f"import {name}\n" for name in imports)
        + "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'opentelemetry')))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT / "tests",
        timeout=60,
    )
    return set(json.loads(done.stdout))


def _probe(processes: Processes, args: list[str], out: Path, port: int | None) -> ChildProcess:
    child = ChildProcess(
        args,
        processes.env(),
        processes.directory / f"{args[0]}-probe.log",
        port=port,
        runner=(*PROBE, str(out)),
    )
    processes.started.append(child)
    return child.start()


def _report(child: ChildProcess, out: Path) -> dict[str, Any]:
    child.send(signal.SIGUSR1)
    assert wait_until(out.exists, 10), child.output()[-3000:]
    report: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
    return report


@pytest.mark.slow
async def test_without_the_endpoint_no_tracing_is_loaded_in_app_or_worker(
    processes: Processes, db: Database, tmp_path: Path
) -> None:
    assert not any(key.startswith("OTEL_") for key in processes.env())
    worker_out, app_out = tmp_path / "worker.json", tmp_path / "app.json"
    worker = _probe(processes, ["worker"], worker_out, None)
    port = free_port()
    app = _probe(processes, ["serve", "--host", "127.0.0.1", "--port", str(port)], app_out, port)
    await asyncio.to_thread(app.wait_ready)
    await asyncio.to_thread(worker.wait_ready)

    # One job through both processes: request, enqueue, run, notification.
    admin = await make_user(db, Role.ADMIN)
    session = await login(app.url, admin)
    try:
        created = await session.http.post("/api/admin/test-job")
        assert created.status_code == 201, created.text
        job_id = created.json()["jobId"]
        async with asyncio.timeout(30):
            while True:
                listed = (await session.http.get("/api/notifications")).json()
                if any((n.get("data") or {}).get("jobId") == job_id for n in listed["items"]):
                    break
                await asyncio.sleep(0.1)
    finally:
        await session.http.aclose()

    app_report = _report(app, app_out)
    worker_report = _report(worker, worker_out)
    for report in (app_report, worker_report):
        assert "ailawyer.tracing" in report["modules"]  # the light switch, nothing more
        loaded = [m for m in report["modules"] if m.startswith(TRACING_ONLY)]
        assert loaded == [], loaded
        assert report["tracerProvider"] is None

    # The API modules that are there, FastAPI and redis-py import on their own:
    # exactly those, none added by us. (The worker does not import FastAPI.)
    assert "fastapi" not in worker_report["modules"]
    assert _otel(worker_report["modules"]) == _imported_by("redis.asyncio", "bullmq")
    assert _otel(app_report["modules"]) == _imported_by("redis.asyncio", "bullmq", "fastapi")
