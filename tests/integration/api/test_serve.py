"""`ailawyer serve` as a process: refuses to start without Redis, logs through our pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from tests.fixtures.live_app import PASSWORD, make_user
from tests.fixtures.processes import REPO_ROOT, Processes, production, run_cli
from tests.fixtures.services import free_port

pytestmark = pytest.mark.slow


def test_serve_refuses_to_start_without_redis(pg_url: str, tmp_path: Path) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    result = run_cli(
        "serve",
        "--port",
        str(free_port()),
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO_ROOT),
            "APP_ENV": "test",
            "DATABASE_URL": pg_url,
            "REDIS_URL": dead_redis,
        },
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 3
    output = result.stdout + result.stderr
    assert "does not answer" in output
    assert "REDIS_URL" in output
    assert "Traceback" not in output, "a refused start is one line, not a stack"


async def test_production_mode_logs_json_and_marks_cookies_secure(
    db: Database, processes: Processes, tmp_path: Path
) -> None:
    """A production-mode app of its own: JSON lines on stdout (uvicorn's among
    them) and in a file; session cookies only over HTTPS."""
    logs = tmp_path / "prod-logs"
    user = await make_user(db, Role.ANWALT)
    app = processes.serve(**production(logs))
    try:
        async with app.client() as client:
            response = await client.post(
                "/api/auth/login", json={"email": user.email, "password": PASSWORD}
            )
    finally:
        app.stop()
    assert response.status_code == 200
    for cookie in response.headers.get_list("set-cookie"):
        assert "; secure" in cookie.lower(), cookie

    lines = app.lines()
    # Every line that looks like JSON is JSON.
    assert len(lines) == sum(line.startswith("{") for line in app.output().splitlines())
    modules = {line["module"] for line in lines}
    assert "uvicorn.error" in modules
    assert "api.state" in modules
    for line in lines:
        assert {"timestamp", "level", "message", "service", "module"} <= set(line)
        assert line["service"] == "ai-lawyer"
    assert any(logs.rglob("*.log")), "no log file was written"


def test_sigterm_is_a_graceful_stop_with_exit_0(processes: Processes) -> None:
    app = processes.serve()
    assert app.stop() == 0
    output = app.output()
    assert "app.stopping" in output
    assert "Application shutdown complete" in output
