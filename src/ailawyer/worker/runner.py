"""The worker process: owns every connection, BullMQ worker and background task.

Start: first heartbeat (waits for Redis), the settings subscription, one BullMQ
`Worker` per queue (`autorun=False`, its `run()` awaited as a task we own), then
"Worker started". Stop, on SIGINT/SIGTERM ("Received shutdown signal"):

1. pause every worker: no new jobs are fetched, in-flight jobs keep running and
   their locks keep being renewed;
2. wait for them up to SHUTDOWN_TIMEOUT;
3. close the workers, forcing it if jobs are left: those stay `active` until
   their lock expires, then another worker recovers them as stalled;
4. close the settings subscription, the heartbeat (deleting the key), the
   emitter, the metrics endpoint, the database and Redis; "All workers closed";
   exit 0.

A second signal ends the process at once. Every Redis call made while stopping
is bounded in time: the worker's clients never give up on their own.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bullmq import Queue, Worker
from redis.asyncio import Redis

from ailawyer.config import Settings
from ailawyer.db.engine import Database
from ailawyer.errors import RegistryError, StartupError
from ailawyer.heap import freeze_startup_heap
from ailawyer.logs import create_logger, trace
from ailawyer.presence import beat, new_worker_id, stop_beating
from ailawyer.pubsub import Subscription
from ailawyer.queues.client_names import node_client_name
from ailawyer.queues.definitions import QueueSpec
from ailawyer.queues.options import queue_options, worker_options
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_schedules
from ailawyer.queues.schedules import ScheduleSpec
from ailawyer.realtime.emitter import SocketEmitter, get_socket_emitter
from ailawyer.redis import get_queue_connection, get_worker_connection
from ailawyer.redis_checks import require_sentinels
from ailawyer.services import settings as settings_service
from ailawyer.tracing import queue_tracing
from ailawyer.version import app_version
from ailawyer.worker.bullmq_connection import bullmq_worker_redis
from ailawyer.worker.cancellation import CancelMarkers, InFlight
from ailawyer.worker.context import WorkerResources
from ailawyer.worker.events import listen
from ailawyer.worker.execution import JobExecutor
from ailawyer.worker.executors import ThreadPool
from ailawyer.worker.lean import worker_class
from ailawyer.worker.metrics import WorkerMetrics
from ailawyer.worker.notify import JobNotifier
from ailawyer.worker.processes import ProcessPool
from ailawyer.worker.registry import QueueBinding, load_bindings
from ailawyer.worker.schedules import ScheduleRuns, reconcile

log = create_logger("worker")

SIGNALS = (signal.SIGINT, signal.SIGTERM)
CLOSE_STEP_TIMEOUT_S = 3.0
POLL_S = 0.02


async def _poll_until(condition: Callable[[], bool], deadline: float | None) -> bool:
    """Wait until `condition()` holds or the monotonic `deadline` passes.

    BullMQ's worker offers no event for "running" or "no job in flight"; polling
    its state every few milliseconds is the honest way to wait for it.
    """
    while not condition():
        if deadline is not None and time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_S)
    return True


def _log_loop_exception(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    error = context.get("exception")
    task = context.get("task") or context.get("future")
    log.error(
        "asyncio.unhandled_error",
        detail=context.get("message"),
        task=task.get_name() if isinstance(task, asyncio.Task) else None,
        exc_info=error if isinstance(error, BaseException) else None,
    )


def _log_task_end(task: asyncio.Task[Any]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is not None:
        log.error("worker.task_failed", task=task.get_name(), exc_info=error)


async def _bounded(step: str, awaitable: Awaitable[Any]) -> None:
    """Run one shutdown step; a failure or a hang is logged and the shutdown goes on."""
    try:
        async with asyncio.timeout(CLOSE_STEP_TIMEOUT_S):
            await awaitable
    except Exception as exc:
        log.warning("shutdown.step_failed", step=step, error=type(exc).__name__)


class WorkerRunner:
    def __init__(
        self,
        settings: Settings,
        bindings: list[QueueBinding],
        schedules: tuple[ScheduleSpec, ...] = (),
    ) -> None:
        self.settings = settings
        self.bindings = bindings
        self.schedules = schedules
        self.worker_id = new_worker_id()
        self.started_at = time.time()
        self.version = app_version()
        self.deployment = settings.deployment
        self.queue_names = [binding.spec.name for binding in bindings]
        self.metrics = WorkerMetrics(self.queue_names)
        # Each pool as large as the concurrencies of the queues that use it add up to.
        threads = self._slots("thread")
        processes = self._slots("process")
        self.threads = ThreadPool(threads) if threads else None
        self.processes = (
            ProcessPool(processes, json_logs=settings.is_production) if processes else None
        )
        self.in_flight = InFlight()
        self.tracing = queue_tracing(settings)
        self.worker_class = worker_class(settings.worker_loop)
        self.workers: list[Worker] = []
        self.run_tasks: list[asyncio.Task[Any]] = []
        self.background: list[asyncio.Task[Any]] = []
        self.control: Redis | None = None
        self.database: Database | None = None
        self.emitter: SocketEmitter | None = None
        self.producer: QueueProducer | None = None
        self.signals = 0
        self.stop_requested_at: float | None = None
        self.stopping = asyncio.Event()
        # Set when something could not be closed (a job thread still running, a
        # close that hung): the process then ends without waiting for it.
        self.unfinished = False

    def concurrency(self, spec: QueueSpec) -> int:
        return spec.concurrency or self.settings.worker_concurrency

    def _slots(self, executor: str) -> int:
        return sum(self.concurrency(b.spec) for b in self.bindings if b.executor == executor)

    # -- lifecycle ---------------------------------------------------------------

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_log_loop_exception)
        for sig in SIGNALS:
            loop.add_signal_handler(sig, self._on_signal, sig)
        code = 0
        try:
            code = await self._start_then_supervise()
        except StartupError as exc:
            log.error("worker.start_failed", error=str(exc))
            code = 1
        except Exception:
            log.exception("worker.start_failed")
            code = 1
        finally:
            await self._shutdown()
            for sig in SIGNALS:
                loop.remove_signal_handler(sig)
        log.info("All workers closed", exit_code=code)
        return code

    async def _start_then_supervise(self) -> int:
        starting = asyncio.create_task(self._start(), name="start")
        stop = asyncio.create_task(self.stopping.wait(), name="stop-wait")
        try:
            await asyncio.wait({starting, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not starting.done():  # a signal while waiting for Redis
                starting.cancel()
                await asyncio.gather(starting, return_exceptions=True)
                return 0
            starting.result()
            log.info(
                "Worker started",
                workerId=self.worker_id,
                queues=self.queue_names,
                concurrency={b.spec.name: self.concurrency(b.spec) for b in self.bindings},
                executors={b.spec.name: b.executor for b in self.bindings},
                prefix=self.settings.bullmq_prefix,
                eventLoop=type(asyncio.get_running_loop()).__module__.split(".")[0],
                workerLoop="lean" if self.worker_class is not Worker else "bullmq",
                frozenObjects=freeze_startup_heap(),
            )
            done, _ = await asyncio.wait(
                {stop, *self.run_tasks}, return_when=asyncio.FIRST_COMPLETED
            )
            if stop in done:
                return 0
            # BullMQ's run() only returns on its own after an internal error.
            crashed = [task.get_name() for task in done]
            log.error("worker.stopped_unexpectedly", tasks=crashed)
            return 1
        finally:
            stop.cancel()

    async def _start(self) -> None:
        settings = self.settings
        # A Sentinel URL whose sentinels do not answer, or do not know its
        # master, is a configuration error: stop instead of waiting forever.
        await require_sentinels(settings.redis)
        self.control = get_worker_connection(settings.redis)
        self.database = Database(settings.effective_database_url)
        self.emitter = get_socket_emitter(settings.redis, channel=self.deployment.socketio_channel)
        notifier = JobNotifier(self.database, self.emitter)
        markers = CancelMarkers(self.control, self.deployment)
        specs = tuple(binding.spec for binding in self.bindings)
        # Processors that need the database or a queue (maintenance, follow-up jobs).
        self.producer = QueueProducer(
            get_queue_connection(settings.redis),
            specs,
            prefix=settings.bullmq_prefix,
            tracing=self.tracing,
        )
        resources = WorkerResources(
            settings=settings, database=self.database, producer=self.producer
        )
        runs = ScheduleRuns(self.control, self.deployment, {s.id for s in self.schedules})
        if settings.worker_metrics_port:
            try:
                self.metrics.serve(settings.worker_metrics_port)
            except OSError as exc:
                raise StartupError(
                    f"WORKER_METRICS_PORT {settings.worker_metrics_port}: {exc.strerror or exc}"
                ) from exc
        # The first beat waits for Redis (the client never gives up): "started"
        # then means reachable.
        await self._beat()
        self._spawn(self._heartbeat(), "heartbeat")
        reload_settings = settings_service.reloader(self.database)

        async def resync() -> None:
            await reload_settings()
            await markers.resync(self.in_flight)

        subscription = Subscription(
            self.control,
            {
                self.deployment.settings_channel: settings_service.on_message,
                self.deployment.cancel_channel: self.in_flight.on_message,
            },
            resync=resync,
        )
        self._spawn(subscription.run(), "control-channels")
        await self._apply_rate_limits()
        await reconcile(
            self.control,
            self.deployment,
            self.producer.queues,
            {spec.name: spec for spec in specs},
            self.schedules,
        )
        if self.processes is not None:
            self.processes.start()
        for binding in self.bindings:
            self._add_worker(binding, notifier, markers, resources, runs)
        # run() names its connections first; a worker closed before that would
        # leave them open. "started" therefore means every worker is running.
        await _poll_until(lambda: all(worker.running for worker in self.workers), None)

    async def _apply_rate_limits(self) -> None:
        """Each queue's declared rate limit as BullMQ's global one (the queue's meta),
        which every worker of the queue obeys, Node ones included; a queue declared
        without one has it removed."""
        connection = get_queue_connection(self.settings.redis)
        try:
            for binding in self.bindings:
                queue = Queue(
                    binding.spec.name,
                    queue_options(connection=connection, prefix=self.settings.bullmq_prefix),
                )
                limit = binding.spec.rate_limit
                if limit is None:
                    await queue.removeGlobalRateLimit()
                else:
                    await queue.setGlobalRateLimit(limit.max, limit.duration_ms)
        finally:
            await connection.aclose()

    def _add_worker(
        self,
        binding: QueueBinding,
        notifier: JobNotifier,
        markers: CancelMarkers,
        resources: WorkerResources,
        runs: ScheduleRuns,
    ) -> None:
        spec = binding.spec
        assert self.emitter is not None
        executor = JobExecutor(
            spec,
            binding.processor,
            binding.executor,
            notifier=notifier,
            emitter=self.emitter,
            metrics=self.metrics,
            in_flight=self.in_flight,
            markers=markers,
            resources=resources,
            runs=runs,
            threads=self.threads,
            processes=self.processes,
            tracing=self.tracing,
        )
        # Named Node BullMQ's way, so that its getWorkers (and Bull Board) list us.
        client_name = node_client_name(self.settings.bullmq_prefix, spec.name, self.worker_id)
        options = worker_options(
            self.settings,
            connection=bullmq_worker_redis(self.settings.redis, name=client_name),
            concurrency=self.concurrency(spec),
            prefix=self.settings.bullmq_prefix,
            rate_limit=spec.rate_limit,
            name=self.worker_id,
        )
        worker = self.worker_class(spec.name, executor, options)
        # The Python port would rename them `{prefix}:{queue}:w:{name}` in run().
        worker.clientName = client_name
        listen(worker, spec, self.metrics)
        self.workers.append(worker)
        task = asyncio.create_task(worker.run(), name=f"bullmq:{spec.name}")
        task.add_done_callback(_log_task_end)
        self.run_tasks.append(task)

    def _spawn(self, coroutine: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coroutine)
        task.set_name(name)
        task.add_done_callback(_log_task_end)
        self.background.append(task)

    def _on_signal(self, sig: signal.Signals) -> None:
        self.signals += 1
        if self.signals > 1:
            log.warning("shutdown.forced", signal=sig.name)
            logging.shutdown()
            os._exit(128 + sig.value)
        log.info("Received shutdown signal", signal=sig.name)
        self.stop_requested_at = time.monotonic()
        self.stopping.set()

    # -- background ------------------------------------------------------------------

    def _record(self) -> dict[str, Any]:
        """This worker as `GET /api/admin/workers` shows it (`presence` has the layout)."""
        running = {worker.name: len(worker.jobs) for worker in self.workers}
        queues = [
            {
                "name": binding.spec.name,
                "concurrency": self.concurrency(binding.spec),
                "inFlight": running.get(binding.spec.name, 0),
            }
            for binding in self.bindings
        ]
        return {
            "workerId": self.worker_id,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "queues": queues,
            "inFlight": sum(queue["inFlight"] for queue in queues),
            "startedAt": self.started_at,
            "version": self.version,
        }

    async def _beat(self) -> None:
        assert self.control is not None
        record = self._record()
        ttl = self.settings.worker_heartbeat_ttl_s
        await beat(self.control, self.deployment, self.worker_id, ttl, record)

    async def _heartbeat(self) -> None:
        interval = self.settings.worker_heartbeat_ttl_s / 3
        while True:
            await asyncio.sleep(interval)
            try:
                async with asyncio.timeout(interval):
                    await self._beat()
            except Exception as exc:
                log.warning("heartbeat.failed", error=type(exc).__name__)
            else:
                trace(log, "heartbeat.sent", workerId=self.worker_id)

    # -- shutdown ----------------------------------------------------------------------

    async def _shutdown(self) -> None:
        await self._close_workers()
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        if self.control is not None:
            await _bounded("heartbeat", stop_beating(self.control, self.deployment, self.worker_id))
        if self.processes is not None:
            await _bounded("processes", self.processes.close())
        if self.producer is not None:
            await _bounded("producer", self._close_producer(self.producer))
        if self.emitter is not None:
            await _bounded("emitter", self.emitter.close())
        await _bounded("metrics", asyncio.to_thread(self.metrics.close))
        if self.database is not None:
            await _bounded("database", self.database.dispose())
        if self.control is not None:
            await _bounded("redis", self.control.aclose())
        if self.threads is not None:
            self.threads.shutdown()
            if self.threads.busy:
                log.warning("shutdown.threads_abandoned", count=self.threads.busy)
                self.unfinished = True

    async def _close_workers(self) -> None:
        if not self.workers:
            return
        started = self.stop_requested_at or time.monotonic()
        deadline = started + self.settings.shutdown_timeout
        # Stopped during start: let run() name its connections before closing.
        await _poll_until(
            lambda: all(worker.running or task.done() for worker, task in self._pairs()),
            started + CLOSE_STEP_TIMEOUT_S,
        )
        for worker in self.workers:
            await worker.pause(True)  # do_not_wait_active: stop fetching, keep locks
        await _poll_until(lambda: not self._in_flight(), deadline)
        left = self._in_flight()
        if left:
            log.warning("shutdown.timeout", jobIds=left, timeout_s=self.settings.shutdown_timeout)
        closing = [asyncio.ensure_future(w.close(force=bool(left))) for w in self.workers]
        _, pending = await asyncio.wait([*closing, *self.run_tasks], timeout=CLOSE_STEP_TIMEOUT_S)
        if pending:
            # close() shields itself against cancellation; do not wait for it.
            log.warning("shutdown.close_incomplete", pending=len(pending))
            self.unfinished = True
        for task in self.run_tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.error("worker.run_failed", task=task.get_name(), exc_info=task.exception())

    @staticmethod
    async def _close_producer(producer: QueueProducer) -> None:
        await producer.close()
        await producer.connection.aclose()

    def _pairs(self) -> list[tuple[Worker, asyncio.Task[Any]]]:
        return list(zip(self.workers, self.run_tasks, strict=True))

    def _in_flight(self) -> list[str]:
        return [str(job.id) for worker in self.workers for job, _token in list(worker.jobs)]


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    try:
        import uvloop
    except ImportError:  # pragma: no cover - no uvloop on Windows
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


def run_worker(settings: Settings) -> int:
    """Run until a signal; returns the exit code."""
    try:
        bindings = load_bindings(settings.extra_queue_modules)
        schedules = load_schedules(
            settings.extra_queue_modules, tuple(binding.spec for binding in bindings)
        )
    except RegistryError as exc:
        log.error("worker.misconfigured", error=str(exc))
        return 2
    with asyncio.Runner(loop_factory=_loop_factory()) as loop_runner:
        runner = WorkerRunner(settings, bindings, schedules)
        code = loop_runner.run(runner.run())
        if runner.unfinished:
            # A job thread or a hung close would keep the interpreter alive; the
            # jobs concerned are recovered as stalled by another worker.
            logging.shutdown()
            sys.stdout.flush()
            os._exit(code)
    return code
