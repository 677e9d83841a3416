"""Declaring schedules: exactly one rhythm, a real cron and time zone, a known queue
and data it accepts; and when a cron in Berlin fires across a clock change."""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ailawyer.errors import RegistryError
from ailawyer.queues.definitions import ALL_QUEUES
from ailawyer.queues.payloads import MaintenanceData
from ailawyer.queues.registry import load_queues, load_schedules
from ailawyer.queues.schedules import ALL_SCHEDULES, ScheduleSpec


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "give exactly one of every_s and cron"),
        ({"every_s": 5, "cron": "0 3 * * *"}, "give exactly one of every_s and cron"),
        ({"every_s": 0}, "every_s must be a number ≥ 0.1"),
        ({"every_s": True}, "every_s must be a number"),
        ({"cron": "jeden Morgen"}, "cron 'jeden Morgen' is not a cron expression"),
        ({"cron": "61 3 * * *"}, "is not a cron expression"),
        ({"cron": "0 3 * * *", "tz": "Mars/Olympus"}, "tz 'Mars/Olympus' is not a time zone"),
    ],
)
def test_a_bad_schedule_is_refused_with_its_id(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"schedule 'nightly': .*{message}"):
        ScheduleSpec(id="nightly", queue="maintenance", **options)  # type: ignore[arg-type]


def test_an_id_must_fit_a_redis_key() -> None:
    with pytest.raises(ValueError, match="id must be"):
        ScheduleSpec(id="mit leerzeichen:und:doppelpunkt", queue="test", every_s=5)


def test_a_daily_cron_in_berlin_fires_at_the_local_time_across_dst() -> None:
    nightly = ScheduleSpec(id="nightly", queue="maintenance", cron="0 3 * * *")
    # Summer time ends on Sunday 25 October 2026 at 03:00 (back to 02:00).
    before, on_the_day, after = nightly.next_runs(datetime(2026, 10, 24, 12, tzinfo=UTC), 3)
    assert before.astimezone(UTC) == datetime(2026, 10, 25, 2, tzinfo=UTC)  # 03:00 CET
    assert on_the_day.astimezone(UTC) == datetime(2026, 10, 26, 2, tzinfo=UTC)
    assert after.astimezone(UTC) == datetime(2026, 10, 27, 2, tzinfo=UTC)
    # ... and before that day, 03:00 was summer time (UTC+2).
    [summer] = nightly.next_runs(datetime(2026, 10, 23, 12, tzinfo=UTC))
    assert summer.astimezone(UTC) == datetime(2026, 10, 24, 1, tzinfo=UTC)
    assert summer.hour == 3 and before.hour == 3


def test_the_product_declares_its_maintenance_schedules() -> None:
    assert {s.id for s in ALL_SCHEDULES} == {
        "maintenance.notifications",
        "maintenance.sessions",
        "maintenance.queues",
    }
    assert load_schedules([], ALL_QUEUES) == ALL_SCHEDULES
    assert all(isinstance(s.data, MaintenanceData) for s in ALL_SCHEDULES)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "SCHEDULES = [ScheduleSpec(id='kaputt', queue='gibt-es-nicht', every_s=5)]",
            "schedule 'kaputt': unknown queue 'gibt-es-nicht'",
        ),
        (
            "SCHEDULES = [ScheduleSpec(id='kaputt', queue='maintenance', data={'task': 'x'},"
            " every_s=5)]",
            "schedule 'kaputt': data invalid for queue 'maintenance': task",
        ),
        (
            "SCHEDULES = [ScheduleSpec(id='maintenance.queues', queue='maintenance',"
            " data={'task': 'queues'}, every_s=5)]",
            "schedule 'maintenance.queues' declared twice",
        ),
        ("SCHEDULES = ['jede Stunde']", "SCHEDULES must hold ScheduleSpec objects"),
        (
            "SCHEDULES = [ScheduleSpec(id='kaputt', queue='maintenance', cron='0 25 * * *')]",
            r"cannot import .*schedule 'kaputt': cron '0 25 \* \* \*' is not a cron expression",
        ),
    ],
)
def test_a_schedule_that_does_not_fit_is_named(
    source: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = f"extra_schedules_{abs(hash(source))}"
    header = "from ailawyer.queues.schedules import ScheduleSpec\n"
    (tmp_path / f"{module}.py").write_text(header + textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(RegistryError, match=message):
        load_schedules([module], load_queues([]))
