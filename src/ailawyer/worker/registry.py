"""Which queues this worker runs, and with which processor.

`ALL_QUEUES` and `PROCESSORS`, plus the `QUEUES`/`PROCESSORS` of every module named
in WORKER_EXTRA_QUEUES. Mismatches stop the worker at start with a message naming
the queue: a spec without a processor would leave its jobs waiting forever, a
processor without a spec would never receive a job, and an executor that does not
fit its processor (`executor="process"` for a function a child cannot import)
would fail every job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ailawyer.errors import RegistryError
from ailawyer.queues.definitions import Executor, QueueSpec
from ailawyer.queues.registry import load_module, load_queues
from ailawyer.worker.context import Processor
from ailawyer.worker.executors import resolve_executor
from ailawyer.worker.processors import PROCESSORS


@dataclass(frozen=True)
class QueueBinding:
    spec: QueueSpec
    processor: Processor
    executor: Executor = "async"


def _extra_processors(path: str) -> dict[str, Processor]:
    declared = getattr(load_module(path), "PROCESSORS", {})
    if not isinstance(declared, Mapping):
        raise RegistryError(f"{path}.PROCESSORS must be a dict of queue name to function")
    found: dict[str, Processor] = {}
    for name, processor in declared.items():
        if not isinstance(name, str) or not callable(processor):
            raise RegistryError(f"{path}.PROCESSORS[{name!r}] must be a function")
        found[name] = processor
    return found


def load_bindings(extra_modules: list[str]) -> list[QueueBinding]:
    """Every queue with its processor, in declaration order."""
    specs = load_queues(extra_modules)
    processors: dict[str, Processor] = dict(PROCESSORS)
    for path in extra_modules:
        for name, processor in _extra_processors(path).items():
            if name in processors:
                raise RegistryError(f"processor for queue {name!r} declared twice ({path})")
            processors[name] = processor
    names = {spec.name for spec in specs}
    missing = sorted(names - processors.keys())
    if missing:
        raise RegistryError(f"queues without a processor: {', '.join(missing)}")
    orphans = sorted(processors.keys() - names)
    if orphans:
        raise RegistryError(f"processors without a queue spec: {', '.join(orphans)}")
    bindings = []
    for spec in specs:
        try:
            executor = resolve_executor(spec, processors[spec.name])
        except ValueError as exc:
            raise RegistryError(str(exc)) from None
        bindings.append(QueueBinding(spec, processors[spec.name], executor))
    return bindings
