"""Where a processor runs: the event loop, a thread, or a child process.

A queue's `executor` says it (`QueueSpec.executor`); left unset, the function
decides: `async def` runs on the event loop, a plain `def` in the thread pool.
`"process"` runs a top-level function in the process pool (`worker.processes`),
for CPU-bound work. A spec whose executor does not fit its processor stops the
worker at start, naming the queue.

The pools are sized from the queues that use them: the thread pool has as many
threads as the thread queues' concurrencies add up to, the process pool as many
children as the process queues'.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from ailawyer.queues.definitions import Executor, QueueSpec
from ailawyer.worker.context import Processor
from ailawyer.worker.processes import ensure_importable

T = TypeVar("T")


def is_async_callable(function: Any) -> bool:
    """An `async def` function, or an object whose `__call__` is one."""
    return inspect.iscoroutinefunction(function) or inspect.iscoroutinefunction(
        type(function).__call__
    )


def resolve_executor(spec: QueueSpec, processor: Processor) -> Executor:
    """The executor a queue's jobs run on; ValueError if spec and processor disagree."""
    is_async = is_async_callable(processor)
    if spec.executor is None:
        return "async" if is_async else "thread"
    if spec.executor == "async" and not is_async:
        raise ValueError(f"queue {spec.name!r}: executor 'async' needs an `async def` processor")
    if spec.executor == "thread" and is_async:
        raise ValueError(f"queue {spec.name!r}: executor 'thread' needs a plain `def` processor")
    if spec.executor == "process":
        try:
            ensure_importable(processor)
            ensure_importable(spec.payload)
        except (ValueError, ImportError) as exc:
            raise ValueError(f"queue {spec.name!r}: executor 'process': {exc}") from None
    return spec.executor


class ThreadPool:
    """A bounded pool for plain-function processors, counting what still runs.

    A thread cannot be cancelled: after a timeout, a cancel or a forced shutdown
    the job's thread runs on until its function returns (a processor should look
    at `ctx.cancelled`). The runner asks `busy` at shutdown and ends the process
    without waiting for such threads.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._executor = ThreadPoolExecutor(max_workers=size, thread_name_prefix="ailawyer-job")
        self._busy = 0
        self._lock = threading.Lock()

    @property
    def busy(self) -> int:
        return self._busy

    def _track(self, call: Callable[[], T]) -> T:
        with self._lock:
            self._busy += 1
        try:
            return call()
        finally:
            with self._lock:
                self._busy -= 1

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        # The context (log bindings) travels with the call, as in asyncio.to_thread.
        context = contextvars.copy_context()
        call = functools.partial(context.run, function, *args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._track, call)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
