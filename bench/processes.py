"""Child processes of a benchmark run: our commands, the raw worker, load generators.

Each child writes its output to a file (a pipe nobody reads would fill up and
block it) and is stopped by its own pid: SIGTERM, then SIGKILL.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

STOP_TIMEOUT_S = 30.0


class ChildFailed(RuntimeError):
    """A child did not start, or ended too early."""


@dataclass
class Child:
    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path
    process: subprocess.Popen[bytes] | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)
    # Where this start's output begins: a name started again (each round's second
    # worker) appends to the same log, and an earlier run's "Worker started" must
    # not count for this one.
    _start_offset: int = field(default=0, repr=False)

    @classmethod
    def python(cls, name: str, module_args: list[str], **kwargs: object) -> Child:
        """`python -m <module_args>` with this interpreter (the project's venv)."""
        return cls(name=name, args=[sys.executable, "-m", *module_args], **kwargs)  # type: ignore[arg-type]

    def start(self) -> Child:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._start_offset = self._log.tell()
        self.process = subprocess.Popen(
            self.args,
            env=self.env,
            cwd=self.cwd,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        return self

    @property
    def pid(self) -> int:
        if self.process is None:
            raise ChildFailed(f"{self.name} is not running")
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self) -> str:
        """What this start of the child has written (not earlier starts' lines)."""
        try:
            with self.log_path.open("rb") as log:
                log.seek(self._start_offset)
                return log.read().decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    async def wait_for_output(self, text: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if not self.running or time.monotonic() > deadline:
                raise ChildFailed(
                    f"{self.name}: no {text!r} within {timeout:.0f}s "
                    f"(exit {self.process.poll() if self.process else None}); "
                    f"log {self.log_path}:\n{self.output()[-3000:]}"
                )
            await asyncio.sleep(0.05)

    def rss_bytes(self) -> int:
        """Resident set size now (VmRSS of /proc/<pid>/status)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise ChildFailed(f"{self.name}: no VmRSS")

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        code = self.process.returncode
        self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        return code

    async def astop(self, timeout: float = STOP_TIMEOUT_S) -> int | None:
        return await asyncio.to_thread(self.stop, timeout)
