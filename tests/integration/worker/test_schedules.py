"""Schedules against real worker processes: one job per tick however many workers
run, through restarts; a schedule taken out of the code is removed; a bad one stops
the worker before anything is applied; a system job's failure reaches the ADMINs.

The schedule is `tests.fixtures.schedule_every_second` (every 1 s on the `tick`
queue of `tests.fixtures.schedule_queues`).
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from redis.asyncio import Redis

from ailawyer.db.engine import Database
from ailawyer.db.models import Role, User
from ailawyer.queues.producer import QueueProducer
from tests.fixtures import schedule_every_second, schedule_queues
from tests.fixtures.jobs import notifications_of, wait_for_state
from tests.fixtures.live_app import login, make_user
from tests.fixtures.processes import ChildProcess, Processes
from tests.fixtures.schedule_queues import TickData, broken_queue
from tests.fixtures.waiting import eventually

pytestmark = pytest.mark.slow

TICK = schedule_every_second.SCHEDULE_ID
ONLY_QUEUES = {"WORKER_EXTRA_QUEUES": schedule_queues.MODULE}
# Refused at import (its cron is not one), so only its name is here.
BAD_MODULE, BAD_SCHEDULE = "tests.fixtures.schedule_bad", "tick.kaputt"


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (schedule_queues.MODULE, schedule_every_second.MODULE)


async def tick_starts(producer: QueueProducer) -> list[int]:
    """When each job of the `tick` queue started (ms), in order."""
    jobs = await producer.queue("tick").getJobs(["active", "completed", "failed"], 0, -1)
    return sorted(int(job.processedOn) for job in jobs if job.processedOn)


async def ticks_started_since(producer: QueueProducer, since: int, count: int) -> set[str]:
    """The ids of the `tick` jobs started at or after `since` (ms), once there are `count`."""
    jobs = await producer.queue("tick").getJobs(["active", "completed", "failed"], 0, -1)
    found = {str(job.id) for job in jobs if job.processedOn and int(job.processedOn) >= since}
    return found if len(found) >= count else set()


def completed_by(worker: ChildProcess) -> set[str]:
    return {str(line["jobId"]) for line in worker.find("job.completed", queue="tick")}


def gaps(starts: list[int]) -> list[int]:
    return [later - earlier for earlier, later in itertools.pairwise(starts)]


async def two_workers(processes: Processes, **overrides: str) -> list[ChildProcess]:
    return list(await asyncio.gather(processes.worker(**overrides), processes.worker(**overrides)))


def added_lines(workers: list[ChildProcess]) -> int:
    return sum(len(worker.find("schedule.added", schedule=TICK)) for worker in workers)


async def test_two_workers_run_one_job_per_tick_and_restarting_them_fires_no_burst(
    processes: Processes, producer: QueueProducer
) -> None:
    workers = await two_workers(processes)
    # Started together, they registered it once (the other waited for the lock).
    assert added_lines(workers) == 1
    await eventually(lambda: tick_starts(producer), 15)

    since = int(time.time() * 1000)
    await asyncio.sleep(7)
    window = [start for start in await tick_starts(producer) if since <= start < since + 7000]
    assert 5 <= len(window) <= 8, window
    assert min(gaps(window)) >= 500, gaps(window)
    # Which of the two runs a tick is a race between them, so "both took part" is
    # shown by stopping one: the other goes on with the next ticks by itself.
    first, second = workers
    first.stop()
    alone = int(time.time() * 1000)
    later = await eventually(lambda: ticks_started_since(producer, alone, 2), 10)
    await eventually(lambda: later <= completed_by(second), 5)

    second.stop()
    stopped = int(time.time() * 1000)
    down_for = 3
    await asyncio.sleep(down_for)
    restarted = await two_workers(processes)
    # Unchanged: left alone, neither re-added nor replaced.
    assert added_lines(restarted) == 0
    assert not any(worker.find("schedule.changed") for worker in restarted)
    back = int(time.time() * 1000)
    await asyncio.sleep(5)

    after = [start for start in await tick_starts(producer) if start >= stopped]
    # Not lost: it goes on at its rhythm...
    assert len([start for start in after if start >= back]) >= 4, after
    # ...and the ticks missed while no worker ran are not made up for: the one that
    # was due runs as the first worker is back (maybe just before the next tick),
    # then one per second again.
    assert len(after) <= (int(time.time() * 1000) - after[0]) / 1000 + 2, after
    assert sum(1 for gap in gaps(after) if gap < 500) <= 1, gaps(after)


async def test_a_schedule_taken_out_of_the_code_is_gone_after_the_restart(
    processes: Processes, producer: QueueProducer, redis_client: Redis, db: Database
) -> None:
    # Not in production mode: its cookies would be Secure, and this is plain HTTP.
    app = processes.serve(APP_ENV="test", **ONLY_QUEUES)
    worker = await processes.worker()
    await eventually(lambda: tick_starts(producer), 15)
    session = await login(app.url, await make_user(db, Role.ADMIN))
    response = await session.http.get("/api/admin/schedules")
    assert response.status_code == 200, response.text
    listed = response.json()
    assert TICK in {item["id"] for item in listed}

    worker.stop()
    worker = await processes.worker(**ONLY_QUEUES)
    await worker.wait_for("schedule.removed", schedule=TICK, queue="tick")
    tick = producer.queue("tick")
    assert TICK not in {str(record["key"]) for record in await tick.getJobSchedulers()}
    assert not await redis_client.exists(f"{producer.prefix}:tick:repeat:{TICK}")
    # Its next job went with it.
    assert await tick.getJobs(["delayed", "wait"], 0, -1) == []
    listed = (await session.http.get("/api/admin/schedules")).json()
    assert TICK not in {item["id"] for item in listed}
    # The built-in ones stay.
    assert {"maintenance.notifications", "maintenance.sessions"} <= {i["id"] for i in listed}

    ran = len(await tick_starts(producer))
    await asyncio.sleep(3)
    assert len(await tick_starts(producer)) == ran
    await session.http.aclose()


async def test_a_bad_schedule_stops_the_worker_before_anything_is_applied(
    processes: Processes, producer: QueueProducer, redis_client: Redis
) -> None:
    worker = processes.launch_worker(WORKER_EXTRA_QUEUES=f"{schedule_queues.MODULE},{BAD_MODULE}")
    assert await worker.wait_exit(60) == 2
    lines = worker.find("worker.misconfigured")
    assert len(lines) == 1
    assert f"schedule '{BAD_SCHEDULE}'" in lines[0]["error"]
    assert "'jede Minute' is not a cron expression" in lines[0]["error"]
    assert "Traceback" not in worker.output()
    # Not even the built-in schedules: nothing of this deployment is in Redis.
    assert [key async for key in redis_client.scan_iter(match=f"{producer.prefix}:*")] == []


async def test_a_system_job_that_fails_for_good_notifies_every_admin_once(
    processes: Processes, producer: QueueProducer, db: Database
) -> None:
    admins = [await make_user(db, Role.ADMIN), await make_user(db, Role.ADMIN)]
    others = [await make_user(db, Role.ANWALT), await make_user(db, Role.SACHBEARBEITER)]
    await processes.worker()
    job = await producer.enqueue(broken_queue, TickData())
    await wait_for_state(producer, broken_queue.name, job.id, "failed", 20)

    async def failures_of(user: User) -> list[object]:
        rows = await notifications_of(db, user.id)
        return [row for row in rows if (row.data or {}).get("jobId") == job.id]

    for admin in admins:
        found = await eventually(lambda admin=admin: failures_of(admin), 10)
        assert len(found) == 1
        assert found[0].type == "job:failed"
        assert "Systemauftrag absichtlich fehlgeschlagen" in (found[0].data or {}).get("error", "")
    await asyncio.sleep(1)
    for admin in admins:
        assert len(await failures_of(admin)) == 1
    for user in others:
        assert await notifications_of(db, user.id) == []
