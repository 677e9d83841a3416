"""The worker's pool of child processes, for `executor="process"` queues.

OCR and PDF work is CPU-bound: in a thread it holds the GIL and slows every other
job of the process, lock renewals included. Such processors run in children
(`worker.child`), one job per child at a time, while the worker's event loop
stays free: it keeps renewing the job's lock and picking up other queues' jobs.

- Children are started when the worker starts (in the background) and reused;
  the pool has as many as the process queues' concurrencies add up to.
- A job's progress and log lines come back over the child's pipe; the log lines
  are written by the worker as its own (same JSON, same file, in order).
- A child that dies during a job (a crash, SIGKILL, the OOM killer) fails that
  attempt with a readable reason (`ChildDied`), which is retried like any
  failure; the worker goes on and a new child takes the dead one's place.
- A timeout or a cancel kills the child at once (the only way to stop CPU-bound
  code) and starts a new one.
- At shutdown, idle children are told to stop; a job still running when the
  worker gives up waiting (SHUTDOWN_TIMEOUT) has its child killed, and BullMQ
  recovers the job as stalled, as for any job.

Nothing is pickled: a processor is named by its module and name, data and
results are JSON, as they are in Redis anyway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
from collections.abc import Callable
from typing import Any, Final

from bullmq import UnrecoverableError

from ailawyer.logs import create_logger, current_level, write_rendered
from ailawyer.worker.context import Progress

log = create_logger("worker.processes")

START_TIMEOUT_S: Final = 60.0
STOP_TIMEOUT_S: Final = 3.0
# One protocol line may carry a large result or log line.
_LINE_LIMIT: Final = 64 * 1024 * 1024


class ChildDied(Exception):
    """The child running a job ended before the job did; the message says how."""


class ProcessorFailed(Exception):
    """The processor raised in the child; `type_name` is what it raised."""

    def __init__(self, type_name: str, message: str) -> None:
        super().__init__(message)
        self.type_name = type_name


def reference(obj: Any) -> str:
    """`module:qualified.name` of a top-level function or class."""
    return f"{obj.__module__}:{obj.__qualname__}"


def ensure_importable(function: Any) -> str:
    """The reference of `function`, if a child can import it by that; else ValueError."""
    qualname = getattr(function, "__qualname__", "")
    module = getattr(function, "__module__", None)
    if not module or not qualname or "<" in qualname:
        raise ValueError("must be a top-level function of an importable module")
    import importlib

    found: Any = importlib.import_module(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if found is not function:
        raise ValueError(f"{module}:{qualname} does not name this function")
    return reference(function)


class Child:
    """One child process and the reader of its pipe."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.pid = process.pid
        self._ready = asyncio.get_running_loop().create_future()
        self._outcome: asyncio.Future[dict[str, Any]] | None = None
        self._on_progress: Callable[[Progress], None] | None = None
        self._reader = asyncio.create_task(self._read(), name=f"child-{self.pid}")

    @property
    def alive(self) -> bool:
        return self.process.returncode is None and not self._reader.done()

    async def ready(self) -> None:
        async with asyncio.timeout(START_TIMEOUT_S):
            await asyncio.shield(self._ready)

    async def _read(self) -> None:
        assert self.process.stdout is not None
        try:
            while True:
                line = await self.process.stdout.readline()
                if not line:
                    break
                try:
                    message = json.loads(line)
                except ValueError:
                    continue
                self._dispatch(message)
        finally:
            code = await self.process.wait()
            died = ChildDied(_how_it_ended(code))
            if not self._ready.done():
                self._ready.set_exception(died)
            if self._outcome is not None and not self._outcome.done():
                self._outcome.set_exception(died)

    def _dispatch(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "log":
            write_rendered(str(message.get("line", "")))
        elif kind == "progress":
            value = message.get("value")
            if self._on_progress is not None and isinstance(value, int | dict):
                with contextlib.suppress(Exception):
                    self._on_progress(value)
        elif kind in ("done", "failed"):
            if self._outcome is not None and not self._outcome.done():
                self._outcome.set_result(message)
        elif kind == "ready" and not self._ready.done():
            self._ready.set_result(None)

    async def run(
        self, message: dict[str, Any], on_progress: Callable[[Progress], None]
    ) -> dict[str, Any]:
        assert self.process.stdin is not None
        self._outcome = asyncio.get_running_loop().create_future()
        self._on_progress = on_progress
        try:
            self.process.stdin.write(json.dumps(message).encode() + b"\n")
            await self.process.stdin.drain()
            return await self._outcome
        except (BrokenPipeError, ConnectionResetError):
            raise ChildDied(_how_it_ended(await self.process.wait())) from None
        finally:
            self._outcome = None
            self._on_progress = None

    def kill(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.kill()

    async def stop(self) -> None:
        """Ask the child to end (stdin closed); kill it if it does not."""
        if self.process.stdin is not None and not self.process.stdin.is_closing():
            self.process.stdin.close()
        try:
            async with asyncio.timeout(STOP_TIMEOUT_S):
                await self.process.wait()
        except TimeoutError:
            self.kill()
            await self.process.wait()
        await asyncio.gather(self._reader, return_exceptions=True)


def _how_it_ended(code: int | None) -> str:
    if code is not None and code < 0:
        return f"Prozess des Auftrags unerwartet beendet (Signal {-code})"
    return f"Prozess des Auftrags unerwartet beendet (Exit-Code {code})"


class ProcessPool:
    """`size` children; `run` takes an idle one, or waits for one."""

    def __init__(self, size: int, *, json_logs: bool) -> None:
        self.size = size
        self.json_logs = json_logs
        self._idle: asyncio.Queue[Child] = asyncio.Queue()
        self._children: set[Child] = set()
        self._spawning: set[asyncio.Task[None]] = set()
        self._closed = False
        self.started = 0

    @property
    def busy(self) -> int:
        return len(self._children) - self._idle.qsize()

    @property
    def pids(self) -> list[int]:
        return sorted(child.pid for child in self._children if child.alive)

    def start(self) -> None:
        """Start every child in the background; jobs wait for the first ready one."""
        for _ in range(self.size):
            self._replace()

    def _replace(self) -> None:
        if self._closed:
            return
        task = asyncio.create_task(self._spawn(), name="child-spawn")
        self._spawning.add(task)
        task.add_done_callback(self._spawning.discard)

    async def _spawn(self) -> None:
        args = [sys.executable, "-m", "ailawyer.worker.child", "--level", current_level()]
        if self.json_logs:
            args.append("--json")
        child: Child | None = None
        try:
            process = await asyncio.create_subprocess_exec(
                *args,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=_LINE_LIMIT,
                env=os.environ.copy(),
            )
            child = Child(process)
            await child.ready()
        except asyncio.CancelledError:
            if child is not None:
                child.kill()
            raise
        except Exception as exc:
            if child is not None:
                child.kill()
            log.error("worker.child_start_failed", error=f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(1.0)  # a broken installation must not spin
            self._replace()
            return
        if self._closed:
            await child.stop()
            return
        log.debug("worker.child_started", pid=child.pid)
        self.started += 1
        self._children.add(child)
        self._idle.put_nowait(child)

    async def run(self, message: dict[str, Any], on_progress: Callable[[Progress], None]) -> Any:
        """Run one job in a child; returns its result, or raises what the job's
        failure is (`ProcessorFailed`, `UnrecoverableError`, `ChildDied`). A
        cancel or timeout of the caller kills the child."""
        child = await self._idle_child()
        while not child.alive:
            self._forget(child)
            self._replace()
            child = await self._idle_child()
        message = {**message, "logLevel": current_level()}
        healthy = False
        try:
            outcome = await child.run(message, on_progress)
            healthy = True
        finally:
            if healthy:
                self._idle.put_nowait(child)
            else:  # cancelled, timed out, or dead: never reuse it
                child.kill()
                self._forget(child)
                self._replace()
        if outcome["type"] == "done":
            return outcome.get("result")
        text = str(outcome.get("message", ""))
        if outcome.get("unrecoverable"):
            raise UnrecoverableError(text)
        raise ProcessorFailed(str(outcome.get("errorType", "Error")), text)

    async def _idle_child(self) -> Child:
        # A job of a process queue only starts when one of its slots is free, so
        # an idle child is there or being started: waiting longer means children
        # cannot start (the log says why), and the attempt fails instead of hanging.
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                return await self._idle.get()
        except TimeoutError:
            raise ChildDied("Kein Prozess für den Auftrag verfügbar") from None

    def _forget(self, child: Child) -> None:
        self._children.discard(child)

    async def close(self) -> None:
        self._closed = True
        for task in list(self._spawning):
            task.cancel()
        await asyncio.gather(*self._spawning, return_exceptions=True)
        children = list(self._children)
        self._children.clear()
        await asyncio.gather(*(child.stop() for child in children), return_exceptions=True)
