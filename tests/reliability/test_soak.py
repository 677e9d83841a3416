"""Soak with faults: N jobs, workers killed and stopped, Redis restarted; nothing lost.

Three `ailawyer worker` processes work through N jobs of the `soak` queue
(`soak_queue`: one run row per execution, one side-effect row per job). Meanwhile
a fault plan runs, one fault at a time:

- SIGKILL a busy worker and start a new one (its jobs come back as stalled),
- SIGKILL another one while its jobs sit between committing their notification
  and being marked completed (Redis briefly refuses writes),
- restart the private Redis (append-only file, same port; workers reconnect),
- SIGTERM a worker (it drains: none of its jobs may stall), start a new one,
- SIGKILL again.

After each fault the plan waits until the jobs that were active at that moment
have completed and the stalled checks have run, so no job is hit by two crashes:
BullMQ fails a job that stalls twice (`maxStalledCount` 1), by design, as a
poison job. At the end every job is completed, each side effect exists once,
each job has exactly one completion notification, and nothing is left active,
waiting, delayed or failed. The counts are printed (`pytest -s`) and asserted.

CI runs 1,000 jobs and one round of the plan; a larger run is set through the
environment (docs/reliability.md): SOAK_JOBS, SOAK_WORK_MS, SOAK_WORKERS,
SOAK_CONCURRENCY, SOAK_FAULT_ROUNDS, SOAK_TIMEOUT_S.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from ailawyer.db import migrate
from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.services.users import create_user
from tests.fixtures.processes import FAST_WORKER, Processes
from tests.fixtures.services import RedisServer, create_pg_database, drop_pg_database
from tests.reliability.soak_queue import MODULE, SCHEMA
from tests.reliability.soak_rig import (
    CONCURRENCY,
    LOCK_MS,
    SHUTDOWN_S,
    STALLED_MS,
    TIMEOUT_S,
    WORK_MS,
    WORKERS,
    Broker,
    Soak,
    count_lines,
    enqueue_all,
    side_effects,
)
from tests.reliability.support import assert_no_secrets, line_time, log_files

pytestmark = pytest.mark.slow


@pytest.fixture
def soak_db() -> Iterator[str]:
    """A database of its own, built by the migrations, with the soak tables."""
    url = create_pg_database("ailawyer_soak")
    migrate.upgrade(url)

    async def create_tables() -> None:
        conn = await asyncpg.connect(url)
        try:
            for statement in SCHEMA:
                await conn.execute(statement)
        finally:
            await conn.close()

    asyncio.run(create_tables())
    yield url
    drop_pg_database(url)


@pytest.fixture
def soak_redis(tmp_path: Path) -> Iterator[RedisServer]:
    # With a password: the workers log their reconnects, never the password.
    server = RedisServer(
        tmp_path / "redis", appendonly=True, password=secrets.token_urlsafe(18)
    ).start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (MODULE,)


@pytest.fixture
def process_env(
    process_env: dict[str, str], soak_db: str, soak_redis: RedisServer
) -> dict[str, str]:
    """Workers on the soak's own database and Redis, with the soak's sizes."""
    return {
        **process_env,
        **FAST_WORKER,
        "DATABASE_URL": soak_db,
        "REDIS_URL": soak_redis.url,
        "WORKER_CONCURRENCY": str(CONCURRENCY),
        "WORKER_LOCK_DURATION_MS": str(LOCK_MS),
        "WORKER_STALLED_INTERVAL_MS": str(STALLED_MS),
        "SHUTDOWN_TIMEOUT": str(SHUTDOWN_S),
        "SOAK_WORK_MS": str(WORK_MS),
    }


@pytest.fixture
async def owner_id(soak_db: str) -> AsyncIterator[str]:
    database = Database(soak_db, pool_size=1)
    async with database.session() as session:
        user = await create_user(
            session, email="soak@kanzlei.test", name="Soak", password="x" * 16, role=Role.ANWALT
        )
    await database.dispose()
    yield user.id


@pytest.mark.timeout(TIMEOUT_S + 180)
async def test_soak_with_faults_loses_nothing_and_duplicates_nothing(
    soak_db: str, soak_redis: RedisServer, owner_id: str, prefix: str, processes: Processes
) -> None:
    broker = Broker(soak_redis.url, prefix)
    soak = Soak(processes, broker, soak_redis, soak_db)
    started = time.monotonic()
    try:
        ids = await enqueue_all(soak_redis.url, prefix, owner_id)
        await soak.start()
        await soak.run_plan()
        await soak.wait_done()
        elapsed = time.monotonic() - started
        exit_codes = await soak.stop()
        counts = await broker.counts()
        completed = await broker.completed_ids()
        found_lost = {
            job_id: await broker.describe(job_id) for job_id in sorted(set(ids) - completed)[:20]
        }
    finally:
        await broker.close()
        processes.close()
    found = await side_effects(soak_db)

    # The faults happened as planned and hit jobs in flight.
    kills = [f for f in soak.faults if f.kind in ("kill", "kill-after-commit")]
    terms = [f for f in soak.faults if f.kind == "term"]
    assert soak.rounds >= 1
    assert len(kills) == 3 * soak.rounds and len(terms) == soak.rounds
    assert len(soak.redis_restarts) == soak.rounds
    for kill in kills:
        assert kill.exit_code == -signal.SIGKILL
        assert kill.stalled, "a SIGKILL left no job to recover: it hit an idle worker"
    for term in terms:
        assert term.exit_code == 0
        assert term.stalled == [], "a SIGTERMed worker left jobs to be recovered as stalled"
    assert exit_codes == [0] * WORKERS
    # Every worker alive at a Redis restart reconnected and completed jobs after it.
    for restarted_at, alive in soak.redis_restarts:
        for worker in alive:
            later = [
                line for line in worker.find("job.completed") if line_time(line) > restarted_at
            ]
            assert later, f"worker {worker.pid} did not work again after the Redis restart"

    runs, effects, notes = found["runs"], found["effects"], found["notifications"]
    lost = set(ids) - completed
    stuck = {state: n for state, n in counts.items() if n}
    duplicate_effects = sum(n - 1 for n in effects.values())
    duplicate_notes = sum(n - 1 for n in notes.values())
    executions = sum(runs.values())
    summary = {
        "jobs": len(ids),
        "completed": len(completed & set(ids)),
        "lost": len(lost),
        "stuck": sum(stuck.values()),
        "side_effects": len(effects),
        "duplicate_side_effects": duplicate_effects,
        "executions": executions,
        "re_executions": executions - len(runs),
        "notifications": len(notes),
        "duplicate_notifications": duplicate_notes,
        "fault_rounds": soak.rounds,
        "sigkills": len(kills),
        "jobs_recovered_as_stalled": sum(len(k.stalled) for k in kills),
        "stalled_events": count_lines(processes, '"job.stalled"'),
        "lock_renewal_failures": count_lines(processes, '"job.lock_renewal_failed"'),
        "re_executed_after_notification": found["rerun_after_commit"],
        "sigterms": len(terms),
        "redis_restarts": len(soak.redis_restarts),
        "seconds": round(elapsed, 1),
    }
    print("\nSOAK " + " ".join(f"{key}={value}" for key, value in summary.items()))

    if lost:
        details = {job_id: found_lost[job_id] for job_id in sorted(lost)[:20]}
        raise AssertionError(f"{len(lost)} jobs not completed, e.g. {details}")
    assert stuck == {}, f"jobs left behind: {stuck}"
    assert completed == set(ids)
    assert set(effects) == set(ids) and duplicate_effects == 0
    assert set(runs) == set(ids)
    assert set(notes) == set(ids), "jobs completed without their notification"
    assert duplicate_notes == 0, f"{duplicate_notes} duplicate notifications"
    assert executions > len(ids), "no job ran twice: the faults did not interrupt any work"
    # The commit-window kill did its job: some re-runs found their notification.
    assert found["rerun_after_commit"] >= 1

    assert soak_redis.password is not None
    assert_no_secrets(
        log_files(processes.directory),
        {"AUTH_SECRET": processes.settings["AUTH_SECRET"], "Redis password": soak_redis.password},
    )
