"""Every router of the app. A new group of routes is one more entry in `ROUTERS`."""

from __future__ import annotations

from fastapi import APIRouter

from ailawyer.api.routes import (
    admin,
    admin_jobs,
    admin_queues,
    admin_schedules,
    admin_system,
    admin_workers,
    auth,
    health,
    jobs,
    metrics,
    notifications,
    settings,
)

ROUTERS: tuple[APIRouter, ...] = (
    health.router,
    auth.router,
    admin.router,
    admin_queues.router,
    admin_jobs.router,
    admin_schedules.router,
    admin_workers.router,
    admin_system.router,
    jobs.router,
    notifications.router,
    settings.router,
    metrics.router,
)

__all__ = ["ROUTERS"]
