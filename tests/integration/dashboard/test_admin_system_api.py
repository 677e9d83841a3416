"""The admin system page's API, the health history stream, the job search and the
settings' page metadata, against the running app and real Redis and PostgreSQL."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from ailawyer.api.health import CheckResult
from ailawyer.api.health_history import HealthHistory, history_key, max_entries, tick_key
from ailawyer.db.engine import Database
from ailawyer.deployment import Deployment
from ailawyer.presence import beat
from ailawyer.queues import TestJobData, test_queue
from ailawyer.queues.producer import QueueProducer
from ailawyer.version import app_version
from tests.fixtures import retryable_queue
from tests.fixtures.live_app import LiveApp, LoggedIn, app_settings, live_app

SERVICES = {"app", "postgres", "redis", "worker", "minio", "meilisearch", "onlyoffice"}
ADMIN_GETS = (
    "/api/admin/system",
    "/api/admin/system/health-history",
    "/api/admin/jobs/some-id",
)


async def test_admin_endpoints_refuse_anonymous_and_non_admins(
    app: LiveApp, lawyer: LoggedIn
) -> None:
    async with httpx.AsyncClient(base_url=app.url) as anonymous:
        for path in ADMIN_GETS:
            assert (await anonymous.get(path)).status_code == 401, path
    for path in ADMIN_GETS:
        response = await lawyer.http.get(path)
        assert response.status_code == 403, path
        assert "error" in response.json()


async def test_system_reports_versions_of_app_servers_and_no_worker(admin: LoggedIn) -> None:
    response = await admin.http.get("/api/admin/system")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["appVersion"] == app_version()
    assert body["database"]["name"] == "PostgreSQL"
    assert body["database"]["version"][:2].isdigit()
    assert body["redis"]["name"] in {"Redis", "Valkey"}
    assert body["redis"]["version"].count(".") >= 1
    assert body["workers"] == []  # no worker runs in these tests


async def test_system_lists_a_workers_heartbeat_with_its_version(
    admin: LoggedIn, redis_client: Redis, prefix: str
) -> None:
    deployment = Deployment(db=0, prefix=prefix)
    record = {"pid": 4242, "queues": ["test"], "version": "9.9.9"}
    await beat(redis_client, deployment, "host:4242:abc", 30, record)
    workers = (await admin.http.get("/api/admin/system")).json()["workers"]
    assert [(w["id"], w["version"], w["pid"], w["queues"]) for w in workers] == [
        ("host:4242:abc", "9.9.9", 4242, ["test"])
    ]
    assert abs(workers[0]["seenAt"] - time.time()) < 60


async def test_history_holds_the_apps_first_sample(admin: LoggedIn) -> None:
    """The app samples at its start; the newest bucket holds that sample."""
    response = await admin.http.get("/api/admin/system/health-history", params={"bucketS": 600})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["intervalS"] == 30 and body["bucketS"] == 600
    assert body["toMs"] - body["fromMs"] == 144 * 600_000
    assert set(body["services"]) == SERVICES
    for name, buckets in body["services"].items():
        assert len(buckets) == 144, name
        assert [b["start"] for b in buckets] == [body["fromMs"] + i * 600_000 for i in range(144)]
        assert sum(b["healthy"] + b["unhealthy"] + b["notConfigured"] for b in buckets[:-1]) == 0
    newest = {name: buckets[-1] for name, buckets in body["services"].items()}
    assert newest["postgres"]["healthy"] == 1 and newest["redis"]["healthy"] == 1
    assert newest["worker"]["unhealthy"] == 1  # none runs here
    assert newest["minio"]["notConfigured"] == 1


async def test_history_refuses_a_bucket_outside_its_range(admin: LoggedIn) -> None:
    for bad in ("29", "3601", "zehn"):
        response = await admin.http.get("/api/admin/system/health-history", params={"bucketS": bad})
        assert response.status_code == 422, bad


async def test_job_search_finds_a_job_in_any_queue(
    admin: LoggedIn, producer: QueueProducer, db: Database
) -> None:
    mine = await producer.enqueue(test_queue, TestJobData(user_id=admin.user.id, message="a"))
    other = await producer.enqueue(
        retryable_queue.retryable_queue, TestJobData(user_id=admin.user.id, message="b")
    )
    for job, queue in ((mine, "test"), (other, "retryable")):
        response = await admin.http.get(f"/api/admin/jobs/{job.id}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["queue"], body["id"], body["state"]) == (queue, job.id, "waiting")
        assert body["data"]["userId"] == admin.user.id


async def test_job_search_answers_404_for_unknown_and_key_names(admin: LoggedIn) -> None:
    # Unknown ids, and ids that name BullMQ's own keys (never looked up).
    for job_id in ("gibt-es-nicht", "meta", "wait", "events", "1:lock", "a%0Ab"):
        response = await admin.http.get(f"/api/admin/jobs/{job_id}")
        assert response.status_code == 404, job_id
        assert response.json()["error"]
    too_long = await admin.http.get("/api/admin/jobs/" + "x" * 257)
    assert too_long.status_code == 422


async def test_settings_carry_their_label_category_and_range(admin: LoggedIn) -> None:
    settings = {item["key"]: item for item in (await admin.http.get("/api/settings")).json()}
    level = settings["log.level"]
    assert (level["label"], level["category"], level["categoryLabel"]) == (
        "Protokollierungsstufe",
        "logging",
        "Protokollierung",
    )
    assert "debug" in level["choices"] and level["integer"] is False
    days = settings["notifications.retention_days"]
    assert (days["categoryLabel"], days["minimum"], days["maximum"], days["integer"]) == (
        "Wartung",
        1,
        3650,
        True,
    )
    assert days["choices"] is None


# ---- the stream itself -------------------------------------------------------------


@pytest.fixture
def deployment(prefix: str) -> Deployment:
    return Deployment(db=0, prefix=prefix)


@pytest.fixture
async def cleanup(redis_client: Redis, deployment: Deployment) -> AsyncIterator[None]:
    yield
    await redis_client.delete(history_key(deployment), tick_key(deployment))


SAMPLE = {"postgres": CheckResult("healthy", 3), "worker": CheckResult("unhealthy", 1000)}


@pytest.mark.usefixtures("cleanup")
async def test_the_stream_is_capped_at_a_day_of_samples(
    redis_client: Redis, deployment: Deployment
) -> None:
    history = HealthHistory(redis_client, deployment, interval_s=30)
    assert history.maxlen == max_entries(30) == 2880 + 120
    for _ in range(history.maxlen + 700):
        await history.append(SAMPLE)
    length = await redis_client.xlen(history_key(deployment))
    # MAXLEN ~ trims whole nodes (100 entries by default), never below the cap.
    assert history.maxlen <= length < history.maxlen + 200
    (_, fields), *_ = await redis_client.xrevrange(history_key(deployment), count=1)
    assert json.loads(fields[b"s"]) == {"postgres": ["healthy", 3], "worker": ["unhealthy", 1000]}


@pytest.mark.usefixtures("cleanup")
async def test_one_sample_per_tick_across_app_processes(
    redis_client: Redis, deployment: Deployment
) -> None:
    first = HealthHistory(redis_client, deployment, interval_s=2)
    second = HealthHistory(redis_client, deployment, interval_s=2)
    assert await first.claim_tick() is True
    assert await second.claim_tick() is False
    await asyncio.sleep(1.6)  # the claim lasts just under the interval
    assert await second.claim_tick() is True


@pytest.mark.usefixtures("cleanup")
async def test_read_buckets_samples_and_skips_foreign_entries(
    redis_client: Redis, deployment: Deployment
) -> None:
    history = HealthHistory(redis_client, deployment, interval_s=30)
    key = history_key(deployment)
    now_ms = int(time.time() * 1000)
    day_ago = now_ms - 86_400_000
    # One sample 25 hours ago (outside), one 23 h 55 min ago, two now, and
    # entries that are not samples of ours.
    for at, sample in (
        (day_ago - 3_600_000, {"postgres": ["unhealthy", 5]}),
        (day_ago + 300_000, {"postgres": ["unhealthy", 7]}),
        (now_ms - 2000, {"postgres": ["healthy", 2]}),
        (now_ms - 1000, {"postgres": ["healthy", 4], "minio": ["not_configured", 0]}),
    ):
        await redis_client.xadd(key, {"s": json.dumps(sample)}, id=f"{at}-0")
    await redis_client.xadd(key, {"s": "kein json"}, id=f"{now_ms - 500}-0")
    await redis_client.xadd(key, {"other": "x"}, id=f"{now_ms - 400}-0")
    await redis_client.xadd(key, {"s": json.dumps({"redis": ["healthy", "schnell"]})})

    services = await history.read(now_ms=now_ms, bucket_s=600)
    assert set(services) == {"postgres", "minio"}
    postgres = services["postgres"]
    assert len(postgres) == 144
    assert (postgres[0].unhealthy, postgres[0].max_latency) == (1, 7)
    assert (postgres[-1].healthy, postgres[-1].max_latency) == (2, 4)
    assert sum(b.healthy + b.unhealthy for b in postgres[1:-1]) == 0
    assert services["minio"][-1].not_configured == 1


async def test_the_app_samples_every_interval(
    db: Database,
    pg_url: str,
    prefix: str,
    redis_client: Redis,
    extra_queue_modules: tuple[str, ...],
) -> None:
    """A running app writes a sample per interval into its deployment's stream."""
    settings = app_settings(pg_url, prefix, extra_queues=",".join(extra_queue_modules))
    settings = settings.model_copy(update={"health_history_interval_s": 1})
    key = history_key(settings.deployment)
    try:
        async with live_app(settings):
            deadline = time.monotonic() + 15
            while await redis_client.xlen(key) < 3:
                assert time.monotonic() < deadline, "fewer than 3 samples in 15 s"
                await asyncio.sleep(0.2)
        entries = await redis_client.xrange(key)
        stamps = [int(entry_id.decode().split("-")[0]) for entry_id, _ in entries]
        assert all(later - earlier >= 500 for earlier, later in itertools.pairwise(stamps))
        assert set(json.loads(entries[0][1][b"s"])) == SERVICES
    finally:
        await redis_client.delete(key, tick_key(settings.deployment))
