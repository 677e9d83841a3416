"""The "Zeitpläne" section of the queue dashboard in Chromium, against a real worker
(which registered the built-in schedules) and Redis."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.queues.producer import QueueProducer
from ailawyer.queues.schedules import ALL_SCHEDULES
from tests.e2e.support import Stack, log_in
from tests.fixtures.live_app import make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000
RHYTHMS = {
    "maintenance.notifications": "täglich 03:00",
    "maintenance.sessions": "stündlich um :10",
    "maintenance.queues": "stündlich um :20",
}


async def test_admin_sees_the_schedules_and_runs_one_now(
    stack: Stack, db: Database, producer: QueueProducer, browser: Browser, artifacts: Path
) -> None:
    admin = await make_user(db, Role.ADMIN)
    # The schedules' wall clock is Berlin's; so is this browser's.
    context = await browser.new_context(
        viewport={"width": 1280, "height": 900}, timezone_id="Europe/Berlin", locale="de-DE"
    )
    page = await context.new_page()
    await log_in(page, stack.url, admin.email, "/admin/queues")

    section = page.locator("#schedules")
    await expect(section.get_by_role("heading", name="Zeitpläne")).to_be_visible()
    rows = section.locator("#schedule-rows tr")
    await expect(rows).to_have_count(len(ALL_SCHEDULES), timeout=TIMEOUT_MS)
    for schedule_id, words in RHYTHMS.items():
        row = section.locator(f'tr[data-schedule="{schedule_id}"]')
        await expect(row.locator(".rhythm")).to_have_text(words)
        await expect(row.locator(".next-run time")).to_have_attribute("datetime", re.compile("Z$"))
        await expect(row.locator(".last-run")).to_have_text("–")
    # Next runs in local time: the daily one at 03:00 Berlin.
    daily = section.locator('tr[data-schedule="maintenance.notifications"] .next-run')
    await expect(daily).to_contain_text("03:00:00")
    hourly = section.locator('tr[data-schedule="maintenance.sessions"] .next-run')
    await expect(hourly).to_contain_text(re.compile(r"\d\d:10:00"))
    await page.screenshot(path=artifacts / "schedules.png", full_page=True)

    row = section.locator('tr[data-schedule="maintenance.sessions"]')
    await row.get_by_role("button", name="Jetzt ausführen").click()
    dialog = page.locator("#confirm-dialog")
    await expect(dialog).to_contain_text("maintenance.sessions")
    await dialog.get_by_role("button", name="Jetzt ausführen").click()
    status = page.locator("#status")
    await expect(status).to_contain_text("eingereiht", timeout=TIMEOUT_MS)
    job_id = re.search(r"Job (\S+) in", await status.inner_text())
    assert job_id is not None
    made = await producer.queue("maintenance").getJob(job_id.group(1))
    assert made is not None and made.name == "maintenance.sessions"

    # The job shows in its queue's list, marked, and the list follows it until it
    # ended: the completed one.
    await expect(page.locator("#jobs-heading")).to_contain_text(
        "„maintenance“: Abgeschlossen", timeout=TIMEOUT_MS
    )
    job_row = page.locator(f'#job-rows tr[data-job-id="{made.id}"]')
    await expect(job_row).to_be_visible(timeout=TIMEOUT_MS)
    await expect(job_row).to_have_class(re.compile("highlighted"))
    await expect(row.locator(".last-run")).to_contain_text("abgeschlossen", timeout=TIMEOUT_MS)

    # On a phone, nothing is cut off: the table scrolls inside its box, not the page.
    await page.set_viewport_size({"width": 390, "height": 844})
    await section.scroll_into_view_if_needed()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    await page.screenshot(path=artifacts / "schedules-phone.png", full_page=True)
    await context.close()
