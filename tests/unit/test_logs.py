from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine

from ailawyer.logs import (
    configure_logging,
    create_logger,
    flush_logs,
    log_context,
    redact_text,
    set_log_level,
)

SPEC_KEYS = {"timestamp", "level", "message", "service", "module"}

SCRIPT = """
import logging
from ailawyer.config import get_settings
from ailawyer.logs import configure_logging, create_logger, log_context
s = get_settings()
# As `ailawyer worker` does: lines are written by the background writer.
configure_logging(level=s.log_level, json_output=s.is_production,
                  file_path=s.log_path_for("worker"), max_bytes=s.log_max_bytes,
                  background=True)
log = create_logger("jobs")
log.info("job.outside")
with log_context(jobId="job-42", userId="user-7"):
    log.info("job.started", attempt=1)
    logging.getLogger("bullmq").warning("stdlib line inside %s", "job")
    log.info("login.tried", password="hunter2-secret", headers={"Authorization": "Bearer tok-123"},
             cookie="session=abc-cookie-value", note="token=tok-456 and password: pw-789")
log.debug("debug.hidden")
"""


def run_production(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {
        **os.environ,
        "APP_ENV": "production",
        "AUTH_SECRET": "x" * 40,
        "LOG_LEVEL": "info",
        "LOG_FILE_PATH": str(tmp_path / "logs" / "worker"),
        **env,
    }
    return subprocess.run(
        [sys.executable, "-c", SCRIPT],
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


@pytest.mark.slow
def test_production_lines_are_json_with_spec_keys_context_and_no_secrets(tmp_path: Path) -> None:
    result = run_production(tmp_path)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert [line["message"] for line in lines] == [
        "job.outside",
        "job.started",
        "stdlib line inside job",
        "login.tried",
    ]
    for line in lines:
        assert line.keys() >= SPEC_KEYS
        assert line["service"] == "ai-lawyer"
        datetime.fromisoformat(line["timestamp"])
    assert "jobId" not in lines[0]
    for line in lines[1:]:
        assert line["jobId"] == "job-42" and line["userId"] == "user-7"
    assert lines[2]["module"] == "bullmq" and lines[2]["level"] == "warn"
    for secret in ("hunter2-secret", "tok-123", "abc-cookie-value", "tok-456", "pw-789"):
        assert secret not in result.stdout
    # the same lines reach the file
    file_lines = (tmp_path / "logs" / "worker" / "ai-lawyer.log").read_text().splitlines()
    assert [json.loads(line)["message"] for line in file_lines] == [
        line["message"] for line in lines
    ]


@pytest.mark.slow
def test_unwritable_log_path_warns_and_stdout_goes_on(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where a folder should be")
    result = run_production(tmp_path, LOG_FILE_PATH=str(blocker / "worker"))
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines[0]["message"] == "log.file_unavailable" and lines[0]["level"] == "warn"
    assert "job.started" in [line["message"] for line in lines]


def test_rotation_at_size_limit(tmp_path: Path, restore_logging: None) -> None:
    configure_logging(level="info", json_output=True, file_path=str(tmp_path), max_bytes=2048)
    log = create_logger("rotation")
    for i in range(60):
        log.info("line.written", number=i, padding="x" * 60)
    files = sorted(p.name for p in tmp_path.glob("ai-lawyer.log*"))
    assert len(files) >= 3, files
    assert all(p.stat().st_size <= 2048 + 400 for p in tmp_path.glob("ai-lawyer.log*"))


def test_background_writer_keeps_order_and_the_size_limit(
    tmp_path: Path, restore_logging: None
) -> None:
    # Lines queued faster than one write takes are written many per write; a
    # write still stays small beside the file's size limit.
    configure_logging(
        level="info", json_output=True, file_path=str(tmp_path), max_bytes=4096, background=True
    )
    log = create_logger("rotation")
    for i in range(300):
        log.info("line.written", number=i, padding="x" * 60)
    flush_logs()
    files = list(tmp_path.glob("ai-lawyer.log*"))
    # The limit is checked before each write, as the handler does for single lines.
    assert all(p.stat().st_size <= 4096 + 4096 // 8 + 200 for p in files)
    numbers = sorted(
        json.loads(line)["number"]
        for p in files
        if not p.name.endswith(".lock")
        for line in p.read_text().splitlines()
    )
    # 14 files are kept: the oldest lines are gone, the newest all there, once.
    assert numbers == list(range(numbers[0], 300)) and numbers[0] < 150


DROP_SCRIPT = """
import sys
import ailawyer.logs as logs
logs.MAX_PENDING_LINES = 1000
logs.configure_logging(level="info", json_output=True, background=True)
log = logs.create_logger("flood")
for i in range(20000):
    log.info("flood.line", number=i, padding="y" * 100)
print("LOGGED", file=sys.stderr, flush=True)
"""


@pytest.mark.slow
def test_background_writer_drops_and_counts_lines_nobody_reads(tmp_path: Path) -> None:
    # stdout is a pipe nobody reads until the loop is over: the writer blocks,
    # the backlog reaches its bound, the rest is dropped and counted, not kept.
    with subprocess.Popen(
        [sys.executable, "-c", DROP_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None and process.stdout is not None
        assert process.stderr.readline().strip() == "LOGGED"
        out = process.stdout.read()
        assert process.wait(timeout=30) == 0
    lines = [json.loads(line) for line in out.splitlines()]
    written = [line for line in lines if line["message"] == "flood.line"]
    dropped = [line for line in lines if line["message"] == "log.lines_dropped"]
    assert dropped and dropped[0]["level"] == "warn"
    assert len(written) + sum(line["count"] for line in dropped) == 20000
    assert [line["number"] for line in written] == sorted(line["number"] for line in written)


def test_rotation_at_day_boundary(tmp_path: Path, restore_logging: None) -> None:
    start = datetime(2026, 3, 1, 23, 59, 0, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as traveller:
        configure_logging(
            level="info", json_output=True, file_path=str(tmp_path), max_bytes=10_000_000
        )
        log = create_logger("rotation")
        log.info("before.midnight")
        assert [p.name for p in tmp_path.glob("ai-lawyer.log*")] == ["ai-lawyer.log"]
        traveller.move_to(start + timedelta(days=1, minutes=2))
        log.info("after.midnight")
    rotated = [p for p in tmp_path.glob("ai-lawyer.log.*") if not p.name.endswith(".lock")]
    assert len(rotated) == 1, [p.name for p in tmp_path.iterdir()]
    assert "before.midnight" in rotated[0].read_text()
    assert "after.midnight" in (tmp_path / "ai-lawyer.log").read_text()


def test_set_log_level_at_runtime(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", json_output=True)
    log = create_logger("levels")
    log.debug("first.debug")
    set_log_level("debug")
    log.debug("second.debug")
    set_log_level("error")
    log.warning("a.warning")
    out = capsys.readouterr().out
    assert "first.debug" not in out and "second.debug" in out and "a.warning" not in out
    with pytest.raises(ValueError, match="unknown log level"):
        set_log_level("loud")
    assert logging.getLogger().level == logging.ERROR


def test_context_is_unbound_after_block(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", json_output=True)
    log = create_logger("ctx")
    with log_context(jobId="j1", akteId="a1", userId=None):
        log.info("inside")
    log.info("outside")
    inside, outside = (json.loads(line) for line in capsys.readouterr().out.splitlines())
    assert inside["jobId"] == "j1" and inside["akteId"] == "a1" and "userId" not in inside
    assert "jobId" not in outside


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("redis://:p4ss@host:6379/0", "p4ss"),
        ("postgresql://user:pw@db/x", "pw"),
        ("Authorization: Bearer abc.def", "abc.def"),
        ('{"password": "sh"}', "sh"),
        ("api_key=k-1&x=1", "k-1"),
        # Case does not matter, neither for the pattern nor for its quick pre-check.
        ("AUTHORIZATION: BASIC dXNlcjpwdw==", "dXNlcjpwdw=="),
        ("SessionId=abc123; rest", "abc123"),
        ("REDIS://:Geheim@host/0", "Geheim"),
        ("DB_PASSWD: 'x y'", "x y"),
    ],
)
def test_redact_text(text: str, secret: str) -> None:
    assert secret not in redact_text(text).replace("[REDACTED]", "")


def test_ids_stay_whole_while_text_is_still_redacted(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scheduled job's id names its schedule, and `…sessions:<millis>` is no secret."""
    configure_logging(level="info", json_output=True)
    log = create_logger("ids")
    job_id = "repeat:maintenance.sessions:1764644400000"
    log.info("job.completed", jobId=job_id, reason="session: abc123")
    [line] = (json.loads(out) for out in capsys.readouterr().out.splitlines())
    assert line["jobId"] == job_id
    assert "abc123" not in line["reason"] and "[REDACTED]" in line["reason"]


def test_sampled_event_keeps_an_even_share_and_nothing_else_is_sampled(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", json_output=True, sample={"job.completed": 0.1})
    log = create_logger("worker")
    for index in range(100):
        log.info("job.completed", queue="q", jobId=f"j{index}")
        if index % 10 == 0:
            log.error("job.failed", queue="q", jobId=f"f{index}")
            log.info("job.retry_scheduled", queue="q", jobId=f"r{index}")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    completed = [line for line in lines if line["message"] == "job.completed"]
    # Exactly every tenth (no drift from summing 0.1), the first one included.
    assert [line["jobId"] for line in completed] == [f"j{index}" for index in range(0, 100, 10)]
    assert all(line["sample_rate"] == 0.1 for line in completed)
    assert sum(line["message"] == "job.failed" for line in lines) == 10
    assert sum(line["message"] == "job.retry_scheduled" for line in lines) == 10
    assert not any("sample_rate" in line for line in lines if line["message"] != "job.completed")


@pytest.mark.parametrize(("rate", "kept"), [(1.0, 7), (0.0, 0)])
def test_sample_rate_one_keeps_all_and_zero_none(
    rate: float, kept: int, restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", json_output=True, sample={"job.completed": rate})
    log = create_logger("worker")
    for _ in range(7):
        log.info("job.completed", queue="q")
    log.info("worker.other")
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sum(line["message"] == "job.completed" for line in lines) == kept
    assert lines[-1]["message"] == "worker.other"
    assert not any("sample_rate" in line for line in lines)


def test_a_sample_rate_outside_0_to_1_is_refused(restore_logging: None) -> None:
    with pytest.raises(ValueError, match="from 0 to 1"):
        configure_logging(level="info", json_output=True, sample={"job.completed": 1.5})


def test_recurring_short_values_are_redacted_every_time_and_odd_values_rendered(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    # Whether a short value may hide a secret is remembered; the secret is masked
    # on every line all the same, and a value JSON does not know is its repr.
    configure_logging(level="info", json_output=True)
    log = create_logger("cache")
    for _ in range(3):
        log.info("seen", note="token=tok-4711", queue="bench", odd={1, 2} - {2})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["note"] for line in lines] == ["token=[REDACTED]"] * 3
    assert [line["queue"] for line in lines] == ["bench"] * 3
    assert lines[0]["odd"] == "{1}"
