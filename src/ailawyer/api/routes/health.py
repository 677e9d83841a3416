"""`GET /api/health` (readiness, public; docs/operations.md) and `GET /api/health/live` (liveness).

Liveness touches nothing: a container orchestrator restarting the app because
MinIO is down would only make things worse. Readiness tells the truth about
every dependency and answers 503 when one of them is not well.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Final, Literal

from fastapi import APIRouter, Response

from ailawyer.api.deps import StateDep
from ailawyer.api.health import Status
from ailawyer.api.responses import model_response
from ailawyer.db.base import utcnow
from ailawyer.schemas import CamelModel

router = APIRouter(prefix="/api/health", tags=["health"])


class ServiceHealth(CamelModel):
    status: Status
    latency: int


class HealthResponse(CamelModel):
    status: Literal["healthy", "degraded"]
    services: dict[str, ServiceHealth]
    timestamp: datetime
    uptime: float


class LiveResponse(CamelModel):
    status: Literal["ok"]


@router.get(
    "",
    response_model=HealthResponse,
    summary="Status of the app and every dependency",
    responses={503: {"model": HealthResponse, "description": "At least one service is unhealthy"}},
)
async def health(state: StateDep) -> Response:
    results = await state.health.run()
    services = {"app": ServiceHealth(status="healthy", latency=0)} | {
        name: ServiceHealth(status=result.status, latency=result.latency_ms)
        for name, result in results.items()
    }
    degraded = any(item.status == "unhealthy" for item in services.values())
    body = HealthResponse(
        status="degraded" if degraded else "healthy",
        services=services,
        timestamp=utcnow(),
        uptime=round(time.monotonic() - state.started_at, 3),
    )
    return model_response(body, 503 if degraded else 200)


_LIVE: Final = b'{"status":"ok"}'


@router.get("/live", response_model=LiveResponse, summary="The process answers (no dependencies)")
async def live() -> Response:
    # Probed every few seconds by every orchestrator: a constant answer.
    return Response(_LIVE, media_type="application/json")
