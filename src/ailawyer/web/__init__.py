"""The pages: notification center, admin queue dashboard, login.

Templates are plain HTML files; `static/` holds the scripts and styles that
`web/build.sh` bundles from `web/src` (committed, so no Node at run time).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from ailawyer.web.pages import router

STATIC_DIR = Path(__file__).parent / "static"


def install_web(app: FastAPI) -> None:
    """Add the pages and `/static` to the app (called by `create_app`)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
