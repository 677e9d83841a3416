"""Two processes writing one production log file while it rotates.

App and worker may share a log folder (`LOG_FILE_PATH`); the file rotates at
`LOG_MAX_BYTES`. Each process here runs the production pipeline exactly as
`ailawyer serve` and `ailawyer worker` set it up (`cli._common.setup`:
JSON, the rotating file, the background writer) and logs lines as fast as it
can. On a busy machine one process could finish before the other is
scheduled, so they go in lockstep rounds of `ROUND` lines: a writer starts a
round only when the other's round before is in the file (marker files), and
within a round both write freely. Afterwards every line of every file
(the current one and the rotated ones) must be one JSON object, and each
process's lines must all be there, once each.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from tests.fixtures.processes import REPO_ROOT

pytestmark = pytest.mark.slow

LINES = 2000
ROUND = 100  # lines per writer and round; a round of both is ~45 KB, so ~2 per file
MAX_BYTES = 100 * 1024  # about 9 files for the ~900 KB both write: all kept (14 are)
WRITER = """
import sys, time
from pathlib import Path
from ailawyer.cli._common import setup
from ailawyer.logs import create_logger, flush_logs
settings = setup("worker")
log = create_logger("rotation")
name, other, lines, size = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
marks = Path(sys.argv[5])
for start in range(0, lines, size):
    round_ = start // size
    deadline = time.monotonic() + 60
    while round_ and not (marks / f"{other}-{round_ - 1}").exists():
        if time.monotonic() > deadline:
            sys.exit(f"{other} never finished round {round_ - 1}")
        time.sleep(0.001)
    for number in range(start, min(start + size, lines)):
        log.info("line.written", writer=name, number=number, padding="x" * 120)
    flush_logs()  # the round is in the file, not only in the writer's queue
    (marks / f"{name}-{round_}").touch()
"""


def test_two_processes_share_a_rotating_log_file_without_losing_a_line(tmp_path: Path) -> None:
    folder = tmp_path / "logs"
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO_ROOT),
        "APP_ENV": "production",
        "AUTH_SECRET": "r" * 40,
        "LOG_FILE_PATH": str(folder),
        "LOG_MAX_BYTES": str(MAX_BYTES),
    }
    marks = tmp_path / "rounds"
    marks.mkdir()
    names = {"app": "worker", "worker": "app"}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, name, other, str(LINES), str(ROUND), str(marks)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for name, other in names.items()
    ]
    for writer in writers:
        _, errors = writer.communicate(timeout=120)
        assert writer.returncode == 0, errors.decode()
        assert not errors, errors.decode()

    files = sorted(path for path in folder.iterdir() if not path.name.endswith(".lock"))
    assert len(files) >= 5, f"the file did not rotate enough: {[p.name for p in files]}"
    seen: Counter[tuple[str, int]] = Counter()
    broken: list[str] = []
    shared = 0  # files with lines of both writers: they did write at the same time
    for path in files:
        writers_here = set()
        for raw in path.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(raw)
            except ValueError:
                broken.append(f"{path.name}: {raw[:120]}")
                continue
            if line.get("message") == "line.written":
                seen[(line["writer"], line["number"])] += 1
                writers_here.add(line["writer"])
        shared += len(writers_here) == 2
    assert not broken, f"{len(broken)} lines that are not one JSON object: {broken[:3]}"
    for name in ("app", "worker"):
        mine = {number: count for (writer, number), count in seen.items() if writer == name}
        missing = sorted(set(range(LINES)) - set(mine))
        twice = sorted(number for number, count in mine.items() if count > 1)
        assert not missing, f"{name}: {len(missing)} lines lost, e.g. {missing[:5]}"
        assert not twice, f"{name}: {len(twice)} lines written twice, e.g. {twice[:5]}"
    assert sum(seen.values()) == 2 * LINES
    assert shared >= 3, f"only {shared} files hold lines of both writers"
