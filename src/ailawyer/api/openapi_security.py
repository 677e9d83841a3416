"""The OpenAPI document's security: which operations need the session cookie
(and, when they change state, the CSRF header).

The authentication dependencies (`api.deps.get_auth` and the two built on it)
read cookie and header themselves instead of through FastAPI's security
sub-dependencies, which cost more per request than the check itself. So the
document no longer learns the schemes from the dependency tree; this adds them
to every operation whose dependencies include one of those functions, exactly
as FastAPI would have.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.encoders import jsonable_encoder
from fastapi.routing import APIRoute, iter_route_contexts

from ailawyer.api.deps import AUTH_DEPENDENCIES, SESSION_SCHEMES


def _needs_session(dependant: Dependant) -> bool:
    return any(
        dependency.call in AUTH_DEPENDENCIES or _needs_session(dependency)
        for dependency in dependant.dependencies
    )


def document_security(app: FastAPI) -> None:
    """Make `app.openapi()` declare the session schemes on the operations that need them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        schema = build()  # FastAPI's, cached by it (adding the schemes again changes nothing)
        components = schema.setdefault("components", {})
        schemes = components.setdefault("securitySchemes", {})
        for scheme in SESSION_SCHEMES:
            schemes[scheme.scheme_name] = jsonable_encoder(
                scheme.model, by_alias=True, exclude_none=True
            )
        requirement: list[dict[str, list[str]]] = [
            {scheme.scheme_name: []} for scheme in SESSION_SCHEMES
        ]
        paths = schema.get("paths", {})
        # Included routers' routes, with their full paths (as FastAPI's own document walks them).
        for context in iter_route_contexts(app.routes):
            route = context.original_route
            if not isinstance(route, APIRoute) or not _needs_session(route.dependant):
                continue
            for method in route.methods or ():
                operation = paths.get(context.path_format, {}).get(method.lower())
                if operation is not None:
                    operation["security"] = list(requirement)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
