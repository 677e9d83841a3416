"""CPU time used by a process, from /proc: a per-job cost that a busy machine
does not distort the way it distorts wall-clock rates."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds of `pid` so far (fields 14 and 15 of stat)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def total_cpu_seconds(pids: list[int]) -> float:
    return sum(cpu_seconds(pid) for pid in pids)


def pids_named(prefix: str) -> list[int]:
    """Processes whose command name starts with `prefix` (e.g. every PostgreSQL backend)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                comm = (entry / "comm").read_text()
            except OSError:
                continue
            if comm.startswith(prefix):
                found.append(int(entry.name))
    return found


def total_cpu_seconds_alive(pids: list[int]) -> float:
    """Like `total_cpu_seconds`, for processes that may end meanwhile (they count 0)."""
    total = 0.0
    for pid in pids:
        with contextlib.suppress(OSError):
            total += cpu_seconds(pid)
    return total


def machine_seconds() -> tuple[float, float]:
    """CPU seconds of the whole machine so far, all cores together: (busy, stolen).

    Busy is user, nice, system, irq and softirq time of every process; stolen is
    time the host gave to other guests while this one wanted to run.
    """
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq) / _TICKS, steal / _TICKS
