"""The whole product as processes: `ailawyer serve` (one or two) and `ailawyer worker`,
on the test's database and BullMQ prefix, plus Debian's Chromium for browser tests.

Browsers are never downloaded: Playwright drives /usr/bin/chromium (installed by
`scripts/bootstrap.sh --test`). Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from ailawyer.db.engine import Database
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_queues
from ailawyer.redis import get_queue_connection
from tests.fixtures.live_app import AUTH_SECRET, PASSWORD
from tests.fixtures.processes import (
    AppProcess,
    ChildProcess,
    launch_worker,
    wait_worker_started,
)
from tests.fixtures.retryable_queue import MODULE
from tests.fixtures.services import REDIS_URL, free_port

REPO_ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO_ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# Generous: on a busy two-core machine, importing the app alone can take seconds.
START_TIMEOUT_S = 90.0


def start_app(env: dict[str, str], log_dir: Path) -> AppProcess:
    port = free_port()
    app = AppProcess(
        args=["serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        log_path=log_dir / f"app-{port}.log",
        port=port,
    )
    return app.start().wait_ready(START_TIMEOUT_S)


def stack_env(database_url: str, prefix: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WORKER_", "LOG_", "BULLMQ_", "SHUTDOWN_"))
    }
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        APP_ENV="test",
        AUTH_SECRET=AUTH_SECRET,
        LOG_LEVEL="info",
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        BULLMQ_PREFIX=prefix,
        WORKER_EXTRA_QUEUES=MODULE,
        # Other tests count failed logins from 127.0.0.1 in the shared Redis.
        LOGIN_RATE_LIMIT="10000",
        SHUTDOWN_TIMEOUT="10",
    )
    return env


@dataclass
class Stack:
    """Running processes; `apps[0]` is where a test usually goes."""

    apps: list[AppProcess]
    worker: ChildProcess
    env: dict[str, str]
    children: list[ChildProcess] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.apps[0].url

    def logs(self) -> str:
        return "\n".join(f"==== {c.log_path.name}\n{c.output()[-3000:]}" for c in self.children)


def _start(database_url: str, prefix: str, log_dir: Path, apps: int) -> Stack:
    env = stack_env(database_url, prefix)
    worker = launch_worker(env, log_dir)
    children: list[ChildProcess] = [worker]
    try:
        started = []
        for _ in range(apps):
            started.append(start_app(env, log_dir))
            children.append(started[-1])
        wait_worker_started(worker, START_TIMEOUT_S)
    except BaseException:
        for child in children:
            child.stop()
        raise
    return Stack(apps=started, worker=worker, env=env, children=children)


@pytest.fixture
def stack(db: Database, pg_url: str, prefix: str, tmp_path: Path) -> Iterator[Stack]:
    """One app process and one worker."""
    running = _start(pg_url, prefix, tmp_path / "logs", apps=1)
    yield running
    for child in running.children:
        child.stop()


@pytest.fixture
def two_app_stack(db: Database, pg_url: str, prefix: str, tmp_path: Path) -> Iterator[Stack]:
    """Two app processes on two ports, and one worker."""
    running = _start(pg_url, prefix, tmp_path / "logs", apps=2)
    yield running
    for child in running.children:
        child.stop()


@pytest.fixture
async def producer(prefix: str) -> AsyncIterator[QueueProducer]:
    """Enqueues as the app does, e.g. into the retryable test queue."""
    connection = get_queue_connection(REDIS_URL)
    made = QueueProducer(connection, load_queues([MODULE]), prefix=prefix)
    yield made
    await made.close()
    await connection.aclose()


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def chromium_path() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.fail("Debian chromium is missing: run `scripts/bootstrap.sh --test`")
    return CHROMIUM


@pytest.fixture
async def browser(chromium_path: str) -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=chromium_path, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def log_in(page: Page, base_url: str, email: str, path: str) -> None:
    """Open `path`, get sent to the login page, log in, land on `path` again."""
    await page.goto(base_url + path)
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await page.get_by_label("E-Mail").fill(email)
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(base_url + path)
