"""The platform on Redis Sentinel, as processes: `ailawyer serve` and `ailawyer worker`
on a `redis+sentinel://` URL (data nodes and sentinels behind passwords), a
primary, a replica and a sentinel on loopback.

- A polite failover (`SENTINEL FAILOVER`): jobs enqueued before it all complete
  with one notification each; within 10 s a test job goes through the API, the
  worker and Socket.IO to a client connected before the switch; a log-level
  change reaches the worker; meanwhile enqueues answer 201 or a quick 503.
- A primary killed with SIGKILL: the replica is promoted, the worker finishes
  every job (recovering what stalled), nothing is notified twice.
- A wrong configuration (no sentinel answers, an unknown master) stops `serve`
  (exit 3) and `worker` (non-zero) with one line naming REDIS_URL.

`/api/health` and `ailawyer worker --check` are asked before, during and after.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role, User
from ailawyer.deployment import Deployment
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_queues
from ailawyer.realtime.emitter import SocketEmitter
from ailawyer.redis import get_queue_connection
from tests.fixtures import queues
from tests.fixtures.jobs import notifications_of
from tests.fixtures.live_app import make_user
from tests.fixtures.processes import (
    FAST_WORKER,
    REPO_ROOT,
    ChildProcess,
    Processes,
    run_cli,
)
from tests.fixtures.queues import SleepJobData, slow_queue
from tests.fixtures.sentinel import SentinelSetup, random_password, sentinel_setup
from tests.fixtures.services import free_port
from tests.fixtures.sockets import SENTINEL_EVENT, Recorder
from tests.reliability.support import SecretWatch, Session, log_in

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (queues.MODULE,)


JOBS = 20
# The contract: within 10 s of SENTINEL FAILOVER a new job has gone all the way.
AFTER_FAILOVER_S = 10.0
# An enqueue gives up after 1 s (503); slack for a loaded two-core machine.
ENQUEUE_DEADLINE_S = 2.5
# The health endpoint answers within its 1 s checks (HEALTH_CHECK_TIMEOUT_MS) and a bit.
HEALTH_DEADLINE_S = 3.5


@dataclass
class Platform:
    """App, worker and Sentinel set-up of one test, and an admin logged in to the app."""

    sentinels: SentinelSetup
    app: ChildProcess
    worker: ChildProcess
    processes: Processes
    client: httpx.AsyncClient
    session: Session
    admin: User
    recorder: Recorder
    producer: QueueProducer
    prefix: str

    async def health(self) -> tuple[int, dict[str, Any], str, float]:
        started = time.monotonic()
        response = await self.client.get("/api/health")
        return response.status_code, response.json(), response.text, time.monotonic() - started

    async def check(self) -> int:
        """`ailawyer worker --check` with the worker's environment: its exit code."""
        env = self.processes.env(**self.sentinels.env())
        result = await asyncio.to_thread(run_cli, "worker", "--check", env=env, timeout=60)
        return result.returncode

    async def enqueue_test_job(self) -> tuple[int, str | None, float]:
        started = time.monotonic()
        response = await self.client.post(
            "/api/admin/test-job", headers=self.session.headers("POST")
        )
        elapsed = time.monotonic() - started
        job_id = response.json().get("jobId") if response.status_code == 201 else None
        return response.status_code, job_id, elapsed

    def hides_the_topology(self, text: str) -> bool:
        """Whether a public answer names none of the set-up's hosts and ports."""
        ports = [node.port for node in self.sentinels.nodes]
        ports += [watcher.port for watcher in self.sentinels.watchers]
        return "127.0.0.1" not in text and not any(f":{port}" in text for port in ports)


@dataclass
class SwitchWatch:
    """What the API answered while the primary changed."""

    enqueues: list[tuple[int, float]] = field(default_factory=list)
    health: list[tuple[int, str, float]] = field(default_factory=list)
    checks: list[int] = field(default_factory=list)


@pytest.fixture
async def platform(
    processes: Processes,
    db: Database,
    prefix: str,
    tmp_path: Path,
    process_dir: Path,
    watch: SecretWatch,
) -> AsyncIterator[Platform]:
    sentinels = sentinel_setup(
        tmp_path / "sentinel", password=random_password(), sentinel_password=random_password()
    )
    watch.add("Redis password", sentinels.password)
    watch.add("sentinel password", sentinels.sentinel_password)
    connection = get_queue_connection(sentinels.target)
    producer = QueueProducer(connection, load_queues([queues.MODULE]), prefix=prefix)
    recorder = Recorder()
    try:
        # A heartbeat that outlives a switch: --check tells whether a worker lives,
        # not whether one beat landed in the second the primary changed.
        worker = await processes.worker(
            **{**FAST_WORKER, **sentinels.env(), "WORKER_HEARTBEAT_TTL": "10"}
        )
        app = processes.serve(**sentinels.env())
        admin = await make_user(db, Role.ADMIN)
        async with app.client() as client:
            session = await log_in(client, admin.email, watch)
            await recorder.connect(app.url, f"session={session.session}")
            await _wait_until_subscribed(recorder, sentinels, admin.id, prefix)
            yield Platform(
                sentinels=sentinels,
                app=app,
                worker=worker,
                processes=processes,
                client=client,
                session=session,
                admin=admin,
                recorder=recorder,
                producer=producer,
                prefix=prefix,
            )
    finally:
        await recorder.close()
        await producer.close()
        await connection.aclose()
        processes.close()
        sentinels.stop()
    for log_file in process_dir.rglob("*.*"):
        if log_file.is_file():
            assert "Traceback" not in log_file.read_text(errors="replace"), log_file
    watch.check()


async def _wait_until_subscribed(
    recorder: Recorder, sentinels: SentinelSetup, user_id: str, prefix: str
) -> None:
    """Emit sentinel events until one arrives: the app listens on Redis."""
    emitter = SocketEmitter(sentinels.target, channel=Deployment(prefix=prefix).socketio_channel)
    try:
        async with asyncio.timeout(20):
            while not recorder.events(SENTINEL_EVENT):
                await emitter.to_user(user_id, SENTINEL_EVENT, {})
                await asyncio.sleep(0.1)
    finally:
        await emitter.close()


async def assert_healthy(platform: Platform, timeout: float = 20) -> None:
    """`/api/health` says healthy (the Redis entry included) and `--check` exits 0."""
    deadline = time.monotonic() + timeout
    while True:
        status, body, text, _ = await platform.health()
        if status == 200:
            break
        assert time.monotonic() < deadline, body
        await asyncio.sleep(0.3)
    assert body["services"]["redis"]["status"] == "healthy"
    assert platform.hides_the_topology(text), text
    assert await platform.check() == 0


async def enqueue_slow_jobs(platform: Platform, seconds: float) -> list[str]:
    data = SleepJobData(user_id=platform.admin.id, seconds=seconds)
    return [(await platform.producer.enqueue(slow_queue, data)).id for _ in range(JOBS)]


async def wait_all_completed(platform: Platform, job_ids: list[str], timeout: float) -> None:
    queue = platform.producer.queue(slow_queue.name)
    deadline = time.monotonic() + timeout
    states: list[str] = []
    while True:
        try:
            states = [str(await queue.getJobState(job_id)) for job_id in job_ids]
        except Exception:  # a switch under way: ask again
            states = []
        if states and all(state == "completed" for state in states):
            return
        assert time.monotonic() < deadline, f"not all completed: {states}\n{_tail(platform)}"
        await asyncio.sleep(0.5)


async def assert_one_notification_each(
    platform: Platform, db: Database, job_ids: list[str]
) -> None:
    rows = await notifications_of(db, platform.admin.id)
    per_job: dict[str, int] = {}
    for row in rows:
        job_id = (row.data or {}).get("jobId")
        if isinstance(job_id, str):
            per_job[job_id] = per_job.get(job_id, 0) + 1
    assert {job_id: per_job.get(job_id, 0) for job_id in job_ids} == dict.fromkeys(job_ids, 1)


async def watch_the_switch(platform: Platform, switched: asyncio.Future[Any]) -> SwitchWatch:
    """Enqueue and ask for health over and over until the switch is done and 2 s more."""
    seen = SwitchWatch()

    async def enqueues(until: float | None) -> None:
        while until is None or time.monotonic() < until:
            status, _, elapsed = await platform.enqueue_test_job()
            seen.enqueues.append((status, elapsed))
            await asyncio.sleep(0.1)

    async def health(until: float | None) -> None:
        while until is None or time.monotonic() < until:
            status, _, text, elapsed = await platform.health()
            seen.health.append((status, text, elapsed))
            await asyncio.sleep(0.2)

    async def check() -> None:
        seen.checks.append(await platform.check())

    tasks = [
        asyncio.create_task(enqueues(None)),
        asyncio.create_task(health(None)),
        asyncio.create_task(check()),
    ]
    try:
        await switched
        await asyncio.sleep(2.0)
    finally:
        for task in tasks[:2]:
            task.cancel()
        await asyncio.gather(*tasks[:2], return_exceptions=True)
        await tasks[2]
    return seen


def assert_answers_during_the_switch(platform: Platform, seen: SwitchWatch) -> None:
    assert seen.enqueues, "no enqueue was tried during the switch"
    for status, elapsed in seen.enqueues:
        assert status in (201, 503), seen.enqueues
        assert elapsed < ENQUEUE_DEADLINE_S, seen.enqueues
    for status, text, elapsed in seen.health:
        assert status in (200, 503), text
        assert elapsed < HEALTH_DEADLINE_S, (elapsed, text)
        assert platform.hides_the_topology(text), text


async def a_test_job_goes_all_the_way(platform: Platform, deadline: float) -> str:
    """Enqueue through the API until it is accepted; its notification reaches the
    Socket.IO client that stayed connected. Returns the job id."""
    job_id: str | None = None
    while job_id is None:
        status, job_id, _ = await platform.enqueue_test_job()
        assert status in (201, 503), status
        assert time.monotonic() < deadline, "no job accepted in time"
        if job_id is None:
            await asyncio.sleep(0.2)

    def arrived() -> bool:
        return any(
            (event.get("data") or {}).get("jobId") == job_id
            for event in platform.recorder.events("notification")
        )

    while not arrived():
        assert time.monotonic() < deadline, f"no notification for {job_id}\n{_tail(platform)}"
        await asyncio.sleep(0.05)
    return job_id


def _tail(platform: Platform) -> str:
    return (
        f"==== worker\n{platform.worker.output()[-3000:]}\n"
        f"==== app\n{platform.app.output()[-3000:]}"
    )


async def test_a_failover_loses_no_job_and_the_platform_carries_on(
    platform: Platform, db: Database
) -> None:
    await assert_healthy(platform)
    job_ids = await enqueue_slow_jobs(platform, seconds=1.5)
    assert platform.sentinels.wait_replicated() == 1, "the jobs are on the replica too"

    old = platform.sentinels.failover()
    failed_over_at = time.monotonic()
    switched = asyncio.ensure_future(asyncio.to_thread(platform.sentinels.wait_switched, old))
    seen = await watch_the_switch(platform, switched)
    assert_answers_during_the_switch(platform, seen)
    # The worker lives through the switch and --check says so.
    assert seen.checks == [0], seen.checks

    await a_test_job_goes_all_the_way(platform, deadline=failed_over_at + AFTER_FAILOVER_S)
    assert platform.recorder.client.connected

    changed = await platform.client.put(
        "/api/settings/log.level",
        json={"value": "debug"},
        headers=platform.session.headers("PUT"),
    )
    assert changed.status_code == 200, changed.text
    await platform.worker.wait_for("settings.applied", value="debug", timeout=15)

    await wait_all_completed(platform, job_ids, timeout=60)
    await assert_one_notification_each(platform, db, job_ids)
    await assert_healthy(platform)
    assert platform.worker.find("redis.primary_changed"), "the worker says where it went"


async def test_a_killed_primary_is_replaced_and_every_job_completes_once(
    platform: Platform, db: Database
) -> None:
    job_ids = await enqueue_slow_jobs(platform, seconds=1.0)
    assert platform.sentinels.wait_replicated() == 1

    async def some_completed() -> bool:
        return len(await notifications_of(db, platform.admin.id)) >= 3

    deadline = time.monotonic() + 30
    while not await some_completed():
        assert time.monotonic() < deadline, _tail(platform)
        await asyncio.sleep(0.1)

    old = platform.sentinels.kill_primary()
    switched = asyncio.ensure_future(asyncio.to_thread(platform.sentinels.wait_switched, old))
    seen = await watch_the_switch(platform, switched)
    assert_answers_during_the_switch(platform, seen)
    # With no primary for a while, enqueues were refused, quickly.
    assert 503 in {status for status, _ in seen.enqueues}, seen.enqueues

    await wait_all_completed(platform, job_ids, timeout=90)
    await assert_one_notification_each(platform, db, job_ids)
    await a_test_job_goes_all_the_way(platform, deadline=time.monotonic() + 30)
    assert platform.worker.process.poll() is None, "the worker lives on"
    await assert_healthy(platform)


def _start_refused(args: list[str], env: dict[str, str], cwd: Path) -> tuple[int, str]:
    result = subprocess.run(
        [sys.executable, "-m", "ailawyer", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=90,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_a_wrong_sentinel_configuration_stops_serve_and_worker_with_one_line(
    tmp_path: Path, pg_url: str
) -> None:
    sentinels = sentinel_setup(tmp_path / "sentinel")
    try:
        nobody = f"redis+sentinel://127.0.0.1:{free_port()},127.0.0.1:{free_port()}/0/ailawyer"
        unknown = sentinels.url.replace("/0/ailawyer", "/0/elsewhere")
        base = {
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO_ROOT),
            "APP_ENV": "test",
            "DATABASE_URL": pg_url,
        }
        cases = {
            nobody: "no sentinel in REDIS_URL answers",
            unknown: "know no primary named 'elsewhere'",
        }
        for url, reason in cases.items():
            env = {**base, "REDIS_URL": url}
            for args, expected in ((["serve", "--port", str(free_port())], 3), (["worker"], 1)):
                code, output = _start_refused(args, env, tmp_path)
                assert code == expected, (args, url, output)
                assert reason in output and "REDIS_URL" in output, (args, output)
                assert "Traceback" not in output, output
                lines = [line for line in output.splitlines() if reason in line]
                assert len(lines) == 1, output
    finally:
        sentinels.stop()
