"""The app as a production-mode `ailawyer serve` process (`processes`), and the
secrets a test used, which its processes' logs must never contain (`watch`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.live_app import PASSWORD
from tests.fixtures.processes import production
from tests.reliability.support import SecretWatch


@pytest.fixture
def watch(process_dir: Path) -> SecretWatch:
    found = SecretWatch(process_dir)
    found.add("password", PASSWORD)
    return found


@pytest.fixture
def process_env(
    process_env: dict[str, str], process_dir: Path, watch: SecretWatch
) -> dict[str, str]:
    """Production mode: JSON logs to stdout and to rotating files, Secure cookies."""
    watch.add("AUTH_SECRET", process_env["AUTH_SECRET"])
    return {**process_env, **production(process_dir / "files")}
