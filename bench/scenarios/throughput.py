"""(3) Throughput: a backlog drained by one worker process, then by two.

Beside ours, the same no-op job run by bare bullmq-py and, when node is
installed, by Node BullMQ (`bench/node.py`).

The queue is paused, filled with `throughput_jobs` jobs, and resumed; the rate is
taken between 10 % and 90 % of the backlog, so start-up and the tail do not
count. Besides jobs/s, the CPU time the worker processes and Redis spent per job
is recorded (from /proc): on a machine shared with other work, CPU per job stays
meaningful when wall-clock rates do not. So is how many of the machine's cores
were busy during the drain (every process: workers, Redis, PostgreSQL, the app,
the harness): a drain that keeps the cores busy already leaves a second worker
process nothing to scale into.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass

from bench.context import NODE, PRODUCT, RAW, RAW_SERIAL, Context
from bench.cpu import (
    cpu_seconds,
    machine_seconds,
    pids_named,
    total_cpu_seconds,
    total_cpu_seconds_alive,
)
from bench.processes import Child
from bench.producer import BenchQueue
from bench.profile import Profiler, summarize

DRAIN_TIMEOUT_S = 300.0
POLL_S = 0.01


@dataclass(frozen=True)
class Drain:
    rate: float
    worker_cpu_ms: float
    redis_cpu_ms: float
    cores_busy: float
    cores_stolen: float
    # Machine CPU per job by who spent it: the workers and Redis above, then these.
    postgres_cpu_ms: float
    app_cpu_ms: float
    harness_cpu_ms: float
    other_cpu_ms: float


def _others(app_pid: int | None) -> dict[str, list[int]]:
    return {
        "postgres": pids_named("postgres"),
        "app": [] if app_pid is None else [app_pid],
        "harness": [os.getpid()],
    }


def _crossing(samples: list[tuple[float, int]], count: float) -> float:
    """When the completed count reached `count` (linear between samples)."""
    previous = samples[0]
    for sample in samples[1:]:
        if sample[1] >= count:
            t0, c0 = previous
            t1, c1 = sample
            return t0 if c1 == c0 else t0 + (t1 - t0) * (count - c0) / (c1 - c0)
        previous = sample
    return samples[-1][0]


async def drain(
    queue: BenchQueue, count: int, workers: list[Child], redis_pid: int, app_pid: int | None
) -> Drain:
    base = await queue.completed()
    await queue.pause()
    await queue.add_many(count)
    pids = [worker.pid for worker in workers]
    cpu_before, redis_before = total_cpu_seconds(pids), cpu_seconds(redis_pid)
    others = _others(app_pid)
    others_before = {name: total_cpu_seconds_alive(pids) for name, pids in others.items()}
    machine_before = machine_seconds()
    started = time.perf_counter()
    await queue.resume()
    samples = [(started, 0)]
    while samples[-1][1] < count:
        await asyncio.sleep(POLL_S)
        now = time.perf_counter()
        samples.append((now, await queue.completed() - base))
        if now - started > DRAIN_TIMEOUT_S:
            raise TimeoutError(f"{queue.prefix}: {samples[-1][1]} of {count} jobs in time")
    cpu_after, redis_after = total_cpu_seconds(pids), cpu_seconds(redis_pid)
    machine_after, elapsed = machine_seconds(), time.perf_counter() - started
    spent = {
        name: (total_cpu_seconds_alive(pids) - others_before[name]) * 1000 / count
        for name, pids in others.items()
    }
    worker_ms = (cpu_after - cpu_before) * 1000 / count
    redis_ms = (redis_after - redis_before) * 1000 / count
    machine_ms = (machine_after[0] - machine_before[0]) * 1000 / count
    low, high = 0.1 * count, 0.9 * count
    rate = (high - low) / (_crossing(samples, high) - _crossing(samples, low))
    return Drain(
        rate=rate,
        worker_cpu_ms=worker_ms,
        redis_cpu_ms=redis_ms,
        cores_busy=(machine_after[0] - machine_before[0]) / elapsed,
        cores_stolen=(machine_after[1] - machine_before[1]) / elapsed,
        postgres_cpu_ms=spent["postgres"],
        app_cpu_ms=spent["app"],
        harness_cpu_ms=spent["harness"],
        other_cpu_ms=machine_ms - worker_ms - redis_ms - sum(spent.values()),
    )


def _record(ctx: Context, key: str, label: str, result: Drain) -> None:
    ctx.results.add(f"throughput.{key}", label, "jobs/s", result.rate)
    ctx.results.add(f"cpu.{key}.worker", f"worker CPU per job, {label}", "ms", result.worker_cpu_ms)
    ctx.results.add(f"cpu.{key}.redis", f"Redis CPU per job, {label}", "ms", result.redis_cpu_ms)
    for part, spent in (
        ("postgres", result.postgres_cpu_ms),
        ("app", result.app_cpu_ms),
        ("harness", result.harness_cpu_ms),
        ("other", result.other_cpu_ms),
    ):
        ctx.results.add(f"cpu.{key}.{part}", f"{part} CPU per job, {label}", "ms", spent)
    cores = os.cpu_count() or 1
    ctx.results.add(
        f"cores.{key}.busy", f"machine cores busy (of {cores}), {label}", "cores", result.cores_busy
    )
    ctx.results.add(
        f"cores.{key}.stolen", f"cores stolen by the host, {label}", "cores", result.cores_stolen
    )


async def run(ctx: Context) -> None:
    stack, count = ctx.stack, ctx.config.throughput_jobs
    assert stack.redis is not None and stack.redis.process is not None
    redis_pid = stack.redis.process.pid
    measured: dict[str, float] = {}

    async def one(key: str, label: str, system: str, workers: list[Child]) -> None:
        profiler = None
        if ctx.profile and key == "ailawyer.1" and not ctx.results.metrics.get(f"throughput.{key}"):
            # The first drain of the product worker, sampled from outside.
            profiler = Profiler(workers[0].pid, ctx.results_dir / "profile-worker.raw")
            profiler.start()
        try:
            app_pid = ctx.app.pid if ctx.app is not None else None
            result = await drain(ctx.queues[system], count, workers, redis_pid, app_pid)
        finally:
            if profiler is not None:
                await asyncio.to_thread(profiler.stop)
                summary = ctx.results_dir / "profile-worker.txt"
                summary.write_text(summarize(profiler.raw_path))
        _record(ctx, key, label, result)
        measured[key] = result.rate

    raw, product = ctx.workers[RAW], ctx.workers[PRODUCT]
    c = f"c={ctx.config.concurrency}"
    await one("raw.1", f"raw bullmq, 1 process, {c}", RAW, [raw])
    await one("raw_c1.1", "raw bullmq, 1 process, c=1", RAW_SERIAL, [ctx.workers[RAW_SERIAL]])
    await one("ailawyer.1", "ailawyer worker, 1 process", PRODUCT, [product])
    if NODE in ctx.workers:
        await one("node.1", f"node bullmq, 1 process, {c}", NODE, [ctx.workers[NODE]])

    second = await stack.start_worker(ctx.prefix(PRODUCT), name="worker-2")
    try:
        await one("ailawyer.2", "ailawyer worker, 2 processes", PRODUCT, [product, second])
    finally:
        await stack.stop(second)
    second_raw = await stack.start_raw_worker(ctx.prefix(RAW), ctx.config.concurrency, "raw-2")
    try:
        await one("raw.2", f"raw bullmq, 2 processes, {c}", RAW, [raw, second_raw])
    finally:
        await stack.stop(second_raw)

    results = ctx.results
    results.add(
        "throughput.ratio_vs_raw",
        "ailawyer / raw bullmq, 1 process",
        "x",
        measured["ailawyer.1"] / measured["raw.1"],
    )
    if "node.1" in measured:
        results.add(
            "throughput.ratio_node_vs_raw",
            "node bullmq / raw bullmq (Python), 1 process",
            "x",
            measured["node.1"] / measured["raw.1"],
        )
    results.add(
        "throughput.scaling.ailawyer",
        "ailawyer, 2 processes / 1",
        "x",
        measured["ailawyer.2"] / measured["ailawyer.1"],
    )
    results.add(
        "throughput.scaling.raw",
        "raw bullmq, 2 processes / 1",
        "x",
        measured["raw.2"] / measured["raw.1"],
    )
    results.add(
        "throughput.scaling.ratio_vs_raw",
        "(ailawyer, 2 processes / 1) / (raw bullmq, 2 processes / 1)",
        "x",
        (measured["ailawyer.2"] / measured["ailawyer.1"]) / (measured["raw.2"] / measured["raw.1"]),
    )
