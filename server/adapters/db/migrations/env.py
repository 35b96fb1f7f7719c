"""Alembic environment: the URL comes from Parley's settings, never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from server.adapters.db import models  # noqa: F401  (registers every table on Base.metadata)
from server.adapters.db.base import Base

target_metadata = Base.metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite needs batch mode for ALTER; harmless on PostgreSQL
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `parley db upgrade` (server.adapters.db.migrate)")
run_migrations(connection)
