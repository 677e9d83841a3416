"""(1) Pickup latency: from just before `Queue.add` to the processor's first line.

Both ends read `time.time()` (CLOCK_REALTIME of one machine): the harness before
it adds the job, the processor when it starts (returned as `startedAt`). The add
itself (one EVALSHA round trip) is inside the figure, as a producer sees it.

- light load: jobs arrive one at a time at a fixed rate (50/s), the worker idles
  between them;
- saturation: a closed loop keeps as many jobs outstanding as the worker's
  concurrency, so the worker runs flat out while a job never waits for a free
  slot; the figure is then the fetch path under full load.
"""

from __future__ import annotations

import asyncio
import time

from bench.context import PRODUCT, RAW, Context
from bench.producer import BenchQueue
from bench.stats import latency_summary

WAIT_TIMEOUT_S = 120.0


async def wait_completed(queue: BenchQueue, target: int, timeout: float = WAIT_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while await queue.completed() < target:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"{queue.prefix}: {await queue.completed()} of {target} completed "
                f"({await queue.failed()} failed)"
            )
        await asyncio.sleep(0.01)


async def light_load(queue: BenchQueue, rate: float, seconds: float) -> list[float]:
    base = await queue.completed()
    count = max(1, int(rate * seconds))
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for index in range(count):
        delay = start + index / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        job_id, at = await queue.add()
        sent[job_id] = at
    await wait_completed(queue, base + count)
    started = await queue.started_at(list(sent))
    return [started[job_id] - at for job_id, at in sent.items() if job_id in started]


async def saturated(queue: BenchQueue, window: int, seconds: float) -> tuple[list[float], float]:
    """Latencies, and the throughput the loop reached (jobs/s)."""
    base = await queue.completed()
    sent: dict[str, float] = {}
    started_at = time.perf_counter()
    end = started_at + seconds
    while time.perf_counter() < end:
        outstanding = len(sent) - (await queue.completed() - base)
        free = window - outstanding
        if free > 0:
            ids, at = await queue.add_many(free)
            sent.update(dict.fromkeys(ids, at))
        else:
            await asyncio.sleep(0.0005)
    await wait_completed(queue, base + len(sent))
    rate = len(sent) / (time.perf_counter() - started_at)
    started = await queue.started_at(list(sent))
    return [started[job_id] - at for job_id, at in sent.items() if job_id in started], rate


async def run(ctx: Context) -> None:
    config, results = ctx.config, ctx.results
    for system in (RAW, PRODUCT):
        queue = ctx.queues[system]
        light = latency_summary(await light_load(queue, config.light_rate, config.light_seconds))
        for q in ("p50", "p95", "p99"):
            results.add(
                f"latency.light.{system}.{q}",
                f"pickup latency, {config.light_rate}/s, {system} {q}",
                "ms",
                light[q],
            )
        samples, rate = await saturated(queue, config.concurrency, config.saturation_seconds)
        heavy = latency_summary(samples)
        for q in ("p50", "p95", "p99"):
            results.add(
                f"latency.saturated.{system}.{q}",
                f"pickup latency, saturated, {system} {q}",
                "ms",
                heavy[q],
            )
        results.add(
            f"latency.saturated.{system}.rate",
            f"saturated closed loop, {system} throughput",
            "jobs/s",
            rate,
        )
    for level in ("light", "saturated"):
        for q in ("p50", "p99"):
            product = results.metrics[f"latency.{level}.{PRODUCT}.{q}"].runs[-1]
            raw = results.metrics[f"latency.{level}.{RAW}.{q}"].runs[-1]
            results.add(
                f"latency.{level}.ratio.{q}",
                f"pickup latency {level} {q}, ailawyer / raw",
                "x",
                product / raw,
            )
