"""The soak's machinery: its sizes, a reader of BullMQ's keys that rides out a
Redis restart, the fault plan and what it saw, and the final counts.

`test_soak.py` is the test itself; docs/reliability.md explains the design.
"""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import asyncpg
from bullmq import Queue
from redis.asyncio import Redis
from redis.exceptions import RedisError

from ailawyer.queues.options import job_options
from ailawyer.queues.producer import new_job_id
from tests.fixtures.processes import START_TIMEOUT_S, ChildProcess, Processes
from tests.fixtures.services import RedisServer
from tests.reliability.soak_queue import SoakJobData, soak_queue
from tests.reliability.support import env_int

JOBS = env_int("SOAK_JOBS", 1000)
WORK_MS = env_int("SOAK_WORK_MS", 500)
WORKERS = env_int("SOAK_WORKERS", 3)
CONCURRENCY = env_int("SOAK_CONCURRENCY", 4)
# Rounds of the fault plan; 0 = repeat it while at least a fifth of the jobs remain.
FAULT_ROUNDS = env_int("SOAK_FAULT_ROUNDS", 1)
TIMEOUT_S = env_int("SOAK_TIMEOUT_S", 240 + JOBS // 20)
# Short, so that a killed worker's jobs come back within seconds.
LOCK_MS = env_int("SOAK_LOCK_MS", 3000)
STALLED_MS = env_int("SOAK_STALLED_MS", 1000)
SHUTDOWN_S = 10
# Without progress for this long, the run is stuck: fail with a diagnosis.
NO_PROGRESS_S = 90.0

# How long Redis refuses writes while a worker is killed in the commit window.
PAUSE_MS = 5000

FaultKind = Literal["kill", "kill-after-commit", "term", "redis"]
PLAN: tuple[FaultKind, ...] = ("kill", "kill-after-commit", "redis", "term", "kill")
STATES = ("wait", "active", "delayed", "failed", "paused", "prioritized")


@dataclass
class FaultRecord:
    kind: FaultKind
    at: float
    victims: list[str]
    stalled: list[str] = field(default_factory=list)
    worker: int | None = None
    exit_code: int | None = None


class Broker:
    """Reads BullMQ's keys on the private Redis, riding out its restart."""

    def __init__(self, url: str, prefix: str) -> None:
        self.client = Redis.from_url(url, decode_responses=True)
        self.base = f"{prefix}:{soak_queue.name}"

    async def _retry(self, call: Any) -> Any:
        deadline = time.monotonic() + 60
        while True:
            try:
                return await call()
            except (RedisError, OSError):
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.2)

    async def completed(self) -> int:
        return int(await self._retry(lambda: self.client.zcard(f"{self.base}:completed")))

    async def active(self) -> list[str]:
        return list(await self._retry(lambda: self.client.lrange(f"{self.base}:active", 0, -1)))

    async def all_completed(self, ids: list[str]) -> bool:
        async def scores() -> list[float | None]:
            return list(await self.client.zmscore(f"{self.base}:completed", ids))

        return all(score is not None for score in await self._retry(scores))

    async def stalled_counter(self, job_id: str) -> int:
        value = await self._retry(lambda: self.client.hget(f"{self.base}:{job_id}", "stc"))
        return int(value or 0)

    async def counts(self) -> dict[str, int]:
        async def read() -> dict[str, int]:
            found = {}
            for state in STATES:
                key = f"{self.base}:{state}"
                kind = await self.client.type(key)
                if kind == "list":
                    found[state] = int(await self.client.llen(key))
                elif kind == "zset":
                    found[state] = int(await self.client.zcard(key))
                else:
                    found[state] = 0
            found["stalled-check-set"] = int(await self.client.scard(f"{self.base}:stalled"))
            return found

        counts: dict[str, int] = await self._retry(read)
        return counts

    async def describe(self, job_id: str) -> dict[str, Any]:
        """Where a job is and what BullMQ recorded about it (for failure messages)."""

        async def read() -> dict[str, Any]:
            found: dict[str, Any] = {}
            for state in ("completed", "failed", "delayed"):
                if await self.client.zscore(f"{self.base}:{state}", job_id) is not None:
                    found["in"] = state
            for state in ("wait", "active"):
                if await self.client.lpos(f"{self.base}:{state}", job_id) is not None:
                    found["in"] = state
            fields = await self.client.hgetall(f"{self.base}:{job_id}")
            keep = ("atm", "ats", "stc", "failedReason", "processedOn", "finishedOn")
            found.update({key: fields[key] for key in keep if key in fields})
            return found

        described: dict[str, Any] = await self._retry(read)
        return described

    async def completed_ids(self) -> set[str]:
        ids = await self._retry(lambda: self.client.zrange(f"{self.base}:completed", 0, -1))
        return set(ids)

    async def close(self) -> None:
        await self.client.aclose()


async def enqueue_all(redis_url: str, prefix: str, owner: str) -> list[str]:
    """N jobs as the app's producer lays them out (ids, options), added in bulk."""
    queue = Queue(soak_queue.name, {"connection": redis_url, "prefix": prefix})
    ids: list[str] = []
    try:
        for start in range(0, JOBS, 500):
            batch = []
            for seq in range(start, min(start + 500, JOBS)):
                job_id = new_job_id()
                ids.append(job_id)
                data = SoakJobData(user_id=owner, seq=seq).to_job_data()
                options = job_options(soak_queue.job_options, job_id=job_id)
                batch.append({"name": soak_queue.name, "data": data, "opts": options})
            await queue.addBulk(batch)
    finally:
        await queue.close()
    return ids


class Soak:
    """The workers, the fault plan and what it saw."""

    def __init__(
        self,
        processes: Processes,
        broker: Broker,
        redis: RedisServer,
        database_url: str,
    ) -> None:
        self.processes = processes
        self.database_url = database_url
        self.broker = broker
        self.redis = redis
        self.slots: list[ChildProcess] = []
        self.faults: list[FaultRecord] = []
        self.redis_restarts: list[tuple[float, list[ChildProcess]]] = []
        self._next_slot = 0
        self.rounds = 0

    async def start(self) -> None:
        self.slots = list(await asyncio.gather(*(self.processes.worker() for _ in range(WORKERS))))

    async def _busy(self, worker: ChildProcess) -> None:
        """Started and has completed a job: connected and taking work.

        A plain text search: the log of a long run is too big to parse every poll.
        """
        deadline = time.monotonic() + START_TIMEOUT_S + 60
        while '"job.completed"' not in worker.output():
            assert worker.running, f"worker {worker.pid} exited:\n{worker.output()}"
            assert time.monotonic() < deadline, f"worker {worker.pid} took no job"
            await asyncio.sleep(0.2)

    async def _victims(self) -> list[str]:
        victims = await self.broker.active()
        assert victims, (
            "no job in flight when the fault came: the run is too short for its faults "
            "(raise SOAK_JOBS or SOAK_WORK_MS)"
        )
        return victims

    async def _settle(self, record: FaultRecord) -> None:
        """Until the victims completed and every stalled check has seen the fault."""
        earliest = record.at + (LOCK_MS + 2 * STALLED_MS + WORK_MS) / 1000
        deadline = time.monotonic() + 90
        while not (
            time.monotonic() >= earliest and await self.broker.all_completed(record.victims)
        ):
            if time.monotonic() > deadline:
                states = {job_id: await self.broker.describe(job_id) for job_id in record.victims}
                left = {
                    key: value for key, value in states.items() if value.get("in") != "completed"
                }
                raise AssertionError(f"victims of {record.kind} never completed: {left}")
            await asyncio.sleep(0.1)
        record.stalled = [
            job_id for job_id in record.victims if await self.broker.stalled_counter(job_id)
        ]

    async def signal_worker(self, kind: FaultKind) -> FaultRecord:
        index = self._next_slot % len(self.slots)
        self._next_slot += 1
        worker = self.slots[index]
        await self._busy(worker)
        victims = await self._victims()
        record = FaultRecord(kind, time.monotonic(), victims, worker=index)
        if kind == "kill":
            worker.send(signal.SIGKILL)
            record.exit_code = await worker.wait_exit(timeout=10)
        else:
            worker.send(signal.SIGTERM)
            record.exit_code = await worker.wait_exit(timeout=SHUTDOWN_S + 10)
        self.slots[index] = self.processes.launch_worker()
        await self._settle(record)
        return record

    async def kill_after_commit(self) -> FaultRecord:
        """SIGKILL a worker while its jobs' notifications are committed but the jobs
        are not yet completed in BullMQ: the window that the dedupe key is for.

        Redis refuses writes for a moment (CLIENT PAUSE WRITE): a job that finishes
        its work then commits its notification and waits to be marked completed.
        Its re-run after the crash must find the notification instead of adding one.
        """
        index = self._next_slot % len(self.slots)
        self._next_slot += 1
        worker = self.slots[index]
        await self._busy(worker)
        conn = await asyncpg.connect(self.database_url)
        await self.broker.client.execute_command("CLIENT", "PAUSE", str(PAUSE_MS), "WRITE")
        try:
            paused_at = await conn.fetchval("SELECT now()")
            deadline = time.monotonic() + PAUSE_MS / 2000
            # A notification committed since the pause, of a job this worker ran.
            while not await conn.fetchval(
                "SELECT count(*) FROM notifications n JOIN soak_runs r"
                " ON r.job_id = n.data->>'jobId' WHERE n.created_at > $1 AND r.pid = $2",
                paused_at,
                worker.pid,
            ):
                assert time.monotonic() < deadline, "no notification committed during the pause"
                await asyncio.sleep(0.02)
            # Let the worker's other jobs in flight finish their work and commit too.
            await asyncio.sleep(WORK_MS / 1000 + 0.2)
            victims = await self._victims()
            record = FaultRecord("kill-after-commit", time.monotonic(), victims, worker=index)
            worker.send(signal.SIGKILL)
            record.exit_code = await worker.wait_exit(timeout=10)
        finally:
            await self.broker.client.execute_command("CLIENT", "UNPAUSE")
            await conn.close()
        self.slots[index] = self.processes.launch_worker()
        await self._settle(record)
        return record

    async def restart_redis(self) -> FaultRecord:
        for worker in self.slots:
            await self._busy(worker)
        victims = await self._victims()
        record = FaultRecord("redis", time.monotonic(), victims)
        alive = list(self.slots)
        self.redis.stop()  # SIGTERM: the append-only file is flushed
        self.redis.start()  # same port, same directory: the data comes back
        self.redis_restarts.append((time.time(), alive))
        await self._settle(record)
        return record

    async def _another_round(self) -> bool:
        if FAULT_ROUNDS:
            return self.rounds < FAULT_ROUNDS
        return self.rounds == 0 or await self.broker.completed() < JOBS * 0.8

    async def run_plan(self) -> None:
        while await self._another_round():
            self.rounds += 1
            for kind in PLAN:
                if kind == "redis":
                    record = await self.restart_redis()
                elif kind == "kill-after-commit":
                    record = await self.kill_after_commit()
                else:
                    record = await self.signal_worker(kind)
                self.faults.append(record)

    async def wait_done(self) -> None:
        last, last_change = -1, time.monotonic()
        deadline = time.monotonic() + TIMEOUT_S
        while (done := await self.broker.completed()) < JOBS:
            if done != last:
                last, last_change = done, time.monotonic()
            stuck = time.monotonic() - last_change > NO_PROGRESS_S
            if stuck or time.monotonic() > deadline:
                counts = await self.broker.counts()
                tails = "\n".join(w.output()[-1500:] for w in self.slots)
                raise AssertionError(f"{done}/{JOBS} completed, {counts}; workers:\n{tails}")
            await asyncio.sleep(0.25)

    async def stop(self) -> list[int]:
        for worker in self.slots:
            if worker.running:
                worker.send(signal.SIGTERM)
        return [await worker.wait_exit(timeout=SHUTDOWN_S + 10) for worker in self.slots]


def count_lines(processes: Processes, marker: str) -> int:
    """Log lines of every worker process of the run that contain `marker`."""
    return sum(worker.output().count(marker) for worker in processes.started)


async def side_effects(url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(url)
    try:
        runs = await conn.fetch("SELECT job_id, count(*) AS n FROM soak_runs GROUP BY job_id")
        effects = await conn.fetch("SELECT job_id, count(*) AS n FROM soak_effects GROUP BY job_id")
        rerun_after_commit = await conn.fetchval(
            "SELECT count(DISTINCT r.job_id) FROM soak_runs r JOIN notifications n"
            " ON n.data->>'jobId' = r.job_id AND n.type = 'job:completed'"
            " WHERE r.started_at > n.created_at"
        )
        notes = await conn.fetch(
            "SELECT data->>'jobId' AS job_id, count(*) AS n FROM notifications"
            " WHERE type = 'job:completed' AND data->>'queue' = $1 GROUP BY 1",
            soak_queue.name,
        )
    finally:
        await conn.close()
    return {
        "runs": {row["job_id"]: int(row["n"]) for row in runs},
        "effects": {row["job_id"]: int(row["n"]) for row in effects},
        "notifications": {row["job_id"]: int(row["n"]) for row in notes},
        "rerun_after_commit": int(rerun_after_commit),
    }
