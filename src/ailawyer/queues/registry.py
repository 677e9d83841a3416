"""The queues and schedules a process knows: `ALL_QUEUES` and `ALL_SCHEDULES`, plus
extra modules from configuration.

An extra module (WORKER_EXTRA_QUEUES) defines `QUEUES: list[QueueSpec]`, for the
worker `PROCESSORS: dict[str, processor]`, and may define `SCHEDULES:
list[ScheduleSpec]`. App and worker load the same lists, so retry lookup, the
dashboard and the schedules view see every queue a worker runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from pydantic import ValidationError

from ailawyer.errors import RegistryError
from ailawyer.queues.definitions import ALL_QUEUES, QueueSpec
from ailawyer.queues.schedules import ALL_SCHEDULES, ScheduleSpec


def load_module(path: str) -> ModuleType:
    try:
        return importlib.import_module(path)
    except Exception as exc:  # an error at import (a bad spec, a syntax error) says why
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


def load_schedules(
    extra_modules: list[str], specs: tuple[QueueSpec, ...]
) -> tuple[ScheduleSpec, ...]:
    """Every declared schedule, checked against the queues: a schedule of an
    unknown queue, or whose data the queue's payload model refuses, is named."""
    schedules = list(ALL_SCHEDULES)
    for path in extra_modules:
        for schedule in getattr(load_module(path), "SCHEDULES", ()):
            if not isinstance(schedule, ScheduleSpec):
                raise RegistryError(f"{path}.SCHEDULES must hold ScheduleSpec objects")
            schedules.append(schedule)
    by_name = {spec.name: spec for spec in specs}
    seen: set[str] = set()
    for schedule in schedules:
        if schedule.id in seen:
            raise RegistryError(f"schedule {schedule.id!r} declared twice")
        seen.add(schedule.id)
        spec = by_name.get(schedule.queue)
        if spec is None:
            raise RegistryError(f"schedule {schedule.id!r}: unknown queue {schedule.queue!r}")
        try:
            spec.payload.model_validate(schedule.job_data())
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'data'}: {err['msg']}"
                for err in exc.errors(include_url=False, include_input=False)
            )
            raise RegistryError(
                f"schedule {schedule.id!r}: data invalid for queue {spec.name!r}: {problems}"
            ) from None
    return tuple(schedules)
