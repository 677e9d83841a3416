"""(6) Worker memory: resident set size of a fresh `ailawyer worker` after 10k and
after 100k jobs of the full pipeline.

A worker of its own (own prefix) starts, then a producer keeps a few thousand jobs
waiting until the count is reached. RSS is read from /proc once the queue is
empty and the worker has been idle for a second.
"""

from __future__ import annotations

import asyncio
import time

from bench.context import PRODUCT, Context
from bench.cpu import cpu_seconds
from bench.producer import BenchQueue
from bench.scenarios.latency import wait_completed

BACKLOG = 4000
SETTLE_S = 1.0
MIB = 1024 * 1024


async def feed(queue: BenchQueue, total: int) -> None:
    """Add jobs until `total` were added, keeping at most BACKLOG waiting."""
    added = 0
    while added < total:
        if await queue.waiting() < BACKLOG // 2:
            batch = min(BACKLOG // 2, total - added)
            await queue.add_many(batch)
            added += batch
        else:
            await asyncio.sleep(0.02)


async def run(ctx: Context) -> None:
    stack = ctx.stack
    prefix = ctx.prefix("mem")
    worker = await stack.start_worker(prefix, name="worker-mem")
    queue = BenchQueue(stack.redis_url, prefix, stack.users["owner"].id)
    try:
        await asyncio.sleep(SETTLE_S)
        rss = {0: worker.rss_bytes()}
        done = 0
        started, cpu_before = time.perf_counter(), cpu_seconds(worker.pid)
        for target in ctx.config.memory_jobs:
            await feed(queue, target - done)
            await wait_completed(queue, target, timeout=600)
            done = target
            await asyncio.sleep(SETTLE_S)
            rss[target] = worker.rss_bytes()
        elapsed = time.perf_counter() - started - SETTLE_S * len(ctx.config.memory_jobs)
        cpu = cpu_seconds(worker.pid) - cpu_before
    finally:
        await queue.close()
        await stack.stop(worker)
    first, last = ctx.config.memory_jobs
    results = ctx.results
    results.add("memory.start", "worker RSS after start", "MiB", rss[0] / MIB)
    results.add("memory.first", f"worker RSS after {first:,} jobs", "MiB", rss[first] / MIB)
    results.add("memory.last", f"worker RSS after {last:,} jobs", "MiB", rss[last] / MIB)
    results.add(
        "memory.growth",
        f"worker RSS growth {first:,} → {last:,} jobs",
        "%",
        100 * (rss[last] - rss[first]) / rss[first],
    )
    results.add(
        "memory.rate", f"{PRODUCT} worker, {last:,} jobs fed live", "jobs/s", last / elapsed
    )
    results.add("memory.cpu", f"worker CPU per job over {last:,} jobs", "ms", cpu * 1000 / last)
