"""The test job and the retry endpoint, with a real worker processing what the app enqueues."""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from ailawyer import messages
from ailawyer.queues import test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.redis import get_queue_connection
from tests.fixtures.jobs import wait_for_state
from tests.fixtures.live_app import LoggedIn
from tests.fixtures.processes import ChildProcess
from tests.fixtures.retryable_queue import heal, retryable_queue
from tests.fixtures.services import REDIS_URL

pytestmark = pytest.mark.slow


async def _notification_for(user: LoggedIn, job_id: str, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        page = (await user.http.get("/api/notifications")).json()
        for item in page["items"]:
            if (item.get("data") or {}).get("jobId") == job_id:
                return item  # type: ignore[no-any-return]
        await asyncio.sleep(0.1)
    raise AssertionError(f"no notification for job {job_id}")


async def test_test_job_needs_an_admin(anonymous: httpx.AsyncClient, as_lawyer: LoggedIn) -> None:
    assert (await anonymous.post("/api/admin/test-job")).json() == {
        "error": messages.NOT_AUTHENTICATED
    }
    assert (await anonymous.post("/api/admin/test-job")).status_code == 401
    refused = await as_lawyer.http.post("/api/admin/test-job")
    assert refused.status_code == 403
    assert refused.json() == {"error": messages.NO_PERMISSION}


async def test_test_job_is_processed_by_the_worker_within_five_seconds(
    pipeline: tuple[ChildProcess, ChildProcess], as_admin: LoggedIn, producer: QueueProducer
) -> None:
    response = await as_admin.http.post("/api/admin/test-job")
    assert response.status_code == 201
    body = response.json()
    assert body["queue"] == "test"
    job_id = body["jobId"]
    assert len(job_id) == 32  # a random id, not BullMQ's counter

    started = time.monotonic()
    await wait_for_state(producer, "test", job_id, "completed", timeout=5.0)
    assert time.monotonic() - started < 5.0
    job = await producer.queue("test").getJob(job_id)
    assert job is not None
    assert job.data == {"userId": as_admin.user.id, "message": "Test job from admin"}
    assert job.returnvalue == {"success": True}

    notification = await _notification_for(as_admin, job_id, timeout=3.0)
    assert notification["type"] == "job:completed"

    # The app sees the outcome too: queue figures and its own request counter.
    metrics = (await as_admin.http.get("/metrics")).text
    assert 'ailawyer_queue_jobs{queue="test",state="completed"} 1.0' in metrics
    assert 'ailawyer_queue_recent_job_duration_seconds{quantile="0.5",queue="test"} 1.' in metrics
    assert (
        'ailawyer_http_requests_total{method="POST",route="/api/admin/test-job",status="201"} 1.0'
        in metrics
    )


async def test_retry_answers_401_and_404(anonymous: httpx.AsyncClient, as_lawyer: LoggedIn) -> None:
    assert (await anonymous.post("/api/jobs/abc/retry")).status_code == 401
    for job_id in ("0" * 32, "does-not-exist", "a.b_c-d"):
        response = await as_lawyer.http.post(f"/api/jobs/{job_id}/retry")
        assert response.status_code == 404, job_id
        assert response.json() == {"error": messages.JOB_NOT_FOUND}
    # Not even looked up: outside the shape of any job id.
    response = await as_lawyer.http.post("/api/jobs/%20%3B%27/retry")
    assert response.status_code == 404


async def test_retry_by_owner_and_admin_reruns_the_job(
    pipeline: tuple[ChildProcess, ChildProcess],
    as_lawyer: LoggedIn,
    as_other: LoggedIn,
    as_admin: LoggedIn,
    producer: QueueProducer,
    prefix: str,
) -> None:
    data = {"userId": as_lawyer.user.id, "message": "wird scheitern"}
    failed_a = await producer.enqueue(retryable_queue, data)
    failed_b = await producer.enqueue(retryable_queue, data)
    done = await producer.enqueue(test_queue, data)  # succeeds
    others_done = await producer.enqueue(
        test_queue, {"userId": as_other.user.id, "message": "fremd"}
    )
    for job in (failed_a, failed_b):
        await wait_for_state(producer, job.queue, job.id, "failed", timeout=10)
    for job in (done, others_done):
        await wait_for_state(producer, job.queue, job.id, "completed", timeout=10)

    # Another user's job: 403, the same answer whatever its state.
    for job in (failed_a, done):
        refused = await as_other.http.post(f"/api/jobs/{job.id}/retry")
        assert refused.status_code == 403
        assert refused.json() == {"error": messages.NO_PERMISSION}
    # The owner's job that did not fail: 400.
    not_failed = await as_other.http.post(f"/api/jobs/{others_done.id}/retry")
    assert not_failed.status_code == 400
    assert not_failed.json() == {"error": messages.JOB_NOT_FAILED}

    connection = get_queue_connection(REDIS_URL)
    try:
        await heal(connection, prefix)
    finally:
        await connection.aclose()

    by_owner = await as_lawyer.http.post(f"/api/jobs/{failed_a.id}/retry")
    assert by_owner.status_code == 200
    assert by_owner.json() == {"success": True, "jobId": failed_a.id, "queue": "retryable"}
    by_admin = await as_admin.http.post(f"/api/jobs/{failed_b.id}/retry")
    assert by_admin.status_code == 200
    assert by_admin.json() == {"success": True, "jobId": failed_b.id, "queue": "retryable"}
    for job in (failed_a, failed_b):
        await wait_for_state(producer, job.queue, job.id, "completed", timeout=10)
    # A second retry of a job that is no longer failed is refused.
    again = await as_lawyer.http.post(f"/api/jobs/{failed_a.id}/retry")
    assert again.status_code == 400
