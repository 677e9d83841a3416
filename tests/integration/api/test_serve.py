"""`ailawyer serve` as a process: refuses to start without Redis, logs through our pipeline."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from ailawyer.db.engine import Database
from ailawyer.db.models import Role
from tests.fixtures.live_app import PASSWORD, make_user
from tests.fixtures.processes import REPO_ROOT, AppProcess, start_app
from tests.fixtures.services import free_port

pytestmark = pytest.mark.slow


def test_serve_refuses_to_start_without_redis(pg_url: str, tmp_path: Path) -> None:
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    result = subprocess.run(
        [sys.executable, "-m", "ailawyer", "serve", "--port", str(free_port())],
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(REPO_ROOT),
            "APP_ENV": "test",
            "DATABASE_URL": pg_url,
            "REDIS_URL": dead_redis,
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 3
    output = result.stdout + result.stderr
    assert "does not answer" in output
    assert "REDIS_URL" in output
    assert "Traceback" not in output, "a refused start is one line, not a stack"


async def test_production_mode_logs_json_and_marks_cookies_secure(
    db: Database, tmp_path: Path, pg_url: str, prefix: str
) -> None:
    """A production-mode app of its own: JSON lines on stdout (uvicorn's among
    them) and in a file; session cookies only over HTTPS."""
    logs = tmp_path / "prod-logs"
    port = free_port()
    app = AppProcess(
        args=["serve", "--port", str(port)],
        env={
            "APP_ENV": "production",
            "AUTH_SECRET": secrets.token_hex(32),
            "DATABASE_URL": pg_url,
            "BULLMQ_PREFIX": prefix,
            "LOG_FILE_PATH": str(logs),
        },
        log_path=tmp_path / "prod.log",
        port=port,
    )
    user = await make_user(db, Role.ANWALT)
    app.start()
    try:
        app.wait_ready()
        async with app.client() as client:
            response = await client.post(
                "/api/auth/login", json={"email": user.email, "password": PASSWORD}
            )
    finally:
        app.stop()
    assert response.status_code == 200
    for cookie in response.headers.get_list("set-cookie"):
        assert "; secure" in cookie.lower(), cookie

    lines = [json.loads(line) for line in app.output().splitlines() if line.startswith("{")]
    modules = {line["module"] for line in lines}
    assert "uvicorn.error" in modules
    assert "api.state" in modules
    for line in lines:
        assert {"timestamp", "level", "message", "service", "module"} <= set(line)
        assert line["service"] == "ai-lawyer"
    assert any(logs.rglob("*.log")), "no log file was written"


def test_sigterm_is_a_graceful_stop_with_exit_0(
    db: Database, api_env: dict[str, str], tmp_path: Path
) -> None:
    app = start_app(api_env, tmp_path)
    assert app.stop() == 0
    output = app.output()
    assert "app.stopping" in output
    assert "Application shutdown complete" in output
