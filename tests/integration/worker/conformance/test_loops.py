"""bullmq's worker behaviours, each run against both loops (`rig` is parametrized)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bullmq import Job, Worker
from bullmq.custom_errors import UnrecoverableError

from ailawyer.worker import lean
from ailawyer.worker.lean import TESTED_BULLMQ, LeanWorker, bullmq_version, worker_class
from tests.fixtures.waiting import eventually
from tests.integration.worker.conformance.conftest import QUEUE, Rig


async def _sleep_for(job: Job) -> dict[str, Any]:
    await asyncio.sleep(float(job.data.get("sleep", 0)))
    return {"id": job.id}


async def test_every_job_runs_once_with_all_slots_busy(rig: Rig) -> None:
    await rig.queue.pause()
    await rig.queue.addBulk(
        [{"name": "n", "data": {"sleep": 0.005}, "opts": {"jobId": f"j{i}"}} for i in range(300)]
    )
    await rig.start(rig.tracked(_sleep_for), concurrency=10, metrics={"maxDataPoints": 60})
    await rig.queue.resume()
    await eventually(lambda: rig.count("completed") == 300, 30)
    await asyncio.sleep(0.2)  # nothing more may come
    assert sorted(rig.activity.started) == sorted(f"j{i}" for i in range(300))
    assert rig.activity.runs() == 300
    assert rig.activity.most == 10
    assert (await rig.counts())["completed"] == 300
    assert (await rig.job("j7")).returnvalue == {"id": "j7"}
    # The metrics option: the shared Lua scripts count completions per minute.
    metrics = rig.queue.toKey("metrics:completed")
    assert await rig.queue.client.hget(metrics, "count") == "300"
    assert rig.count("active") == 300
    assert rig.count("error") == 0


async def test_an_idle_worker_wakes_for_one_job_and_a_burst_fills_every_slot(rig: Rig) -> None:
    await rig.start(rig.tracked(_sleep_for), concurrency=8, drainDelay=5)
    await asyncio.sleep(0.3)  # drained: blocked on the marker
    added = time.monotonic()
    await rig.queue.add("n", {}, {"jobId": "first"})
    await eventually(lambda: rig.count("completed") == 1, 3)
    assert rig.activity.started["first"][0] - added < 1.0
    await rig.queue.addBulk(
        [{"name": "n", "data": {"sleep": 0.2}, "opts": {"jobId": f"b{i}"}} for i in range(40)]
    )
    await eventually(lambda: rig.count("completed") == 41, 15)
    assert rig.activity.most == 8
    assert rig.activity.runs() == 41


async def test_retries_follow_the_custom_backoff_then_fail(rig: Rig) -> None:
    async def always_fails(job: Job) -> None:
        raise RuntimeError(f"attempt {job.attemptsMade + 1}")

    def backoff(attempts_made: int, _type: Any, _err: Any, _job: Any) -> int:
        return 150 * attempts_made

    await rig.start(rig.tracked(always_fails), settings={"backoffStrategy": backoff})
    await rig.queue.add("n", {}, {"jobId": "r", "attempts": 3, "backoff": {"type": "custom"}})
    await eventually(lambda: rig.count("failed") == 3, 10)
    job = await rig.job("r")
    assert await rig.state("r") == "failed"
    assert job.attemptsMade == 3
    assert job.failedReason == "attempt 3"
    first, second, third = rig.activity.started["r"]
    assert second - first >= 0.14
    assert third - second >= 0.29
    # Only the last failure is final.
    finals = [args[0].finishedOn for args in rig.activity.events["failed"]]
    assert [bool(value) for value in finals] == [False, False, True]


async def test_an_unrecoverable_error_fails_at_once(rig: Rig) -> None:
    async def broken(_job: Job) -> None:
        raise UnrecoverableError("kaputt")

    await rig.start(rig.tracked(broken))
    await rig.queue.add(
        "n", {}, {"jobId": "u", "attempts": 4, "backoff": {"type": "fixed", "delay": 10}}
    )
    await eventually(lambda: rig.count("failed") == 1, 5)
    await asyncio.sleep(0.2)
    assert rig.activity.runs() == 1
    assert await rig.state("u") == "failed"


async def test_a_delayed_job_waits_for_its_time(rig: Rig) -> None:
    await rig.start(rig.tracked(_sleep_for), concurrency=4)
    await asyncio.sleep(0.2)
    added = time.monotonic()
    await rig.queue.add("n", {}, {"jobId": "d", "delay": 700})
    await eventually(lambda: rig.count("completed") == 1, 5)
    waited = rig.activity.started["d"][0] - added
    assert 0.65 <= waited < 2.5


async def test_priorities_run_highest_first(rig: Rig) -> None:
    await rig.queue.pause()
    for index, priority in enumerate((5, 1, 4, 2, 3)):
        await rig.queue.add("n", {}, {"jobId": f"p{priority}-{index}", "priority": priority})
    await rig.start(rig.tracked(_sleep_for), concurrency=1)
    await rig.queue.resume()
    await eventually(lambda: rig.count("completed") == 5, 5)
    order = sorted(rig.activity.started, key=lambda job_id: rig.activity.started[job_id][0])
    assert [job_id.split("-")[0] for job_id in order] == ["p1", "p2", "p3", "p4", "p5"]


async def test_pause_waits_for_the_job_in_hand_and_fetches_nothing_until_resume(
    rig: Rig,
) -> None:
    worker = await rig.start(rig.tracked(_sleep_for), concurrency=3)
    await rig.queue.add("n", {"sleep": 0.4}, {"jobId": "held"})
    await eventually(lambda: "held" in rig.activity.started, 3)
    await worker.pause()
    assert await rig.state("held") == "completed"
    await rig.queue.addBulk(
        [{"name": "n", "data": {}, "opts": {"jobId": f"w{i}"}} for i in range(3)]
    )
    await asyncio.sleep(0.6)
    assert rig.activity.runs() == 1
    assert (await rig.counts())["waiting"] == 3
    worker.resume()
    await eventually(lambda: rig.count("completed") == 4, 5)


async def test_close_waits_for_the_active_job(rig: Rig) -> None:
    worker = await rig.start(rig.tracked(_sleep_for), concurrency=2)
    await rig.queue.add("n", {"sleep": 0.4}, {"jobId": "c"})
    await eventually(lambda: "c" in rig.activity.started, 3)
    await worker.close()
    assert worker.closed
    assert await rig.state("c") == "completed"


async def test_force_close_leaves_the_job_active(rig: Rig) -> None:
    worker = await rig.start(rig.tracked(_sleep_for), concurrency=2)
    await rig.queue.add("n", {"sleep": 30}, {"jobId": "f"})
    await eventually(lambda: "f" in rig.activity.started, 3)
    began = time.monotonic()
    await worker.close(force=True)
    assert time.monotonic() - began < 3
    assert await rig.state("f") == "active"
    assert rig.count("completed") == 0


async def test_a_long_job_keeps_its_lock_against_a_stall_check(rig: Rig) -> None:
    fast = {"lockDuration": 1000, "lockRenewTime": 300, "stalledInterval": 400}
    await rig.start(rig.tracked(_sleep_for), concurrency=2, **fast)
    await rig.queue.add("n", {"sleep": 2.5}, {"jobId": "long"})
    await eventually(lambda: "long" in rig.activity.started, 3)
    await rig.start(rig.tracked(_sleep_for), concurrency=2, **fast)  # a second checker
    await eventually(lambda: rig.count("completed") == 1, 6)
    assert rig.activity.runs() == 1
    assert rig.count("stalled") == 0


async def test_a_stalled_job_is_recovered_by_another_worker(rig: Rig) -> None:
    fast = {"lockDuration": 600, "stalledInterval": 400, "maxStalledCount": 1}
    crashed = await rig.start(rig.tracked(_sleep_for), concurrency=1, **fast)
    await rig.queue.add("n", {"sleep": 30}, {"jobId": "s"})
    await eventually(lambda: "s" in rig.activity.started, 3)
    # Lost without a word: lock renewals stop, the job stays active.
    await crashed.lockManager.close()
    crashed.stalledCheckTimer.stop()
    rescuer = await rig.start(rig.tracked(_sleep_for), concurrency=1, **fast)
    await rig.queue.client.hset(rig.queue.toKey("s"), "data", '{"sleep": 0}')
    await eventually(lambda: len(rig.activity.started["s"]) == 2, 10)
    await eventually(lambda: rig.count("completed") == 1, 5)
    assert rig.count("stalled") >= 1
    assert rescuer.running


async def test_a_rate_limit_spaces_the_jobs(rig: Rig) -> None:
    await rig.queue.pause()
    await rig.queue.addBulk(
        [{"name": "n", "data": {}, "opts": {"jobId": f"l{i}"}} for i in range(6)]
    )
    await rig.start(rig.tracked(_sleep_for), concurrency=6, limiter={"max": 2, "duration": 500})
    await rig.queue.resume()
    await eventually(lambda: rig.count("completed") == 6, 20)
    starts = sorted(times[0] for times in rig.activity.started.values())
    # Never more than two in any 500 ms window.
    assert all(later - earlier >= 0.45 for earlier, later in zip(starts, starts[2:], strict=False))
    assert starts[1] - starts[0] < 0.4
    if rig.loop == "lean":
        # The next window opens when the limit's ends (bullmq-py waits its 5 s drainDelay).
        assert starts[-1] - starts[0] < 2.5


async def test_remove_on_complete_and_on_fail_keep_their_counts(rig: Rig) -> None:
    async def maybe_fails(job: Job) -> None:
        if job.data.get("fail"):
            raise RuntimeError("nein")

    await rig.start(rig.tracked(maybe_fails), concurrency=4)
    keep = {"removeOnComplete": 3, "removeOnFail": 2}
    await rig.queue.addBulk(
        [
            {"name": "n", "data": {"fail": i % 3 == 0}, "opts": {"jobId": f"k{i}", **keep}}
            for i in range(15)
        ]
    )
    await eventually(lambda: rig.count("completed") + rig.count("failed") == 15, 10)
    counts = await rig.counts()
    assert counts["completed"] == 3
    assert counts["failed"] == 2


async def test_progress_is_stored_while_the_job_runs(rig: Rig) -> None:
    release = asyncio.Event()

    async def reports(job: Job) -> str:
        await job.updateProgress({"percent": 40})
        await release.wait()
        return "ok"

    await rig.start(rig.tracked(reports), concurrency=2)
    await rig.queue.add("n", {}, {"jobId": "g"})
    await eventually(lambda: rig.activity.running == 1, 3)

    async def progress() -> Any:
        return (await rig.job("g")).progress

    assert await eventually(progress, 3) == {"percent": 40}
    release.set()
    await eventually(lambda: rig.count("completed") == 1, 3)


async def test_a_processor_error_inside_a_slot_does_not_stop_the_worker(rig: Rig) -> None:
    async def flaky(job: Job) -> str:
        if job.id == "bad":
            raise ValueError("boom")
        return "ok"

    worker = await rig.start(rig.tracked(flaky), concurrency=2)
    await rig.queue.add("n", {}, {"jobId": "bad"})
    await rig.queue.add("n", {}, {"jobId": "good"})
    await eventually(lambda: rig.count("completed") == 1 and rig.count("failed") == 1, 5)
    assert worker.running
    assert await rig.state("good") == "completed"


def test_the_lean_loop_runs_only_on_the_checked_bullmq_release(monkeypatch: Any) -> None:
    """An upgrade of bullmq fails here first; the product then falls back by itself."""
    assert bullmq_version() == TESTED_BULLMQ, (
        f"bullmq {bullmq_version()} is installed; worker/lean.py was checked against "
        f"{TESTED_BULLMQ}: run this suite, review LeanWorker against the new Worker, "
        "then update TESTED_BULLMQ"
    )
    assert worker_class("lean") is LeanWorker
    assert worker_class("bullmq") is Worker
    monkeypatch.setattr(lean, "bullmq_version", lambda: "99.0.0")
    assert worker_class("lean") is Worker


def test_a_lean_worker_refuses_autorun() -> None:
    try:
        LeanWorker(QUEUE, _sleep_for, {"connection": "redis://127.0.0.1:1/0"})
    except ValueError as exc:
        assert "autorun=False" in str(exc)
    else:  # pragma: no cover - the assertion is the test
        raise AssertionError("LeanWorker accepted autorun")


async def test_a_job_whose_data_cannot_be_read_is_reported_and_the_others_run(rig: Rig) -> None:
    await rig.queue.pause()
    await rig.queue.addBulk(
        [{"name": "n", "data": {}, "opts": {"jobId": f"o{i}"}} for i in range(6)]
    )
    await rig.queue.client.hset(rig.queue.toKey("o2"), "data", "{not json")
    worker = await rig.start(rig.tracked(_sleep_for), concurrency=1)
    await rig.queue.resume()
    await eventually(lambda: rig.count("completed") == 5, 10)
    assert "o2" not in rig.activity.started
    assert rig.count("error") >= 1
    assert worker.running
