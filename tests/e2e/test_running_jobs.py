""" "Laufende Vorgänge" in Chromium: a test job's progress bar reaches 100 before its
notification, and a long job is cancelled from the page."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.registry import load_queues
from ailawyer.redis import get_queue_connection
from tests.e2e.conftest import START_TIMEOUT_S, log_in
from tests.fixtures.live_app import AUTH_SECRET, make_user
from tests.fixtures.platform_queues import MODULE, WorkData, waits_async_queue
from tests.fixtures.processes import AppProcess, ChildProcess, start_app, start_worker
from tests.fixtures.services import REDIS_URL

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LIVE_TIMEOUT_MS = 20_000
# Records every progress value the page shows, and the moment a notification appears.
RECORD = """() => {
  window.seen = [];
  const note = (value) => { if (window.seen.at(-1) !== value) window.seen.push(value); };
  new MutationObserver(() => {
    for (const bar of document.querySelectorAll("#running-list progress")) {
      note(bar.getAttribute("aria-valuetext"));
    }
  }).observe(document.getElementById("running-list"), {
    subtree: true, childList: true, attributes: true,
  });
  new MutationObserver(() => note("notification")).observe(
    document.getElementById("notification-list"), { childList: true },
  );
}"""


@pytest.fixture
def running_stack(db: Database, pg_url: str, prefix: str, tmp_path: Path) -> Iterator[AppProcess]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("WORKER_", "LOG_", "BULLMQ_", "SHUTDOWN_"))
    }
    env.update(
        APP_ENV="test",
        AUTH_SECRET=AUTH_SECRET,
        DATABASE_URL=pg_url,
        REDIS_URL=REDIS_URL,
        BULLMQ_PREFIX=prefix,
        WORKER_EXTRA_QUEUES=MODULE,
        LOGIN_RATE_LIMIT="10000",
    )
    started: list[ChildProcess] = []
    try:
        started.append(start_worker(env, tmp_path / "logs"))
        app = start_app(env, tmp_path / "logs")
        started.append(app)
        yield app
    finally:
        for child in started:
            child.stop()


@pytest.fixture
async def jobs(prefix: str) -> AsyncIterator[QueueProducer]:
    connection = get_queue_connection(REDIS_URL)
    producer = QueueProducer(connection, load_queues([MODULE]), prefix=prefix)
    yield producer
    await producer.close()
    await connection.aclose()


async def test_running_jobs_show_progress_and_can_be_cancelled(
    running_stack: AppProcess,
    db: Database,
    jobs: QueueProducer,
    browser: Browser,
    artifacts: Path,
) -> None:
    admin = await make_user(db, Role.ADMIN, name="Anna Admin")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await log_in(page, running_stack.url, admin.email, "/benachrichtigungen")
    await expect(page.locator("#connection-status")).to_have_text(
        "Live verbunden", timeout=START_TIMEOUT_S * 1000
    )
    section = page.get_by_role("region", name="Laufende Vorgänge")
    await expect(section).to_be_hidden()

    # The test job: it shows up, its bar reaches 100, then its notification comes.
    # What the page shows is recorded as it changes (a bar at 100 may live only a
    # moment before the notification removes its row).
    await page.evaluate(RECORD)
    await page.get_by_role("button", name="Testauftrag starten").click()
    row = section.locator("li", has_text="Testauftrag")
    await expect(row).to_have_count(1)
    await expect(row.get_by_role("progressbar")).to_be_visible()
    await expect(page.locator("#running-live")).to_contain_text("„Testauftrag“ gestartet")
    await expect(
        page.locator("#notification-list > li", has_text="„Testauftrag“ wurde erfolgreich")
    ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    await expect(row).to_have_count(0)
    await expect(page.locator("#running-live")).to_contain_text("„Testauftrag“ beendet")
    seen: list[str] = await page.evaluate("window.seen")
    percents = [int(item.split()[0]) for item in seen if item.endswith("Prozent")]
    assert percents and percents == sorted(percents) and percents[-1] == 100, seen
    assert seen.index("notification") > seen.index("100 Prozent"), seen

    # A long job of the user's, started elsewhere: it appears live, and is cancelled here.
    await jobs.enqueue(waits_async_queue, WorkData(user_id=admin.id, seconds=60))
    long_row = section.locator("li", has_text=waits_async_queue.label)
    await expect(long_row).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    await expect(long_row.get_by_role("progressbar")).to_have_attribute(
        "aria-valuetext", "10 Prozent"
    )
    await page.screenshot(path=str(artifacts / "running-jobs-1280.png"), full_page=True)
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.screenshot(path=str(artifacts / "running-jobs-390.png"), full_page=True)
    await page.set_viewport_size({"width": 1280, "height": 900})
    await long_row.get_by_role("button", name=f"„{waits_async_queue.label}“ abbrechen").click()
    await expect(long_row).to_have_count(0)
    await expect(
        page.locator("#notification-list > li", has_text="Vorgang abgebrochen")
    ).to_have_count(1, timeout=LIVE_TIMEOUT_MS)
    assert not await section.is_visible()
