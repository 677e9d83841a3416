"""The queues a process knows: `ALL_QUEUES` plus extra modules from configuration.

An extra module (WORKER_EXTRA_QUEUES) defines `QUEUES: list[QueueSpec]` and, for
the worker, `PROCESSORS: dict[str, processor]`. App and worker load the same
list, so retry lookup and the dashboard see every queue a worker runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from ailawyer.errors import RegistryError
from ailawyer.queues.definitions import ALL_QUEUES, QueueSpec


def load_module(path: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except ImportError as exc:
        raise RegistryError(f"WORKER_EXTRA_QUEUES: cannot import {path!r}: {exc}") from exc


def load_queues(extra_modules: list[str]) -> tuple[QueueSpec, ...]:
    specs = list(ALL_QUEUES)
    for path in extra_modules:
        for spec in getattr(load_module(path), "QUEUES", ()):
            if not isinstance(spec, QueueSpec):
                raise RegistryError(f"{path}.QUEUES must hold QueueSpec objects")
            specs.append(spec)
    names = [spec.name for spec in specs]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise RegistryError(f"queue names declared twice: {', '.join(sorted(duplicates))}")
    return tuple(specs)
