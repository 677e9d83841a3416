"""The worker's fetch loop: bullmq's `Worker` with one loop per concurrency slot.

bullmq-py's own `Worker.run` keeps one set of tasks (fetches and jobs) and, each
time round, waits for the first of them to finish (`asyncio.wait` over the whole
set), then starts a fresh task per fetched job and per free slot. Every job costs
two Redis calls (`moveToFinished`, then `moveToActive`) and two new tasks, and
every finished job a pass over all of them. Node BullMQ instead finishes a job and
fetches the next in one script call (`moveToFinished` with `fetchNext`).

`LeanWorker` does what Node does, with bullmq's own pieces: its Lua scripts, its
`getNextJob` (the blocking wait on the queue's marker, rate limits, delayed jobs),
its lock manager, stalled checker, events and `close`/`pause` contract. Only the
loop is ours:

- each concurrency slot is one task for the worker's lifetime: it processes its
  job, completes it with `fetchNext` and goes straight on with the job that call
  returned; only when none came back does it fetch again;
- when the queue is drained, one slot blocks on the marker (bullmq's
  `getNextJob`) and the others park. The slot that gets a job wakes one parked
  slot; a woken slot that gets one too wakes two. A single job so costs one
  empty fetch (the woken slot's, which then blocks), and a burst of n jobs
  reaches the slots in about log2(n) fetch round trips instead of n, with at
  most about n/2 empty fetches at its end;
- after a fetch refused by the rate limit, the blocking wait ends with the
  limit's window, as in Node (bullmq-py waits its whole `drainDelay`);
- the completions of slots that finish in the same turn of the event loop go to
  Redis as one pipeline (`Completions`);
- a failed attempt goes through bullmq's `Job.moveToFailed` unchanged (without
  `fetchNext`: failures are rare, and its retry path has no next job to give).

It relies on `Worker` internals (`getNextJob`, `nextJobFromJobData`, `waiting`,
`drained`, `lockManager`, `backend.moveToCompleted`), so it is only used with the
bullmq release it was checked against (`TESTED_BULLMQ`); with any other, the
worker logs a warning and runs bullmq's own `Worker`. The conformance suite
(tests/integration/worker/conformance) runs the same behaviours against both
loops and checks the release, so an upgrade fails there first.
`WORKER_LOOP=bullmq` switches back to bullmq's own loop, for diagnosis.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable
from functools import partial
from importlib.metadata import version
from typing import Any, Final, Literal

from bullmq import Worker
from bullmq.custom_errors import DelayedError, UnrecoverableError, WaitingChildrenError
from bullmq.job import Job
from bullmq.scripts import raw2NextJobData
from bullmq.timer import Timer
from redis.exceptions import NoScriptError

from ailawyer.logs import create_logger

log = create_logger("worker")

# The bullmq release whose Worker internals this module was checked against.
TESTED_BULLMQ: Final = "3.4.4"

WorkerLoop = Literal["lean", "bullmq"]

# After an unexpected error in a slot (bullmq's loop waits as long).
RETRY_DELAY_S: Final = 0.1


def bullmq_version() -> str:
    return version("bullmq")


class LeanWorker(Worker):  # type: ignore[misc]  # bullmq ships no type hints
    """bullmq's `Worker` with a loop per slot and `fetchNext` on completion."""

    running: bool
    paused: bool
    closing: bool
    blockUntil: int
    limitUntil: int

    def __init__(self, name: str, processor: Any, opts: dict[str, Any]) -> None:
        if opts.get("autorun", True):
            raise ValueError("LeanWorker needs autorun=False: its run() is awaited by its owner")
        super().__init__(name, processor, opts)
        self._parked: deque[asyncio.Future[None]] = deque()
        self._token_postfix = 0
        # Slots between fetching and finishing a job (pause() waits for them).
        self._busy = 0
        self._quiet = asyncio.Event()
        self._quiet.set()
        self._completions = Completions(self.scripts)

    # -- the loop --------------------------------------------------------------------

    async def run(self) -> None:
        if self.running:
            raise Exception("Worker is already running")
        await self._ensure_client_names()
        self.lockManager.start()
        self.stalledCheckTimer = Timer(
            self.opts.get("stalledInterval") / 1000, self.runStalledJobsCheck, self.emit
        )
        self.running = True
        slots = {asyncio.ensure_future(self._slot()) for _ in range(int(self.opts["concurrency"]))}
        # bullmq's close() waits for (or, forced, cancels) `processing`.
        self.processing = slots
        try:
            await asyncio.wait(slots)
            for slot in slots:
                if not slot.cancelled() and slot.exception() is not None:
                    raise slot.exception()  # type: ignore[misc]
        finally:
            self.running = False
            if not self.closing:
                for slot in slots:
                    slot.cancel()
                if self.waiting and not self.waiting.done():
                    self.waiting.cancel()
                await asyncio.gather(*slots, return_exceptions=True)
            self.processing = set()
            if self.stalledCheckTimer is not None:
                with contextlib.suppress(Exception):  # bullmq's run() ignores it too
                    self.stalledCheckTimer.stop()
            await self.lockManager.close()

    async def _slot(self) -> None:
        """One concurrency slot, for the worker's lifetime; an unexpected error
        (a job whose data cannot be read, say) is reported and the slot goes on."""
        while True:
            try:
                await self._serve()
                return
            except Exception as err:
                self.emit("error", err)
                await asyncio.sleep(RETRY_DELAY_S)

    async def _serve(self) -> None:
        job: Job | None = None
        while True:
            if job is not None:  # a job in hand is always run, even when stopping
                job = await self._run_job(job)
                continue
            if self.closing:
                return
            if self.paused:
                await self.resume_event.wait()
                continue
            job = await self._fetch()

    async def _fetch(self) -> Job | None:
        """The next job, or None when the worker pauses or closes meanwhile."""
        woken = False
        while not (self.closing or self.paused):
            if self.waiting is not None:  # another slot blocks on the marker
                await self._park()
                woken = True
                continue
            self._token_postfix += 1
            token = f"{self.id}:{self._token_postfix}"
            self._enter()
            try:
                job = await self.retryIfFailed(
                    partial(self.getNextJob, token),
                    {"delay_in_ms": self.opts.get("runRetryDelay"), "only_emit_error": True},
                )
            finally:
                self._leave()
            if job is not None:
                # There may be more: let a parked slot look, two once a woken
                # slot found one as well (a burst, then).
                self._wake(2 if woken else 1)
                return job
            woken = False  # found nothing: what it blocks for next is no burst
            self._hold_for_rate_limit()
        return None

    def _hold_for_rate_limit(self) -> None:
        """After a fetch refused by the rate limit, block on the marker only until
        the limit's window ends (Node BullMQ waits that long; bullmq-py's own loop
        waits the whole drainDelay, 5 s, whatever the window)."""
        if self.limitUntil > 0:
            until = int(time.time() * 1000) + int(self.limitUntil)
            self.blockUntil = max(int(self.blockUntil or 0), until)

    async def _run_job(self, job: Job) -> Job | None:
        """bullmq's `processJob`, completing with `fetchNext`; returns the next job."""
        token = job.token
        next_data: list[Any] | None = None
        self._enter()
        try:
            if "removeOnComplete" not in job.opts and "removeOnComplete" in self.opts:
                job.opts["removeOnComplete"] = self.opts["removeOnComplete"]
            if "removeOnFail" not in job.opts and "removeOnFail" in self.opts:
                job.opts["removeOnFail"] = self.opts["removeOnFail"]
            self.jobs.add((job, token))
            controller = self.lockManager.track_job(
                job.id,
                token,
                int(time.time() * 1000),
                should_create_controller=self._processor_wants_signal,
            )
            if job.deferredFailure:
                await job.moveToFailed(UnrecoverableError(job.deferredFailure), token)
                self.emit("failed", job, UnrecoverableError(job.deferredFailure))
                return None
            if controller is not None:
                result = await self.processor(job, token, controller.signal)
            else:
                result = await self.processor(job, token)
            if not self.forceClosing:
                fetch_next = not (self.closing or self.paused)
                keys, args = self.scripts.moveToCompletedArgs(
                    job, result, job.opts.get("removeOnComplete", False), token, fetch_next
                )
                moved = await self._completions.send(str(job.id), keys, args)
                job.returnvalue = result
                job.attemptsMade = job.attemptsMade + 1
                job.finishedOn = args[1]  # the finished-on timestamp the script got
                next_data = moved if fetch_next else None
            self.emit("completed", job, result)
        except (DelayedError, WaitingChildrenError):
            return None
        except Exception as err:
            try:
                if not self.forceClosing:
                    await job.moveToFailed(err, token)
                self.emit("failed", job, err)
            except Exception as error:
                self.emit("error", error, job)
            return None
        finally:
            self.jobs.discard((job, token))
            self.lockManager.untrack_job(job.id)
            self._leave()
        return await self._next_from(next_data, token)

    async def _next_from(self, data: list[Any] | None, token: str) -> Job | None:
        if data is None:
            return None
        # No job in it still tells the worker it is drained, rate-limited or
        # when the next delayed job is due. (An empty queue answers a bare 0.)
        job_data, job_id, limit_until, delay_until = data
        self._enter()
        try:
            job: Job | None = await self.nextJobFromJobData(
                job_data, job_id, limit_until or 0, delay_until or 0, token
            )
        finally:
            self._leave()
        if job is not None:
            self.emit("active", job, "waiting")
        else:
            self._hold_for_rate_limit()
        return job

    # -- parking -----------------------------------------------------------------------

    async def _park(self) -> None:
        parked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._parked.append(parked)
        try:
            await parked
        finally:
            if not parked.done():  # cancelled (force-close)
                parked.cancel()

    def _wake(self, count: int) -> None:
        while self._parked and count:
            parked = self._parked.popleft()
            if not parked.done():
                parked.set_result(None)
                count -= 1

    def _enter(self) -> None:
        self._busy += 1
        self._quiet.clear()

    def _leave(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._quiet.set()

    # -- bullmq's contract -------------------------------------------------------------

    async def close(self, force: bool = False) -> None:
        self.closing = True
        self._wake(len(self._parked))
        await super().close(force)

    async def pause(self, do_not_wait_active: bool = False) -> None:
        """As bullmq's: stop fetching; unless told not to, wait for the jobs in hand."""
        cancelled = False
        if not self.paused:
            self.paused = True
            self.resume_event.clear()
            if self.waiting and not self.waiting.done():
                self.waiting.cancel()
            self._wake(len(self._parked))
            if not do_not_wait_active:
                quiet = asyncio.ensure_future(self._quiet.wait())
                while True:
                    try:
                        await asyncio.shield(quiet)
                        break
                    except asyncio.CancelledError:
                        cancelled = True
        self.emit("paused")
        if cancelled:
            raise asyncio.CancelledError()


class Completions:
    """`moveToFinished` calls of the slots that finish in one turn of the event
    loop, sent to Redis as one pipeline (one write, one read) instead of one
    round trip each.

    Jobs finish in groups: their notifications are committed together
    (`worker.notify`), so the slots of a group resume in the same turn. Each call
    keeps its own reply: bullmq's error for a lost lock or a missing job goes to
    its own slot, as `Scripts.moveToFinished` raises it. A script Redis no longer
    knows (a restart, SCRIPT FLUSH) is sent again the usual way, which loads it.
    """

    def __init__(self, scripts: Any) -> None:
        self.scripts = scripts
        self.script = scripts.commands["moveToFinished"]
        self.pending: list[tuple[str, list[Any], list[Any], asyncio.Future[Any]]] = []

    def send(self, job_id: str, keys: list[Any], args: list[Any]) -> asyncio.Future[Any]:
        """The next job's data (or None) as `Scripts.moveToFinished` returns it."""
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        if not self.pending:
            loop.call_soon(self._flush)
        self.pending.append((job_id, keys, args, reply))
        return reply

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        sending = asyncio.ensure_future(self._send(batch))
        sending.add_done_callback(_retrieve)

    async def _send(
        self, batch: list[tuple[str, list[Any], list[Any], asyncio.Future[Any]]]
    ) -> None:
        if len(batch) == 1:
            job_id, keys, args, reply = batch[0]
            await _settle(reply, self.scripts.moveToFinished(job_id, keys, args))
            return
        try:
            pipe = self.scripts.redisClient.pipeline(transaction=False)
            for _job_id, keys, args, _reply in batch:
                pipe.evalsha(self.script.sha, len(keys), *keys, *args)
            replies = await pipe.execute(raise_on_error=False)
        except BaseException as exc:
            for *_, reply in batch:
                if not reply.done():
                    reply.set_exception(exc if isinstance(exc, Exception) else RuntimeError(exc))
            if not isinstance(exc, Exception):
                raise
            return
        for (job_id, keys, args, reply), raw in zip(batch, replies, strict=True):
            if reply.done():  # its slot was cancelled (force-close)
                continue
            if isinstance(raw, NoScriptError):
                await _settle(reply, self.scripts.moveToFinished(job_id, keys, args))
            elif isinstance(raw, Exception):
                reply.set_exception(raw)
            elif isinstance(raw, int) and raw < 0:
                reply.set_exception(
                    self.scripts.finishedErrors(
                        {
                            "code": raw,
                            "jobId": job_id,
                            "command": "moveToFinished",
                            "state": "active",
                        }
                    )
                )
            else:
                reply.set_result(raw2NextJobData(raw))


async def _settle(reply: asyncio.Future[Any], call: Awaitable[Any]) -> None:
    try:
        result = await call
    except Exception as exc:
        if not reply.done():
            reply.set_exception(exc)
    else:
        if not reply.done():
            reply.set_result(result)


def _retrieve(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("worker.completions_failed", exc_info=task.exception())


def worker_class(loop: WorkerLoop) -> Any:
    """The `Worker` class for WORKER_LOOP; bullmq's own for a release we did not check."""
    if loop == "bullmq":
        return Worker
    installed = bullmq_version()
    if installed != TESTED_BULLMQ:
        log.warning(
            "worker.loop_fallback",
            reason=f"bullmq {installed} is not the checked {TESTED_BULLMQ}",
            loop="bullmq",
        )
        return Worker
    return LeanWorker
