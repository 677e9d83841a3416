"""Each user's index of their unfinished jobs (`queues.owned`), through
`active_jobs` (what `GET /api/jobs/active` answers), against real Redis: a job
far behind other people's is still listed; finished and removed ones leave the
index, failed ones stay for a retry; a deduplicated add leaves nothing behind."""

from __future__ import annotations

from bullmq import Job, Worker
from redis.asyncio import Redis

from ailawyer.deployment import Deployment
from ailawyer.queues.jobs import (
    ACTIVE_SCAN_LIMIT,
    active_jobs,
    cancel_job,
    retry_failed_job,
)
from ailawyer.queues.owned import KEEP_S, owned_key
from ailawyer.queues.producer import QueueProducer
from tests.fixtures.services import REDIS_URL

MINE, THEIRS = "user-a", "user-b"
DAY_MS = 24 * 3600 * 1000


async def enqueue(producer: QueueProducer, owner: str, **options: int | str) -> str:
    data = {"userId": owner, "message": "Akte prüfen"}
    return (await producer.enqueue(producer.spec("test"), data, **options)).id  # type: ignore[arg-type]


async def listed(producer: QueueProducer, user_id: str) -> dict[str, str]:
    jobs = await active_jobs(producer, user_id=user_id, is_admin=False)
    return {job.job_id: job.state for job in jobs}


async def test_a_job_far_behind_other_peoples_is_listed_for_its_owner(
    producer: QueueProducer,
) -> None:
    for _ in range(ACTIVE_SCAN_LIMIT + 5):
        await enqueue(producer, THEIRS)
        await enqueue(producer, THEIRS, delay_ms=DAY_MS)
    waiting = await enqueue(producer, MINE)
    delayed = await enqueue(producer, MINE, delay_ms=DAY_MS)

    assert await listed(producer, MINE) == {waiting: "waiting", delayed: "delayed"}
    # The other user's are read from the queues' heads, as before, and their own
    # index: all of theirs, none of mine.
    theirs = await listed(producer, THEIRS)
    assert len(theirs) == 2 * (ACTIVE_SCAN_LIMIT + 5)
    assert waiting not in theirs and delayed not in theirs


async def test_finished_and_removed_jobs_leave_the_index_and_failed_ones_stay(
    producer: QueueProducer, prefix: str, redis_client: Redis
) -> None:
    completed, cancelled, removed = [await enqueue(producer, MINE) for _ in range(3)]
    worker = Worker("test", None, {"connection": REDIS_URL, "prefix": prefix, "autorun": False})
    try:
        job = await worker.getNextJob("token-1")
        assert job is not None and job.id == completed
        await job.moveToCompleted("fertig", "token-1", False)
    finally:
        await worker.close()
    await cancel_job(producer, Deployment(prefix=prefix), cancelled, user_id=MINE, is_admin=False)
    gone = await Job.fromId(producer.queue("test"), removed)
    await gone.remove()

    assert await listed(producer, MINE) == {}
    key = owned_key(prefix, MINE)
    members = [member.decode() for member in await redis_client.zrange(key, 0, -1)]
    assert members == [f'["test","{cancelled}"]']

    await retry_failed_job(producer, cancelled, user_id=MINE, is_admin=False)
    assert await listed(producer, MINE) == {cancelled: "waiting"}


async def test_a_deduplicated_add_leaves_nothing_in_the_index(
    producer: QueueProducer, prefix: str, redis_client: Redis
) -> None:
    first = await enqueue(producer, MINE, dedupe_id="postfach-1")
    again = await enqueue(producer, MINE, dedupe_id="postfach-1")
    assert again == first
    key = owned_key(prefix, MINE)
    assert await redis_client.zcard(key) == 1
    assert await listed(producer, MINE) == {first: "waiting"}


async def test_the_index_lives_as_long_as_its_latest_job_is_due_and_then_some(
    producer: QueueProducer, prefix: str, redis_client: Redis
) -> None:
    key = owned_key(prefix, MINE)
    assert key == f"ailawyer:{prefix}:owned:{MINE}"  # the deployment's, as all keys
    await enqueue(producer, MINE, delay_ms=40 * DAY_MS)
    after_far = await redis_client.ttl(key)
    assert 40 * 86400 + KEEP_S - 60 <= after_far <= 40 * 86400 + KEEP_S
    # A job due now does not shorten it.
    await enqueue(producer, MINE)
    assert await redis_client.ttl(key) >= after_far - 5
    # A member due longer ago than KEEP_S is trimmed by the next write.
    await redis_client.zadd(key, {'["test","alt"]': 1})
    await enqueue(producer, MINE)
    assert await redis_client.zscore(key, '["test","alt"]') is None
    assert await redis_client.zcard(key) == 3
