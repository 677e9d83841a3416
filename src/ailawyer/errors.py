"""One error hierarchy. Services raise these; only the API turns them into
responses (one handler), and the CLI into a one-line message and exit code.
`StartupError` and `RegistryError` stop a process at start (app: exit 3,
worker: exit 1 and 2).

User-facing texts are German and live in `messages.py`.
"""

from __future__ import annotations

from typing import Any


class AppError(Exception):
    status_code = 500
    code = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class BadRequest(AppError):
    status_code = 400
    code = "bad_request"


class Unauthorized(AppError):
    status_code = 401
    code = "unauthorized"


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class Invalid(AppError):
    """A value that does not fit its declared type (a setting, a payload)."""

    status_code = 422
    code = "invalid"


class TooManyRequests(AppError):
    status_code = 429
    code = "too_many_requests"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, details={"retryAfter": retry_after})
        self.retry_after = retry_after


class ServiceUnavailable(AppError):
    """A dependency (Redis, the database) did not answer in time."""

    status_code = 503
    code = "service_unavailable"


# ---- errors of a process, not of a request (no HTTP status) -------------------


class StartupError(Exception):
    """A process cannot start: a dependency does not answer, a port is taken."""


class RegistryError(StartupError):
    """The declared queues and processors do not fit together (a queue without a
    processor, a name declared twice, an extra module that cannot be imported)."""
