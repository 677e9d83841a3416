"""What the deployment tests share: the repository, the installed `ailawyer`,
processes, and the database rows the deployment commands write."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ailawyer.db.engine import Database
from ailawyer.db.models import SystemSetting, User
from tests.fixtures.processes import run_cli

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DOCKERFILE = REPO / "Dockerfile"

# A production-grade secret for tests only (32+ characters, not a placeholder).
TEST_AUTH_SECRET = "deploy-test-secret-0123456789abcdef0123"


def process_env(**values: str | None) -> dict[str, str]:
    """This process's environment with the venv first on PATH; None removes a name."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    for name, value in values.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


def stop_process(process: subprocess.Popen[str], timeout: float = 10) -> None:
    """Make sure a test's process is gone, whatever the test did."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@dataclass
class Stage:
    base: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]

    def last(self, keyword: str) -> str:
        found = self.all(keyword)
        assert found, f"stage {self.name} has no {keyword}"
        return found[-1]


def parse_dockerfile(text: str) -> tuple[dict[str, str], list[Stage]]:
    """Global ARGs and the stages, with continuation lines joined and comments dropped."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in joined.splitlines():
        if not line.strip():
            continue
        keyword, _, rest = line.strip().partition(" ")
        keyword, rest = keyword.upper(), re.sub(r"\s+", " ", rest.strip())
        if keyword == "FROM":
            match = re.fullmatch(r"(?:--\S+ )*(\S+) AS (\S+)", rest, re.IGNORECASE)
            assert match, f"every stage is named: {line}"
            base = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), m.group(0)), match[1])
            stages.append(Stage(base, match[2]))
        elif not stages:
            assert keyword == "ARG", f"only ARG before the first FROM: {line}"
            name, _, default = rest.partition("=")
            args[name] = default
        else:
            stages[-1].instructions.append((keyword, rest))
    return args, stages


def ailawyer(
    *args: str, timeout: float = 120, stdin: str = "", **env: str | None
) -> subprocess.CompletedProcess[str]:
    """Run the installed command the way an operator does, in a child process."""
    return run_cli(*args, env=process_env(**env), stdin=stdin, timeout=timeout)


async def rows(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """The users and system settings in the database at `url`."""
    database = Database(url, null_pool=True)
    try:
        async with database.session() as session:
            users = (await session.execute(select(User).order_by(User.email))).scalars()
            settings = (await session.execute(select(SystemSetting))).scalars()
            return {
                "users": [
                    (u.id, u.email, u.name, u.role, u.active, u.password_hash) for u in users
                ],
                "settings": sorted((s.key, s.value, s.type, s.updated_at) for s in settings),
            }
    finally:
        await database.dispose()


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc), to clean up after a failed test."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead for our purposes (its parent has not reaped it yet).
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
