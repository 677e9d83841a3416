"""Answers serialised once, straight to JSON bytes.

An endpoint that returns a pydantic model makes FastAPI validate it again
against `response_model` and then serialise it: the model is built twice. For
the hot endpoints we build it once and send its JSON; `response_model` stays on
the route, so the OpenAPI document still describes the answer.
"""

from __future__ import annotations

from fastapi import Response
from pydantic import BaseModel


def model_response(model: BaseModel, status_code: int = 200) -> Response:
    """`model` as JSON with its camelCase aliases, as FastAPI would render it."""
    return Response(
        model.__pydantic_serializer__.to_json(model, by_alias=True),
        status_code=status_code,
        media_type="application/json",
    )
