"""The per-job rules: when a failure is final, what its reason says, what may be returned."""

from __future__ import annotations

import functools
import math
from collections.abc import AsyncIterator

import pytest
from bullmq import Job, Queue, UnrecoverableError

from ailawyer.queues import TestJobData, test_queue
from ailawyer.worker.execution import (
    ensure_json,
    failure_reason,
    is_final_failure,
    max_attempts,
    payload_validator,
    validate,
)
from ailawyer.worker.executors import is_async_callable
from tests.fixtures.services import REDIS_URL


@pytest.fixture
async def queue() -> AsyncIterator[Queue]:
    queue = Queue("unit", {"connection": REDIS_URL})
    yield queue
    await queue.close()


def job_after(queue: Queue, failed_runs: int, **opts: object) -> Job:
    job = Job(queue, "unit", {"userId": "u1"}, opts)
    job.attemptsMade = failed_runs
    return job


async def test_the_fourth_failed_run_of_four_is_final(queue: Queue) -> None:
    finals = [is_final_failure(job_after(queue, n, attempts=4), RuntimeError()) for n in range(4)]
    assert finals == [False, False, False, True]


async def test_unrecoverable_is_final_at_once_and_no_attempts_means_one(queue: Queue) -> None:
    assert is_final_failure(job_after(queue, 0, attempts=4), UnrecoverableError("x"))
    assert max_attempts(job_after(queue, 0)) == 1  # a job from a producer without options
    assert is_final_failure(job_after(queue, 0), RuntimeError())


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (RuntimeError("Datei fehlt"), "RuntimeError: Datei fehlt"),
        (KeyError("akteId"), "KeyError: 'akteId'"),
        (ValueError(), "ValueError"),
        (UnrecoverableError("Akte existiert nicht"), "Akte existiert nicht"),
        (
            ConnectionError("redis://app:hunter2@redis:6379 password=hunter2"),
            "ConnectionError: redis://app:[REDACTED]@redis:6379 password=[REDACTED]",
        ),
    ],
)
def test_failure_reason_is_readable_and_without_secrets(error: Exception, reason: str) -> None:
    assert failure_reason(error) == reason


def test_failure_reason_is_bounded() -> None:
    assert len(failure_reason(RuntimeError("x" * 5000))) == 1000


@pytest.mark.parametrize("value", [None, {"success": True}, [1, "a"], "ok", 3.5])
def test_json_results_pass(value: object) -> None:
    ensure_json(value)


@pytest.mark.parametrize("value", [{1, 2}, object(), {"x": math.nan}, b"bytes"])
def test_other_results_fail_the_job_for_good(value: object) -> None:
    with pytest.raises(UnrecoverableError, match="cannot be stored as JSON"):
        ensure_json(value)


def test_the_cached_validator_accepts_and_refuses_like_the_model() -> None:
    validator = payload_validator(test_queue)  # built once per queue, by the executor
    data = {"userId": "u1", "message": "Hallo"}
    payload = validate(test_queue, data, validator)
    assert isinstance(payload, TestJobData)
    assert payload == TestJobData.model_validate(data)
    with pytest.raises(UnrecoverableError) as refused:
        validate(test_queue, {"userId": "", "message": "x", "akte": "inhalt"}, validator)
    assert str(refused.value).startswith("invalid payload for queue 'test': ")
    assert "userId: " in str(refused.value) and "akte: " in str(refused.value)
    assert "inhalt" not in str(refused.value)  # the input itself is not repeated


async def _async_processor(job: object) -> None:
    return None


def _plain_processor(job: object) -> None:
    return None


class _AsyncCallable:
    async def __call__(self, job: object) -> None:
        return None


def test_async_processors_run_on_the_loop_and_plain_ones_in_threads() -> None:
    assert is_async_callable(_async_processor)
    assert is_async_callable(functools.partial(_async_processor))
    assert is_async_callable(_AsyncCallable())
    assert not is_async_callable(_plain_processor)
    assert not is_async_callable(print)
