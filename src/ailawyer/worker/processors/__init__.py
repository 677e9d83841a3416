"""Every queue's processor, bound to its `QueueSpec` by name.

To add a queue (docs/adding-a-queue.md): declare its spec in
`ailawyer.queues.definitions`, write `processors/<name>.py`, add one line here.
The worker refuses to start when a spec has no processor or a processor no spec.
"""

from __future__ import annotations

from ailawyer.queues.definitions import maintenance_queue, test_queue
from ailawyer.worker.context import JobContext, Processor
from ailawyer.worker.processors import maintenance, test

PROCESSORS: dict[str, Processor] = {
    test_queue.name: test.process,
    maintenance_queue.name: maintenance.process,
}

__all__ = ["PROCESSORS", "JobContext", "Processor"]
