"""Persistence: declarative base, engine and session scope, models, migrations."""
