"""`ailawyer serve` outside production prints a console log; what a client sends
reaches it escaped (the unit tests: tests/unit/test_console_escape.py)."""

from __future__ import annotations

import pytest

from tests.fixtures.processes import Processes

pytestmark = pytest.mark.slow


async def test_a_request_path_cannot_drive_the_terminal(processes: Processes) -> None:
    app = processes.serve(APP_ENV="development")
    async with app.client() as client:
        response = await client.get("/api/%1B%5B2J%1B%5D0%3Bpwned%07")
        assert response.status_code == 404
    app.stop()
    output = app.output()
    assert "http.request" in output and "pwned" in output
    assert "\x1b" not in output and "\x07" not in output
    assert "\\x1b[2J" in output
