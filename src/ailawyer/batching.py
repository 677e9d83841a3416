"""Group calls: run what concurrent tasks ask for at the same moment as one batch.

A busy worker finishes many jobs at once, and each wants the same kind of round
trip (an INSERT, a PUBLISH). `GroupCall` lets the first caller run its item at
once, alone; callers that arrive while that runs wait for it and then run
together, as one batch (the group-commit pattern of databases). Each caller gets
its own result back, and only once its batch is done; an error in a batch is
raised in every caller of that batch, as if each had failed alone. An idle
process waits for nothing; a busy one pays one round trip per batch.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCall(Generic[T, R]):
    """`await group(item)` runs `run_batch([item, ...])` together with its neighbours.

    `run_batch` returns one result per item, in order.
    """

    def __init__(
        self, run_batch: Callable[[list[T]], Awaitable[Sequence[R]]], *, max_batch: int
    ) -> None:
        self._run_batch = run_batch
        self._max_batch = max_batch
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._lock = asyncio.Lock()

    async def __call__(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        try:
            while not future.done():
                async with self._lock:
                    if not future.done():
                        batch = self._pending[: self._max_batch]
                        del self._pending[: self._max_batch]
                        await self._run(batch)
        except BaseException:
            if future.done() and not future.cancelled():
                future.exception()  # retrieved: this task ends with its own error
            raise
        return future.result()

    async def _run(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._run_batch([item for item, _ in batch])
        except Exception as exc:
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        except BaseException:
            # Cancelled (forced shutdown): nobody may wait for a batch that never comes.
            for _, future in batch:
                if not future.done():
                    future.set_exception(RuntimeError("batch interrupted"))
            raise
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
