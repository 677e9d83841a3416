"""Node BullMQ for the throughput scenario: installed on demand, beside the results.

The Node worker (`node_worker.mjs`) runs the same no-op job as `raw_worker.py`,
so the table shows what the queue engine costs with BullMQ's reference
implementation. `bullmq` is installed with npm into `bench/results/node` (ignored
by git), at the version and with the lock file of `examples/node`, the one our
interop tests run; a current install is reused. Without `node` or `npm`, or when
the install fails, `install()` raises `NodeUnavailable` with the reason, and the
run goes on without the Node row.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
EXAMPLE_DIR = REPO_ROOT / "examples" / "node"
WORKER_SOURCE = Path(__file__).resolve().parent / "node_worker.mjs"
INSTALL_TIMEOUT_S = 300
# When examples/node is missing: the version the interop example pins.
FALLBACK_VERSION = "5.81.5"


class NodeUnavailable(RuntimeError):
    """No Node worker in this run, and why."""


def _installed(folder: Path, lock: Path | None) -> bool:
    marker = folder / "node_modules" / ".package-lock.json"
    if not marker.exists() or not (folder / "node_modules" / "bullmq").is_dir():
        return False
    return lock is None or marker.stat().st_mtime >= lock.stat().st_mtime


def install(folder: Path) -> Path:
    """Install bullmq into `folder` (unless current); the worker script to run."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise NodeUnavailable(f"`{tool}` is not on the PATH")
    folder.mkdir(parents=True, exist_ok=True)
    package, lock = EXAMPLE_DIR / "package.json", EXAMPLE_DIR / "package-lock.json"
    if package.exists():
        shutil.copy2(package, folder / "package.json")
    else:
        manifest = {"private": True, "type": "module", "dependencies": {"bullmq": FALLBACK_VERSION}}
        (folder / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    has_lock = lock.exists()
    if has_lock:
        shutil.copy2(lock, folder / "package-lock.json")
    if not _installed(folder, folder / "package-lock.json" if has_lock else None):
        command = ["npm", "ci" if has_lock else "install"]
        try:
            done = subprocess.run(
                [*command, "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT_S,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NodeUnavailable(f"`{' '.join(command)}` failed: {exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            raise NodeUnavailable(f"`{' '.join(command)}` failed: {' / '.join(tail)}")
    script = folder / "worker.mjs"
    shutil.copy2(WORKER_SOURCE, script)
    return script


def bullmq_version(folder: Path) -> str | None:
    """The installed bullmq's version, for the machine description."""
    try:
        manifest = json.loads((folder / "node_modules" / "bullmq" / "package.json").read_text())
    except (OSError, ValueError):
        return None
    version = manifest.get("version")
    return str(version) if version else None
