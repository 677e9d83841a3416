"""The built-in maintenance schedules and the schedules API, with a real app and
worker: `GET /api/admin/schedules`, "Jetzt ausführen"
(`POST /api/admin/schedules/{id}/run`), and what each clean-up deletes and keeps.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from bullmq import Job
from redis.asyncio import Redis
from sqlalchemy import select, update

from ailawyer import messages
from ailawyer.db.engine import Database
from ailawyer.db.models import Notification, Role, UserSession
from ailawyer.queues.definitions import test_queue
from ailawyer.queues.payloads import TestJobData
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.schedules import ALL_SCHEDULES
from ailawyer.services.settings import seed_defaults
from ailawyer.worker.schedules import upsert
from tests.fixtures.jobs import wait_for_state
from tests.fixtures.live_app import LoggedIn, login, make_user
from tests.fixtures.processes import ChildProcess, Processes

pytestmark = pytest.mark.slow

BERLIN = ZoneInfo("Europe/Berlin")
HOUR_MS = 3_600_000


@pytest.fixture
async def app(processes: Processes) -> ChildProcess:
    """The app, and a worker beside it. Not in production mode: its cookies would
    be Secure, and the test talks plain HTTP."""
    worker = processes.launch_worker()
    served = processes.serve(APP_ENV="test")
    worker.wait_ready()
    return served


@pytest.fixture
async def as_admin(app: ChildProcess, db: Database) -> AsyncIterator[LoggedIn]:
    session = await login(app.url, await make_user(db, Role.ADMIN))
    yield session
    await session.http.aclose()


async def run(session: LoggedIn, producer: QueueProducer, schedule_id: str) -> Job:
    """ "Jetzt ausführen", and the job once it completed."""
    response = await session.http.post(f"/api/admin/schedules/{schedule_id}/run")
    assert response.status_code == 201, response.text
    made = response.json()
    assert made["queue"] == "maintenance"
    return await wait_for_state(producer, "maintenance", made["jobId"], "completed", 30)


async def test_the_schedules_list_shows_the_built_in_ones_and_their_last_run(
    as_admin: LoggedIn, producer: QueueProducer
) -> None:
    response = await as_admin.http.get("/api/admin/schedules")
    assert response.status_code == 200
    listed = {item["id"]: item for item in response.json()}
    assert set(listed) == {schedule.id for schedule in ALL_SCHEDULES}
    daily = listed["maintenance.notifications"]
    assert daily["queue"] == "maintenance"
    assert (daily["every"], daily["cron"], daily["tz"]) == (None, "0 3 * * *", "Europe/Berlin")
    assert daily["lastRun"] is None
    next_run = datetime.fromisoformat(daily["nextRunAt"])
    now = datetime.now(UTC)
    assert now < next_run <= now + timedelta(days=1)
    local = next_run.astimezone(BERLIN)
    assert (local.hour, local.minute, local.second) == (3, 0, 0)
    hourly = datetime.fromisoformat(listed["maintenance.sessions"]["nextRunAt"])
    assert now < hourly <= now + timedelta(hours=1)
    assert hourly.astimezone(BERLIN).minute == 10

    job = await run(as_admin, producer, "maintenance.sessions")
    assert job.returnvalue == {"task": "sessions", "deleted": 0}
    response = await as_admin.http.get("/api/admin/schedules")
    last = {item["id"]: item for item in response.json()}["maintenance.sessions"]["lastRun"]
    assert (last["jobId"], last["state"]) == (job.id, "completed")
    finished_ms = datetime.fromisoformat(last["finishedAt"]).timestamp() * 1000
    assert abs(finished_ms - job.finishedOn) < 5000
    # A run now does not move the schedule's own next run.
    after = {item["id"]: item for item in response.json()}["maintenance.sessions"]
    assert after["nextRunAt"] == listed["maintenance.sessions"]["nextRunAt"]


async def test_run_is_refused_for_an_unknown_schedule_and_for_anyone_but_an_admin(
    app: ChildProcess, as_admin: LoggedIn, producer: QueueProducer, db: Database
) -> None:
    maintenance = producer.queue("maintenance")
    before = await maintenance.getJobCounts()
    response = await as_admin.http.post("/api/admin/schedules/gibt.es.nicht/run")
    assert response.status_code == 404
    assert response.json() == {"error": messages.SCHEDULE_NOT_FOUND}

    lawyer = await login(app.url, await make_user(db, Role.ANWALT))
    for call in (
        lawyer.http.get("/api/admin/schedules"),
        lawyer.http.post("/api/admin/schedules/maintenance.sessions/run"),
    ):
        assert (await call).status_code == 403
    await lawyer.http.aclose()
    response = await as_admin.http.post(
        "/api/admin/schedules/maintenance.sessions/run", headers={"X-CSRF-Token": "falsch"}
    )
    assert response.status_code == 403
    async with app.client() as anonymous:
        assert (await anonymous.get("/api/admin/schedules")).status_code == 401
    # Nothing was added by any of them.
    assert await maintenance.getJobCounts() == before


async def test_dismissed_notifications_past_their_retention_are_deleted(
    as_admin: LoggedIn, producer: QueueProducer, db: Database
) -> None:
    user = as_admin.user
    now = datetime.now(UTC)
    kinds = {
        "old-dismissed": (now - timedelta(days=100), True),
        "recent-dismissed": (now - timedelta(days=10), True),
        "old-undismissed": (now - timedelta(days=100), False),
    }
    async with db.session() as session:
        for title, (created, dismissed) in kinds.items():
            session.add(
                Notification(
                    user_id=user.id,
                    type="info",
                    title=title,
                    message="…",
                    created_at=created,
                    dismissed=dismissed,
                )
            )

    job = await run(as_admin, producer, "maintenance.notifications")
    assert job.returnvalue == {"task": "notifications", "deleted": 1, "retentionDays": 90}
    async with db.session() as session:
        titles = set(await session.scalars(select(Notification.title)))
    assert titles == {"recent-dismissed", "old-undismissed"}


async def test_the_retention_follows_the_setting(
    as_admin: LoggedIn, producer: QueueProducer, db: Database
) -> None:
    async with db.session() as session:
        await seed_defaults(session)
    response = await as_admin.http.put(
        "/api/settings/notifications.retention_days", json={"value": 5}
    )
    assert response.status_code == 200, response.text
    async with db.session() as session:
        session.add(
            Notification(
                user_id=as_admin.user.id,
                type="info",
                title="eine Woche alt",
                message="…",
                created_at=datetime.now(UTC) - timedelta(days=7),
                dismissed=True,
            )
        )
    job = await run(as_admin, producer, "maintenance.notifications")
    assert job.returnvalue == {"task": "notifications", "deleted": 1, "retentionDays": 5}


async def test_expired_and_revoked_sessions_are_deleted(
    app: ChildProcess, as_admin: LoggedIn, producer: QueueProducer, db: Database
) -> None:
    user = await make_user(db, Role.ANWALT)
    expired, revoked, current = [await login(app.url, user) for _ in range(3)]
    async with db.session() as session:
        ids = list(
            await session.scalars(
                select(UserSession.id)
                .where(UserSession.user_id == user.id)
                .order_by(UserSession.created_at)
            )
        )
        await session.execute(
            update(UserSession)
            .where(UserSession.id == ids[0])
            .values(expires_at=datetime.now(UTC) - timedelta(minutes=1))
        )
    assert (await revoked.http.post("/api/auth/logout")).status_code in (200, 204)

    job = await run(as_admin, producer, "maintenance.sessions")
    assert job.returnvalue == {"task": "sessions", "deleted": 2}
    async with db.session() as session:
        left = set(
            await session.scalars(select(UserSession.id).where(UserSession.user_id == user.id))
        )
    assert len(left) == 1
    assert ids[0] not in left
    # The one still valid works as before.
    assert (await current.http.get("/api/auth/me")).status_code == 200
    for session_ in (expired, revoked, current):
        await session_.http.aclose()


async def age(redis: Redis, producer: QueueProducer, job: Job, state: str, hours: float) -> None:
    """Make a finished job of the `test` queue look `hours` old (BullMQ's clean
    reads both the set's score and the job's `finishedOn`)."""
    finished = int(job.finishedOn) - int(hours * HOUR_MS)
    key = f"{producer.prefix}:test"
    await redis.hset(f"{key}:{job.id}", "finishedOn", finished)
    await redis.zadd(f"{key}:{state}", {str(job.id): finished})


async def test_old_finished_jobs_are_cleaned_from_an_idle_queue(
    as_admin: LoggedIn, producer: QueueProducer, redis_client: Redis, db: Database
) -> None:
    user = await make_user(db, Role.ANWALT)
    ids = [
        (await producer.enqueue(test_queue, TestJobData(user_id=user.id, message=str(i)))).id
        for i in range(2)
    ]
    old, fresh = [await wait_for_state(producer, "test", i, "completed", 30) for i in ids]
    await age(redis_client, producer, old, "completed", 25)
    # The maintenance job's own run is fresh too; 23 hours is within the day kept.
    await age(redis_client, producer, fresh, "completed", 23)

    job = await run(as_admin, producer, "maintenance.queues")
    assert job.returnvalue["task"] == "queues"
    assert job.returnvalue["removed"]["test"] == 1
    queue = producer.queue("test")
    assert await Job.fromId(queue, old.id) is None
    assert not await redis_client.zscore(f"{producer.prefix}:test:completed", old.id)
    assert (await Job.fromId(queue, fresh.id)) is not None
    assert await queue.getJobState(fresh.id) == "completed"


async def test_the_next_run_of_a_berlin_cron_is_right_across_the_end_of_summer_time(
    app: ChildProcess, as_admin: LoggedIn, producer: QueueProducer
) -> None:
    """On 2027-10-31 Berlin's clocks go back from 03:00 CEST to 02:00 CET: the daily
    03:00 run after the 30th is at 02:00 UTC (on the 30th it was at 01:00 UTC)."""
    schedule = next(s for s in ALL_SCHEDULES if s.id == "maintenance.notifications")
    maintenance = producer.queue("maintenance")
    await maintenance.upsertJobScheduler(
        schedule.id,
        {**schedule.repeat_options(), "startDate": "2027-10-30T12:00:00Z"},
        job_name=schedule.id,
        job_data=schedule.job_data(),
    )
    listed = {i["id"]: i for i in (await as_admin.http.get("/api/admin/schedules")).json()}
    assert listed[schedule.id]["nextRunAt"] == "2027-10-31T02:00:00Z"
    # The same as our own reckoning (the schedules view's "next runs").
    expected = schedule.next_runs(datetime(2027, 10, 30, 12, tzinfo=UTC))[0]
    assert expected == datetime(2027, 10, 31, 2, tzinfo=UTC)
    # The worker's reconciliation puts the declared schedule back at its next 03:00.
    await upsert(maintenance, schedule, producer.spec("maintenance"))
    listed = {i["id"]: i for i in (await as_admin.http.get("/api/admin/schedules")).json()}
    assert datetime.fromisoformat(listed[schedule.id]["nextRunAt"]) < datetime(
        2027, 1, 1, tzinfo=UTC
    )
