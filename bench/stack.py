"""Everything a benchmark run stands on, built fresh and torn down at the end.

- a private `redis-server` on a free port (no persistence: we measure our code,
  not the disk), shared by every worker of the run, raw and ours;
- a throwaway PostgreSQL database, migrated with `ailawyer db upgrade`, with
  five users made by `ailawyer users create`: an admin (test jobs, the
  notification list), an owner (the `bench` queue's jobs), a listener (the
  Socket.IO fan-out), one with a long history of notifications and one with a
  short one beside it;
- `ailawyer serve` and `ailawyer worker` as real processes, configured as in
  production (APP_ENV=production: JSON logs to stdout and to rotating files).

Each group of workers gets a BullMQ prefix of its own, so raw and product
workers never see each other's jobs.
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from tests.fixtures.services import RedisServer, create_pg_database, drop_pg_database, free_port

from bench.processes import Child, ChildFailed

REPO_ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT_S = 60.0
# Variables of the developer's shell that must not reach the children.
_DROPPED = ("WORKER_", "LOG_", "JOB_", "BULLMQ_", "SHUTDOWN_", "HEALTH_", "LOGIN_")
_CREATED = re.compile(r"created user (\S+)")


@dataclass(frozen=True)
class BenchUser:
    id: str
    email: str
    role: str


@dataclass(frozen=True)
class Session:
    """A logged-in user: the cookies and CSRF token a browser would send."""

    user: BenchUser
    cookie: str
    csrf: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Cookie": self.cookie, "X-CSRF-Token": self.csrf}


@dataclass
class Stack:
    root: Path
    worker_concurrency: int = 50
    # Another checkout's `src/` to run instead of this one (to measure a change).
    src: Path | None = None
    redis: RedisServer | None = None
    database_url: str | None = None
    secret: str = field(default_factory=lambda: secrets.token_hex(32))
    password: str = field(default_factory=lambda: secrets.token_urlsafe(16))
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    users: dict[str, BenchUser] = field(default_factory=dict)
    children: list[Child] = field(default_factory=list)
    app_url: str = ""
    # Settings for every product process of the run (`--env KEY=VALUE`), to A/B one.
    extra_env: dict[str, str] = field(default_factory=dict)

    # ---- set-up ------------------------------------------------------------

    async def open(self) -> Stack:
        """Start Redis, create and migrate the database, add the users.

        On a failure everything already started is stopped again.
        """
        try:
            await asyncio.to_thread(self._open)
        except BaseException:
            await asyncio.to_thread(self.close)
            raise
        return self

    def _open(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.redis = RedisServer(self.root / "redis").start()
        self.database_url = create_pg_database("ailawyer_bench")
        self.cli(["db", "upgrade"])
        users = (
            ("admin", "ADMIN"),
            ("owner", "ANWALT"),
            ("listener", "SACHBEARBEITER"),
            ("history", "ANWALT"),
            ("history_control", "ANWALT"),
        )
        for key, role in users:
            email = f"bench-{key}-{self.run_id}@kanzlei.test"
            out = self.cli(
                [
                    "users",
                    "create",
                    "--email",
                    email,
                    "--name",
                    f"Bench {key}",
                    "--role",
                    role,
                    "--password-stdin",
                ],
                stdin=self.password + "\n",
            )
            found = _CREATED.search(out)
            if found is None:
                raise ChildFailed(f"`ailawyer users create` said: {out}")
            self.users[key] = BenchUser(found.group(1), email, role)

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Stop every child, drop the database, stop Redis; each step even if one fails."""
        try:
            for child in reversed(self.children):
                child.stop()
            self.children.clear()
        finally:
            try:
                if self.database_url:
                    drop_pg_database(self.database_url)
                    self.database_url = None
            finally:
                if self.redis is not None:
                    self.redis.stop()
                    self.redis = None

    @property
    def redis_url(self) -> str:
        assert self.redis is not None
        return self.redis.url

    def prefix(self, name: str) -> str:
        return f"bench{self.run_id}{name}"

    # ---- environment -------------------------------------------------------

    def env(
        self, *, prefix: str | None = None, log_name: str = "cli", **extra: str
    ) -> dict[str, str]:
        """The product's configuration for this run, as a deployment would set it."""
        assert self.database_url is not None
        env = {k: v for k, v in os.environ.items() if not k.startswith(_DROPPED)}
        env.update(
            PYTHONPATH=os.pathsep.join(str(p) for p in (self.src, REPO_ROOT) if p),
            APP_ENV="production",
            AUTH_SECRET=self.secret,
            LOG_LEVEL="info",
            LOG_FILE_PATH=str(self.root / "logs" / log_name),
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            WORKER_EXTRA_QUEUES="bench.queues",
            WORKER_CONCURRENCY=str(self.worker_concurrency),
            LOGIN_RATE_LIMIT="1000",
            MINIO_ENDPOINT="",
            MEILISEARCH_URL="",
            ONLYOFFICE_INTERNAL_URL="",
        )
        env.pop("NODE_ENV", None)
        if prefix:
            env["BULLMQ_PREFIX"] = prefix
        env.update(self.extra_env)
        env.update(extra)
        return env

    def cli(self, args: list[str], *, stdin: str | None = None) -> str:
        """Run `ailawyer <args>` to completion; return its output."""
        result = subprocess.run(
            [sys.executable, "-m", "ailawyer", *args],
            env=self.env(),
            cwd=self.root,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            output = result.stdout + result.stderr
            raise ChildFailed(f"`ailawyer {' '.join(args)}` failed:\n{output}")
        return result.stdout + result.stderr

    # ---- processes ---------------------------------------------------------

    def spawn(self, name: str, module_args: list[str], env: dict[str, str] | None = None) -> Child:
        """`python -m <module_args>`, logging to logs/<name>.out; stopped by `close()`."""
        child = Child.python(
            name,
            module_args,
            env=env if env is not None else self.env(),
            log_path=self.root / "logs" / f"{name}.out",
            cwd=self.root,
        )
        self.children.append(child.start())
        return child

    async def start_app(self, prefix: str) -> Child:
        port = free_port()
        app = self.spawn(
            "app",
            ["ailawyer", "serve", "--host", "127.0.0.1", "--port", str(port)],
            self.env(prefix=prefix, log_name="app"),
        )
        self.app_url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.app_url, trust_env=False) as http:
            while True:
                try:
                    if (await http.get("/api/health/live", timeout=1)).status_code == 200:
                        return app
                except httpx.HTTPError:
                    pass
                if not app.running or time.monotonic() > deadline:
                    raise ChildFailed(f"`ailawyer serve` did not start:\n{app.output()[-3000:]}")
                await asyncio.sleep(0.1)

    async def start_worker(self, prefix: str, name: str = "worker", **extra: str) -> Child:
        worker = self.spawn(
            name, ["ailawyer", "worker"], self.env(prefix=prefix, log_name=name, **extra)
        )
        await worker.wait_for_output("Worker started", START_TIMEOUT_S)
        return worker

    async def start_raw_worker(self, prefix: str, concurrency: int, name: str) -> Child:
        worker = self.spawn(
            name,
            [
                "bench.raw_worker",
                "--redis-url",
                self.redis_url,
                "--prefix",
                prefix,
                "--concurrency",
                str(concurrency),
            ],
            self.env(),
        )
        await worker.wait_for_output("ready", START_TIMEOUT_S)
        return worker

    async def start_node_worker(
        self, script: Path, prefix: str, concurrency: int, name: str
    ) -> Child:
        """The Node BullMQ worker (`bench/node.py` installed it beside `script`)."""
        child = Child(
            name=name,
            args=[
                "node",
                str(script),
                "--redis-url",
                self.redis_url,
                "--prefix",
                prefix,
                "--concurrency",
                str(concurrency),
            ],
            env=self.env(),
            log_path=self.root / "logs" / f"{name}.out",
            cwd=script.parent,
        )
        self.children.append(child.start())
        await child.wait_for_output("ready", START_TIMEOUT_S)
        return child

    async def stop(self, child: Child) -> None:
        await child.astop()
        if child in self.children:
            self.children.remove(child)

    async def login(self, key: str) -> Session:
        user = self.users[key]
        async with httpx.AsyncClient(base_url=self.app_url, trust_env=False) as http:
            response = await http.post(
                "/api/auth/login", json={"email": user.email, "password": self.password}, timeout=10
            )
        if response.status_code != 200:
            raise ChildFailed(f"login of {key} failed: {response.status_code} {response.text}")
        # The cookies are Secure (production); a browser on plain HTTP would not send
        # them, so we set the header ourselves.
        session_cookie = response.cookies.get("session")
        csrf = response.json()["csrfToken"]
        return Session(user, f"session={session_cookie}; csrf_token={csrf}", csrf)
