"""The committed bundles are what `web/build.sh` makes from `web/src` and the lock file."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
STATIC = ROOT / "src" / "ailawyer" / "web" / "static"


@pytest.mark.slow
def test_committed_assets_match_a_fresh_build(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed (the product needs no Node; only this check does)")
    out = tmp_path / "static"
    subprocess.run(
        ["bash", str(ROOT / "web" / "build.sh")],
        check=True,
        env={**os.environ, "WEB_OUT_DIR": str(out)},
        timeout=300,
    )
    built = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    committed = sorted(p.relative_to(STATIC) for p in STATIC.rglob("*") if p.is_file())
    assert built == committed
    stale = [str(p) for p in built if (out / p).read_bytes() != (STATIC / p).read_bytes()]
    assert stale == [], "run `bash web/build.sh` and commit src/ailawyer/web/static"
