"""The app as a production-mode `ailawyer serve` process, sessions of real logins,
and the secrets a test used, which its processes' logs must never contain."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from ailawyer.db.engine import Database
from ailawyer.services.auth import CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE
from tests.fixtures.live_app import PASSWORD
from tests.fixtures.processes import AppProcess
from tests.fixtures.processes import start_app as launch_app
from tests.reliability.support import assert_no_secrets, log_files

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


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


@pytest.fixture
def watch(tmp_path: Path) -> SecretWatch:
    found = SecretWatch(tmp_path / "logs")
    found.add("password", PASSWORD)
    return found


@pytest.fixture
def app_env(pg_url: str, prefix: str, tmp_path: Path, watch: SecretWatch) -> dict[str, str]:
    """Production mode: JSON logs to stdout and to rotating files, Secure cookies."""
    auth_secret = secrets.token_urlsafe(48)
    watch.add("AUTH_SECRET", auth_secret)
    return {
        "APP_ENV": "production",
        "AUTH_SECRET": auth_secret,
        "LOG_LEVEL": "info",
        "LOG_FILE_PATH": str(tmp_path / "logs" / "files"),
        "DATABASE_URL": pg_url,
        "BULLMQ_PREFIX": prefix,
        # Every test logs in from 127.0.0.1 against the shared Redis.
        "LOGIN_RATE_LIMIT": "10000",
        "HEALTH_CHECK_TIMEOUT_MS": "1000",
    }


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


StartApp = Callable[..., AppProcess]


@pytest.fixture
def start_app(db: Database, app_env: dict[str, str], tmp_path: Path) -> Iterator[StartApp]:
    """`start_app(**overrides)`: `ailawyer serve` on the test's database and prefix,
    stopped (by pid) before the database is emptied. Output under tmp/logs."""
    started: list[AppProcess] = []

    def start(**overrides: str) -> AppProcess:
        app = launch_app({**app_env, **overrides}, tmp_path / "logs")
        started.append(app)
        return app

    yield start
    for app in started:
        app.stop()
