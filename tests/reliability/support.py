"""What the reliability tests share: sizes from the environment, log scanning for
secrets, and sessions of real logins sent by hand."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from ailawyer.services.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from tests.fixtures.live_app import PASSWORD

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


def line_time(line: dict[str, Any]) -> float:
    """A JSON log line's `timestamp` as epoch seconds."""
    return datetime.fromisoformat(str(line["timestamp"]).replace("Z", "+00:00")).timestamp()


@dataclass
class SecretWatch:
    """Every secret value a test handles; `check()` scans its processes' logs."""

    directory: Path
    values: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, value: str | None) -> None:
        if value:
            self.values[f"{name} #{len(self.values) + 1}"] = value

    def check(self) -> int:
        return assert_no_secrets(log_files(self.directory), self.values)


@dataclass
class Session:
    """A client's credentials, sent by hand: Secure cookies over plain http."""

    session: str | None = None
    csrf: str | None = None
    # False: a logged-in client that leaves out X-CSRF-Token.
    send_csrf: bool = True

    def headers(self, method: str) -> dict[str, str]:
        found: dict[str, str] = {}
        cookies = []
        if self.session:
            cookies.append(f"{SESSION_COOKIE}={self.session}")
        if self.csrf:
            cookies.append(f"{CSRF_COOKIE}={self.csrf}")
        if cookies:
            found["Cookie"] = "; ".join(cookies)
        if self.csrf and self.send_csrf and method.upper() not in SAFE_METHODS:
            found[CSRF_HEADER] = self.csrf
        return found


async def log_in(
    client: httpx.AsyncClient, email: str, watch: SecretWatch, password: str = PASSWORD
) -> Session:
    response = await client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    session = Session(response.cookies[SESSION_COOKIE], response.json()["csrfToken"])
    assert response.cookies[CSRF_COOKIE] == session.csrf
    watch.add("session cookie", session.session)
    watch.add("CSRF token", session.csrf)
    return session
