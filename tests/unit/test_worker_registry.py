"""Binding queues to processors: one obvious way, and loud mistakes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ailawyer.errors import RegistryError
from ailawyer.queues.definitions import ALL_QUEUES, QueueSpec, RateLimit
from ailawyer.queues.payloads import TestJobData
from ailawyer.worker.processors import PROCESSORS, test
from ailawyer.worker.registry import load_bindings
from tests.fixtures.queues import QUEUES


def test_every_queue_has_its_processor() -> None:
    bindings = load_bindings([])
    assert [b.spec for b in bindings] == list(ALL_QUEUES)
    assert {b.spec.name: b.processor for b in bindings}["test"] is test.process
    assert set(PROCESSORS) == {spec.name for spec in ALL_QUEUES}


def test_extra_modules_add_queues_and_processors() -> None:
    names = [b.spec.name for b in load_bindings(["tests.fixtures.queues"])]
    assert names == [spec.name for spec in (*ALL_QUEUES, *QUEUES)]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            """
            from ailawyer.queues.definitions import QueueSpec
            from ailawyer.queues.payloads import TestJobData
            QUEUES = [QueueSpec(name="lonely", payload=TestJobData, label="x")]
            """,
            "queues without a processor: lonely",
        ),
        ("PROCESSORS = {'ghost': print}", "processors without a queue spec: ghost"),
        ("PROCESSORS = {'test': print}", "processor for queue 'test' declared twice"),
        ("PROCESSORS = {'test': 42}", "must be a function"),
        (
            """
            from ailawyer.queues.definitions import test_queue
            QUEUES = [test_queue]
            """,
            "queue names declared twice: test",
        ),
        (
            """
            from ailawyer.queues.definitions import QueueSpec
            from ailawyer.queues.payloads import TestJobData
            QUEUES = [QueueSpec(name="pdf", payload=TestJobData, label="x", executor="process")]
            PROCESSORS = {"pdf": lambda job: None}
            """,
            "queue 'pdf': executor 'process': must be a top-level function",
        ),
        (
            """
            from ailawyer.queues.definitions import QueueSpec
            from ailawyer.queues.payloads import TestJobData
            QUEUES = [QueueSpec(name="t", payload=TestJobData, label="x", executor="thread")]
            async def run(job): return None
            PROCESSORS = {"t": run}
            """,
            "queue 't': executor 'thread' needs a plain `def` processor",
        ),
        (
            """
            from ailawyer.queues.definitions import QueueSpec
            from ailawyer.queues.payloads import TestJobData
            QUEUES = [QueueSpec(name="a", payload=TestJobData, label="x", executor="async")]
            def run(job): return None
            PROCESSORS = {"a": run}
            """,
            "queue 'a': executor 'async' needs an `async def` processor",
        ),
    ],
)
def test_mismatches_stop_the_worker(
    source: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"extra_{abs(hash(source))}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RegistryError, match=message):
        load_bindings([module])


def test_a_missing_module_is_named() -> None:
    with pytest.raises(RegistryError, match=r"cannot import 'no\.such\.module'"):
        load_bindings(["no.such.module"])


def test_executors_follow_the_function_unless_the_spec_says() -> None:
    bindings = {b.spec.name: b.executor for b in load_bindings(["tests.fixtures.platform_queues"])}
    assert bindings["test"] == "async"
    assert bindings["waits-thread"] == "thread"
    assert bindings["cpu"] == "process"
    assert bindings["quick"] == "async"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"concurrency": 0}, "concurrency must be a whole number from 1 to 1000"),
        ({"concurrency": True}, "concurrency must be a whole number"),
        ({"timeout_s": 0}, "timeout_s must be a number > 0"),
        ({"timeout_s": float("nan")}, "timeout_s must be a number > 0"),
        ({"rate_limit": (5, 1)}, "rate_limit must be a RateLimit"),
        ({"executor": "gpu"}, "executor must be one of async, thread, process"),
    ],
)
def test_a_bad_queue_spec_is_refused_with_its_name(
    options: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=f"queue 'x': .*{message}"):
        QueueSpec(name="x", payload=TestJobData, label="x", **options)  # type: ignore[arg-type]


def test_a_bad_rate_limit_is_refused() -> None:
    with pytest.raises(ValueError, match=r"RateLimit\.max"):
        RateLimit(0, 1.0)
    with pytest.raises(ValueError, match=r"RateLimit\.per_s"):
        RateLimit(5, 0)
    assert RateLimit(5, 0.5).duration_ms == 500
