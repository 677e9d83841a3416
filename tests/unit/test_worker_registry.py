"""Binding queues to processors: one obvious way, and loud mistakes."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from ailawyer.errors import RegistryError
from ailawyer.queues.definitions import ALL_QUEUES
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
