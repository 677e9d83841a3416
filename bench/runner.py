"""A whole benchmark run: build the stack, run the scenarios, report.

The repeated scenarios run once per round, interleaved (latency, throughput,
end to end, API; then again), so a burst of load elsewhere on the machine hits
one round of each rather than every run of one. Fan-out connects its clients
once and emits `runs` rounds; memory runs once (it is the longest).
"""

from __future__ import annotations

import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import machine, report
from bench.config import Config
from bench.context import PRODUCT, RAW, RAW_SERIAL, Context
from bench.producer import BenchQueue
from bench.scenarios import api, e2e, fanout, history, latency, memory, throughput
from bench.stack import Stack
from bench.stats import Results

Scenario = Callable[[Context], Awaitable[None]]
REPEATED: dict[str, Scenario] = {
    "latency": latency.run,
    "throughput": throughput.run,
    "e2e": e2e.run,
    "api": api.run,
}
# Each runs its own rounds (history: `runs` measurements per size, after one insert).
ONCE: dict[str, Scenario] = {"fanout": fanout.run, "memory": memory.run, "history": history.run}
SCENARIOS = (*REPEATED, *ONCE)


def say(message: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


async def _start_standing(ctx: Context) -> None:
    """The processes most scenarios share: app, one product worker, two raw workers."""
    stack, config = ctx.stack, ctx.config
    ctx.app = await stack.start_app(ctx.prefix(PRODUCT))
    ctx.workers[PRODUCT] = await stack.start_worker(ctx.prefix(PRODUCT))
    ctx.workers[RAW] = await stack.start_raw_worker(ctx.prefix(RAW), config.concurrency, "raw")
    ctx.workers[RAW_SERIAL] = await stack.start_raw_worker(ctx.prefix(RAW_SERIAL), 1, "raw-c1")
    owner = stack.users["owner"].id
    for system in (PRODUCT, RAW, RAW_SERIAL):
        ctx.queues[system] = BenchQueue(stack.redis_url, ctx.prefix(system), owner)


async def run(
    config: Config,
    selected: list[str],
    results_dir: Path,
    src: Path | None = None,
    *,
    profile: bool = False,
) -> tuple[Results, dict[str, Any]]:
    """Run `selected` scenarios; the figures and the results document (`report.to_json`)."""
    work = results_dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    results = Results()
    started, load_before = time.monotonic(), machine.load()
    say(f"load average {load_before}; building the stack under {work}")
    stack = await Stack(work, worker_concurrency=config.concurrency, src=src).open()
    ctx = Context(stack, config, results, results_dir, profile=profile)
    try:
        assert stack.redis is not None
        described = await machine.describe(stack.redis_url)
        described["redis_round_trips_per_s"] = await machine.redis_round_trips(stack.redis.port)
        await _start_standing(ctx)
        for round_index in range(config.runs):
            for name, scenario in REPEATED.items():
                if name in selected:
                    say(f"round {round_index + 1}/{config.runs}: {name}")
                    await scenario(ctx)
        for name, scenario in ONCE.items():
            if name in selected:
                say(f"{name}")
                await scenario(ctx)
    finally:
        for queue in ctx.queues.values():
            await queue.close()
        await stack.aclose()
    return results, report.to_json(
        results,
        {
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "duration_s": round(time.monotonic() - started, 1),
            "machine": described,
            "load_average": {"before": load_before, "after": machine.load()},
            "config": {
                **config.__dict__,
                "memory_jobs": list(config.memory_jobs),
                "history_sizes": list(config.history_sizes),
            },
            "scenarios": selected,
            "src": str(src) if src else None,
        },
    )
