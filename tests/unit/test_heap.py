import gc
from collections.abc import Callable, Iterator

import pytest

from ailawyer.heap import YOUNG_THRESHOLD, freeze_startup_heap

CPYTHON_DEFAULT = (700, 10, 10)


@pytest.fixture(autouse=True)
def _restore_collector() -> Iterator[None]:
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


def test_freeze_moves_live_objects_out_of_full_collections() -> None:
    kept = [[index] for index in range(10_000)]  # container objects the collector tracks
    frozen = freeze_startup_heap()
    assert frozen == gc.get_freeze_count() and frozen >= len(kept)
    # A full collection now walks only what was made after the freeze.
    tracked = {id(obj) for obj in gc.get_objects(generation=2)}
    assert not any(id(item) in tracked for item in kept[:100])


def _full_collections(work: Callable[[], None]) -> int:
    count = 0

    def count_full(phase: str, info: dict[str, int]) -> None:
        nonlocal count
        count += phase == "stop" and info["generation"] == 2

    gc.collect()
    gc.callbacks.append(count_full)
    try:
        work()
    finally:
        gc.callbacks.remove(count_full)
    return count


def _bursts() -> None:
    """Objects that live a little while, as a fan-out's packets in flight do: 5,000
    made, then all let go, 200 times."""
    for _ in range(200):
        in_flight = [[number] for number in range(5_000)]
        del in_flight


def test_short_lived_objects_no_longer_drive_full_collections() -> None:
    # CPython's default, set here: an app or worker started in this test process
    # earlier has already raised it.
    gc.set_threshold(*CPYTHON_DEFAULT)
    with_default = _full_collections(_bursts)
    freeze_startup_heap()
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD
    tuned = _full_collections(_bursts)
    assert with_default >= 3, with_default  # the bursts do cost full passes by default
    assert tuned < with_default / 3, (tuned, with_default)
