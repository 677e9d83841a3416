"""The whole product as processes: `ailawyer serve` (one or two) and `ailawyer worker`,
on the test's database and BullMQ prefix, plus Debian's Chromium for browser tests.

Browsers are never downloaded: Playwright drives /usr/bin/chromium (installed by
`scripts/bootstrap.sh --test`). Screenshots go to test-artifacts/ (gitignored).
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.e2e.support import Stack, start_stack
from tests.fixtures import retryable_queue
from tests.fixtures.processes import REPO_ROOT, Processes

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


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (retryable_queue.MODULE,)


@pytest.fixture
def stack(processes: Processes) -> Stack:
    """One app process and one worker."""
    return start_stack(processes, apps=1)


@pytest.fixture
def two_app_stack(processes: Processes) -> Stack:
    """Two app processes on two ports, and one worker."""
    return start_stack(processes, apps=2)


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
