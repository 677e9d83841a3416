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

from bench import machine, node, report
from bench.config import Config
from bench.context import NODE, PRODUCT, RAW, RAW_SERIAL, Context
from bench.processes import ChildFailed
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


def _install_node(results_dir: Path, notes: list[str]) -> Path | None:
    """Node BullMQ for the throughput scenario, or a note saying why there is none."""
    try:
        return node.install(results_dir / "node")
    except node.NodeUnavailable as exc:
        note = f"node bullmq row skipped: {exc}"
        notes.append(note)
        say(note)
        return None


async def _start_standing(ctx: Context, node_script: Path | None) -> None:
    """The processes most scenarios share: app, one product worker, the raw workers
    (two of bullmq-py, one of Node BullMQ when it is installed)."""
    stack, config = ctx.stack, ctx.config
    ctx.app = await stack.start_app(ctx.prefix(PRODUCT))
    ctx.workers[PRODUCT] = await stack.start_worker(ctx.prefix(PRODUCT))
    ctx.workers[RAW] = await stack.start_raw_worker(ctx.prefix(RAW), config.concurrency, "raw")
    ctx.workers[RAW_SERIAL] = await stack.start_raw_worker(ctx.prefix(RAW_SERIAL), 1, "raw-c1")
    systems = [PRODUCT, RAW, RAW_SERIAL]
    if node_script is not None:
        try:
            ctx.workers[NODE] = await stack.start_node_worker(
                node_script, ctx.prefix(NODE), config.concurrency, "node"
            )
            systems.append(NODE)
        except ChildFailed as exc:
            note = f"node bullmq row skipped: the worker did not start ({exc})"
            ctx.notes.append(note)
            say(note)
    owner = stack.users["owner"].id
    for system in systems:
        ctx.queues[system] = BenchQueue(stack.redis_url, ctx.prefix(system), owner)


async def run(
    config: Config,
    selected: list[str],
    results_dir: Path,
    src: Path | None = None,
    *,
    profile: bool = False,
    extra_env: dict[str, str] | None = None,
) -> tuple[Results, dict[str, Any]]:
    """Run `selected` scenarios; the figures and the results document (`report.to_json`)."""
    work = results_dir / "work"
    shutil.rmtree(work, ignore_errors=True)
    results = Results()
    started, load_before = time.monotonic(), machine.load()
    notes: list[str] = []
    node_script = None
    if "throughput" in selected:
        say("installing Node BullMQ for the throughput scenario (reused when current)")
        # Before the stack: npm's work is not measured beside anything.
        node_script = _install_node(results_dir, notes)
    say(f"load average {load_before}; building the stack under {work}")
    stack = await Stack(
        work, worker_concurrency=config.concurrency, src=src, extra_env=dict(extra_env or {})
    ).open()
    ctx = Context(stack, config, results, results_dir, profile=profile, notes=notes)
    try:
        assert stack.redis is not None
        described = await machine.describe(stack.redis_url)
        described["redis_round_trips_per_s"] = await machine.redis_round_trips(stack.redis.port)
        node_version = node.bullmq_version(ctx.results_dir / "node") if node_script else None
        if node_version:
            described["packages"]["bullmq (node)"] = node_version
        await _start_standing(ctx, node_script)
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
            "env": dict(extra_env or {}),
            "notes": ctx.notes,
        },
    )
