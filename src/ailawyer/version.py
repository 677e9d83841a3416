"""The installed product's version, as app and worker report it (the system page)."""

from __future__ import annotations

from functools import cache
from importlib.metadata import PackageNotFoundError, version


@cache
def app_version() -> str:
    try:
        return version("ailawyer")
    except PackageNotFoundError:  # run from a source tree without metadata
        return "unbekannt"
