"""Schemathesis over the app's own OpenAPI document, logged in as an ADMIN.

Bounded (examples per operation, a time budget, a fixed seed), so it fits the
suite; it fails on any 5xx, on a status code the document does not list, and on
a response that does not match its documented schema. A worker runs beside the
app so that `/api/health` is honestly 200. Logout is left out: it would end
the session the run is using.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.fuzz_report import assert_authenticated_run, har_args
from tests.fixtures.live_app import LoggedIn
from tests.fixtures.processes import ChildProcess

pytestmark = pytest.mark.slow

CHECKS = ",".join(
    (
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
    )
)
MAX_EXAMPLES = 25
RUN_TIMEOUT_S = 240


@pytest.mark.timeout(RUN_TIMEOUT_S + 60)
def test_openapi_document_holds_under_fuzzing(
    pipeline: tuple[ChildProcess, ChildProcess], as_admin: LoggedIn, tmp_path: Path
) -> None:
    app, _ = pipeline
    cli = Path(sys.executable).parent / "schemathesis"
    har = tmp_path / "fuzz.har"
    result = subprocess.run(
        [
            str(cli),
            "run",
            f"{app.url}/api/openapi.json",
            "--checks",
            CHECKS,
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            "20240601",
            "--workers",
            "2",
            "--request-timeout",
            "10",
            "--exclude-path",
            "/api/auth/logout",
            "--header",
            f"Cookie: {as_admin.cookie_header}",
            "--header",
            f"X-CSRF-Token: {as_admin.csrf}",
            "--warnings",
            "off",
            *har_args(har),
        ],
        cwd=tmp_path,  # its report and example database stay out of the tree
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    # The run was authenticated: protected operations answered 2xx (a broken
    # cookie or CSRF header would only get documented 401s and 403s, and pass).
    assert_authenticated_run(har, f"{app.url}/api/openapi.json")
