"""The one place where errors become HTTP responses, and how they are documented.

Every error body is `{"error": <German message>, ...details}`. Services raise
`ailawyer.errors.AppError` subclasses; FastAPI's own errors (validation, unknown
route, wrong method, unreadable body) are rendered in the same shape. Nothing
here echoes what the client sent: validation details carry where and what, never
the input (it may be a password).
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

from ailawyer import messages
from ailawyer.errors import AppError, TooManyRequests
from ailawyer.logs import create_logger

log = create_logger("api.errors")


class ErrorResponse(BaseModel):
    """Every error answer: a German message, sometimes with details."""

    model_config = ConfigDict(extra="allow")

    error: str


class ValidationProblem(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorResponse(BaseModel):
    """422: the request's shape (`details`), or a value the service refused
    (then with its own fields, e.g. `key` and `choices` of a setting)."""

    model_config = ConfigDict(extra="allow")

    error: str
    details: list[ValidationProblem] | None = None


_DESCRIPTIONS: Final[dict[int, str]] = {
    400: "Ungültige Anfrage",
    401: "Nicht angemeldet",
    403: "Keine Berechtigung oder CSRF-Prüfung fehlgeschlagen",
    404: "Nicht gefunden",
    409: "Konflikt",
    413: "Anfrage zu groß",
    422: "Ungültige Eingabe",
    429: "Zu viele Anfragen (Header Retry-After)",
    503: "Redis oder Datenbank nicht erreichbar",
}

# Messages for FastAPI's and Starlette's own HTTP errors.
_HTTP_MESSAGES: Final[dict[int, str]] = {
    400: messages.INVALID_INPUT,
    404: messages.NOT_FOUND,
    405: messages.METHOD_NOT_ALLOWED,
    413: messages.BODY_TOO_LARGE,
    422: messages.INVALID_INPUT,
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for the given error statuses, plus those any request can
    get: 400 (unreadable body), 413 (body too large), 422 (invalid input)."""
    documented = sorted({*codes, 400, 413, 422})
    return {
        code: {
            "model": ValidationErrorResponse if code == 422 else ErrorResponse,
            "description": _DESCRIPTIONS.get(code, "Fehler"),
        }
        for code in documented
    }


def error_body(message: str, **details: Any) -> dict[str, Any]:
    return {"error": message, **details}


async def _app_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, TooManyRequests) else None
    if exc.status_code >= 500:
        log.error("http.app_error", code=exc.code, status=exc.status_code)
    return JSONResponse(
        error_body(exc.message, **exc.details), status_code=exc.status_code, headers=headers
    )


async def _validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = [
        {
            "loc": [part if isinstance(part, int) else str(part) for part in err.get("loc", ())],
            "msg": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]
    return JSONResponse(error_body(messages.INVALID_INPUT, details=problems), status_code=422)


async def _http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    message = _HTTP_MESSAGES.get(exc.status_code, messages.INVALID_INPUT)
    if exc.status_code >= 500:
        message = messages.INTERNAL_ERROR
    return JSONResponse(
        error_body(message), status_code=exc.status_code, headers=getattr(exc, "headers", None)
    )


async def _database_error(_: Request, exc: Exception) -> JSONResponse:
    """A lost database connection is the database's fault, not ours: 503. A value
    PostgreSQL refuses (SQLSTATE class 22, "data exception", e.g. a NUL character
    in an id, which its text type cannot hold) is the client's: 400. Any other
    database error is a bug: re-raised, so the request middleware logs it with
    its traceback and answers 500."""
    assert isinstance(exc, DBAPIError)
    if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
        log.error("database.unavailable", error=type(exc.orig).__name__)
        return JSONResponse(error_body(messages.SERVICE_UNAVAILABLE), status_code=503)
    sqlstate = str(getattr(exc.orig, "sqlstate", None) or "")
    if sqlstate.startswith("22"):
        log.warning("database.invalid_value", sqlstate=sqlstate)
        return JSONResponse(error_body(messages.INVALID_INPUT), status_code=400)
    raise exc


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(DBAPIError, _database_error)
