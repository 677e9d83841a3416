"""The Dockerfile's builder stage, replayed on this machine (no Docker engine here).

Its RUN steps run as written, in a copy of the build context that
.dockerignore lets through, with the venv placed in a temp folder. The result
must be a working `ailawyer` that carries its migrations (and web assets).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.support import DOCKERFILE, REPO, Stage, parse_dockerfile

pytestmark = pytest.mark.slow


def build_context(target: Path) -> Path:
    """What `docker build .` sends: the allowlist of .dockerignore, minus caches."""
    rules = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    target.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "node_modules")
    for rule in rules:
        if not rule.startswith("!"):
            continue
        source = REPO / rule[1:]
        if source.is_dir():
            shutil.copytree(source, target / rule[1:], ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, target / rule[1:])
    return target


def stage_env(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for args in stage.all("ENV"):
        for pair in args.split():
            name, _, value = pair.partition("=")
            env[name] = value
    return env


def test_builder_stage_makes_a_working_non_editable_install(tmp_path: Path) -> None:
    _, stages = parse_dockerfile(DOCKERFILE.read_text())
    builder = next(stage for stage in stages if stage.name == "builder")
    context = build_context(tmp_path / "context")
    venv = tmp_path / "venv"
    env = {**os.environ, **stage_env(builder)}
    env["UV_PROJECT_ENVIRONMENT"] = str(venv)
    env["UV_PYTHON"] = getattr(sys, "_base_executable", sys.executable)
    env.pop("VIRTUAL_ENV", None)
    assert shutil.which("uv"), "uv is installed by scripts/bootstrap.sh"

    runs = builder.all("RUN")
    assert runs[0].startswith('pip install --no-cache-dir "uv=='), "uv is pinned"
    for step in runs[1:]:  # this machine already has uv
        result = subprocess.run(
            ["sh", "-c", step],
            cwd=context,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, f"{step}\n{result.stdout}\n{result.stderr}"

    [wheel] = (context / "dist").glob("ailawyer-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "ailawyer/db/migrations/script.py.mako" in names
    assert any(n.startswith("ailawyer/db/migrations/versions/0001_") for n in names)
    static = REPO / "src/ailawyer/web/static"
    for asset in static.rglob("*") if static.is_dir() else []:
        if asset.is_file() and "__pycache__" not in asset.parts:
            assert f"ailawyer/web/static/{asset.relative_to(static).as_posix()}" in names

    package = next(venv.glob("lib/python3*/site-packages/ailawyer/__init__.py"))
    assert REPO not in package.resolve().parents, "the image carries a copy, not a link"
    ailawyer = venv / "bin" / "ailawyer"
    database = tmp_path / "image.db"
    run_env = {**os.environ, "DATABASE_URL": f"sqlite:///{database}", "APP_ENV": "test"}
    result = subprocess.run(
        [str(ailawyer), "db", "upgrade"],
        env=run_env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "database at revision head" in result.stdout
    listing = subprocess.run(
        [str(ailawyer), "--help"], env=run_env, capture_output=True, text=True, check=False
    )
    for command in ("db", "seed", "dev"):
        assert command in listing.stdout
