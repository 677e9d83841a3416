"""What the end-to-end tests share: the running product and a browser login."""

from __future__ import annotations

import re
from dataclasses import dataclass

from playwright.async_api import Page, expect

from tests.fixtures.live_app import PASSWORD
from tests.fixtures.processes import ChildProcess, Processes


@dataclass
class Stack:
    """App processes and one worker; `apps[0]` is where a test usually goes."""

    apps: list[ChildProcess]
    worker: ChildProcess
    processes: Processes

    @property
    def url(self) -> str:
        return self.apps[0].url

    def logs(self) -> str:
        return "\n".join(
            f"==== {child.log_path.name}\n{child.output()[-3000:]}"
            for child in self.processes.started
        )


def start_stack(processes: Processes, apps: int) -> Stack:
    """The worker starts while the apps do; all are up on return."""
    worker = processes.launch_worker()
    started = [processes.serve() for _ in range(apps)]
    return Stack(apps=started, worker=worker.wait_ready(), processes=processes)


async def log_in(page: Page, base_url: str, email: str, path: str) -> None:
    """Open `path`, get sent to the login page, log in, land on `path` again."""
    await page.goto(base_url + path)
    await expect(page).to_have_url(re.compile(r"/login\?next="))
    await page.get_by_label("E-Mail").fill(email)
    await page.get_by_label("Passwort").fill(PASSWORD)
    await page.get_by_role("button", name="Anmelden").click()
    await expect(page).to_have_url(base_url + path)
