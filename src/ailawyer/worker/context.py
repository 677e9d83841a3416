"""What a processor receives, and what a processor is.

A processor is a function of one `JobContext`. Where it runs is the queue's
`executor` (docs/adding-a-queue.md): an `async def` on the event loop (await,
never block), a plain `def` in the worker's thread pool (it may block without
stopping lock renewal), or a top-level function in a child process
(`executor="process"`, for CPU-bound work). It returns something JSON can store
(BullMQ keeps it as the job's return value), or raises: any exception is a
failed attempt that is retried; `bullmq.UnrecoverableError` fails the job at
once (bad payload, missing record, no permission).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Generic, TypeAlias, TypeVar

from ailawyer.queues.payloads import Payload

if TYPE_CHECKING:
    from ailawyer.config import Settings
    from ailawyer.db.engine import Database
    from ailawyer.queues.producer import QueueProducer

P = TypeVar("P", bound=Payload)

# A progress value: a percentage (0 to 100) or a small JSON object of your own.
Progress: TypeAlias = int | dict[str, Any]


class Cancellation:
    """Turns true when the job is cancelled, or its attempt ran out of time.

    `if ctx.cancelled:` works from any thread (a thread processor should look at
    it between steps: a thread cannot be stopped from outside), and
    `await ctx.cancelled` waits for it in async code. An async processor does not
    need either: it is cancelled at its next `await`.
    """

    __slots__ = ("_flag", "_lock", "_waiters", "reason")

    def __init__(self) -> None:
        self._flag = False
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        # "cancelled" or "timeout", once set.
        self.reason: str | None = None

    def __bool__(self) -> bool:
        return self._flag

    def set(self, reason: str) -> None:
        with self._lock:
            if self._flag:
                return
            self.reason = reason
            self._flag = True
            waiters, self._waiters = self._waiters, []
        for loop, event in waiters:
            loop.call_soon_threadsafe(event.set)

    def __await__(self) -> Generator[Any, None, None]:
        return self._wait().__await__()

    async def _wait(self) -> None:
        event = asyncio.Event()
        with self._lock:
            if self._flag:
                return
            self._waiters.append((asyncio.get_running_loop(), event))
        await event.wait()


def _no_progress(_value: Progress) -> None:
    return None


@dataclass(frozen=True)
class WorkerResources:
    """What the worker process lends its processors: its settings, its database,
    and a producer for the queues it knows (to enqueue follow-up jobs, or, for
    maintenance, to clean the queues). Not in a child process (`executor=
    "process"`): a child opens what it needs itself."""

    settings: Settings
    database: Database
    producer: QueueProducer


@dataclass(frozen=True)
class JobContext(Generic[P]):
    """One run of one job. `data` is already validated against the queue's model."""

    id: str
    queue: str
    data: P
    # 1 on the first run; `attempts` is how many runs BullMQ allows in total.
    attempt: int
    attempts: int
    # The raw `bullmq.Job` (on the event loop and in threads; None in a child
    # process). Prefer `report_progress` to `job.updateProgress`.
    job: Any = None
    cancelled: Cancellation = field(default_factory=Cancellation)
    # The worker's database and queues (None in a child process).
    resources: WorkerResources | None = field(default=None, repr=False)
    _progress: Callable[[Progress], None] = field(default=_no_progress, repr=False)

    def need_resources(self) -> WorkerResources:
        """`resources`, or a clear error where there are none (a child process)."""
        if self.resources is None:
            raise RuntimeError(
                "this processor needs the worker's resources (not a process executor)"
            )
        return self.resources

    def report_progress(self, value: Progress) -> None:
        """Tell the job's owner how far it is: stored as BullMQ's progress and sent
        to their browser (`job:progress`). Never blocks; call it as often as you
        like, from any executor: updates keep their order and are sent at most
        about ten times a second (the latest value wins)."""
        check_progress(value)
        self._progress(value)


def check_progress(value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int | dict):
        raise TypeError("progress must be a whole number (0 to 100) or a dict")
    if isinstance(value, int) and not 0 <= value <= 100:
        raise ValueError(f"progress must be from 0 to 100, not {value}")


Processor: TypeAlias = Callable[[JobContext[Any]], Any]
