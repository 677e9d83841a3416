"""(4) The API under load: wrk (a separate process) against `ailawyer serve`.

wrk keeps a fixed number of connections busy for a fixed time (closed loop) and
reports requests/s and its latency distribution. Every answer must be 2xx: a
503 from a degraded health check would make the figure meaningless, and a
run with any non-2xx answer is refused.

The enqueue endpoint (`POST /api/admin/test-job`) really enqueues; the `test`
queue is paused meanwhile (workers fetch nothing), then drained and resumed.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from bullmq import Queue

from bench.context import Context
from bench.cpu import cpu_seconds
from bench.profile import Profiler, summarize

LUA = Path(__file__).resolve().parents[1] / "wrk" / "request.lua"
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}
_PERCENTILE = re.compile(r"^\s*(50|75|90|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_RATE = re.compile(r"^Requests/sec:\s+([\d.]+)", re.MULTILINE)
_COUNT = re.compile(r"^\s*(\d+) requests in", re.MULTILINE)
_BAD = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_ERRORS = re.compile(r"Socket errors: (.*)")


@dataclass(frozen=True)
class Endpoint:
    key: str
    label: str
    method: str
    path: str
    session: str | None  # which user's session, if any
    connections: int | None = None  # default: Config.api_connections


ENDPOINTS = (
    Endpoint("live", "GET /api/health/live", "GET", "/api/health/live", None),
    Endpoint("health", "GET /api/health", "GET", "/api/health", None),
    # A probe's view: one request at a time, so the figure is the checks' own latency.
    Endpoint("health_probe", "GET /api/health", "GET", "/api/health", None, connections=1),
    Endpoint("enqueue", "POST /api/admin/test-job", "POST", "/api/admin/test-job", "admin"),
    Endpoint("notifications", "GET /api/notifications", "GET", "/api/notifications", "admin"),
)


@dataclass(frozen=True)
class WrkResult:
    rate: float
    p50: float
    p99: float
    requests: int


def parse(output: str) -> WrkResult:
    percentiles = {m[0]: float(m[1]) * _UNITS[m[2]] for m in _PERCENTILE.findall(output)}
    rate = _RATE.search(output)
    count = _COUNT.search(output)
    bad = _BAD.search(output)
    errors = _ERRORS.search(output)
    if rate is None or count is None or "50" not in percentiles or "99" not in percentiles:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    if bad or errors:
        raise RuntimeError(f"wrk saw failed requests:\n{output}")
    return WrkResult(
        float(rate.group(1)), percentiles["50"], percentiles["99"], int(count.group(1))
    )


async def wrk(url: str, seconds: int, connections: int, env: dict[str, str]) -> WrkResult:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    process = await asyncio.create_subprocess_exec(
        binary,
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "--latency",
        "-s",
        str(LUA),
        url,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    return parse(output.decode())


async def run(ctx: Context) -> None:
    stack, config = ctx.stack, ctx.config
    assert ctx.app is not None
    app_pid = ctx.app.pid
    sessions = {"admin": await stack.login("admin")}
    test_queue = Queue("test", {"connection": stack.redis_url, "prefix": ctx.prefix("ailawyer")})
    try:
        for endpoint in ENDPOINTS:
            env = {"BENCH_METHOD": endpoint.method}
            if endpoint.session:
                session = sessions[endpoint.session]
                env.update(BENCH_COOKIE=session.cookie, BENCH_CSRF=session.csrf)
            if endpoint.key == "enqueue":
                await test_queue.pause()
            connections = endpoint.connections or config.api_connections
            profiler = None
            if ctx.profile and not ctx.results.metrics.get(f"api.{endpoint.key}.rps"):
                # Each endpoint's first run, sampled from outside.
                raw = ctx.results_dir / f"profile-app-{endpoint.key}.raw"
                profiler = Profiler(app_pid, raw)
                profiler.start()
            cpu_before = cpu_seconds(app_pid)
            try:
                result = await wrk(
                    stack.app_url + endpoint.path, config.api_seconds, connections, env
                )
                cpu_ms = (cpu_seconds(app_pid) - cpu_before) * 1000 / max(result.requests, 1)
            finally:
                if profiler is not None:
                    await asyncio.to_thread(profiler.stop)
                    summary = profiler.raw_path.with_suffix(".txt")
                    summary.write_text(summarize(profiler.raw_path))
                if endpoint.key == "enqueue":
                    await test_queue.drain()
                    await test_queue.resume()
            label = f"{endpoint.label}, {connections} connection{'s' if connections > 1 else ''}"
            ctx.results.add(f"api.{endpoint.key}.rps", f"{label}, req/s", "req/s", result.rate)
            ctx.results.add(f"api.{endpoint.key}.p50", f"{label}, p50", "ms", result.p50)
            ctx.results.add(f"api.{endpoint.key}.p99", f"{label}, p99", "ms", result.p99)
            ctx.results.add(
                f"cpu.api.{endpoint.key}", f"app CPU per request, {label}", "ms", cpu_ms
            )
    finally:
        await test_queue.close()
