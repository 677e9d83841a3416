"""What the reliability tests share: sizes from the environment, log scanning."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import datetime
from pathlib import Path
from typing import Any


def env_int(name: str, default: int) -> int:
    """A size of the run: the CI default, or a larger one from the environment."""
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def log_files(*directories: Path) -> list[Path]:
    """Every file under the given folders: stdout captures and rotated log files."""
    found: list[Path] = []
    for directory in directories:
        if directory.exists():
            found += sorted(path for path in directory.rglob("*") if path.is_file())
    return found


def assert_no_secrets(files: Iterable[Path], secrets: dict[str, str]) -> int:
    """Fail if any secret value occurs in any file; returns how many bytes were read.

    `secrets` maps a description ("AUTH_SECRET") to the value; the failure names
    the file and the description, never the value.
    """
    values = {name: value for name, value in secrets.items() if value}
    assert all(len(value) >= 8 for value in values.values()), "secrets too short to look for"
    read = 0
    leaks: list[str] = []
    for path in files:
        text = path.read_bytes().decode("utf-8", errors="replace")
        read += len(text)
        leaks += [f"{name} in {path}" for name, value in values.items() if value in text]
    assert not leaks, "secret values in the logs: " + ", ".join(leaks)
    assert read > 0, "no log output to check"
    return read


def json_lines(path: Path) -> list[dict[str, Any]]:
    found = []
    for raw in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            item = json.loads(raw)
        except ValueError:
            continue
        if isinstance(item, dict):
            found.append(item)
    return found


def line_time(line: dict[str, Any]) -> float:
    """A JSON log line's `timestamp` as epoch seconds."""
    return datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00")).timestamp()
