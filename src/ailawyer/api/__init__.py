"""The HTTP side of the app: factory and lifespan, dependencies, middleware, routes."""

from ailawyer.api.app import create_app, create_fastapi_app

__all__ = ["create_app", "create_fastapi_app"]
