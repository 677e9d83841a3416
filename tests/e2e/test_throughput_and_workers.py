"""The queue dashboard's throughput charts and worker list in Chromium, against a
real worker that ran real jobs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.async_api import Browser, expect
from redis.asyncio import Redis

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from ailawyer.queues.definitions import test_queue
from ailawyer.queues.payloads import TestJobData
from ailawyer.queues.producer import QueueProducer
from tests.e2e.support import Stack, log_in
from tests.fixtures.bullmq_state import redis_counts
from tests.fixtures.live_app import make_user
from tests.fixtures.retryable_queue import retryable_queue
from tests.fixtures.waiting import eventually

pytestmark = [pytest.mark.browser, pytest.mark.slow]

TIMEOUT_MS = 20_000


async def test_charts_show_the_jobs_and_the_worker_is_listed(
    stack: Stack,
    db: Database,
    producer: QueueProducer,
    redis_client: Redis,
    prefix: str,
    browser: Browser,
    artifacts: Path,
) -> None:
    admin = await make_user(db, Role.ADMIN)
    data = TestJobData(user_id=admin.id, message="Durchsatz")
    for _ in range(4):
        await producer.enqueue(test_queue, data)
    for _ in range(2):  # the retryable queue fails until healed
        await producer.enqueue(retryable_queue, data)

    async def finished() -> bool:
        ok = (await redis_counts(redis_client, prefix, test_queue.name))["completed"] == 4
        bad = (await redis_counts(redis_client, prefix, retryable_queue.name))["failed"] == 2
        return ok and bad

    await eventually(finished, timeout=30, interval=0.1)

    context = await browser.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    page = await context.new_page()
    await log_in(page, stack.url, admin.email, "/admin/queues")

    # A sparkline per queue, named by its totals.
    spark = page.locator(f'tr[data-queue="{test_queue.name}"] .spark svg[role="img"]')
    await expect(spark).to_have_attribute(
        "aria-label", "test, letzte Stunde: 4 abgeschlossen, 0 fehlgeschlagen", timeout=TIMEOUT_MS
    )
    failing = page.locator(f'tr[data-queue="{retryable_queue.name}"] .spark svg')
    await expect(failing).to_have_attribute(
        "aria-label", "retryable, letzte Stunde: 0 abgeschlossen, 2 fehlgeschlagen"
    )
    # Non-zero data: the completed line leaves the baseline.
    points = await spark.locator("polyline.completed").get_attribute("points")
    assert points is not None and len({p.split(",")[1] for p in points.split()}) > 1

    # The worker section lists the running worker.
    worker = stack.worker
    row = page.locator(f'#worker-rows tr[data-pid="{worker.pid}"]')
    await expect(row).to_be_visible(timeout=TIMEOUT_MS)
    await expect(row).to_contain_text(test_queue.name)
    await expect(row.locator(".last-beat")).to_contain_text("vor ")
    await expect(page.locator("#worker-count")).to_have_text("(1)")

    # The chosen queue's chart and its range switch.
    chart = page.locator("#throughput")
    for queue in (retryable_queue.name, test_queue.name):
        cell = page.locator(f'tr[data-queue="{queue}"] td[data-state="completed"] button')
        await cell.click()
        await expect(chart).to_have_attribute("data-queue", queue, timeout=TIMEOUT_MS)
    await expect(chart.get_by_role("heading")).to_have_text("Durchsatz von „test“")
    big = chart.locator('svg[role="img"]')
    await expect(big).to_have_attribute(
        "aria-label", "test, letzte Stunde: 4 abgeschlossen, 0 fehlgeschlagen"
    )
    await page.screenshot(path=artifacts / "throughput-1280.png", full_page=True)
    for label, words in (("24 h", "letzte 24 Stunden"), ("7 Tage", "letzte 7 Tage")):
        await chart.get_by_role("button", name=label).click()
        await expect(chart.get_by_role("button", name=label)).to_have_attribute(
            "aria-pressed", "true"
        )
        await expect(big).to_have_attribute(
            "aria-label", f"test, {words}: 4 abgeschlossen, 0 fehlgeschlagen"
        )
    await expect(chart.get_by_role("button", name="1 h")).to_have_attribute("aria-pressed", "false")
    await expect(chart.locator("#throughput-summary")).to_contain_text("je Intervall 1 h")

    await page.set_viewport_size({"width": 390, "height": 844})
    # Drawn again at the phone's width, so that its labels keep their size.
    await expect(big).to_have_attribute("width", re.compile(r"^(2|3)\d\d$"))
    await page.screenshot(path=artifacts / "throughput-390.png", full_page=True)
    await chart.screenshot(path=artifacts / "throughput-chart-390.png")
    await context.close()
