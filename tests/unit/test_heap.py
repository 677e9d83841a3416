import gc

from ailawyer.heap import freeze_startup_heap


def test_freeze_moves_live_objects_out_of_full_collections() -> None:
    kept = [[index] for index in range(10_000)]  # container objects the collector tracks
    try:
        frozen = freeze_startup_heap()
        assert frozen == gc.get_freeze_count() and frozen >= len(kept)
        # A full collection now walks only what was made after the freeze.
        tracked = {id(obj) for obj in gc.get_objects(generation=2)}
        assert not any(id(item) in tracked for item in kept[:100])
    finally:
        gc.unfreeze()
