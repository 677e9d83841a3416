"""Enqueueing: a bad payload is a clear error and never a job."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from ailawyer.errors import Invalid
from ailawyer.queues import ALL_QUEUES, DEFAULT_JOB_OPTIONS, TestJobData, test_queue
from ailawyer.queues.options import calculate_backoff
from ailawyer.queues.producer import QueueProducer


@pytest.mark.parametrize(
    ("data", "field", "problem"),
    [
        ({"userId": "u1"}, "message", "Field required"),
        ({"userId": "u1", "message": ""}, "message", "at least 1 character"),
        ({"message": "hi"}, "userId", "Field required"),
        ({"userId": "../etc", "message": "hi"}, "userId", "should match pattern"),
        ({"userId": "u1", "message": "hi", "akte": "Geheim"}, "akte", "Extra inputs"),
    ],
)
async def test_invalid_payload_is_refused_before_redis(
    producer: QueueProducer,
    redis_client: Redis,
    prefix: str,
    data: dict[str, object],
    field: str,
    problem: str,
) -> None:
    with pytest.raises(Invalid) as raised:
        await producer.enqueue(test_queue, data)
    assert raised.value.message == "Ungültige Auftragsdaten für Queue „test“"
    [error] = raised.value.details["errors"]
    assert error["field"] == field and problem in error["problem"]
    assert await redis_client.keys(f"{prefix}:*") == []


async def test_a_valid_job_carries_the_default_options_and_a_random_id(
    producer: QueueProducer, redis_client: Redis, prefix: str
) -> None:
    first = await producer.enqueue(test_queue, {"userId": "u1", "message": "hi"})
    second = await producer.enqueue(test_queue, TestJobData(user_id="u1", message="hi"))
    assert first.id != second.id and len(first.id) == 32
    job = await producer.queue("test").getJob(first.id)
    assert job.data == {"userId": "u1", "message": "hi"}
    assert job.opts["attempts"] == 4  # three retries: BullMQ counts the first run
    assert job.opts["backoff"] == {"type": "custom"}
    assert job.opts["removeOnComplete"] == {"age": 86_400}
    assert job.opts["removeOnFail"] == {"age": 604_800}
    assert await redis_client.exists(f"{prefix}:test:{first.id}") == 1


def test_backoff_steps_and_queue_registry() -> None:
    assert [calculate_backoff(n) for n in (1, 2, 3)] == [10_000, 60_000, 300_000]
    assert DEFAULT_JOB_OPTIONS["attempts"] == 4
    assert test_queue in ALL_QUEUES and test_queue.name == "test"
