"""The admin queue dashboard's JSON API against real Redis and real BullMQ jobs."""

from __future__ import annotations

import time

import httpx
import pytest
from redis.asyncio import Redis

from ailawyer.queues.definitions import ALL_QUEUES, test_queue
from ailawyer.queues.payloads import TestJobData
from ailawyer.queues.producer import QueueProducer
from tests.fixtures import retryable_queue as retryable_module
from tests.fixtures.bullmq_state import redis_counts
from tests.fixtures.jobs import fail, run_worker, succeed
from tests.fixtures.live_app import LiveApp, LoggedIn
from tests.fixtures.retryable_queue import retryable_queue

# What the app knows: the product's queues, then those of its extra module.
QUEUE_NAMES = [spec.name for spec in (*ALL_QUEUES, *retryable_module.QUEUES)]


def data(user_id: str, message: str = "hallo") -> TestJobData:
    return TestJobData(user_id=user_id, message=message)


async def failed_job(producer: QueueProducer, user_id: str) -> str:
    job = await producer.enqueue(retryable_queue, data(user_id))
    await run_worker(producer, retryable_queue.name, fail, until={"failed": 1})
    return job.id


async def test_overview_counts_match_redis(
    admin: LoggedIn, producer: QueueProducer, redis_client: Redis, prefix: str
) -> None:
    user = admin.user.id
    for _ in range(2):
        await producer.enqueue(test_queue, data(user))
    await run_worker(producer, test_queue.name, succeed, until={"completed": 2})
    for _ in range(3):
        await producer.enqueue(test_queue, data(user))
    await producer.enqueue(test_queue, data(user), delay_ms=60_000)
    await failed_job(producer, user)

    response = await admin.http.get("/api/admin/queues")
    assert response.status_code == 200
    queues = {item["name"]: item for item in response.json()["queues"]}
    assert list(queues) == QUEUE_NAMES
    for name in queues:
        assert queues[name]["counts"] == await redis_counts(redis_client, prefix, name)
        assert queues[name]["paused"] is False
    assert queues["test"]["counts"]["waiting"] == 3
    assert queues["test"]["counts"]["delayed"] == 1
    assert queues["test"]["counts"]["completed"] == 2
    assert queues["retryable"]["counts"]["failed"] == 1
    assert queues["retryable"]["label"] == retryable_queue.label


async def test_jobs_are_listed_page_by_page(admin: LoggedIn, producer: QueueProducer) -> None:
    ids = [(await producer.enqueue(test_queue, data(admin.user.id, f"n{i}"))).id for i in range(25)]

    first = (await admin.http.get("/api/admin/queues/test/jobs?state=waiting")).json()
    second = (await admin.http.get("/api/admin/queues/test/jobs?state=waiting&page=2")).json()
    small = (await admin.http.get("/api/admin/queues/test/jobs?state=waiting&pageSize=10")).json()

    assert first["total"] == second["total"] == 25
    assert (first["page"], first["pageSize"], second["page"]) == (1, 20, 2)
    # Waiting jobs: oldest first, as BullMQ will run them.
    assert [job["id"] for job in first["jobs"] + second["jobs"]] == ids
    assert len(small["jobs"]) == 10
    assert first["jobs"][0]["userId"] == admin.user.id
    assert first["jobs"][0]["state"] == "waiting"
    empty = (await admin.http.get("/api/admin/queues/test/jobs?state=failed")).json()
    assert (empty["total"], empty["jobs"]) == (0, [])


async def test_a_failed_jobs_detail_has_its_error_and_logs(
    admin: LoggedIn, producer: QueueProducer
) -> None:
    job_id = await failed_job(producer, admin.user.id)

    listed = (await admin.http.get("/api/admin/queues/retryable/jobs?state=failed")).json()
    assert [job["id"] for job in listed["jobs"]] == [job_id]
    assert listed["jobs"][0]["failedReason"] == "Testfehler im Dashboard"

    detail = (await admin.http.get(f"/api/admin/queues/retryable/jobs/{job_id}")).json()
    assert detail["state"] == "failed"
    assert detail["data"] == {"userId": admin.user.id, "message": "hallo"}
    assert detail["options"]["attempts"] == 1
    assert detail["attemptsMade"] == 1
    assert detail["failedReason"] == "Testfehler im Dashboard"
    assert "RuntimeError: Testfehler im Dashboard" in "\n".join(detail["stacktrace"])
    assert detail["logs"] == {"count": 1, "lines": ["erster Versuch"]}
    assert detail["returnvalue"] is None
    now_ms = time.time() * 1000
    assert now_ms - 60_000 < detail["timestamp"] <= detail["finishedOn"] <= now_ms


async def test_retry_moves_a_failed_job_back_to_waiting(
    admin: LoggedIn, producer: QueueProducer
) -> None:
    job_id = await failed_job(producer, admin.user.id)
    waiting = (await producer.enqueue(retryable_queue, data(admin.user.id))).id

    retried = await admin.http.post(f"/api/admin/queues/retryable/jobs/{job_id}/retry")
    assert retried.status_code == 200
    assert retried.json() == {"success": True, "queue": "retryable", "jobId": job_id}
    assert await producer.queue("retryable").getJobState(job_id) == "waiting"

    not_failed = await admin.http.post(f"/api/admin/queues/retryable/jobs/{waiting}/retry")
    assert not_failed.status_code == 400
    assert not_failed.json() == {"error": "Job ist nicht fehlgeschlagen"}


async def test_promote_runs_a_delayed_job_now(admin: LoggedIn, producer: QueueProducer) -> None:
    delayed = (await producer.enqueue(test_queue, data(admin.user.id), delay_ms=3_600_000)).id
    waiting = (await producer.enqueue(test_queue, data(admin.user.id))).id

    promoted = await admin.http.post(f"/api/admin/queues/test/jobs/{delayed}/promote")
    assert promoted.status_code == 200
    assert await producer.queue("test").getJobState(delayed) == "waiting"
    refused = await admin.http.post(f"/api/admin/queues/test/jobs/{waiting}/promote")
    assert refused.status_code == 400
    assert refused.json() == {"error": "Job ist nicht verzögert"}


async def test_remove_deletes_a_job(admin: LoggedIn, producer: QueueProducer) -> None:
    job_id = (await producer.enqueue(test_queue, data(admin.user.id))).id

    removed = await admin.http.delete(f"/api/admin/queues/test/jobs/{job_id}")
    assert removed.status_code == 200
    assert await producer.queue("test").getJob(job_id) is None
    again = await admin.http.delete(f"/api/admin/queues/test/jobs/{job_id}")
    assert again.status_code == 404
    assert again.json() == {"error": "Job nicht gefunden"}


async def test_clean_removes_a_states_jobs_by_age(
    admin: LoggedIn, producer: QueueProducer, redis_client: Redis, prefix: str
) -> None:
    for _ in range(3):
        await producer.enqueue(test_queue, data(admin.user.id))
    await run_worker(producer, test_queue.name, succeed, until={"completed": 3})

    kept = await admin.http.post(
        "/api/admin/queues/test/clean", json={"state": "completed", "olderThanS": 3600}
    )
    assert kept.json() == {"queue": "test", "state": "completed", "removed": 0}
    cleaned = await admin.http.post("/api/admin/queues/test/clean", json={"state": "completed"})
    assert cleaned.status_code == 200
    assert cleaned.json()["removed"] == 3
    assert (await redis_counts(redis_client, prefix, "test"))["completed"] == 0

    bad = await admin.http.post("/api/admin/queues/test/clean", json={"state": "active"})
    assert bad.status_code == 422


async def test_pause_and_resume(
    admin: LoggedIn, producer: QueueProducer, redis_client: Redis, prefix: str
) -> None:
    paused = await admin.http.post("/api/admin/queues/test/pause")
    assert paused.json() == {"queue": "test", "paused": True}
    assert await redis_client.hexists(f"{prefix}:test:meta", "paused")
    overview = (await admin.http.get("/api/admin/queues")).json()["queues"]
    assert {q["name"]: q["paused"] for q in overview} == {
        name: name == test_queue.name for name in QUEUE_NAMES
    }

    resumed = await admin.http.post("/api/admin/queues/test/resume")
    assert resumed.json() == {"queue": "test", "paused": False}
    assert not await redis_client.hexists(f"{prefix}:test:meta", "paused")


@pytest.mark.parametrize(
    ("path", "status", "error"),
    [
        ("/api/admin/queues/nope", 404, "Queue nicht gefunden"),
        ("/api/admin/queues/nope/jobs", 404, "Queue nicht gefunden"),
        ("/api/admin/queues/test/jobs/unknown-id", 404, "Job nicht gefunden"),
        ("/api/admin/queues/test/jobs/%2E%2E%2Fx", 404, None),
        ("/api/admin/queues/test/jobs?state=lost", 422, "Ungültige Eingabe"),
        ("/api/admin/queues/test/jobs?page=0", 422, "Ungültige Eingabe"),
        ("/api/admin/queues/test/jobs?pageSize=1000", 422, "Ungültige Eingabe"),
    ],
)
async def test_bad_names_and_parameters(
    admin: LoggedIn, path: str, status: int, error: str | None
) -> None:
    response = await admin.http.get(path)
    assert response.status_code == status
    if error:
        assert response.json()["error"] == error


async def test_cancel_ends_a_waiting_job_failed(admin: LoggedIn, producer: QueueProducer) -> None:
    job = await producer.enqueue(test_queue, data(admin.user.id), delay_ms=60_000)
    response = await admin.http.post(f"/api/admin/queues/test/jobs/{job.id}/cancel")
    assert response.status_code == 200, response.text
    assert response.json() == {"success": True, "queue": "test", "jobId": job.id}
    detail = (await admin.http.get(f"/api/admin/queues/test/jobs/{job.id}")).json()
    assert (detail["state"], detail["failedReason"]) == ("failed", "Abgebrochen")
    again = await admin.http.post(f"/api/admin/queues/test/jobs/{job.id}/cancel")
    assert again.status_code == 400
    assert again.json() == {"error": "Job ist nicht aktiv"}
    elsewhere = await admin.http.post(f"/api/admin/queues/retryable/jobs/{job.id}/cancel")
    assert elsewhere.status_code == 404


async def test_an_id_with_a_trailing_newline_is_no_job_id(
    admin: LoggedIn, producer: QueueProducer
) -> None:
    # BullMQ stores whatever id it is given; `\n` at the end must not slip through a
    # pattern that only anchors with `$` (which matches before a final newline).
    sneaky = "abc123\n"
    await producer.enqueue(retryable_queue, data(admin.user.id), job_id=sneaky)
    await run_worker(producer, retryable_queue.name, fail, until={"failed": 1})
    assert await producer.queue(retryable_queue.name).getJobState(sneaky) == "failed"
    path = "abc123%0A"
    for method, url in (
        ("POST", f"/api/jobs/{path}/retry"),
        ("GET", f"/api/admin/queues/retryable/jobs/{path}"),
        ("POST", f"/api/admin/queues/retryable/jobs/{path}/retry"),
    ):
        response = await admin.http.request(method, url)
        assert response.status_code == 404, (method, url, response.text)
        assert response.json() == {"error": "Job nicht gefunden"}
    assert await producer.queue(retryable_queue.name).getJobState(sneaky) == "failed"


ROUTES = [
    ("GET", "/api/admin/queues"),
    ("GET", "/api/admin/queues/test"),
    ("GET", "/api/admin/queues/test/jobs?state=failed"),
    ("GET", "/api/admin/queues/test/jobs/some-id"),
    ("POST", "/api/admin/queues/test/jobs/some-id/retry"),
    ("POST", "/api/admin/queues/test/jobs/some-id/promote"),
    ("POST", "/api/admin/queues/test/jobs/some-id/cancel"),
    ("DELETE", "/api/admin/queues/test/jobs/some-id"),
    ("POST", "/api/admin/queues/test/clean"),
    ("POST", "/api/admin/queues/test/pause"),
    ("POST", "/api/admin/queues/test/resume"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_admin_only(
    app: LiveApp, lawyer: LoggedIn, admin: LoggedIn, method: str, path: str
) -> None:
    body = {"state": "completed"} if path.endswith("/clean") else None
    async with httpx.AsyncClient(base_url=app.url) as anonymous:
        assert (await anonymous.request(method, path, json=body)).status_code == 401
    forbidden = await lawyer.http.request(method, path, json=body)
    assert forbidden.status_code == 403
    assert forbidden.json() == {"error": "Keine Berechtigung"}
    if method != "GET":
        # Even an admin needs the CSRF header for a change.
        without = await admin.http.request(method, path, json=body, headers={"X-CSRF-Token": ""})
        assert without.status_code == 403
