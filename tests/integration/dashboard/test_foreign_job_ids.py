"""Jobs whose ids another producer chose: the dashboard opens, retries and removes
them; ids that name BullMQ's own keys never reach Redis as a job lookup.

BullMQ stores any id it is given (`Queue.add(..., {"jobId": ...})`); our own ids
are hex, but other producers use spaces, `#`, unicode or long ids. Ids that
are BullMQ's key names under the queue (`wait`, `meta`, `<id>:logs`, ...) would
make a lookup read (or an action touch) that key instead of a job.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import quote

import pytest
from bullmq import Queue
from redis.asyncio import Redis

from ailawyer.queues.jobs import is_foreign_job_id, is_job_id
from ailawyer.queues.producer import QueueProducer
from tests.fixtures.jobs import fail, run_worker
from tests.fixtures.live_app import LoggedIn
from tests.fixtures.retryable_queue import retryable_queue
from tests.fixtures.services import REDIS_URL

QUEUE = retryable_queue.name
FOREIGN_IDS = (
    "Auftrag 42 #7",
    "Akte Müller – Schriftsatz ✓",
    "auftrag?x=1&y=2",
    "j" * 200,
    "k" * 256,
    "order:2024:17",
)
# BullMQ's keys under `{prefix}:{queue}:`, and what a job's own keys end with.
COLLIDING_IDS = (
    "wait",
    "active",
    "meta",
    "events",
    "id",
    "stalled",
    "stalled-check",
    "delayed",
    "prioritized",
    "completed",
    "failed",
    "paused",
    "waiting-children",
    "marker",
    "limiter",
    "pc",
    "de",
    "repeat",
    "metrics",
    "metrics:completed",
    "metrics:failed:data",
    "de:dedupe-1",
    "repeat:nightly",
    "{job}:logs",
    "{job}:lock",
    "{job}:dependencies",
    "a\x00b",
    "a\x1b[2J",
    "a\nb",
    "l" * 257,
)


@pytest.fixture
async def raw_queue(prefix: str) -> AsyncIterator[Queue]:
    """Another producer: plain BullMQ, no payload models, ids of its own choosing."""
    queue = Queue(QUEUE, {"connection": REDIS_URL, "prefix": prefix})
    yield queue
    await queue.close()


async def test_jobs_with_foreign_ids_can_be_opened_retried_and_removed(
    admin: LoggedIn, producer: QueueProducer, raw_queue: Queue
) -> None:
    for job_id in FOREIGN_IDS:
        await raw_queue.add("fremd", {"userId": admin.user.id, "message": "m"}, {"jobId": job_id})
    await run_worker(producer, QUEUE, fail, until={"failed": len(FOREIGN_IDS)})

    for job_id in FOREIGN_IDS:
        path = f"/api/admin/queues/{QUEUE}/jobs/{quote(job_id, safe='')}"
        detail = await admin.http.get(path)
        assert detail.status_code == 200, (job_id, detail.text)
        assert (detail.json()["id"], detail.json()["state"]) == (job_id, "failed")
        assert detail.json()["logs"]["lines"] == ["erster Versuch"]

        retried = await admin.http.post(f"{path}/retry")
        assert retried.status_code == 200, (job_id, retried.text)
        assert retried.json()["jobId"] == job_id
        assert await raw_queue.getJobState(job_id) == "waiting"

        removed = await admin.http.delete(path)
        assert removed.status_code == 200, (job_id, removed.text)
        assert await raw_queue.getJob(job_id) is None
        gone = await admin.http.get(path)
        assert gone.status_code == 404

    # The owner's retry endpoint stays with our own id shape.
    await raw_queue.add("fremd", {"userId": admin.user.id, "message": "m"}, {"jobId": "a b"})
    await run_worker(producer, QUEUE, fail, until={"failed": 1})
    owner_retry = await admin.http.post(f"/api/jobs/{quote('a b')}/retry")
    assert owner_retry.status_code == 404


async def key_types(redis: Redis, pattern: str) -> dict[bytes, bytes]:
    return {key: await redis.type(key) async for key in redis.scan_iter(match=pattern)}


async def test_ids_naming_bullmq_keys_never_reach_redis(
    admin: LoggedIn,
    producer: QueueProducer,
    raw_queue: Queue,
    redis_client: Redis,
    prefix: str,
) -> None:
    # Every kind of key BullMQ keeps under the queue, present: jobs in several
    # states, a prioritized one, a deduplicated one, events, meta, the id counter.
    failed = await raw_queue.add("a", {"userId": admin.user.id, "message": "m"})
    await run_worker(producer, QUEUE, fail, until={"failed": 1})
    await raw_queue.add("b", {"userId": admin.user.id, "message": "m"})
    await raw_queue.add("c", {"userId": admin.user.id, "message": "m"}, {"priority": 3})
    await raw_queue.add("d", {"userId": admin.user.id, "message": "m"}, {"delay": 3_600_000})
    await raw_queue.add(
        "e", {"userId": admin.user.id, "message": "m"}, {"deduplication": {"id": "dedupe-1"}}
    )
    await raw_queue.pause()
    await raw_queue.resume()
    pattern = f"{prefix}:{QUEUE}:*"
    before = await key_types(redis_client, pattern)
    assert len(before) >= 10, before

    ids = [job_id.replace("{job}", str(failed.id)) for job_id in COLLIDING_IDS]
    answers: dict[str, list[int]] = {}
    commands: list[str] = []

    async def watch() -> None:
        async with redis_client.monitor() as monitor:
            async for command in monitor.listen():
                if f"{prefix}:{QUEUE}" in command["command"]:
                    commands.append(command["command"])

    watching = asyncio.create_task(watch())
    await asyncio.sleep(0.3)  # MONITOR is on before the first request
    try:
        for job_id in ids:
            path = f"/api/admin/queues/{QUEUE}/jobs/{quote(job_id, safe='')}"
            answers[job_id] = [
                (await admin.http.get(path)).status_code,
                (await admin.http.post(f"{path}/retry")).status_code,
                (await admin.http.post(f"{path}/promote")).status_code,
                (await admin.http.delete(path)).status_code,
            ]
        await asyncio.sleep(0.3)
    finally:
        watching.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watching

    wrong = {job_id: codes for job_id, codes in answers.items() if set(codes) - {404, 422}}
    assert not wrong, f"answers other than 404/422: {wrong}"
    assert not commands, f"reached Redis: {commands[:5]}"
    assert await key_types(redis_client, pattern) == before


async def test_a_key_of_another_type_is_404_not_500(
    admin: LoggedIn, redis_client: Redis, prefix: str
) -> None:
    """Something else under the queue's prefix (a string, a set): Redis answers
    WRONGTYPE to the job lookup, which is "no such job"."""
    await redis_client.set(f"{prefix}:{QUEUE}:fremd-string", "x")
    await redis_client.sadd(f"{prefix}:{QUEUE}:fremd-set", "x")
    for job_id in ("fremd-string", "fremd-set"):
        path = f"/api/admin/queues/{QUEUE}/jobs/{job_id}"
        for method, url in (("GET", path), ("POST", f"{path}/retry"), ("DELETE", path)):
            response = await admin.http.request(method, url)
            assert response.status_code == 404, (method, url, response.text)
            assert response.json() == {"error": "Job nicht gefunden"}
    assert await redis_client.get(f"{prefix}:{QUEUE}:fremd-string") == b"x"


@pytest.mark.parametrize("job_id", ["repeat:3f2a9c:1733011200000", "repeat:nightly:report:17"])
def test_repeatable_job_ids_are_jobs(job_id: str) -> None:
    assert is_job_id(job_id) and is_foreign_job_id(job_id)


@pytest.mark.parametrize("job_id", [*COLLIDING_IDS, "wait:x", "repeat:x:y", "7:logs"])
def test_colliding_ids_are_no_ids(job_id: str) -> None:
    assert not is_job_id(job_id) and not is_foreign_job_id(job_id)


@pytest.mark.parametrize("job_id", FOREIGN_IDS)
def test_foreign_ids_are_not_ours(job_id: str) -> None:
    assert is_foreign_job_id(job_id) and (is_job_id(job_id) == (job_id == "order:2024:17"))
