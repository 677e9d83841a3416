"""(2) End to end: `POST /api/admin/test-job` → the `notification` event in a
connected Socket.IO client, minus the test processor's own work.

One process, one monotonic clock: the time before the POST and the time the
client's handler runs are both `time.perf_counter()`. The path in between is the
product's: the app commits, enqueues; `ailawyer worker` picks the job up, runs
the test processor (which sleeps `WORK_SECONDS`), persists the notification and
publishes it; the app's Socket.IO server receives it from Redis and sends it to
the browser's socket. The sleep's own overshoot (the event loop's timer
resolution, about a millisecond) stays in the figure.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import socketio

from ailawyer.worker.processors.test import WORK_SECONDS
from bench.context import Context
from bench.stats import latency_summary

RECEIVE_TIMEOUT_S = 60.0


async def run(ctx: Context) -> None:
    stack, config = ctx.stack, ctx.config
    session = await stack.login("admin")
    received: dict[str, float] = {}
    sent: dict[str, float] = {}
    answered: list[float] = []
    client = socketio.AsyncClient(reconnection=False)

    async def on_notification(data: Any) -> None:
        job_id = (data.get("data") or {}).get("jobId") if isinstance(data, dict) else None
        if job_id:
            received[job_id] = time.perf_counter()

    client.on("notification", on_notification)
    await client.connect(
        stack.app_url, headers={"Cookie": session.cookie}, transports=["websocket"], wait_timeout=10
    )
    try:
        async with httpx.AsyncClient(
            base_url=stack.app_url, headers=session.headers, trust_env=False, timeout=10
        ) as http:

            async def post() -> None:
                before = time.perf_counter()
                response = await http.post("/api/admin/test-job")
                answered.append(time.perf_counter() - before)
                response.raise_for_status()
                sent[response.json()["jobId"]] = before

            count = max(1, int(config.e2e_rate * config.e2e_seconds))
            start = time.perf_counter()
            tasks = []
            for index in range(count):
                delay = start + index / config.e2e_rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(post()))
            await asyncio.gather(*tasks)
        deadline = time.monotonic() + RECEIVE_TIMEOUT_S
        while not set(sent) <= set(received):  # events land in a dict
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(set(sent) - set(received))} notifications missing")
            await asyncio.sleep(0.05)
    finally:
        await client.disconnect()
    e2e = latency_summary([received[job] - before - WORK_SECONDS for job, before in sent.items()])
    http_answer = latency_summary(answered)
    results = ctx.results
    for q in ("p50", "p99"):
        results.add(f"e2e.{q}", f"enqueue → browser notification − job work, {q}", "ms", e2e[q])
    results.add(
        "e2e.http.p99",
        "POST /api/admin/test-job answer, p99 (during e2e)",
        "ms",
        http_answer["p99"],
    )
