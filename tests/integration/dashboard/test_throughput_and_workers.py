"""BullMQ's throughput metrics and the live workers, with real worker processes,
and what Node BullMQ reads of them (examples/node, docs/interop.md)."""

from __future__ import annotations

import asyncio
import signal
import time
from datetime import datetime

import pytest
from redis.asyncio import Redis

from ailawyer.queues.client_names import node_client_name
from ailawyer.queues.payloads import TestJobData
from ailawyer.queues.producer import QueueProducer
from tests.fixtures import retryable_queue as retryable_module
from tests.fixtures.bullmq_state import redis_counts
from tests.fixtures.live_app import LoggedIn
from tests.fixtures.node_example import run_node
from tests.fixtures.processes import FAST_WORKER, Processes
from tests.fixtures.retryable_queue import retryable_queue
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow


async def settle_in_one_minute() -> int:
    """Wait for a fresh minute if this one has less than 25 s left; the minute number."""
    if time.time() % 60 > 35:
        await asyncio.sleep(60 - time.time() % 60 + 0.1)
    return int(time.time() // 60)


async def counts_reach(redis: Redis, prefix: str, state: str, count: int) -> None:
    async def reached() -> bool:
        return (await redis_counts(redis, prefix, retryable_queue.name))[state] >= count

    await eventually(reached, timeout=60, interval=0.1)


async def test_metrics_count_completed_and_failed_jobs_and_node_reads_the_same(
    admin: LoggedIn,
    producer: QueueProducer,
    processes: Processes,
    redis_client: Redis,
    prefix: str,
) -> None:
    await processes.worker()
    minute = await settle_in_one_minute()
    data = TestJobData(user_id=admin.user.id, message="zählen")
    for _ in range(5):  # the processor fails until healed; one attempt each
        await producer.enqueue(retryable_queue, data)
    await counts_reach(redis_client, prefix, "failed", 5)
    await retryable_module.heal(redis_client, prefix)
    for _ in range(30):
        await producer.enqueue(retryable_queue, data)
    await counts_reach(redis_client, prefix, "completed", 30)

    response = await admin.http.get(f"/api/admin/queues/{retryable_queue.name}/metrics")
    same_minute = int(time.time() // 60) == minute
    assert response.status_code == 200
    body = response.json()
    assert body["range"] == "1h"
    assert body["step"] == 60
    assert len(body["completed"]) == len(body["failed"]) == 60
    # The first bucket starts 59 minutes before the current one.
    start = datetime.fromisoformat(body["start"]).timestamp()
    assert start == (int(time.time() // 60) - 59) * 60
    if same_minute:
        assert body["completed"][-1] == 30
        assert body["failed"][-1] == 5
        assert sum(body["completed"][:-1]) == sum(body["failed"][:-1]) == 0
    else:  # the test ran into the next minute after all
        assert sum(body["completed"][-2:]) == 30
        assert sum(body["failed"][-2:]) == 5

    node = run_node("inspect.mjs", retryable_queue.name, prefix=prefix)
    for kind, total in (("completed", 30), ("failed", 5)):
        meta = node[kind]["meta"]
        assert meta["count"] == total
        # Node's open minute plus its finished ones: what our buckets hold.
        open_minute = meta["count"] - meta["prevCount"]
        assert open_minute + sum(node[kind]["data"]) == sum(body[kind]) == total
        if same_minute:
            assert open_minute == body[kind][-1]

    # Coarser ranges add the same jobs up into fewer buckets.
    for window, step, buckets in (("24h", 900, 96), ("7d", 3600, 168)):
        coarse = await admin.http.get(
            f"/api/admin/queues/{retryable_queue.name}/metrics", params={"range": window}
        )
        assert coarse.status_code == 200
        assert coarse.json()["step"] == step
        assert len(coarse.json()["completed"]) == buckets
        assert sum(coarse.json()["completed"]) == 30
        assert sum(coarse.json()["failed"]) == 5


async def test_metrics_refuse_an_unknown_queue_a_bad_range_and_non_admins(
    admin: LoggedIn, lawyer: LoggedIn
) -> None:
    unknown = await admin.http.get("/api/admin/queues/gibtsnicht/metrics")
    assert unknown.status_code == 404
    bad = await admin.http.get("/api/admin/queues/test/metrics", params={"range": "2h"})
    assert bad.status_code == 422
    problem = bad.json()["details"][0]
    assert problem["loc"] == ["query", "range"]
    assert "'1h', '24h' or '7d'" in problem["msg"]
    assert (await lawyer.http.get("/api/admin/queues/test/metrics")).status_code == 403
    assert (await lawyer.http.get("/api/admin/workers")).status_code == 403


async def test_workers_lists_both_and_a_killed_one_leaves_within_the_ttl(
    admin: LoggedIn, processes: Processes, prefix: str
) -> None:
    first, second = await asyncio.gather(
        processes.worker(**FAST_WORKER), processes.worker(**FAST_WORKER)
    )

    async def listed() -> list[dict[str, object]]:
        response = await admin.http.get("/api/admin/workers")
        assert response.status_code == 200
        workers: list[dict[str, object]] = response.json()["workers"]
        return workers

    workers = await eventually(lambda: _with_pids(listed, {first.pid, second.pid}), timeout=10)
    for worker in workers:
        queues = {q["name"]: q for q in worker["queues"]}  # type: ignore[attr-defined]
        assert retryable_queue.name in queues and "test" in queues
        assert queues["test"]["concurrency"] == int(FAST_WORKER["WORKER_CONCURRENCY"])
        assert worker["host"] and worker["version"] and worker["inFlight"] == 0
        assert worker["startedAt"] <= worker["lastBeat"]  # type: ignore[operator]

    # Node's getWorkers finds our connections by Node's client name.
    node = run_node("inspect.mjs", "test", prefix=prefix)
    names = {client["rawname"] for client in node["workers"]}
    ids = {str(worker["id"]) for worker in workers}
    assert {node_client_name(prefix, "test", worker_id) for worker_id in ids} <= names

    second.send(signal.SIGKILL)  # no goodbye: its record has to expire
    killed_at = time.monotonic()

    async def only_first() -> bool:
        return {w["pid"] for w in await listed()} == {first.pid}

    await eventually(only_first, timeout=int(FAST_WORKER["WORKER_HEARTBEAT_TTL"]) + 2)
    assert time.monotonic() - killed_at <= int(FAST_WORKER["WORKER_HEARTBEAT_TTL"]) + 2


async def _with_pids(listed, pids: set[int]):  # type: ignore[no-untyped-def]
    workers = await listed()
    return workers if {w["pid"] for w in workers} == pids else None
