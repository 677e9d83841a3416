""" "Laufende Vorgänge" in Chromium: a test job's progress bar reaches 100 before its
notification, and a long job is cancelled from the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.queues.producer import QueueProducer
from tests.e2e.support import Stack, log_in
from tests.fixtures import platform_queues
from tests.fixtures.live_app import make_user
from tests.fixtures.platform_queues import WorkData, waits_async_queue
from tests.fixtures.processes import START_TIMEOUT_S

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


@pytest.fixture(scope="module")
def extra_queue_modules() -> tuple[str, ...]:
    return (platform_queues.MODULE,)


async def test_running_jobs_show_progress_and_can_be_cancelled(
    stack: Stack,
    db: Database,
    producer: QueueProducer,
    browser: Browser,
    artifacts: Path,
) -> None:
    admin = await make_user(db, Role.ADMIN, name="Anna Admin")
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await log_in(page, stack.url, admin.email, "/benachrichtigungen")
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
    await producer.enqueue(waits_async_queue, WorkData(user_id=admin.id, seconds=60))
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
