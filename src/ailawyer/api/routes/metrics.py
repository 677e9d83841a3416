"""`GET /metrics` in Prometheus' text format (see `api.metrics`)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST

from ailawyer.api.deps import StateDep

router = APIRouter(tags=["metrics"])


@router.get(
    "/metrics",
    response_class=Response,
    summary="Prometheus metrics: HTTP traffic, queue figures, the process",
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(state: StateDep) -> Response:
    body = await state.metrics.render(state.producer)
    return Response(content=body, media_type=CONTENT_TYPE_LATEST)
